"""The engine layer: DriftEngine runs a strategy against a venue and books into a vault."""

from __future__ import annotations

from drift_engine.engine.engine import (
    DriftEngine,
    EngineError,
    EngineMode,
    EngineState,
    EngineStats,
    MemoryEngineStore,
)
from drift_engine.engine.market_board import MarketBoard
from drift_engine.engine.ports import (
    EngineRecord,
    EngineStore,
    InterestEvent,
    LedgerSink,
    LiquidationEvent,
    Posting,
    Venue,
    VenueError,
)

__all__ = [
    "DriftEngine",
    "EngineError",
    "EngineMode",
    "EngineRecord",
    "EngineState",
    "EngineStats",
    "EngineStore",
    "InterestEvent",
    "LedgerSink",
    "LiquidationEvent",
    "MarketBoard",
    "MemoryEngineStore",
    "Posting",
    "Venue",
    "VenueError",
]
