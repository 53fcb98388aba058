"""The engine layer: DriftEngine runs a strategy against a venue and books into a vault.

Names are imported on first use (PEP 562): `drift_engine.engine.commands`, `.lease` or
`.store` are reached through this package by commands that only read, and importing
`engine.engine` (strategies, risk, driftpy) would cost them seconds.
"""

from __future__ import annotations

from drift_engine.lazy_names import lazy_getattr

_NAMES = {
    "DriftEngine": "drift_engine.engine.engine",
    "EngineError": "drift_engine.engine.engine",
    "EngineMode": "drift_engine.engine.engine",
    "EngineState": "drift_engine.engine.engine",
    "EngineStats": "drift_engine.engine.engine",
    "MemoryEngineStore": "drift_engine.engine.engine",
    "MarketBoard": "drift_engine.engine.market_board",
    "EngineRecord": "drift_engine.engine.ports",
    "EngineStore": "drift_engine.engine.ports",
    "InterestEvent": "drift_engine.engine.ports",
    "LedgerSink": "drift_engine.engine.ports",
    "LiquidationEvent": "drift_engine.engine.ports",
    "Posting": "drift_engine.engine.ports",
    "Venue": "drift_engine.engine.ports",
    "VenueError": "drift_engine.engine.ports",
}


__getattr__ = lazy_getattr(__name__, _NAMES)


__all__ = sorted(_NAMES)
