"""Strategies: the `DriftStrategy` interface, the built-in strategies, and finding a
strategy by name, module or file (`strategies/loading.py`)."""

from __future__ import annotations

from drift_engine.strategies.base import (
    Action,
    CancelAllOrders,
    DriftStrategy,
    FillEvent,
    FundingEvent,
    MarketSnapshot,
    PlaceOrders,
    StrategyConfig,
    StrategySnapshot,
    StrategyState,
    VaultSnapshot,
)
from drift_engine.strategies.delta_neutral import (
    DeltaNeutralConfig,
    DeltaNeutralState,
    DeltaNeutralStrategy,
)
from drift_engine.strategies.funding_spread import (
    FundingSpreadConfig,
    FundingSpreadState,
    FundingSpreadStrategy,
)
from drift_engine.strategies.loading import (
    ENTRY_POINT_GROUP,
    StrategyLoadError,
    StrategyRef,
    builtin_strategies,
    installed_strategies,
    resolve_strategy,
)
from drift_engine.strategies.wake import (
    EVERY_TICK,
    AtTime,
    EveryTick,
    HealthBelow,
    NextFunding,
    PriceOutside,
    WakeCondition,
)

#: The built-in strategy classes by the name used in config files and on the command
#: line. Installed and file strategies are found by `strategy_class`.
STRATEGIES: dict[str, type[DriftStrategy]] = builtin_strategies()


def strategy_class(spec: str) -> type[DriftStrategy]:
    """The class a strategy spec names: a built-in or installed name, `module:Class` or
    `path/to/file.py:Class`. Raises `StrategyLoadError` (a ValueError) naming the spec."""
    return resolve_strategy(spec)


__all__ = [
    "ENTRY_POINT_GROUP",
    "EVERY_TICK",
    "STRATEGIES",
    "Action",
    "AtTime",
    "CancelAllOrders",
    "DeltaNeutralConfig",
    "DeltaNeutralState",
    "DeltaNeutralStrategy",
    "DriftStrategy",
    "EveryTick",
    "FillEvent",
    "FundingEvent",
    "FundingSpreadConfig",
    "FundingSpreadState",
    "FundingSpreadStrategy",
    "HealthBelow",
    "MarketSnapshot",
    "NextFunding",
    "PlaceOrders",
    "PriceOutside",
    "StrategyConfig",
    "StrategyLoadError",
    "StrategyRef",
    "StrategySnapshot",
    "StrategyState",
    "VaultSnapshot",
    "WakeCondition",
    "builtin_strategies",
    "installed_strategies",
    "resolve_strategy",
    "strategy_class",
]
