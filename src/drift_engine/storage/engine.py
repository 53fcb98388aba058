"""Engine factory: one place that makes SQLite safe for several processes, and PostgreSQL.

SQLite settings and why:
- WAL journal: readers never block the writer and the writer never blocks readers.
- `busy_timeout`: a writer waits for the lock instead of failing at once.
- `BEGIN IMMEDIATE` for write transactions: the write lock is taken when the transaction
  starts. With the driver's default deferred BEGIN, a transaction that read first and
  then writes can find its snapshot stale and fail with "database is locked" *without*
  waiting — the busy timeout cannot help there. Read transactions use a deferred BEGIN.
- `synchronous=FULL`: a commit is on disk before it returns (the ledger holds money).
- `foreign_keys=ON`: SQLite leaves them off unless asked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

DEFAULT_BUSY_TIMEOUT_MS = 30_000

# Execution option read by the "begin" hook: "IMMEDIATE" (write) or "DEFERRED" (read).
SQLITE_BEGIN_OPTION = "drift_engine_sqlite_begin"


def normalize_url(url: str | URL) -> URL:
    """`postgres://` and `postgresql://` (libpq style, as in DATABASE_URL) -> psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> Engine:
    """A SQLAlchemy engine for `url`; SQLite files get WAL, busy timeout and IMMEDIATE writes."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    _create_sqlite_parent_dir(parsed)
    engine = create_engine(parsed)
    _install_sqlite_hooks(engine, busy_timeout_ms)
    return engine


def _create_sqlite_parent_dir(url: URL) -> None:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _install_sqlite_hooks(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 driver; the "begin" hook owns it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first: switching to WAL itself may have to wait for a lock.
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "IMMEDIATE")
        if mode not in ("IMMEDIATE", "DEFERRED"):
            raise ValueError(f"{SQLITE_BEGIN_OPTION}: {mode!r} is not IMMEDIATE or DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")
