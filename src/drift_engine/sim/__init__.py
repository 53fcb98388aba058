"""The simulated Drift program: driftpy account objects mutated by Drift's rules.

See `simulator.DriftSimulator` for the entry points, `records` for what it reports,
`rules` for the program's integer rules and `pricing` for the taker price model.
"""

from drift_engine.sim.pricing import DEFAULT_PRICE_MODEL, PriceModel
from drift_engine.sim.records import (
    DepositRecord,
    FillRecord,
    FundingPaymentRecord,
    FundingRateRecord,
    InterestRecord,
    LiquidationRecord,
    OrderRecord,
    OrderResult,
    SettlePnlRecord,
    SimRecord,
)
from drift_engine.sim.simulator import (
    DEFAULT_AUTHORITY,
    DriftSimulator,
    InsufficientCollateralError,
    SimulationError,
)

__all__ = [
    "DEFAULT_AUTHORITY",
    "DEFAULT_PRICE_MODEL",
    "DepositRecord",
    "DriftSimulator",
    "FillRecord",
    "FundingPaymentRecord",
    "FundingRateRecord",
    "InsufficientCollateralError",
    "InterestRecord",
    "LiquidationRecord",
    "OrderRecord",
    "OrderResult",
    "PriceModel",
    "SettlePnlRecord",
    "SimRecord",
    "SimulationError",
]
