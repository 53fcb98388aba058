"""What the dashboard's hot read endpoints serve: the last consistent database read, kept
and refreshed off the request path.

Every open dashboard page asks `/api/health`, `/api/engines` and `/api/vaults` on each
heartbeat. Reading them is several queries plus pydantic work (10-50 ms of CPU), while
their data changes only when the database does — about once per heartbeat. So each is
kept as one *read* (`Kept`: the value and the database's data version read just before
the read transaction began) and served from memory.

The data version: on SQLite `PRAGMA data_version` on a connection of our own (it changes
whenever another connection commits; microseconds, so read on the event loop at each
request); on PostgreSQL `pg_current_snapshot()`, whose text changes whenever a writing
transaction starts or ends (a query, so read by the refresh in its worker thread).

**Freshness rule** (`tests/dashboard/test_fresh_reads.py`):

1. An answer is always one whole read: one read transaction's consistent view (on
   PostgreSQL at REPEATABLE READ), never parts of two.
2. When a request finds the data version moved since the kept read (on PostgreSQL:
   whenever no refresh is running, since moving cannot be seen without a query), it
   starts a refresh if none is running and is answered at once from the kept read. A
   refresh reads the version, then (if it moved) the data, in a worker thread; at most
   one runs per endpoint, whatever the request rate.
3. When a refresh lands, every later answer is built from it. A refresh started after a
   commit returned to its writer includes that commit; so a heartbeat committed before
   request R arrived is in every answer from the moment the refresh R started (or, when
   one was already running, the one the first request after it started) lands. An answer
   is never older than the newest landed read, and never goes back to an older one.
4. With nothing kept yet (start, or after `clear()`, which a control action does so its
   effect shows at the next request), the request waits for the refresh.

What changes with the wall clock only (liveness ages, leases expiring, a runner process
dying: ADR-0018) is not kept: each request adds it to the kept read (`app.py`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from starlette.concurrency import run_in_threadpool


class DataVersion:
    """`PRAGMA data_version` of a SQLite file on a connection of our own (None for other
    databases, or when it cannot be read: every request then asks for a refresh)."""

    #: cheap enough to read on the event loop at every request
    inline = True

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


class SnapshotVersion:
    """PostgreSQL's `pg_current_snapshot()` as text: it changes whenever a transaction
    that writes starts or ends anywhere in the cluster (the dashboard itself only reads:
    read-only transactions take no transaction id). A query, so read off the loop."""

    inline = False

    def __init__(self, database: Any) -> None:
        self._db = database

    def __call__(self) -> str | None:
        from sqlalchemy import text
        from sqlalchemy.exc import SQLAlchemyError

        try:
            with self._db.read() as session:
                return session.scalar(text("SELECT pg_current_snapshot()::text"))
        except SQLAlchemyError:
            return None


@dataclasses.dataclass(frozen=True)
class Kept:
    """One read: `version` was read before the read transaction began (None: unknown,
    so never taken as current)."""

    version: Any
    value: Any
    #: time.monotonic() when the refresh that made it started
    started: float


class FreshReads:
    """The kept reads of the hot endpoints, each refreshed by at most one worker at a time
    (the freshness rule is the module docstring's)."""

    def __init__(self, version: Callable[[], Any] = lambda: None) -> None:
        self.version = version
        self._inline = bool(getattr(version, "inline", False))
        self._kept: dict[str, Kept] = {}
        #: name -> the refresh running for it (created on the event loop)
        self._running: dict[str, asyncio.Task[Kept]] = {}
        self._started: dict[str, float] = {}  # name -> when its running refresh started
        #: bumped by clear(): a refresh started before a clear never lands
        self._generation = 0
        #: the event loop serving requests: every change to the state above happens on it
        self._loop: asyncio.AbstractEventLoop | None = None
        #: one read at a time across endpoints: each holds the GIL against the event loop,
        #: which gets a half share beside one reading thread but a third beside two
        self._reading = threading.Lock()

    def kept(self, name: str) -> Kept | None:
        return self._kept.get(name)

    async def get(self, name: str, compute: Callable[[], Any]) -> Any:
        """The kept value of `name`, starting a refresh when the data may have moved;
        waits only when nothing is kept. `compute` runs in a worker thread."""
        self._loop = asyncio.get_running_loop()
        kept = self._kept.get(name)
        if kept is None:
            return (await self._refresh(name, compute)).value
        if not self._inline or kept.version is None or self.version() != kept.version:
            self._start(name, compute)
        return kept.value

    async def since(self, name: str, compute: Callable[[], Any], t: float) -> Any:
        """The value of `name` from a refresh started at or after `t` (time.monotonic()),
        waiting for one: the live stream announces a change only once the kept reads
        include it, so the page's requests that follow get it (app.py)."""
        loop = self._loop = asyncio.get_running_loop()
        while True:
            kept = self._kept.get(name)
            if kept is not None and kept.started >= t:
                return kept.value
            task = self._running.get(name)
            if task is None or task.done() or task.get_loop() is not loop:
                return (await self._refresh(name, compute)).value  # starts one now
            if self._started.get(name, t - 1) >= t:
                return (await asyncio.shield(task)).value
            await asyncio.wait([task])  # started before t: let it land, then start one

    async def settle(self) -> None:
        """Wait for the refreshes running now (tests: the state once they land)."""
        while self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    def clear(self) -> None:
        """Forget every kept read: the next request reads again and waits for it. Safe
        from a worker thread (a sync route): done on the event loop before it returns."""
        loop = self._loop
        if loop is not None and loop.is_running() and not _on_loop(loop):
            done = threading.Event()

            def clear_on_loop() -> None:
                self._clear()
                done.set()

            loop.call_soon_threadsafe(clear_on_loop)
            done.wait(5.0)
            return
        self._clear()

    def _clear(self) -> None:
        self._generation += 1
        self._kept.clear()
        self._running.clear()

    # ---------------------------------------------------------------------------------
    def _start(self, name: str, compute: Callable[[], Any]) -> asyncio.Task[Kept]:
        task = self._running.get(name)
        # a task of another loop: an earlier loop that ended (a test client per request)
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            self._started[name] = time.monotonic()
            task = asyncio.ensure_future(self._land(name, compute, self._generation))
            task.add_done_callback(_retrieved)
            self._running[name] = task
        return task

    async def _refresh(self, name: str, compute: Callable[[], Any]) -> Kept:
        # shield: a client hanging up must not cancel the refresh others wait for
        return await asyncio.shield(self._start(name, compute))

    async def _land(self, name: str, compute: Callable[[], Any], generation: int) -> Kept:
        try:
            kept = await run_in_threadpool(self._read, self._kept.get(name), compute)
        except BaseException:
            if generation == self._generation:
                self._running.pop(name, None)
                # the database did not answer: nothing kept is served as if it had, the
                # next request reads again (and meets the error itself)
                self._kept.pop(name, None)
            raise
        if generation == self._generation:
            self._running.pop(name, None)
            current = self._kept.get(name)
            if current is None or current.started <= kept.started:
                self._kept[name] = kept
        return kept

    def _read(self, kept: Kept | None, compute: Callable[[], Any]) -> Kept:
        with self._reading:
            started = time.monotonic()
            version = self.version()  # before the data: a commit after it moves it again
            if kept is not None and version is not None and version == kept.version:
                return Kept(version, kept.value, started)
            return Kept(version, compute(), started)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _retrieved(task: asyncio.Task[Any]) -> None:
    """A failed refresh nobody waited for is not "never retrieved": the next request
    reads again and meets the error."""
    if not task.cancelled():
        task.exception()


class JsonDump:
    """pydantic values as JSON bytes, one TypeAdapter per type."""

    def __init__(self) -> None:
        self._adapters: dict[Any, TypeAdapter[Any]] = {}

    def __call__(self, type_: Any, value: Any) -> bytes:
        adapter = self._adapters.get(type_)
        if adapter is None:
            adapter = self._adapters[type_] = TypeAdapter(type_)
        return adapter.dump_json(value)


__all__ = ["DataVersion", "FreshReads", "JsonDump", "Kept", "SnapshotVersion"]
