"""`Database`: the one handle the rest of the app holds — sessions for reads and writes.

A `write()` block is exactly one database transaction: it commits when the block ends
and rolls back if it raises. That is how "every booking is one DB transaction" is kept:
callers never commit by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from drift_engine.storage.engine import (
    DEFAULT_BUSY_TIMEOUT_MS,
    SQLITE_BEGIN_OPTION,
    make_engine,
)
from drift_engine.storage.migrate import upgrade


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
    def open(cls, url: str, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> Database:
        """Upgrade the schema to the newest migration, then connect."""
        upgrade(url, busy_timeout_ms=busy_timeout_ms)
        return cls(url, busy_timeout_ms=busy_timeout_ms)

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
