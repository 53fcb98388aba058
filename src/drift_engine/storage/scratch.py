"""Throw-away SQLite databases at the newest schema, made by copying, not migrating.

A backtest books into a database of its own that nobody reads after the report. Running
every Alembic migration for each one costs ~0.1 s of CPU and a dozen fsyncs — most of a
sweep run's start (issue #14: no per-run start cost above 0.3 s). So each process
migrates one template once (`Database.open`, the same code as any start) and every
scratch database is a byte copy of it: the same schema, the same `alembic_version`.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sqlite3
import tempfile
import threading
from contextlib import closing
from pathlib import Path

from drift_engine.storage.database import Database

_lock = threading.Lock()
#: (pid, without `REDUNDANT_INDEXES`) -> template file (a forked child makes its own)
_template: dict[tuple[int, bool], Path] = {}

#: a scratch database is a copy of a template without `REDUNDANT_INDEXES`: the ledger's
#: index on `vault_id`, which the unique (vault_id, idempotency_key) index already
#: leads with, so every query by vault (the report's sums, the flush's balances) is
#: served by that one and gives the same result; each ledger insert then maintains one
#: index less (a B-tree seek and insert a row: ~3k of the ~16k instructions SQLite
#: spends on it). A kept database (`database_url`) is migrated as always; False: the
#: template as migrated (the reference)
LEAN_SCRATCH_INDEXES = True

#: indexes a scratch database is made without (`LEAN_SCRATCH_INDEXES`): each one a
#: prefix of another index of its table, so no query's set of rows can change (an
#: unordered read's order may: the run's reads are sums, or ordered by id)
REDUNDANT_INDEXES = ("ix_ledger_entries_vault_id",)


def _template_file() -> Path:
    lean = LEAN_SCRATCH_INDEXES
    key = (os.getpid(), lean)
    with _lock:
        path = _template.get(key)
        if path is None or not path.is_file():
            folder = tempfile.mkdtemp(prefix="drift-schema-")
            atexit.register(shutil.rmtree, folder, True)
            path = Path(folder) / "template.db"
            Database.open(f"sqlite:///{path}").dispose()
            with closing(sqlite3.connect(path)) as c:  # all in the main file, no -wal beside
                if lean:
                    for name in REDUNDANT_INDEXES:
                        c.execute(f"DROP INDEX {name}")
                    c.commit()
                c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            _template[key] = path
        return path


def scratch_database(path: str | os.PathLike[str]) -> Database:
    """A new SQLite database file at `path` (which must not exist) at the newest schema,
    opened. For throw-away runs (backtests), not for data anyone keeps."""
    target = Path(path)
    if target.exists():
        raise FileExistsError(f"{target} exists; a scratch database is always new")
    shutil.copyfile(_template_file(), target)
    return Database(f"sqlite:///{target}")
