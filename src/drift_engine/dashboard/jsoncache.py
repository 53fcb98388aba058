"""Pre-serialised JSON for the dashboard's hot read endpoints, cached under a change
marker read from the database.

Every open dashboard page asks `/api/health`, `/api/engines` and `/api/vaults` on each
heartbeat; computing them is several queries plus pydantic validation and FastAPI's
serialisation (milliseconds of CPU) while their answer changes only when the database
does. `get` keeps each endpoint's JSON bytes under a marker the caller reads (a few
narrow columns: the latest heartbeat id, engine states and times, pending commands,
vault rows, the newest ledger entry and snapshot): a hit costs one cheap read and no
serialisation, and is never stale. Health carries the heartbeat's age, so it is
serialised fresh each time (without FastAPI's response validation pass).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter


class JsonCache:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[Any, bytes]] = {}
        self._adapters: dict[Any, TypeAdapter[Any]] = {}
        self._lock = threading.Lock()

    def dump(self, type_: Any, value: Any) -> bytes:
        """`value` (of pydantic type `type_`) as JSON bytes."""
        adapter = self._adapters.get(type_)
        if adapter is None:
            adapter = self._adapters[type_] = TypeAdapter(type_)
        return adapter.dump_json(value)

    def get(self, name: str, marker: Any, type_: Any, compute: Callable[[], Any]) -> bytes:
        """The JSON of `compute()` as of `marker` (recomputed when the marker moved)."""
        hit = self._entries.get(name)
        if hit is not None and hit[0] == marker:
            return hit[1]
        with self._lock:  # one request recomputes; the others wait for its answer
            hit = self._entries.get(name)
            if hit is not None and hit[0] == marker:
                return hit[1]
            body = self.dump(type_, compute())
            self._entries[name] = (marker, body)
            return body

    def clear(self) -> None:
        self._entries.clear()


__all__ = ["JsonCache"]
