"""Deprecated: use `drift_engine.core.builder` (and `drift_engine.core.types`).

This module keeps `import delta_neutral.drift_order_builder` working for code written
against the original system. It re-exports the Drift instruction builder and the order
types from `drift_engine.core` and emits a DeprecationWarning when imported.
`DriftOrderBuilder` is the old name of `DriftInstructionBuilder`.
"""

from __future__ import annotations

import warnings

from drift_engine.core.builder import DriftInstructionBuilder, UserAccountsView
from drift_engine.core.errors import OrderValidationError
from drift_engine.core.markets import MarketCatalog, MarketSpec, UnknownMarketError
from drift_engine.core.types import (
    DriftMarginMetrics,
    DriftPosition,
    MarketType,
    ModifyOrderPolicy,
    OpenOrder,
    OrderIntent,
    OrderModification,
    OrderType,
    PositionDirection,
    PostOnly,
    TriggerCondition,
)

warnings.warn(
    "delta_neutral.drift_order_builder is deprecated; import DriftInstructionBuilder from "
    "drift_engine.core.builder and the order types from drift_engine.core.types",
    DeprecationWarning,
    stacklevel=2,
)

#: The original system's name for the builder.
DriftOrderBuilder = DriftInstructionBuilder

__all__ = [
    "DriftInstructionBuilder",
    "DriftMarginMetrics",
    "DriftOrderBuilder",
    "DriftPosition",
    "MarketCatalog",
    "MarketSpec",
    "MarketType",
    "ModifyOrderPolicy",
    "OpenOrder",
    "OrderIntent",
    "OrderModification",
    "OrderType",
    "OrderValidationError",
    "PositionDirection",
    "PostOnly",
    "TriggerCondition",
    "UnknownMarketError",
    "UserAccountsView",
]
