"""Storage: SQLAlchemy models, the engine factory, sessions, and packaged Alembic migrations.

Start-up calls `upgrade(url)` (or `Database.open(url)`, which does it) so the schema is
always current before anything reads or writes.

Names are imported on first use (PEP 562): `storage.quick` and `storage.revisions` are
reached through this package by read-only commands that must not import SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "Database": "drift_engine.storage.database",
    "make_engine": "drift_engine.storage.engine",
    "normalize_url": "drift_engine.storage.engine",
    "current_revision": "drift_engine.storage.migrate",
    "downgrade": "drift_engine.storage.migrate",
    "upgrade": "drift_engine.storage.migrate",
}


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = sorted(_NAMES)
