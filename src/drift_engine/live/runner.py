"""`LiveRunner`: the heartbeat of live engines, which never waits on a transaction.

On chain a send can take a minute (re-broadcast until its blockhash expires, ADR 0021),
and an RPC can hang. If every engine, the kill switch and every vault sync ran on one
thread, one slow transaction would stop them all (measured before this module: one lost
confirmation made a tick take 31 s). So each live engine has its own **lane**: one
worker thread that owns the engine's client (its connection and private event loop) and
runs, in order, the operator commands queued for the engine, the engine's step (strategy,
risk checks, sends), its scheduled `settle_pnl` and its vault sync. The heartbeat thread

1. feeds the market board from a read of its own client (in its own lane);
2. for every lane that is free, submits this tick's job; a lane still busy with an
   earlier tick's job is left alone (the engine is reported `busy` in the heartbeat row,
   nothing is queued behind it: the next free tick catches up on a fresh read);
3. waits for the jobs at most `step_budget_s` of wall time, then records the heartbeat
   row (time, duration, engines stepped, busy and failed engines) and returns — on
   schedule whatever one engine's sends do;
4. pulls the kill switch for busy engines itself: a pending `kill` command for an engine
   whose lane is busy cancels every open order of its sub-account at once through a
   second client (the lane's *control* client, its own connection), and the engine's
   own kill (cancel, reduce-only closes, HALTED) applies as soon as its lane is free —
   in the lane, before any other step. So a kill cancels within one tick even while the
   engine's sends hang.

Lanes share the database (each write is its own transaction) and the market board (read
by the strategies, written by the feed between ticks).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("drift_engine.live.runner")


@dataclass
class LiveTickResult:
    """What one heartbeat tick did (the same fields as the paper heartbeat's result)."""

    ts: int
    events: int
    engines_stepped: int
    duration_ms: float
    errors: list[dict[str, Any]] = field(default_factory=list)
    #: wall seconds this tick started after its scheduled time
    lag_s: float = 0.0
    busy: list[str] = field(default_factory=list)


class Lane:
    """One worker thread; jobs run one at a time, in order."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"live-{name}")
        self.job: Future | None = None
        self.since_ts: int | None = None

    @property
    def busy(self) -> bool:
        return self.job is not None and not self.job.done()

    def submit(self, fn: Callable[[], Any], ts: int) -> Future:
        self.since_ts = ts
        self.job = self._pool.submit(fn)
        return self.job

    def close(self, wait_s: float | None = None) -> None:
        if self.job is not None and wait_s is not None:
            wait([self.job], timeout=wait_s)
        self._pool.shutdown(wait=wait_s is not None, cancel_futures=True)


class EngineLane(Lane):
    """A live engine's lane: its stack, its operator commands, its control client."""

    def __init__(self, stack: Any, commands: Any = None, control: Any = None) -> None:
        super().__init__(stack.engine_id)
        self.stack = stack
        self.commands = commands
        self.control = control
        self._control_lane: Lane | None = None
        #: kill command ids whose emergency cancel already went out
        self.emergency_done: set[int] = set()

    @property
    def engine(self) -> Any:
        return self.stack.engine

    def run_tick(self, ts: int) -> bool:
        """Commands, step, vault sync — what one tick does for this engine (in the lane).
        True when the engine stepped."""
        from drift_engine.engine.engine import EngineState

        if self.commands is not None:
            self.commands.apply([self.engine], ts)
        stepped = False
        if self.engine.state is not EngineState.STOPPED:
            self.engine.step(ts)
            stepped = True
        settle = getattr(self.stack, "settle_if_due", None)
        if settle is not None:
            settle(ts)  # settle_pnl on its schedule (ADR 0022), before the vault sync reads
        venue = getattr(self.stack, "venue", None)
        consumed = None if venue is None else (venue.cursor, venue.cursor_slot)
        if self.stack.sync is not None:
            self.stack.sync(ts)
        if consumed is not None and hasattr(self.stack, "save_cursor"):
            self.stack.save_cursor(consumed)  # what the engine consumed, not the sync
        return stepped

    def control_lane(self) -> Lane:
        if self._control_lane is None:
            self._control_lane = Lane(f"{self.name}-control")
        return self._control_lane

    def close(self, wait_s: float | None = None) -> None:
        super().close(wait_s)
        if self._control_lane is not None:
            self._control_lane.close(wait_s)
        if self.control is not None:
            try:
                self.control.close_blocking()
            except Exception:  # noqa: BLE001 - closing must not raise
                log.exception("closing the control client of %s", self.name)


class LiveRunner:
    """Ticks live engines on lanes (see the module docstring). `run(clock, ...)` ticks
    every `interval_s` of clock time; `tick(ts)` is one tick."""

    def __init__(
        self,
        stacks: list[Any],
        board: Any,
        *,
        store: Any = None,
        hooks: Iterable[Callable[[int], None]] = (),
        market_data: Any = None,
        reader: Any = None,
        controls: dict[str, Any] | None = None,
        step_budget_s: float | None = None,
    ) -> None:
        from drift_engine.engine.commands import OperatorCommands
        from drift_engine.live.start import ChainMarketData

        self.stacks = stacks
        self.board = board
        self.store = store
        self.hooks = list(hooks)
        self.market_data = market_data or ChainMarketData(board)
        #: the client the board is fed from (default: a read-only twin of the first
        #: engine's client: its own connection, so feeding never waits on a lane)
        self.reader = (
            reader if reader is not None or not stacks else stacks[0].client.twin(read_only=True)
        )
        self.step_budget_s = step_budget_s
        controls = controls or {}
        self._commands = lambda: (
            OperatorCommands.for_store(store, poll_s=0) if store is not None else None
        )
        self.lanes = [EngineLane(s, self._commands(), controls.get(s.engine_id)) for s in stacks]
        #: called with each tick's result (metrics, alerts, picking up engines)
        self.on_tick: Callable[[LiveTickResult], None] | None = None
        self._feed_lane = Lane("feed")
        self.failed: dict[str, str] = {}
        self.ticks = 0
        self.last_ts: int | None = None
        self._lock = threading.Lock()
        self._token = 0

    @property
    def heartbeat(self) -> LiveRunner:
        """Compatibility: `runner.heartbeat.tick(ts)` is `runner.tick(ts)`."""
        return self

    def add_stack(self, stack: Any, control: Any = None) -> None:
        """A live engine joins this runner (e.g. picked up from another runner): its own
        lane, and a control client of its own (a twin of its client by default)."""
        if stack not in self.stacks:
            self.stacks.append(stack)
        if any(lane.stack is stack for lane in self.lanes):
            return
        if control is None and hasattr(stack.client, "twin"):
            control = stack.client.twin()
        self.lanes.append(EngineLane(stack, self._commands(), control))

    # ------------------------------------------------------------------ market data
    def feed(self, lanes: Iterable[EngineLane] = (), token: int | None = None) -> int:
        """Update the board from a fresh read; 0 when the chain cannot be read now. With
        `lanes` (idle engines) their sub-accounts are read in the same batched read
        (`live.reads`: one round trip per 100 accounts) and handed to their venues."""
        from drift_engine.core.errors import DriftEngineError
        from drift_engine.live.reads import read_all

        lanes = list(lanes)
        try:
            if self.reader._conn is None:
                self.reader.run(self.reader.connect())
            clients = [self.reader, *(lane.stack.client for lane in lanes)]
            states = self.reader.run(read_all(self.reader, clients))
        except DriftEngineError:
            return 0
        with self._lock:  # a read that came too late for its tick is not handed out
            if token is None or token == self._token:
                for i, lane in enumerate(lanes, start=1):
                    if i in states and hasattr(lane.stack.venue, "preload"):
                        lane.stack.venue.preload(states[i])
        return self.market_data.update(states[0]) if 0 in states else 0

    # ------------------------------------------------------------------ the tick
    def _budget(self, interval_s: float | None) -> float:
        if self.step_budget_s is not None:
            return self.step_budget_s
        return 30.0 if interval_s is None else max(0.2, 0.5 * interval_s)

    def tick(
        self, ts: int, *, interval_s: float | None = None, lag_s: float = 0.0
    ) -> LiveTickResult:
        started = time.perf_counter()
        deadline = time.monotonic() + self._budget(interval_s)
        errors: list[dict[str, Any]] = []
        if self.reader is not None and not self._feed_lane.busy:
            idle = [lane for lane in self.lanes if not lane.busy]
            token = self._token
            self._feed_lane.submit(lambda: self.feed(idle, token), ts)
            wait([self._feed_lane.job], timeout=max(0.0, deadline - time.monotonic()))
            with self._lock:
                self._token += 1  # from now on this tick's read is not handed out
        jobs: dict[Future, EngineLane] = {}
        busy: list[EngineLane] = []
        for lane in self.lanes:
            engine = lane.engine
            if lane.busy:
                busy.append(lane)
                continue
            self._collect(lane, errors)
            if engine.engine_id in self.failed:
                from drift_engine.engine.engine import EngineState

                if engine.state is EngineState.HALTED:
                    continue  # isolated until an operator starts it again
                del self.failed[engine.engine_id]
            jobs[lane.submit(lambda lane=lane: lane.run_tick(ts), ts)] = lane
        if busy:
            self._emergency_kills(busy, ts, deadline, errors)
        done, _pending = wait(list(jobs), timeout=max(0.0, deadline - time.monotonic()))
        stepped = 0
        for job in done:
            lane = jobs[job]
            if self._collect(lane, errors):
                stepped += 1
        still = [lane for lane in self.lanes if lane.busy]
        for lane in still:
            errors.append(
                {"engine": lane.name, "busy": f"still working on the tick of {lane.since_ts}"}
            )
        for hook in self.hooks:
            try:
                hook(ts)
            except Exception as exc:  # noqa: BLE001
                errors.append({"hook": getattr(hook, "__name__", str(hook)), "error": repr(exc)})
        result = LiveTickResult(
            ts,
            0,
            stepped,
            (time.perf_counter() - started) * 1000,
            errors,
            lag_s,
            [lane.name for lane in still],
        )
        self.ticks += 1
        self.last_ts = ts
        self._record(result)
        if self.on_tick is not None:
            try:
                self.on_tick(result)
            except Exception:  # noqa: BLE001 - a hook must not stop the beat
                log.exception("on_tick hook at %s", ts)
        return result

    def _collect(self, lane: EngineLane, errors: list[dict[str, Any]]) -> bool:
        """The outcome of the lane's finished job (once): True if the engine stepped; an
        exception isolates the engine (HALTED, as the paper heartbeat does)."""
        job = lane.job
        if job is None or not job.done():
            return False
        lane.job = None
        exc = job.exception()
        if exc is None:
            return bool(job.result())
        engine = lane.engine
        message = f"{type(exc).__name__}: {exc}"
        log.error("engine %s failed at %s: %s", engine.engine_id, lane.since_ts, message)
        self.failed[engine.engine_id] = message
        engine.stats.errors += 1
        engine.stats.last_error = message
        try:
            engine.mark_failed(lane.since_ts or 0, message)
        except Exception:  # noqa: BLE001
            log.exception("could not mark engine %s failed", engine.engine_id)
        errors.append({"engine": engine.engine_id, "error": message})
        return False

    def _emergency_kills(
        self, busy: list[EngineLane], ts: int, deadline: float, errors: list[dict[str, Any]]
    ) -> None:
        """A kill pulled for an engine whose lane is busy: cancel its open orders now
        through its control client; the engine's own kill follows in its lane."""
        if self.store is None:
            return
        from drift_engine.engine.commands import CommandQueue

        kills = [
            c
            for c in CommandQueue(self.store.db).pending([lane.name for lane in busy])
            if c.kind == "kill"
        ]
        for lane in busy:
            mine = [c for c in kills if c.engine_id == lane.name]
            fresh = [c for c in mine if c.id not in lane.emergency_done]
            if not fresh or lane.control is None:
                continue
            control_lane = lane.control_lane()
            if control_lane.busy:
                continue
            lane.emergency_done.update(c.id for c in fresh)
            ids = [c.id for c in fresh]

            def cancel(lane: EngineLane = lane, ids: list[int] = ids) -> str:
                control = lane.control
                control.run(control.connect())
                outcome = control.run(control.cancel_orders())
                self.store.log(
                    lane.name,
                    ts,
                    "kill-cancel",
                    f"kill #{', #'.join(map(str, ids))} while the engine is busy: every open "
                    f"order cancelled on chain ({outcome.status}); the engine's own kill "
                    "(closes, HALTED) follows when its lane is free",
                    {"commands": ids, "signature": outcome.signature},
                )
                return outcome.status

            job = control_lane.submit(cancel, ts)
            wait([job], timeout=max(0.0, deadline - time.monotonic()))
            if job.done() and job.exception() is not None:
                exc = job.exception()
                lane.emergency_done.difference_update(ids)  # try again next tick
                errors.append({"engine": lane.name, "kill_cancel": f"{type(exc).__name__}: {exc}"})

    def _record(self, result: LiveTickResult) -> None:
        if self.store is None:
            return
        from drift_engine.heartbeat import market_state_json

        try:
            market_state: dict[str, Any] | None = market_state_json(
                self.board.snapshots(), getattr(self.board, "data_sources", None)
            )
        except Exception:  # noqa: BLE001
            market_state = None
        self.store.record_heartbeat(
            result.ts,
            result.duration_ms,
            result.events,
            result.engines_stepped,
            result.errors,
            market_state=market_state,
        )

    # ------------------------------------------------------------------ loops
    def drain(self, timeout_s: float | None = None) -> None:
        """Wait for every lane's job to finish and collect it."""
        jobs = [lane.job for lane in self.lanes if lane.job is not None]
        if jobs:
            wait(jobs, timeout=timeout_s)
        errors: list[dict[str, Any]] = []
        for lane in self.lanes:
            self._collect(lane, errors)

    def run(
        self,
        clock: Any,
        *,
        interval_s: int = 60,
        until: int | None = None,
        should_stop: Any = None,
    ) -> None:
        """Tick every `interval_s` of clock time; a tick that is late runs at once. At the
        end every lane's job is waited for (nothing is left half done)."""
        t = clock.now()
        try:
            while (until is None or t <= until) and not (should_stop and should_stop()):
                clock.sleep_until(t)
                if should_stop and should_stop():  # woken early by a stop (ADR 0023)
                    break
                lag = getattr(clock, "lag", None)
                self.tick(t, interval_s=interval_s, lag_s=lag(t) if lag is not None else 0.0)
                t += interval_s
        finally:
            self.drain()

    def close(self) -> None:
        """Stop the lanes (waiting for running jobs) and close the control clients."""
        self.drain()
        self._feed_lane.close(0)
        for lane in self.lanes:
            lane.close(0)
        if self.reader is not None:
            try:
                self.reader.close_blocking()
            except Exception:  # noqa: BLE001
                log.exception("closing the market reader")


__all__ = ["EngineLane", "Lane", "LiveRunner", "LiveTickResult"]
