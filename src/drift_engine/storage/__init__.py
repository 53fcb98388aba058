"""Storage: SQLAlchemy models, the engine factory, sessions, and packaged Alembic migrations.

Start-up calls `upgrade(url)` (or `Database.open(url)`, which does it) so the schema is
always current before anything reads or writes.

Names are imported on first use (PEP 562): `storage.quick` and `storage.revisions` are
reached through this package by read-only commands that must not import SQLAlchemy.
"""

from __future__ import annotations

from drift_engine.lazy_names import lazy_getattr

_NAMES = {
    "Database": "drift_engine.storage.database",
    "make_engine": "drift_engine.storage.engine",
    "normalize_url": "drift_engine.storage.engine",
    "current_revision": "drift_engine.storage.migrate",
    "downgrade": "drift_engine.storage.migrate",
    "upgrade": "drift_engine.storage.migrate",
}


__getattr__ = lazy_getattr(__name__, _NAMES)


__all__ = sorted(_NAMES)
