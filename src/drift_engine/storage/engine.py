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
from sqlalchemy.exc import ArgumentError, DBAPIError

from drift_engine.core.errors import DriftEngineError

DEFAULT_BUSY_TIMEOUT_MS = 30_000

# Execution option read by the "begin" hook: "IMMEDIATE" (write) or "DEFERRED" (read).
SQLITE_BEGIN_OPTION = "drift_engine_sqlite_begin"

#: on SQLite the statements SQLAlchemy would only pass to the driver (the "begin" hook's
#: BEGIN; a flush's savepoint, vaults' read and INSERTs of the column way,
#: `vaults.bulk`) are executed by a cursor of the connection's own DBAPI connection
#: (`driver_sql`): the same statements in the same transaction, without SQLAlchemy's
#: execution around each (~100k instructions a statement: its context, result and
#: events); False: `Connection.exec_driver_sql` (the reference)
DRIVER_CURSOR = True


def driver_sql(connection: Any, sql: str, params: tuple[Any, ...] = ()) -> Any:
    """`connection.exec_driver_sql(sql, params)` of one SQLite statement; with
    `DRIVER_CURSOR` executed by a cursor of its DBAPI connection, which is returned
    (its rows are the driver's tuples: no type processing, as `exec_driver_sql`'s).
    The driver leaves transactions to the "begin" hook's BEGIN (`isolation_level =
    None`), so a statement after it is in its transaction and commits or rolls back
    with it. A driver error is raised as SQLAlchemy raises it (`DBAPIError.instance`:
    its `IntegrityError`, `OperationalError`, ..., the driver's error as `orig`), so
    callers catch the same types either way."""
    if not DRIVER_CURSOR:
        return connection.exec_driver_sql(sql, params)
    try:
        return connection.connection.dbapi_connection.cursor().execute(sql, params)
    except Exception as exc:
        dbapi_error = connection.dialect.loaded_dbapi.Error
        if isinstance(exc, dbapi_error):
            raise DBAPIError.instance(
                sql, params, exc, dbapi_error, dialect=connection.dialect
            ) from exc
        raise


def normalize_url(url: str | URL) -> URL:
    """`postgres://` and `postgresql://` (libpq style, as in DATABASE_URL) -> psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


class DatabaseUrlError(DriftEngineError, ValueError):
    """A database URL drift-engine cannot use (unparseable, another database, no driver)."""


def check_url(url: str | URL) -> URL:
    """`url` parsed and normalised, if it is SQLite or PostgreSQL with psycopg installed;
    else DatabaseUrlError saying why (the URL itself is not echoed: it may hold a
    password)."""
    try:
        parsed = normalize_url(url)
    except (ArgumentError, ValueError):
        raise DatabaseUrlError(
            "not a database URL (e.g. sqlite:///var/drift_engine.db or "
            "postgresql://user@host/dbname)"
        ) from None
    try:
        backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    except (ArgumentError, ValueError):  # an unknown dialect: sqlalchemy cannot load it
        backend, driver = parsed.drivername, ""
    if backend == "sqlite" and driver == "pysqlite":
        return parsed
    if backend == "postgresql" and driver == "psycopg":
        try:
            import psycopg  # noqa: F401 - only whether it is there
        except ImportError:
            raise DatabaseUrlError(
                "a PostgreSQL URL needs psycopg, which is not installed "
                "(pip install 'drift-engine[postgres]')"
            ) from None
        return parsed
    raise DatabaseUrlError(
        f"unsupported database {parsed.drivername!r}: use sqlite:///FILE or postgresql://..."
    )


def shown_url(url: str | URL) -> str:
    """`url` fit for a message: the password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "(unparseable URL)"


def sqlite_file(url: str | URL) -> Path | None:
    """The file a SQLite URL names (None: in memory, or not SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database.startswith("file:"):  # sqlite:///file:PATH?mode=ro&uri=true
        database = database[len("file:") :]
    if not database or database == ":memory:" or "mode=memory" in str(parsed.query):
        return None
    return Path(database)


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
    path = sqlite_file(url)
    if path is not None and not path.parent.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)


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
        driver_sql(connection, f"BEGIN {mode}")
