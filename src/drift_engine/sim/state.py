"""The simulator's own data types and names: the keys it names markets and sub-accounts
by, its refusal errors, and the per-account and per-market bookkeeping records.

Kept apart from the behaviour (the `*Mixin` modules) so that every module of the
simulator can import them without importing each other: `persistence` (undo copies,
dump/load) needs `_Account` and `_Rates`, `accounts` needs `persistence`'s `_Snapshot`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from solders.pubkey import Pubkey

from drift_engine.core.errors import DriftEngineError
from drift_engine.core.offline import OfflineDrift
from drift_engine.core.types import MarketType
from drift_engine.sim import rules

QUOTE_SPOT_MARKET_INDEX = 0
MarketKey = tuple[MarketType, int]
UserKey = tuple[Pubkey, int]

#: The authority used when none is given: fixed, so account bytes replay identically.
DEFAULT_AUTHORITY = Pubkey.from_bytes(bytes([7]) * 32)


class SimulationError(DriftEngineError):
    """The simulated program refused an action (the chain would fail the transaction)."""


class InsufficientCollateralError(SimulationError):
    """The action would leave the account below its initial margin requirement."""


def _asset_of(symbol: str) -> str:
    s = symbol.upper()
    if s.endswith("-PERP"):
        s = s[: -len("-PERP")]
    return s[1:] if s in ("WBTC", "WETH") else s


@dataclass(eq=False)
class _Account:
    key: UserKey
    authority: str
    user: Any
    stats: Any
    drift: OfflineDrift
    drift_user: Any
    #: (free maintenance collateral, {market: (price at check, quote per price unit)},
    #: the record count and prices at the check, its (collateral, requirement)) or None
    safe: tuple[Any, ...] | None = None
    liquidation_start_ts: int = 0


@dataclass(eq=False)
class _Rates:
    deposit: int = 0  # SPOT_RATE precision (1e6 = 100% APR)
    borrow: int = 0


def _rate_to_spot_precision(rate: int | Decimal | float | str) -> int:
    """An annual rate as SPOT_RATE precision: ints are taken as already 1e6-scaled."""
    if isinstance(rate, int):
        return rate
    return int(Decimal(str(rate)) * rules.SPOT_RATE_PRECISION)


__all__ = [
    "DEFAULT_AUTHORITY",
    "QUOTE_SPOT_MARKET_INDEX",
    "InsufficientCollateralError",
    "MarketKey",
    "SimulationError",
    "UserKey",
]
