"""`HeartbeatDataCollector`: the one loop that drives markets, engines and vault snapshots.

Each tick (`tick(until_ts)`):
1. pull every market event with time <= until_ts from the source, feed it to the
   simulated market (oracle prices, funding updates, spot interest) and to the
   `MarketBoard` the engines read;
1b. apply the operator commands queued for these engines (`engine.commands`: start,
   stop, pause, kill, paper capital moves) — before the engines step, so a kill acts
   within one tick, in paper and live alike;
2. step every engine; an engine that raises is isolated (marked HALTED with the error
   logged) and the others go on;
3. take vault snapshots (equity, health, positions) every `snapshot_every_s`;
4. run the on-chain sync hooks (live vault reconciliation plugs in here);
5. record a heartbeat row (time, duration, events, engines stepped, errors, and the
   market board's state, so a dashboard over the database alone shows the markets).

`run(clock, ...)` repeats ticks every `interval_s` of clock time: a SimulatedClock makes a
backtest, an AcceleratedClock a demo, a WallClock live trading.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from drift_engine.engine.engine import DriftEngine, EngineState
from drift_engine.engine.market_board import MarketBoard
from drift_engine.heap import collected_after
from drift_engine.strategies.base import MarketSnapshot

log = logging.getLogger("drift_engine.heartbeat")


class MarketSink(Protocol):
    """Something the market data must reach before engines step (the simulator)."""

    def apply(self, event: Any) -> None: ...


class VaultSnapshotter(Protocol):
    def snapshot(self, engine: DriftEngine, ts: int) -> None: ...


class HeartbeatStore(Protocol):
    def record_heartbeat(
        self,
        ts: int,
        duration_ms: float,
        events: int,
        stepped: int,
        errors: list[dict],
        *,
        market_state: dict[str, Any] | None = None,
    ) -> None: ...


#: MarketSnapshot fields a heartbeat row keeps (not the funding history: the 24h/7d
#: averages already summarise it).
MARKET_STATE_FIELDS = tuple(
    f.name for f in dataclasses.fields(MarketSnapshot) if f.name != "funding_history"
)


def market_state_json(
    snapshots: Mapping[str, MarketSnapshot],
    data_sources: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, dict[str, Any]]:
    """The board's snapshots as JSON for a heartbeat row: symbol -> MarketSnapshot fields
    (prices PRICE 1e6 integers, rates as float fractions), plus `data_sources` (which
    series are real, which synthetic) when the board knows them."""
    out: dict[str, dict[str, Any]] = {}
    for symbol, snap in snapshots.items():
        row = {}
        for name in MARKET_STATE_FIELDS:
            value = getattr(snap, name)
            if isinstance(value, float) and not math.isfinite(value):
                value = None  # JSON has no NaN/inf
            row[name] = value
        if data_sources and symbol in data_sources:
            row["data_sources"] = dict(data_sources[symbol])
        out[symbol] = row
    return out


@dataclass
class HeartbeatResult:
    ts: int
    events: int
    engines_stepped: int
    duration_ms: float
    errors: list[dict[str, Any]] = field(default_factory=list)
    #: wall seconds this tick started after its scheduled time (`run` on a real or
    #: accelerated clock; 0 for backtests)
    lag_s: float = 0.0


class HeartbeatDataCollector:
    def __init__(
        self,
        events: Iterable[Any],
        board: MarketBoard,
        engines: Iterable[DriftEngine] = (),
        *,
        markets: Iterable[MarketSink] = (),
        snapshotter: VaultSnapshotter | None = None,
        store: HeartbeatStore | None = None,
        snapshot_every_s: int = 3600,
        record_every_s: int = 0,
        sync_hooks: Iterable[Callable[[int], None]] = (),
        on_tick: Callable[[HeartbeatResult], None] | None = None,
        commands: Any = None,
    ) -> None:
        self._events: Iterator[Any] = iter(events)
        self._pending: Any | None = None
        self.exhausted = False
        self.board = board
        self.engines: list[DriftEngine] = list(engines)
        self.markets = list(markets)
        self.snapshotter = snapshotter
        self.store = store
        self.snapshot_every_s = snapshot_every_s
        self.record_every_s = record_every_s
        self.sync_hooks = list(sync_hooks)  # on-chain vault sync (live issue) plugs in here
        self.on_tick = on_tick
        #: `engine.commands.OperatorCommands` (or anything with `apply(engines, ts)`)
        self.commands = commands
        self.events_processed = 0
        self.ticks = 0
        self.last_ts: int | None = None
        self._last_snapshot: int | None = None
        self._last_record: int | None = None
        self._last_result: HeartbeatResult | None = None
        self.failed: dict[str, str] = {}
        #: fast stepping (`run_events(fast=True)`): the events read ahead with arrays
        self._tape: Any = None
        #: ticks that fast stepping skipped (counted in `ticks` too)
        self.skipped_ticks = 0

    def add_engine(self, engine: DriftEngine) -> None:
        self.engines.append(engine)

    # ------------------------------------------------------------------ data
    def next_event_time(self) -> int | None:
        tape = self._tape
        if tape is not None:
            tape.refill()
            if len(tape) == 0:
                self.exhausted = True
                return None
            return tape.buf[tape.pos].time
        if self._pending is None and not self.exhausted:
            try:
                self._pending = next(self._events)
            except StopIteration:
                self.exhausted = True
        return None if self._pending is None else self._pending.time

    def _pull(self, until_ts: int) -> int:
        n = 0
        markets, board = self.markets, self.board
        tape = self._tape
        while tape is not None:
            if len(tape) == 0:
                tape.refill()
                if len(tape) == 0:
                    self.exhausted = True
                    break
            event = tape.buf[tape.pos]
            if event.time > until_ts:
                break
            tape.pos += 1
            for m in markets:
                m.apply(event)
            board.apply(event)
            n += 1
        while tape is None:
            if self._pending is None:
                if self.exhausted:
                    break
                try:
                    self._pending = next(self._events)
                except StopIteration:
                    self.exhausted = True
                    break
            event = self._pending
            if event.time > until_ts:
                break
            self._pending = None
            for m in markets:
                m.apply(event)
            board.apply(event)
            n += 1
        self.events_processed += n
        return n

    def _pull_events(self, events: list[Any], stop: int) -> int:
        """`_pull(t)` of a tick fast stepping read ahead: `events` are the tape's events
        [pos, stop), every one of tick `t` and nothing after it (`fastforward`: the
        tick's end is inside the buffer, or the data ends there), applied in order as
        `_pull` applies them, each made once."""
        tape = self._tape
        markets, board = self.markets, self.board
        for event in events:
            tape.pos += 1
            for m in markets:
                m.apply(event)
            board.apply(event)
        assert tape.pos == stop
        if len(tape) == 0:  # (as `_pull` goes on to the next event: the data's end)
            tape.refill()
            if len(tape) == 0:
                self.exhausted = True
        n = len(events)
        self.events_processed += n
        return n

    # ------------------------------------------------------------------ the tick
    def tick(
        self,
        until_ts: int,
        *,
        lag_s: float = 0.0,
        pulled: int | None = None,
        step: Callable[[DriftEngine, int], None] | None = None,
    ) -> HeartbeatResult:
        """`pulled`: the tick's events were already applied (that many; fast stepping's
        quiet funding hours); `step`: how each engine steps (default `engine.step`)."""
        started = time.perf_counter()
        n = self._pull(until_ts) if pulled is None else pulled
        errors: list[dict[str, Any]] = []
        stepped = 0
        if self.commands is not None:
            try:
                self.commands.apply(self.engines, until_ts)
            except Exception as exc:  # noqa: BLE001 - e.g. the queue unreadable this tick
                log.exception("operator commands at %s", until_ts)
                errors.append({"hook": "operator_commands", "error": repr(exc)})
        for engine in self.engines:
            if engine.engine_id in self.failed:
                if engine.state is EngineState.HALTED:
                    continue  # isolated until an operator starts it again
                del self.failed[engine.engine_id]
            if engine.state is EngineState.STOPPED:
                continue
            try:
                if step is None:
                    engine.step(until_ts)
                else:
                    step(engine, until_ts)
                stepped += 1
            except Exception as exc:  # noqa: BLE001 - isolate the failing engine
                errors.append(self._fail(engine, until_ts, exc))
        for hook in self.sync_hooks:
            try:
                hook(until_ts)
            except Exception as exc:  # noqa: BLE001
                errors.append({"hook": getattr(hook, "__name__", str(hook)), "error": repr(exc)})
        return self._close(until_ts, n, stepped, errors, started, lag_s)

    def tick_quiet(
        self,
        until_ts: int,
        pulled: int,
        engine: DriftEngine,
        step: Callable[[DriftEngine, int, Any], None],
        arg: Any,
    ) -> HeartbeatResult:
        """`tick(until_ts, pulled=pulled, step=lambda e, ts: step(e, ts, arg))` for a
        heartbeat whose one engine is `engine`, not STOPPED, with no operator commands,
        sync hooks or failed engine (fast stepping's quiet run of one engine: the caller
        checks): the same effects (the step, an engine failure isolated, the snapshot,
        counters, the heartbeat row, `_last_result`, `on_tick`) without the general
        loops."""
        started = time.perf_counter()
        errors: list[dict[str, Any]] = []
        stepped = 0
        try:
            step(engine, until_ts, arg)
            stepped = 1
        except Exception as exc:  # noqa: BLE001 - isolate the failing engine
            errors.append(self._fail(engine, until_ts, exc))
        return self._close(until_ts, pulled, stepped, errors, started, 0.0)

    def _close(
        self,
        until_ts: int,
        n: int,
        stepped: int,
        errors: list[dict[str, Any]],
        started: float,
        lag_s: float,
    ) -> HeartbeatResult:
        """A tick's end, after the engines and hooks: snapshots when due, the result,
        counters, the heartbeat row when due, `on_tick`."""
        if self.snapshotter is not None and (
            self._last_snapshot is None or until_ts - self._last_snapshot >= self.snapshot_every_s
        ):
            self._last_snapshot = until_ts
            for engine in self.engines:
                if engine.engine_id in self.failed:
                    continue
                try:
                    self.snapshotter.snapshot(engine, until_ts)
                except Exception as exc:  # noqa: BLE001
                    errors.append({"engine": engine.engine_id, "snapshot": repr(exc)})
        duration_ms = (time.perf_counter() - started) * 1000
        result = HeartbeatResult(until_ts, n, stepped, duration_ms, errors, lag_s)
        self.ticks += 1
        self.last_ts = until_ts
        if self.store is not None and (
            errors
            or self._last_record is None
            or until_ts - self._last_record >= self.record_every_s
        ):
            self._record(result)
        self._last_result = result
        if self.on_tick is not None:
            self.on_tick(result)
        return result

    def _record(self, result: HeartbeatResult) -> None:
        assert self.store is not None
        self._last_record = result.ts
        try:
            market_state: dict[str, Any] | None = market_state_json(
                self.board.snapshots(), getattr(self.board, "data_sources", None)
            )
        except Exception:  # noqa: BLE001 - a board without data must not stop the beat
            log.exception("could not serialise the market board")
            market_state = None
        self.store.record_heartbeat(
            result.ts,
            result.duration_ms,
            result.events,
            result.engines_stepped,
            result.errors,
            market_state=market_state,
        )

    def flush(self) -> None:
        """Record the last tick's heartbeat row if `record_every_s` skipped it (call when a
        run ends, so the database shows where it stopped)."""
        result = self._last_result
        if self.store is not None and result is not None and self._last_record != result.ts:
            self._record(result)

    def _fail(self, engine: DriftEngine, ts: int, exc: Exception) -> dict[str, Any]:
        message = f"{type(exc).__name__}: {exc}"
        log.exception("engine %s failed at %s", engine.engine_id, ts)
        self.failed[engine.engine_id] = message
        engine.stats.errors += 1
        engine.stats.last_error = message
        try:
            engine.mark_failed(ts, message)
        except Exception:  # noqa: BLE001 - the store itself may be what failed
            log.exception("could not mark engine %s failed", engine.engine_id)
        return {"engine": engine.engine_id, "error": message}

    # ------------------------------------------------------------------ loops
    def run(
        self,
        clock: Any,
        *,
        start: int | None = None,
        until: int | None = None,
        interval_s: int = 60,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        """Tick every `interval_s` of clock time from `start` (default: now) until `until`
        or the data runs out. A tick whose time has passed runs at once (catch-up).
        `should_stop` is checked before each tick's sleep and after it (a clock given a
        stop wakes early from its sleep when a stop is asked: ADR 0023), so a stop lands
        between ticks, never inside one. The garbage collector runs between ticks too,
        not inside one (`heap.collected_after`, ADR-0026)."""
        t = clock.now() if start is None else start
        while True:
            if should_stop is not None and should_stop():
                return
            if until is not None and t > until:
                return
            clock.sleep_until(t)
            if should_stop is not None and should_stop():
                return
            lag = getattr(clock, "lag", None)
            with collected_after():  # the tick's garbage collected after it (heap.py)
                self.tick(t, lag_s=lag(t) if lag is not None else 0.0)
            if self.exhausted and self._pending is None and until is None:
                return
            t += interval_s

    def run_events(
        self,
        *,
        interval_s: int = 60,
        until: int | None = None,
        fast: bool = False,
        wakes: Iterable[Callable[[], int | None]] = (),
    ) -> None:
        """Backtest loop: tick at each `interval_s` boundary that has data, as fast as
        possible (no clock waits; idle stretches without events are skipped).

        `until` (a backtest's `end`): every event with time <= `until` is applied, and no
        tick passes it. The events of the last, partial bar (after the last boundary at or
        before `until`) are applied at one last tick at `until` itself (ADR-0020 point
        48): a backtest's data is [start, end), so a funding record a few seconds before
        `end` is booked. Fast stepping never skips a bar past `until`, so it reaches that
        tick as per-bar stepping does.

        `fast` steps only the bars on which something can happen (`fastforward`,
        ADR-0020) and gives the same results as ticking every bar (the reference). It
        needs every hook that runs per tick to say when it is next due: `wakes` are
        callables returning the next time (unix s, or None) the caller's `on_tick`
        must see; operator commands and sync hooks switch it off."""
        wakes = list(wakes)
        if fast and self._tape is None:
            from drift_engine.fastforward import EventTape

            events = self._events
            if self._pending is not None:  # read ahead by `next_event_time`: it comes first
                events = itertools.chain((self._pending,), events)
                self._pending = None
            self._tape = EventTape(events, interval_s)
        while True:
            nxt = self.next_event_time()
            if nxt is None:
                return
            t = -(-nxt // interval_s) * interval_s  # the boundary at or after the event
            if until is not None and t > until:
                if nxt <= until:  # the run's last, partial bar: a last tick at `until`
                    self.tick(until)  # (every event <= until applied; none left after)
                return
            self.tick(t)
            if fast:
                self._fast_forward(until, wakes)

    def _due(self, wakes: list[Callable[[], int | None]]) -> int | None:
        """The earliest time a real tick is needed for the heartbeat's own work."""
        times: list[int] = []
        if self.snapshotter is not None and self._last_snapshot is not None:
            times.append(self._last_snapshot + self.snapshot_every_s)
        if self.store is not None and self._last_record is not None:
            times.append(self._last_record + self.record_every_s)
        for wake in wakes:
            t = wake()
            if t is not None:
                times.append(t)
        return min(times) if times else None

    def _fast_forward(self, until: int | None, wakes: list[Callable[[], int | None]]) -> None:
        """After a real tick: skip the bars on which no engine can do anything, and pass
        the funding hours no engine needs to be asked about (`fastforward.forward`)."""
        from drift_engine.fastforward import forward

        if self.commands is not None or self.sync_hooks or self.failed:
            return
        forward(self, until, wakes)


__all__ = [
    "MARKET_STATE_FIELDS",
    "HeartbeatDataCollector",
    "HeartbeatResult",
    "MarketSink",
    "VaultSnapshotter",
    "market_state_json",
]
