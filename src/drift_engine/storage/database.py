"""`Database`: the one handle the rest of the app holds — sessions for reads and writes.

A `write()` block is exactly one database transaction: it commits when the block ends
and rolls back if it raises. That is how "every booking is one DB transaction" is kept:
callers never commit by hand.

Opening is where the environment shows: a URL that is not one, a PostgreSQL URL without
psycopg, a server that does not answer, a file that is not a database, a read-only or
full disk. Each is a `DatabaseError` with one line naming the database (password
masked). Commands that only read open with `create=False`: a missing database is then
`DatabaseMissingError` instead of a new empty file (and a new directory) left behind,
and a database already at the newest schema is not written to at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from drift_engine.core.errors import DriftEngineError
from drift_engine.storage.engine import (
    DEFAULT_BUSY_TIMEOUT_MS,
    SQLITE_BEGIN_OPTION,
    DatabaseUrlError,
    check_url,
    make_engine,
    shown_url,
    sqlite_file,
)
from drift_engine.storage.migrate import (
    current_revision,
    head_revision,
    shipped_head,
    stored_revision,
    upgrade,
)


class DatabaseError(DriftEngineError):
    """The database cannot be used as asked; the message names it and says why."""


class DatabaseMissingError(DatabaseError):
    """A command that only reads found no database (and created none)."""


class DatabaseUnavailableError(DatabaseError):
    """The database is there but cannot be opened or written (server down, read-only,
    disk full, not a database file)."""


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror + (f" ({exc.filename})" if exc.filename else "")
    return text.splitlines()[0] if text else type(exc).__name__


class Database:
    """Sessions over one engine. Use `Database.open(url)` at startup (it migrates first)."""

    def __init__(self, url: str, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> None:
        self.url = url
        self.engine: Engine = make_engine(url, busy_timeout_ms=busy_timeout_ms)
        self._writer = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._reader = sessionmaker(
            bind=self.engine.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"}),
            expire_on_commit=False,
        )

    @classmethod
    def open(
        cls, url: str, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS, create: bool = True
    ) -> Database:
        """Upgrade the schema to the newest migration, then connect.

        `create=False` (commands that only read): a missing database is an error rather
        than created, and a current one is opened without writing to it."""
        try:
            check_url(url)
        except DatabaseUrlError as exc:
            raise DatabaseUrlError(f"database URL: {exc}") from None
        shown = shown_url(url)
        try:
            if create:
                upgrade(url, busy_timeout_ms=busy_timeout_ms)
            else:
                cls._upgrade_existing(url, shown, busy_timeout_ms)
            return cls(url, busy_timeout_ms=busy_timeout_ms)
        except DatabaseError:
            raise
        except (SQLAlchemyError, OSError) as exc:
            raise DatabaseUnavailableError(
                f"cannot open the database {shown}: {_reason(exc)}"
            ) from None

    @staticmethod
    def _upgrade_existing(url: str, shown: str, busy_timeout_ms: int) -> None:
        path = sqlite_file(url)
        if path is not None and not path.is_file():
            what = "is a directory, not a database file" if path.is_dir() else "does not exist"
            raise DatabaseMissingError(
                f"the database {path} {what}; nothing has run here yet "
                "(drift-engine run / demo), or set DATABASE_URL / DRIFT_ENGINE_DATA_DIR"
            )
        revision = stored_revision(url)
        if revision is not None and revision == shipped_head():
            return  # current: opened without importing Alembic (fast read-only commands)
        revision = current_revision(url)
        if revision is None:
            raise DatabaseMissingError(
                f"{shown} has no drift-engine tables; nothing has run on it yet "
                "(drift-engine run / demo)"
            )
        if revision != head_revision():
            upgrade(url, busy_timeout_ms=busy_timeout_ms)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction (SQLite: BEGIN IMMEDIATE); commit on success."""
        with self._writer() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """One read-only transaction: a consistent view, never holding the write lock."""
        with self._reader() as session:  # autobegins on first query; closing rolls back
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
