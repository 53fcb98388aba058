"""A read-only look at a current SQLite database with the standard library alone.

`drift-engine engines list` answers in well under a second only if it imports neither
SQLAlchemy (~0.35 s of CPU here) nor the ORM models: a command that runs one SELECT
per table pays more to import the toolkit than to read. So for the common case — a
SQLite file already at the newest shipped migration — it reads through `sqlite3`.

Anything else returns None from `open_current_sqlite` and the caller takes the full
path (`Database.open`), which migrates an old schema, reads PostgreSQL and reports every
problem as one line: this module never decides an error, it only steps aside.

What SQLAlchemy does to the values of the columns read here is done by `as_utc` (our
`UTCDateTime` stores naive UTC text on SQLite) and `as_json` (JSON as text); a test
compares this path with the ORM path on the same database (tests/cli).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drift_engine.storage.revisions import shipped_head

_PREFIX = "sqlite:///"


def sqlite_path(url: str) -> Path | None:
    """The file a plain `sqlite:///PATH` URL names; None for anything else (a query
    string, a `file:` URI, memory, another driver or database)."""
    if not url.startswith(_PREFIX):
        return None
    path = url[len(_PREFIX) :]
    if not path or "?" in path or path.startswith("file:") or path == ":memory:":
        return None
    return Path(path)


def open_current_sqlite(url: str, *, busy_timeout_ms: int = 30_000) -> sqlite3.Connection | None:
    """A connection to the SQLite file `url` names, inside one read transaction (a
    consistent view, like `Database.read()`), if that file exists and is at the newest
    shipped migration; else None (use `Database.open(url, create=False)`)."""
    path = sqlite_path(url)
    head = shipped_head()
    if path is None or head is None or not path.is_file():
        return None
    connection: sqlite3.Connection | None = None
    try:
        connection = sqlite3.connect(path, timeout=busy_timeout_ms / 1000)
        connection.row_factory = sqlite3.Row
        connection.execute("BEGIN DEFERRED")
        rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
        if len(rows) == 1 and rows[0][0] == head:
            return connection
    except sqlite3.Error:
        pass  # not a database, no alembic_version, locked...: the full path says why
    if connection is not None:
        connection.close()
    return None


def as_utc(value: Any) -> datetime | None:
    """A `UTCDateTime` column's value as SQLAlchemy returns it: aware UTC (SQLite keeps
    naive UTC text, e.g. "2026-12-02 04:10:00.123456")."""
    if value is None:
        return None
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def as_json(value: Any) -> Any:
    """A JSON column's value (SQLite keeps it as text)."""
    return json.loads(value) if isinstance(value, str | bytes) else value
