"""Strategies: the `DriftStrategy` interface and the strategies built on it."""

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

#: Strategy classes by the name used in config files and on the command line.
STRATEGIES: dict[str, type[DriftStrategy]] = {DeltaNeutralStrategy.name: DeltaNeutralStrategy}


def strategy_class(name: str) -> type[DriftStrategy]:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise KeyError(f"unknown strategy {name!r} (known: {sorted(STRATEGIES)})") from None


__all__ = [
    "STRATEGIES",
    "Action",
    "CancelAllOrders",
    "DeltaNeutralConfig",
    "DeltaNeutralState",
    "DeltaNeutralStrategy",
    "DriftStrategy",
    "FillEvent",
    "FundingEvent",
    "MarketSnapshot",
    "PlaceOrders",
    "StrategyConfig",
    "StrategySnapshot",
    "StrategyState",
    "VaultSnapshot",
    "strategy_class",
]
