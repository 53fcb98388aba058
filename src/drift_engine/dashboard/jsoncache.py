"""Pre-serialised JSON for the dashboard's hot read endpoints.

Every open dashboard page asks `/api/health`, `/api/engines` and `/api/vaults` on each
heartbeat; computing them is several queries plus pydantic validation and FastAPI's
serialisation (milliseconds of CPU) while their answer changes only when the database
does. So each endpoint's answer is kept, as JSON bytes, with two keys:

- the database's *data version*: on SQLite, `PRAGMA data_version` on a connection of our
  own, which changes whenever any other connection commits (microseconds to read). While
  it has not moved, the kept bytes are the answer: no query, no serialisation;
- when it moved (or on PostgreSQL, which has no such counter), the endpoint's *marker*
  (a few narrow columns: engine states and times, pending commands, vault rows, the
  newest ledger entry and snapshot): if that did not move either, the bytes still stand.

So an answer is never stale. Only what depends on the database alone is kept this way
(`/api/vaults`); health and the engine list carry liveness and lease expiry, which change
with the wall clock, and are computed at each request.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

MISSING = object()


class DataVersion:
    """`PRAGMA data_version` of a SQLite file on a connection of our own (None for other
    databases: every request then reads the marker)."""

    def __init__(self, path: Path | None) -> None:
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        if path is not None:
            try:
                uri = f"{path.resolve().as_uri()}?mode=ro"
                self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            except sqlite3.Error:
                self._conn = None

    def __call__(self) -> int | None:
        conn = self._conn
        if conn is None:
            return None
        try:
            with self._lock:
                return conn.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error:
            return None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class JsonCache:
    def __init__(self, version: Callable[[], int | None] = lambda: None) -> None:
        self.version = version
        #: name -> (data version, marker, value)
        self._entries: dict[str, tuple[Any, Any, Any]] = {}
        self._adapters: dict[Any, TypeAdapter[Any]] = {}
        self._lock = threading.Lock()

    def dump(self, type_: Any, value: Any) -> bytes:
        """`value` (of pydantic type `type_`) as JSON bytes."""
        adapter = self._adapters.get(type_)
        if adapter is None:
            adapter = self._adapters[type_] = TypeAdapter(type_)
        return adapter.dump_json(value)

    def fresh(self, name: str) -> Any:
        """The kept value of `name` if the data version says nothing changed, else MISSING
        (cheap: call it on the event loop; `get` does the rest in a worker thread)."""
        hit = self._entries.get(name)
        if hit is None or hit[0] is None:
            return MISSING
        return hit[2] if self.version() == hit[0] else MISSING

    def get(self, name: str, marker: Callable[[], Any], compute: Callable[[], Any]) -> Any:
        """`compute()` as of now: the kept value when neither the data version nor
        `marker()` moved since it was computed."""
        version = self.version()  # read before the data: a later commit moves it again
        hit = self._entries.get(name)
        if hit is not None and version is not None and hit[0] == version:
            return hit[2]
        mark = marker()
        if hit is not None and hit[1] == mark:
            self._entries[name] = (version, mark, hit[2])
            return hit[2]
        with self._lock:  # one request recomputes; the others wait for its answer
            hit = self._entries.get(name)
            if hit is not None and hit[1] == mark:
                return hit[2]
            value = compute()
            self._entries[name] = (version, mark, value)
            return value

    def clear(self) -> None:
        self._entries.clear()


__all__ = ["MISSING", "DataVersion", "JsonCache"]
