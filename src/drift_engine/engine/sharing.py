"""Many runners, one database (ADR-0019): which engines a runner runs, and picking up the
engines of a runner that died.

A runner's *selection* is the enabled engines of its config, or the subset named by
`run --engines a,b`, or its shard `run --shard i/n` (a stable hash of the engine id, so
every machine with the same config agrees on the shards). Of its selection a runner runs
every engine no live runner holds (`Leases.acquire_free`); the others it *waits for*:
every few seconds it tries their leases again, and when a lease has expired — its
runner died — it takes it and the engine joins its heartbeat. A paper engine resumes
from its own checkpoint and first catches up, tick by tick over the same data, to the
runner's time (`PaperStack.catch_up`); an engine whose checkpoint is ahead of the runner
waits until the runner's heartbeat gets there.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from drift_engine.core.errors import DriftEngineError
from drift_engine.engine.lease import engine_lease

log = logging.getLogger("drift_engine.sharing")


class SelectionError(DriftEngineError, ValueError):
    """`--engines` / `--shard` do not name a usable subset; `key` names the option."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"{key}: {message}")


def shard_of(engine_id: str, shards: int) -> int:
    """The shard (1..shards) of an engine: CRC-32 of its id, the same on every machine."""
    return zlib.crc32(engine_id.encode()) % shards + 1


def parse_shard(text: str) -> tuple[int, int]:
    """`i/n` (1 <= i <= n <= 1024) as (i, n)."""
    head, sep, tail = text.strip().partition("/")
    if not sep or not head.strip().isdigit() or not tail.strip().isdigit():
        raise SelectionError("--shard", f"{text!r} is not i/n (e.g. 1/3)")
    i, n = int(head), int(tail)
    if not 1 <= n <= 1024 or not 1 <= i <= n:
        raise SelectionError("--shard", f"{text!r}: need 1 <= i <= n <= 1024")
    return i, n


def select_engines(
    ids: Sequence[str], *, engines: str | None = None, shard: str | None = None
) -> list[str]:
    """The engine ids (in config order) a runner runs: all of `ids`, those named by
    `engines` ("a,b"), or shard `shard` ("i/n")."""
    if engines is not None and shard is not None:
        raise SelectionError("--engines", "give --engines or --shard, not both")
    if engines is not None:
        names = [e.strip() for e in engines.split(",") if e.strip()]
        if not names:
            raise SelectionError("--engines", "name at least one engine id, e.g. --engines dn-sol")
        unknown = [n for n in names if n not in ids]
        if unknown:
            known = ", ".join(ids) or "none"
            raise SelectionError(
                "--engines", f"no enabled engine {unknown[0]!r} in the config (enabled: {known})"
            )
        wanted = set(names)
        return [i for i in ids if i in wanted]
    if shard is not None:
        i, n = parse_shard(shard)
        return [e for e in ids if shard_of(e, n) == i]
    return list(ids)


def _take_free(pickup: Any) -> Iterator[str]:
    """Yields the engines `pickup` waits for whose leases it took now, each removed from
    its `waiting` as it is yielded; tried at most every `pickup.every_s` of wall time."""
    if not pickup.waiting:
        return
    now = pickup._wall()
    if pickup._last is not None and now - pickup._last < pickup.every_s:
        return
    pickup._last = now
    names = {engine_lease(e): e for e in pickup.waiting}
    taken, _held = pickup.leases.acquire_free(names)
    for name in taken:
        pickup.waiting.remove(names[name])
        yield names[name]


class PaperPickup:
    """A paper runner's on_tick hook that takes the engines it waits for once free.

    `add(engine_id, ts)` builds the engine in the stack (restored from its checkpoint or
    fresh) and returns it; `events_until(ts)` opens the run's data stream up to `ts` (the
    same stream the heartbeat reads) for a catch-up."""

    def __init__(
        self,
        stack: Any,
        leases: Any,
        waiting: Iterable[str],
        *,
        add: Callable[[str, int], Any],
        events_until: Callable[[int], Iterable[Any]],
        interval_s: int,
        snapshot_every_s: int,
        every_s: float,
        on_taken: Callable[[str, Any, int], None] | None = None,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stack = stack
        self.leases = leases
        self.waiting = list(waiting)
        self.add = add
        self.events_until = events_until
        self.interval_s = interval_s
        self.snapshot_every_s = snapshot_every_s
        self.every_s = every_s
        self.on_taken = on_taken
        self._wall = wall
        self._last: float | None = None
        #: engine id -> checkpoint time: taken, but ahead of this runner's heartbeat
        self.ahead: dict[str, int] = {}
        self.taken: list[str] = []

    def __call__(self, result: Any) -> None:
        ts = result.ts
        for engine_id, at in list(self.ahead.items()):
            if at <= ts:
                del self.ahead[engine_id]
                self._join(engine_id, ts)
        for engine_id in _take_free(self):
            self.taken.append(engine_id)
            at = self.stack.store.checkpoint_ts(engine_lease(engine_id))
            if at is not None and at > ts:
                log.info("picked up %s; it joins at %s (its checkpoint is ahead)", engine_id, at)
                self.ahead[engine_id] = at
                continue
            self._join(engine_id, ts)

    def _join(self, engine_id: str, ts: int) -> None:
        stack = self.stack
        stack.restore([engine_id], advance=False)
        engine = self.add(engine_id, ts)
        cell = stack.cells[engine_id]
        ticks = 0
        if cell.lagging:
            ticks = stack.catch_up(
                cell,
                self.events_until(ts),
                ts,
                interval_s=self.interval_s,
                snapshot_every_s=self.snapshot_every_s,
            )
        if self.on_taken is not None:
            self.on_taken(engine_id, engine, ticks)


class LivePickup:
    """A live runner's on_tick hook: an engine it waits for joins once its lease is free,
    built as every live engine is (`build(engine_id, ts)` -> a `LiveRunner` of one
    stack: startup reconciliation first) and added to this runner's heartbeat."""

    def __init__(
        self,
        runner: Any,
        leases: Any,
        waiting: Iterable[str],
        *,
        build: Callable[[str, int], Any],
        every_s: float,
        on_taken: Callable[[str, Any], None] | None = None,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runner = runner
        self.leases = leases
        self.waiting = list(waiting)
        self.build = build
        self.every_s = every_s
        self.on_taken = on_taken
        self._wall = wall
        self._last: float | None = None

    def __call__(self, result: Any) -> None:
        for engine_id in _take_free(self):
            built = self.build(engine_id, result.ts)
            main = self.runner
            for stack in built.stacks:
                stack.engine.board = main.board
                for symbol in stack.engine.strategy.markets():
                    main.board.add(symbol)
                if hasattr(main, "add_stack"):  # live.runner.LiveRunner: its own lane
                    main.add_stack(stack)
                else:
                    main.stacks.append(stack)
                    main.heartbeat.add_engine(stack.engine)
                    main.heartbeat.sync_hooks.append(stack.sync)
                if self.on_taken is not None:
                    self.on_taken(engine_id, stack)
            if hasattr(built, "close") and hasattr(main, "add_stack"):
                built.close()  # its stacks now run on `main`'s lanes


__all__ = [
    "LivePickup",
    "PaperPickup",
    "SelectionError",
    "parse_shard",
    "select_engines",
    "shard_of",
]
