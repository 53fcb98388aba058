"""Fast backtest stepping: jump over the bars on which nothing can happen (ADR-0020).

`EventTape` holds the upcoming market events in chunks with numpy arrays beside them
(time, tick boundary, symbol, price, is-a-price-event). After a real tick, `plan_skip`
takes each engine's `engine.quiet.Quiet` (time wakes, price bands, equity terms) and
the heartbeat's own due times, and finds with one vectorised pass the first event that
must be seen by a real tick: a non-price event (funding, spot rates: they change
accounts or what strategies read), a price outside any band, a tick at or after a due
time, the end of the run or of the chunk. Everything before that event's tick is
skipped: only each symbol's last price of the skipped bars is applied (the simulator
and the board keep last prices only), every engine counts the skipped bars as steps,
and its high-water mark is recomputed exactly over their equities (`EquityLegs`: float
over the array to find the candidate bars, integers on those). A drawdown halt is
searched the same way: a bar that might halt stops the skip there, and the real step
decides. Per-bar stepping stays the reference; tests hold the two equal.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from drift_engine.core.types import MarketType
from drift_engine.heartbeat import HeartbeatResult
from drift_engine.sim import stretch
from drift_engine.tape import CHUNK, EventTape

MarketKey = tuple[MarketType, int]
I64_MIN = np.iinfo(np.int64).min
I64_MAX = np.iinfo(np.int64).max


@dataclass
class Skip:
    """Events [start, stop) of the tape are skipped; they span `ticks` bars ending at
    `last_tick`; `apply` are the indices of the events whose prices stand at the end."""

    start: int
    stop: int
    ticks: int
    last_tick: int
    apply: list[int]
    ends: np.ndarray | None = None
    bound: np.ndarray | None = None
    #: per tape symbol id: its (lowest, highest) price over [start, stop), when the plan
    #: had them (`plan_hour`); `_equity_bounded` reads them instead of the index
    ranges: dict[int, tuple[int, int]] | None = None

    @property
    def tick_ends(self) -> np.ndarray:
        """Index (absolute) of each skipped bar's last event (computed when asked)."""
        if self.ends is None:
            assert self.bound is not None
            bound = self.bound[self.start : self.stop]
            ends = np.flatnonzero(bound[1:] != bound[:-1])
            self.ends = np.concatenate([ends, [self.stop - self.start - 1]]) + self.start
        return self.ends


def _symbol_keys(sim: Any, tape: EventTape) -> dict[int, tuple[MarketKey, ...]]:
    """Tape symbol id -> the simulator market keys an oracle tick of it moves (kept on
    the tape until it meets a new symbol)."""
    symbols = tape.symbols
    cached = tape.__dict__.get("_keys")
    if cached is not None and cached[0] is sim and cached[1] == len(symbols):
        return cached[2]
    out: dict[int, tuple[MarketKey, ...]] = {}
    for symbol, sid in symbols.items():
        linked = sim._link_symbol(symbol)
        out[sid] = tuple(sim._linked[sim._key(linked)]) if linked else ()
    tape.__dict__["_keys"] = (sim, len(symbols), out)
    return out


def plan_skip(
    tape: EventTape,
    sim: Any,
    bands: dict[MarketKey, tuple[int, int]],
    due: int | None,
    until: int | None,
) -> Skip | None:
    """The events that may be skipped, or None. `bands` are the intersected price bands
    of every engine, `due` the earliest time a real tick is needed (None: no time)."""
    tape.refill()
    start, n = tape.pos, len(tape.buf)
    if n - start < 2:
        return None
    keys = _symbol_keys(sim, tape)
    nsym = len(tape.symbols)
    lo = np.full(max(nsym, 1), I64_MIN, np.int64)
    hi = np.full(max(nsym, 1), I64_MAX, np.int64)
    for sid, ks in keys.items():
        for k in ks:
            band = bands.get(k)
            if band is not None:
                lo[sid] = max(lo[sid], band[0])
                hi[sid] = min(hi[sid], band[1])
    if due is not None:  # nothing at or after the first due tick needs scanning
        n = min(n, start + int(np.searchsorted(tape.bound[start:n], due, "left")) + 1)
    bound = tape.bound[start:n]
    sym = tape.sym[start:n]
    safe_sym = np.where(sym < 0, 0, sym)
    price = tape.price[start:n]
    bad = ~tape.is_price[start:n]
    bad |= price < lo[safe_sym]
    bad |= price > hi[safe_sym]
    if due is not None:
        bad |= bound >= due
    past_end = False
    if until is not None:
        over = bound > until
        bad |= over
    hit = int(np.argmax(bad)) if bad.any() else len(bad)
    if hit == len(bad) or (until is not None and bound[hit] > until):
        past_end = True  # (the chunk's end: its last tick is stepped for real)
    if past_end:
        # the last tick before the end (of the run or of the chunk) is a real one
        if hit == 0:
            return None
        wake = int(bound[hit - 1])
    else:
        wake = int(bound[hit])
    stop = int(np.searchsorted(bound, wake, "left"))
    if stop <= 0:
        return None
    return _skip(tape, start, start + stop)


def _skip(tape: EventTape, start: int, stop: int) -> Skip:
    bound = tape.bound[start:stop]
    ends = np.flatnonzero(bound[1:] != bound[:-1])
    tick_ends = np.concatenate([ends, [stop - start - 1]]) + start
    sym = tape.sym[start:stop]
    last: list[int] = []
    for sid in np.unique(sym):
        idx = np.flatnonzero(sym == sid)
        last.append(int(idx[-1]) + start)
    last.sort()
    return Skip(start, stop, len(tick_ends), int(bound[-1]), last, tick_ends)


def _symbol_bands(
    keys: dict[int, tuple[MarketKey, ...]], bands: dict[MarketKey, tuple[int, int]]
) -> list[tuple[int, int, int]]:
    """(tape symbol id, low, high): the band of each symbol's price, the intersection of
    the bands of the simulator markets its ticks move (symbols without one left out)."""
    out = []
    for sid, ks in keys.items():
        lo, hi, banded = I64_MIN, I64_MAX, False
        for k in ks:
            band = bands.get(k)
            if band is not None:
                lo, hi, banded = max(lo, band[0]), min(hi, band[1]), True
        if banded:
            out.append((sid, lo, hi))
    return out


#: `plan_fast` could not decide with the index: the vectorised scan decides
UNDECIDED = Skip(0, 0, 0, 0, [])


def plan_fast(
    tape: EventTape,
    sim: Any,
    bands: dict[MarketKey, tuple[int, int]],
    due: int | None,
    until: int | None,
) -> Skip | None:
    """`plan_skip` answered from the tape's `TapeIndex` when every price up to the
    first non-price event / due tick / end stays inside its band (the usual quiet
    hour); `UNDECIDED` otherwise (then `plan_skip` scans). Same skip as `plan_skip`."""
    tape.refill()
    start, n = tape.pos, len(tape.buf)
    if n - start < 2:
        return None
    index = tape.index()
    rows = tape.rows()
    bound = rows.bound  # (Python lists and bisect: a few scalar reads per hour)
    hit = rows.next_other[start]
    if due is not None:
        hit = min(hit, bisect.bisect_left(bound, due, start, n))
    if until is not None:
        hit = min(hit, bisect.bisect_right(bound, until, start, n))
    if hit > start:
        for sid, lo, hi in _symbol_bands(_symbol_keys(sim, tape), bands):
            low, high = index.price_range(sid, start, hit)
            if low < lo or high > hi:
                return UNDECIDED
    if hit >= n or (until is not None and bound[hit] > until):
        if hit == start:
            return None
        wake = bound[hit - 1]
    else:
        wake = bound[hit]
    stop = bisect.bisect_left(bound, wake, start, n)
    if stop <= start:
        return None
    ticks = rows.tick_no[stop - 1] - rows.tick_no[start] + 1
    apply = []
    for last in index.last:
        i = int(last[stop - 1])
        if i >= start:
            apply.append(i)
    apply.sort()
    return Skip(start, stop, ticks, bound[stop - 1], apply, None, tape.bound)


def plan_hour(
    tape: EventTape,
    sim: Any,
    bands: dict[MarketKey, tuple[int, int]],
    due: int | None,
    until: int | None,
) -> Skip | None:
    """`plan_fast` for the usual quiet hour, read from the chunk's `HourTable` (every
    hour of the chunk planned together): the tape stands at the start of an hour's gap
    (the end of the previous hour's tick), nothing is due and the run does not end
    before the hour, and every price up to the hour's first non-price event is inside
    its band. Then the skip is the gap, exactly `plan_fast`'s; `UNDECIDED` otherwise
    (then `plan_fast` decides)."""
    row = _hour_row(tape, sim, bands, due, until)
    if row is None:
        return UNDECIDED
    table, h, start, stop, plan = row
    skip = Skip(start, stop, table.ticks[h], table.last_tick[h], list(table.apply[h]))
    skip.bound = tape.bound
    # each banded symbol's price range over the gap (what `_equity_bounded` reads)
    glo, ghi = table.gap_lo, table.gap_hi
    movers = plan.movers
    skip.ranges = {sid: (glo[sid][h], ghi[sid][h]) for key in bands for sid in movers.get(key, ())}
    return skip


class HourPlan:
    """What a quiet hour's plan reads beside its `HourTable` row, built once per table
    and simulator (`_hour_plan`): `keys` (`_symbol_keys`), `movers` (simulator market
    key -> the tape symbols whose ticks move it, ascending), per market key and hour
    the extremes of its movers' prices (`key_gap`: (lows, highs) over the gap;
    `key_span`: over the gap and the hour tick's prices before its first non-price
    event together) and `covers`
    (`covers[sid][first]`: every market symbol `sid` moves is one that symbol `first`
    moves); `overwrites` (made when a quiet run first asks, `_plan_overwrites`): per
    hour, `_tick_covers` of the symbols its gap applies."""

    __slots__ = ("sim", "nsym", "keys", "movers", "key_gap", "key_span", "covers", "overwrites")

    def __init__(self, table: Any, sim: Any, keys: dict[int, tuple[MarketKey, ...]]) -> None:
        self.sim = sim
        self.overwrites: list[bool] | None = None
        self.nsym = len(keys)
        self.keys = keys
        movers: dict[MarketKey, tuple[int, ...]] = {}
        for sid, ks in keys.items():  # (ascending ids: the order `BarEnds` is keyed by)
            for k in ks:
                movers[k] = (*movers.get(k, ()), sid)
        self.movers = movers
        gap: dict[MarketKey, tuple[list[int], list[int]]] = {}
        span: dict[MarketKey, tuple[list[int], list[int]]] = {}
        done: dict[tuple[int, ...], tuple[tuple, tuple]] = {}  # (keys sharing movers)
        for key, sids in movers.items():
            got = done.get(sids)
            if got is None:
                glo = _each(min, [table.gap_lo[sid] for sid in sids])
                ghi = _each(max, [table.gap_hi[sid] for sid in sids])
                tlo = _each(min, [table.tick_lo[sid] for sid in sids])
                thi = _each(max, [table.tick_hi[sid] for sid in sids])
                got = done[sids] = (
                    (glo, ghi),
                    (list(map(min, glo, tlo)), list(map(max, ghi, thi))),
                )
            gap[key], span[key] = got
        self.key_gap = gap
        self.key_span = span
        self.covers = [
            [all(k in keys[first] for k in keys[sid]) for first in range(len(keys))]
            for sid in range(len(keys))
        ]


def _each(op: Any, lists: list[list[int]]) -> list[int]:
    """`op` (min or max) of the lists, element by element (one list: itself)."""
    return lists[0] if len(lists) == 1 else list(map(op, *lists))


def _hour_plan(table: Any, sim: Any, tape: EventTape) -> HourPlan:
    """The table's `HourPlan` for simulator `sim` (kept on the table: a table lives for
    one chunk, whose symbols are set at its refill)."""
    plan = table.plan
    if plan is None or plan.sim is not sim or plan.nsym != len(tape.symbols):
        plan = table.plan = HourPlan(table, sim, _symbol_keys(sim, tape))
    return plan


def _hour_row(
    tape: EventTape,
    sim: Any,
    bands: dict[MarketKey, tuple[int, int]],
    due: int | None,
    until: int | None,
) -> tuple[Any, int, int, int, HourPlan] | None:
    """`plan_hour`'s decision, shared with `_hour_ahead`: (the chunk's `HourTable`, the
    hour's row, the gap's first and stop positions, the table's `HourPlan`) when the
    tape stands at the start of an hour's gap, nothing is due and the run does not end
    before the hour, and every price up to the hour's first non-price event is inside
    its band; None otherwise. A symbol is inside the intersection of the bands of the
    markets it moves iff it is inside each of them, so each band is checked against the
    extremes of all its market's movers at once (`HourPlan.key_span`, or `key_gap` when
    the range stops before the hour tick): one lookup per band."""
    tape.refill()
    start = tape.pos
    if len(tape.buf) - start < 2:
        return None
    table = tape.index().hours()
    h = table.at_start.get(start)
    if h is None:
        return None
    plan = _hour_plan(table, sim, tape)
    stop = _row_takes(table, plan, h, start, bands, due, until)
    if stop is None:
        return None
    return table, h, start, stop, plan


def _row_takes(
    table: Any,
    plan: HourPlan,
    h: int,
    start: int,
    bands: dict[MarketKey, tuple[int, int]],
    due: int | None,
    until: int | None,
) -> int | None:
    """`_hour_row`'s test of hour `h`'s row for a tape standing at `start` (the start of
    the hour's gap): the gap's stop position when the gap is not empty, nothing is due
    in it, the run does not end before the hour and every band holds the hour's price
    extremes; None otherwise (`_quiet_run` asks it with the chunk's table and plan
    read once)."""
    stop = table.tick_start[h]
    if stop <= start:
        return None
    at = table.time[h]  # the time of the hour's first non-price event (`head[h]`)
    # plan_fast's range reaches the head (the hour tick's prices too) unless due stops it
    extremes = plan.key_span
    if due is not None:
        if due <= table.last_tick[h]:  # (the gap's last bar)
            return None
        if due <= at:  # its range stops at the hour tick's first event
            extremes = plan.key_gap
    if until is not None and until < at:
        return None
    for key, (lo, hi) in bands.items():
        got = extremes.get(key)  # (None: no symbol moves the market)
        if got is not None and (got[0][h] < lo or got[1][h] > hi):
            return None
    return stop


def truncate(tape: EventTape, skip: Skip, ticks: int) -> Skip | None:
    """The same skip cut to its first `ticks` bars (None if none are left)."""
    if ticks <= 0:
        return None
    if ticks >= skip.ticks:
        return skip
    stop = int(skip.tick_ends[ticks - 1]) + 1
    return _skip(tape, skip.start, stop)


def key_prices(tape: EventTape, sim: Any, skip: Skip, key: MarketKey) -> np.ndarray:
    """The price of simulator market `key` at the end of each skipped bar."""
    keys = _symbol_keys(sim, tape)
    movers = [sid for sid, ks in keys.items() if key in ks]
    start, stop = skip.start, skip.stop
    sym = tape.sym[start:stop]
    if not movers:
        mask = np.zeros(stop - start, bool)
    else:
        mask = sym == movers[0]
        for sid in movers[1:]:
            mask |= sym == sid
    idx = np.where(mask, np.arange(stop - start), -1)
    np.maximum.accumulate(idx, out=idx)
    at_end = idx[skip.tick_ends - start]
    current = sim._prices[key]
    prices = tape.price[start:stop]
    return np.where(at_end >= 0, prices[np.maximum(at_end, 0)], current)


def equity_path(
    tape: EventTape, sim: Any, skip: Skip, legs: Any
) -> tuple[np.ndarray, dict[MarketKey, np.ndarray]]:
    """(approximate equity at the end of each skipped bar, the key prices used)."""
    slopes = legs.slopes()
    prices = {k: key_prices(tape, sim, skip, k) for k in slopes}
    approx = np.full(skip.ticks, float(legs.const))
    for k, s in slopes.items():
        approx += s * prices[k].astype(np.float64)
    return approx, prices


def drawdown_ticks(approx: np.ndarray, hwm: int, max_drawdown: float, terms: int) -> int:
    """How many of the skipped bars are certainly without a drawdown halt."""
    run = np.maximum.accumulate(np.maximum(approx, float(hwm)))
    tol = (2.0 * (terms + 2)) / max(float(hwm), 1.0) + 1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(run > 0, (run - approx) / run, 0.0)
    risky = dd >= max_drawdown - tol
    return int(np.argmax(risky)) if risky.any() else len(approx)


def max_equity(
    approx: np.ndarray, prices: dict[MarketKey, np.ndarray], legs: Any, above: int
) -> int | None:
    """The exact highest equity over the bars, if any may exceed `above`; else None."""
    if len(approx) == 0:
        return None
    tol = float(legs.terms + 2)
    top = float(approx.max())
    if top + tol < above:
        return None
    best: int | None = None
    for i in np.flatnonzero(approx >= top - 2 * tol):
        value = legs.at({k: int(p[i]) for k, p in prices.items()})
        if best is None or value > best:
            best = value
    return best


def forward(hb: Any, until: int | None, wakes: list[Any]) -> None:
    """After a real tick of heartbeat `hb`: skip the bars on which no engine can do
    anything; at a tick of funding records / rate updates that no engine needs to be
    asked about (a quiet funding hour, `engine.quiet.passes_hour`), apply it, book it
    (`quiet_step`) and go on; stop at the first tick that needs real steps.

    A run of quiet hours is one stretch: each engine's `Quiet` is derived once, after
    the real step (`quiet_after_step`), and carried from hour to hour (`Quiet.
    after_hour`: only the simulator's bands, the equity terms and the next record save
    are taken again, by `passes_hour`, after the hour's payments)."""
    from drift_engine.engine import quiet as engine_quiet

    passes_hour = engine_quiet.passes_hour
    quiets, sim = _quiets(hb, engine_quiet.quiet_after_step)
    while quiets is not None:
        if QUIET_RUN and len(quiets) == 1:
            quiets = _quiet_run(hb, quiets, sim, until, wakes)
            if quiets is None:
                return
            # (an hour the run does not take: this loop takes it, then the run goes on)
        hour = _hour_ahead(hb, quiets, sim, until, wakes)
        if hour is UNDECIDED:  # not the usual quiet hour: the planners one by one
            _skip_bars(hb, quiets, sim, until, wakes)
            hour = _next_quiet_tick(hb._tape, quiets, until)
        if hour is None:
            return
        t, events, stop = hour
        mark = len(sim.records)
        n = hb._pull_events(events, stop)  # `_pull(t)`, with the events read already
        records = sim.records[mark:]
        if not all(passes_hour(e, q, t, events, records) for e, q in quiets):
            # the engines step for real, as at any tick (the events are applied)
            hb.tick(t, pulled=n)
            quiets, sim = _quiets(hb, engine_quiet.quiet_after_step)
            continue
        # (`quiet_step` looked up at each hour: tests and the bench count the calls)
        hb.tick(t, pulled=n, step=_stepper(engine_quiet.quiet_step, quiets))
        if hb.failed:
            return
        after = [(e, q.after_hour(e)) for e, q in quiets]
        quiets = None if any(q is None for _, q in after) else after


#: a run of quiet hours of a heartbeat's one engine goes through `_quiet_run` (each hour's
#: plan, skip, pull, checks and tick in one lean loop; what is the same for every hour
#: of a chunk read once); False: `forward`'s general loop, hour by hour through
#: `_hour_ahead`, `passes_hour`, `tick` and `Quiet.after_hour` (the reference)
QUIET_RUN = True

#: `_quiet_run` also takes a usual quiet hour whose tick stands right where the tape
#: stands, with no bar before it (hourly data: every hour; minute data: an hour tick
#: right after a real one): nothing is skipped, as `forward`'s general loop skips
#: nothing there (`_hour_ahead` and the planners find no skip: the tape's first tick
#: holds a non-price event), and the tick passes by `_next_quiet_tick`'s and
#: `passes_hour`'s rules; False: such an hour is handed to the general loop (the
#: reference)
QUIET_BARE = True

#: `_events_verdict`: the tick may not pass quietly (`_may_pass`) / it passes / its
#: events wake the engine (`events_pass`: a real step once they are applied)
_NOT, _PASS, _STEP = 0, 1, 2
_QUIET_KINDS = frozenset({"oracle", "funding", "spot_rate"})


def _quiet_run(hb: Any, quiets: list, sim: Any, until: int | None, wakes: list[Any]) -> Any:
    """`forward`'s loop for the usual quiet hours of a heartbeat with one engine, no
    operator commands, sync hooks or failed engine (the backtest): each hour exactly as
    `_hour_ahead` (`_hour_row`'s decision, `_hour_equity`, the skip, `_hour_overwritten`,
    the hour tick's events), `_pull_events`, `passes_hour` (`events_pass` asked before
    the pull, with `_may_pass`: `_events_verdict`) and the tick (`tick_quiet`), then
    `Quiet.carry` (`after_hour` in place). What is the same for every hour of the chunk
    is read once per chunk: the tape's index, its `HourTable` and `HourPlan`, and each
    hour's `_tick_covers` (`_plan_overwrites`); per hour only the due time, the bands
    against the hour's extremes, the equity bound, the skip, the events and the books.
    An hour with no bar before its tick (`QUIET_BARE`: hourly data) has no skip, as in
    the general loop: no due time, band or equity bound is asked (none is, there: the
    hour tick's own prices are `books_pass`'s), only `_next_quiet_tick`'s tests (the
    run's end, the tick inside the buffer) and the same verdict, pull and tick.
    Returns None when `forward` ends (as its loop would), or the engines' quiets when
    an hour is not one it takes, having changed nothing since its last hour: `forward`'s
    general loop takes that hour."""
    from drift_engine.engine import quiet as engine_quiet

    if hb.commands is not None or hb.sync_hooks:
        return quiets
    tape = hb._tape
    quarter = max(1, CHUNK // 4)
    index: Any = None
    while True:
        if hb.failed or len(quiets) != 1 or len(hb.engines) != 1:
            return quiets
        ((engine, q),) = quiets
        tape.refill()  # `_hour_row`, the chunk's table and plan read once
        start = tape.pos
        buf = tape.buf
        n = len(buf)
        if n - start < 2:
            return quiets
        if index is None or tape._index is not index:
            index = tape.index()
            table = index.hours()
            plan = _hour_plan(table, sim, tape)
            overwrites = _plan_overwrites(table, plan)
        h = table.at_start.get(start)
        if h is None:
            return quiets
        at = table.time[h]
        end = table.tick_end[h]
        exhausted = tape.exhausted
        inside = end < n or exhausted  # (the hour tick ends inside the buffer)
        stop = table.tick_start[h]
        if stop == start:  # no bar before the hour tick: nothing to skip (`QUIET_BARE`)
            if not QUIET_BARE or (until is not None and at > until):
                return quiets  # (`_next_quiet_tick`: a tick past `until` is real)
            last = None
        else:
            due = hb._due(wakes)  # (`_hour_ahead`)
            qu = q.until
            if qu is not None and (due is None or qu < due):
                due = qu
            stop = _row_takes(table, plan, h, start, q.bands, due, until)
            if stop is None:
                return quiets
            last = table.last_tick[h]  # (the gap's last bar)
            bests = _hour_equity(tape, sim, h, plan, start, stop, quiets)
            if bests is None:
                return quiets
            if n - stop < quarter and not exhausted:
                return quiets
            # the hour is taken: the skip (`_hour_ahead`)
            ticks = table.ticks[h]
            engine.skip(last, ticks, bests[0])
            if not (inside and overwrites[h]):  # `_hour_overwritten` (until >= at: above)
                _apply_prices(hb, buf, table.apply[h])
            _skipped(hb, tape, stop - start, ticks, last, None, stop)
        events = buf[stop:end] if inside else None
        verdict = _NOT if events is None else _events_verdict(q, at, events)
        if verdict == _NOT:  # the tick is stepped for real after `forward` returns
            if last is not None:  # (a skip's result; none without one)
                hb._last_result = HeartbeatResult(last, stop - start, 1, 0.0)
            return None
        mark = len(sim.records)
        pulled = hb._pull_events(events, end)
        if verdict == _STEP or not engine_quiet.books_pass(engine, q, sim.records[mark:]):
            hb.tick(at, pulled=pulled)  # the engine steps for real (events applied)
            quiets, _ = _quiets(hb, engine_quiet.quiet_after_step)
            if quiets is None:
                return None
            continue
        # (`quiet_step` looked up at each hour: tests and the bench count the calls)
        hb.tick_quiet(at, pulled, engine, engine_quiet.quiet_step, q.next_equity)
        if hb.failed or not q.carry(engine):
            return None


def _events_verdict(q: Any, t: int, events: list) -> int:
    """`_may_pass(events, [(engine, q)], t)` (else `_NOT`) and then `events_pass(q, t,
    events)` (`_PASS`, else `_STEP`); for an engine that no funding record, rate update
    or strategy time wakes, both are the test of the events' kinds."""
    if q.strategy_until is None and not q.funding_wakes and not q.funding_bands:
        for e in events:
            if e.kind not in _QUIET_KINDS:
                return _NOT
        return _PASS
    from drift_engine.engine.quiet import events_pass

    if not _may_pass(events, [(None, q)], t):
        return _NOT
    return _PASS if events_pass(q, t, events) else _STEP


def _stepper(quiet_step: Any, quiets: list) -> Any:
    """`quiet_step` with the equity `passes_hour` took for each engine."""
    equity = {id(e): q.next_equity for e, q in quiets}

    def step(engine: Any, ts: int) -> None:
        quiet_step(engine, ts, equity[id(engine)])

    return step


def _quiets(hb: Any, quiet_after_step: Any) -> tuple[list | None, Any]:
    """Each stepping engine's `Quiet` after a real tick, and their one simulator; (None,
    None) when any engine must step the next bar (or they do not share a simulator)."""
    from drift_engine.engine.engine import EngineState

    quiets = []
    sim = None
    for engine in hb.engines:
        if engine.state is EngineState.STOPPED:
            continue
        q = quiet_after_step(engine)
        if q is None:
            return None, None
        esim = engine.venue.sim
        if sim is not None and esim is not sim:
            return None, None
        sim = esim
        quiets.append((engine, q))
    if sim is None:
        return None, None
    return quiets, sim


def _next_quiet_tick(tape: EventTape, quiets: list, until: int | None) -> tuple | None:
    """(time, events, end) of the next tick (its events are the tape's [pos, end)) if
    it holds funding records or rate updates that may pass quietly (checked before
    applying); None for any other tick."""
    tape.refill()
    pos, n = tape.pos, len(tape.buf)
    if pos >= n:
        return None
    t, stop, other = _tick_facts(tape, pos)
    if until is not None and t > until:
        return None
    if stop >= n and not tape.exhausted:
        return None  # the tick may go on past the chunk: step it for real
    if not other:
        return None  # prices only: a price out of a band or a due time: a real tick
    events = tape.buf[pos:stop]
    if not _may_pass(events, quiets, t):
        return None
    return t, events, stop


def _tick_facts(tape: EventTape, pos: int) -> tuple[int, int, bool]:
    """(bar time, end within the chunk, holds a non-price event) of the tick of event
    `pos`: from the chunk's `HourTable` when `pos` starts an hour's tick (then it holds
    one: the hour's first non-price event), else `_tick_facts_rows`."""
    table = tape.index().hours()
    h = table.at_tick.get(pos)
    if h is not None:
        return table.time[h], table.tick_end[h], True
    return _tick_facts_rows(tape, pos)


def _tick_facts_rows(tape: EventTape, pos: int) -> tuple[int, int, bool]:
    """`_tick_facts` from the tape's `TapeRows` (the reference)."""
    rows = tape.rows()
    end = rows.tick_end[pos]
    return rows.bound[pos], end, rows.next_other[pos] < end


def _may_pass(events: list, quiets: list, t: int) -> bool:
    """The tick's events are oracle ticks, funding records and rate updates only, and no
    engine is woken by its time or by these records (`passes_hour` decides the rest
    after they are applied)."""
    for e in events:
        if e.kind not in ("oracle", "funding", "spot_rate"):
            return False
    for _, q in quiets:
        if q.strategy_until is not None and t >= q.strategy_until:
            return False
        for e in events:
            if e.kind == "spot_rate" and q.funding_wakes:
                return False
            if e.kind == "funding" and e.market in q.funding_wakes:
                return False
    return True


def _hour_ahead(hb: Any, quiets: list, sim: Any, until: int | None, wakes: list[Any]) -> Any:
    """The usual quiet hour in one pass over the chunk's `HourTable` row: `_skip_bars`
    then `_next_quiet_tick`, with the same outcome, when the tape stands at the start
    of an hour's gap and `plan_hour` would decide the skip (its conditions, read from
    the same row), the skip's equity bound holds (`_equity_bounded`'s test) and the
    tape needs no refill after it. Then the skip is applied and the answer is
    `_next_quiet_tick`'s: (time, events, end) of the hour tick, or None. Anything else
    returns `UNDECIDED` having changed nothing, and the planners decide one by one."""
    tape = hb._tape
    due = hb._due(wakes)
    for _, q in quiets:
        if q.until is not None and (due is None or q.until < due):
            due = q.until
    bands = quiets[0][1].bands if len(quiets) == 1 else intersect([q.bands for _, q in quiets])
    row = _hour_row(tape, sim, bands, due, until)
    if row is None:
        return UNDECIDED
    table, h, start, stop, plan = row
    n = len(tape.buf)
    bests = _hour_equity(tape, sim, h, plan, start, stop, quiets)
    if bests is None:
        return UNDECIDED  # (a bar may halt on drawdown: `_skip_bars` finds it)
    # the tick after the skip, as `_next_quiet_tick` will see it: no refill on the way
    exhausted = tape.exhausted
    if n - stop < max(1, CHUNK // 4) and not exhausted:
        return UNDECIDED
    last = table.last_tick[h]  # the gap's last bar
    ticks = table.ticks[h]
    for (engine, _), best in zip(quiets, bests, strict=True):
        engine.skip(last, ticks, best)
    if not _hour_overwritten(tape, table, h, plan, until, table.apply_sids[h]):
        _apply_prices(hb, tape.buf, table.apply[h])
    # (the skip's `HeartbeatResult` only when no tick follows here: `tick` replaces it)
    _skipped(hb, tape, stop - start, ticks, last, None, stop)
    # `_next_quiet_tick` at the hour tick: its time <= until (`_hour_row`), its first
    # non-price event is `head[h]` (< end)
    end = table.tick_end[h]
    if end >= n and not exhausted:
        hb._last_result = HeartbeatResult(last, stop - start, len(quiets), 0.0)
        return None  # the tick may go on past the chunk: step it for real
    at = table.time[h]  # the hour tick's time: its first non-price event's bar
    events = tape.buf[stop:end]
    if not _may_pass(events, quiets, at):
        hb._last_result = HeartbeatResult(last, stop - start, len(quiets), 0.0)
        return None
    return at, events, end


def _hour_equity(
    tape: EventTape,
    sim: Any,
    h: int,
    plan: HourPlan,
    start: int,
    stop: int,
    quiets: list,
) -> list[int | None] | None:
    """Per engine, the highest equity of the skipped bars [start, stop) (hour `h`'s gap)
    when it may raise the high-water mark (None: no bar does), or None when a bar might
    halt on drawdown or the equity spans two markets (then `_skip_bars` decides). First
    `_equity_bounded`'s bound from the gap's price extremes (`HourPlan.key_gap`: the
    extremes of the symbols moving the market, and the price standing before it); if it may reach a
    new high, the exact highest equity of the bars: each term is monotone in the one
    market's price, so it is at the lowest or highest price that market holds at a
    bar's end (`TapeIndex.bar_ends`), as exact as `max_equity` over `equity_path`. A
    drawdown halt is ruled out against the highest mark the skip can reach."""
    out: list[int | None] = []
    for engine, q in quiets:
        legs = q.legs
        perps, spots = legs.perps, legs.spots
        if len(perps) + len(spots) > 1:
            markets = {k for k, _ in perps} | {k for k, *_ in spots}
            if len(markets) > 1:
                return None
        hwm = engine.high_water_mark
        if not perps and not spots:
            top = low = best = legs.const
        else:
            key = perps[0][0] if perps else spots[0][0]
            lo_p = hi_p = p = sim._prices[key]
            got = plan.key_gap.get(key)  # (its movers' extremes over the gap)
            if got is not None:
                a, b = got[0][h], got[1][h]
                if a < lo_p:
                    lo_p = a
                if b > hi_p:
                    hi_p = b
            at_lo, at_hi = legs.at_price(lo_p), legs.at_price(hi_p)  # (one market)
            if at_lo > at_hi:
                top, low = at_lo, at_hi
            else:
                top, low = at_hi, at_lo
            best = top
            if top > hwm:  # the exact highest: the bars' end prices
                movers = plan.movers.get(key, ())
                table = tape.index().hours()
                if (
                    stretch.HOUR_BAR_ENDS
                    and start == table.gap_start[h]
                    and stop == table.tick_start[h]
                ):
                    lows, highs, stands = table.gap_ends(movers)  # (every hour's gap at once)
                    lo_b, hi_b, standing = lows[h], highs[h], stands[h]
                else:
                    lo_b, hi_b, standing = tape.index().bar_ends(movers).range(start, stop)
                if standing:
                    lo_b, hi_b = min(lo_b, p), max(hi_b, p)
                best = max(legs.at_price(lo_b), legs.at_price(hi_b))
        mark = best if best > hwm else hwm
        # the risk check halts at (mark - equity) / mark >= max_drawdown; a margin kept
        if q.max_drawdown is not None and mark > 0 and (mark - low) / mark >= q.max_drawdown - 1e-9:
            return None
        out.append(best if best > hwm else None)
    return out


def _hour_overwritten(
    tape: EventTape, table: Any, h: int, plan: HourPlan, until: int | None, sids: list[int]
) -> bool:
    """`_prices_overwritten` of a skip that ends at hour `h`'s tick and applies the
    prices of symbols `sids`, read from the table's row: the hour tick is pulled next
    (not past `until`, its end inside the buffer or the data ends there), its first
    event is an oracle tick whose markets cover those of every symbol the skip
    applies (`plan.covers`), and each of those symbols has a price in it."""
    if until is not None and table.time[h] > until:
        return False
    if table.tick_end[h] >= len(tape.buf) and not tape.exhausted:
        return False
    return _tick_covers(table, plan, h, sids)


def _tick_covers(table: Any, plan: HourPlan, h: int, sids: list[int]) -> bool:
    """Hour `h`'s tick sets again the prices of symbols `sids` first thing
    (`_hour_overwritten`'s test of the row): its first event is an oracle tick whose
    markets cover those of every symbol in `sids` (`plan.covers`), and each of those
    symbols has a price in it."""
    first = table.first_sym[h]
    if first < 0:
        return False
    covers = plan.covers
    in_tick = table.in_tick
    return all(in_tick[sid][h] and covers[sid][first] for sid in sids)


def _plan_overwrites(table: Any, plan: HourPlan) -> list[bool]:
    """`_tick_covers` of each hour of the table with the symbols its gap applies (kept on
    the plan: the same for every hour of the chunk, whatever the engine)."""
    got = plan.overwrites
    if got is None:
        got = plan.overwrites = [
            _tick_covers(table, plan, h, sids) for h, sids in enumerate(table.apply_sids)
        ]
    return got


def _skip_bars(hb: Any, quiets: list, sim: Any, until: int | None, wakes: list[Any]) -> None:
    due = hb._due(wakes)
    for _, q in quiets:
        if q.until is not None and (due is None or q.until < due):
            due = q.until
    tape = hb._tape
    bands = intersect([q.bands for _, q in quiets])
    skip = plan_hour(tape, sim, bands, due, until)
    if skip is UNDECIDED:
        skip = plan_fast(tape, sim, bands, due, until)
    if skip is UNDECIDED:
        skip = plan_skip(tape, sim, bands, due, until)
    if skip is None:
        return
    if skip.ends is None and _equity_bounded(hb, tape, sim, skip, quiets):
        _apply_skip(hb, sim, skip, [(engine, q, None, None) for engine, q in quiets], until)
        return
    # a bar that might halt on drawdown is stepped for real: cut the skip before it
    ok = skip.ticks
    paths = []
    for engine, q in quiets:
        approx, prices = equity_path(tape, sim, skip, q.legs)
        if q.max_drawdown is not None:
            hwm = engine.high_water_mark
            ok = min(ok, drawdown_ticks(approx, hwm, q.max_drawdown, q.legs.terms))
        paths.append((engine, q, approx, prices))
    if ok < skip.ticks:
        skip = truncate(tape, skip, ok)
        if skip is None:
            return
        paths = [(e, q, *equity_path(tape, sim, skip, q.legs)) for e, q in quiets]
    _apply_skip(hb, sim, skip, paths, until)


def _equity_bounded(hb: Any, tape: EventTape, sim: Any, skip: Skip, quiets: list) -> bool:
    """True if, for every engine, no skipped bar can raise its high-water mark or halt
    it on drawdown, proven from the price extremes of the skip (`TapeIndex`): each of
    its equity terms is monotone in its market's price (`EquityLegs`: trunc/floor of
    amount x price), so with every term on one market the equity of any bar lies
    between the equities at that market's lowest and highest price (the price standing
    before the skip included). Then the exact per-bar path is not needed; False only
    sends the skip through it (`equity_path`)."""
    index = tape.index()
    keys = _symbol_keys(sim, tape)
    ranges = skip.ranges
    for engine, q in quiets:
        legs = q.legs
        markets = {k for k, _ in legs.perps} | {k for k, *_ in legs.spots}
        if len(markets) > 1:
            return False
        hwm = engine.high_water_mark
        if not markets:
            top = low = legs.const
        else:
            (key,) = markets
            p = sim._prices[key]
            lo_p, hi_p = p, p
            for sid, ks in keys.items():
                if key in ks:
                    if ranges is not None and sid in ranges:
                        a, b = ranges[sid]
                    else:
                        a, b = index.price_range(sid, skip.start, skip.stop)
                    lo_p, hi_p = min(lo_p, a), max(hi_p, b)
            at_lo, at_hi = legs.at({key: lo_p}), legs.at({key: hi_p})
            top, low = max(at_lo, at_hi), min(at_lo, at_hi)
        if top > hwm:
            return False
        # the risk check halts at (hwm - equity) / hwm >= max_drawdown; a margin kept
        if q.max_drawdown is not None and hwm > 0 and (hwm - low) / hwm >= q.max_drawdown - 1e-9:
            return False
    return True


def _apply_skip(hb: Any, sim: Any, skip: Skip, paths: list[Any], until: int | None) -> None:
    tape = hb._tape
    for engine, q, approx, prices in paths:
        if approx is None:  # `_equity_bounded`: no bar reaches the high-water mark
            best = None
        else:
            best = max_equity(approx, prices, q.legs, engine.high_water_mark)
        engine.skip(skip.last_tick, skip.ticks, best)
    if not _prices_overwritten(tape, sim, skip, until):
        _apply_prices(hb, tape.buf, skip.apply)
    _skipped(hb, tape, skip.stop - skip.start, skip.ticks, skip.last_tick, len(paths), skip.stop)


def _apply_prices(hb: Any, buf: list, indices: Sequence[int]) -> None:
    """Apply a skip's last prices (the events `buf[i]`, `i` in `indices`) to the
    heartbeat's market sinks and board, in order, as a pulled tick applies them."""
    markets, board = hb.markets, hb.board
    for i in indices:
        event = buf[i]
        for m in markets:
            m.apply(event)
        board.apply(event)


def _skipped(
    hb: Any, tape: EventTape, events: int, ticks: int, last: int, engines: int | None, stop: int
) -> None:
    """The heartbeat's counters after a skip of `events` events in `ticks` bars, and its
    `HeartbeatResult` (`engines` stepped; None: left to the caller)."""
    tape.pos = stop
    hb.events_processed += events
    hb.ticks += ticks
    hb.skipped_ticks += ticks
    hb.last_ts = last
    if engines is not None:
        hb._last_result = HeartbeatResult(last, events, engines, 0.0)


def _prices_overwritten(tape: EventTape, sim: Any, skip: Skip, until: int | None) -> bool:
    """True if the tick right after the skip sets again every price the skip would apply,
    before anything can read it: that tick is pulled next (it is in the buffer and not
    past `until`), its first event is an oracle tick whose simulator markets include
    those of every symbol the skip applies (so from that event on the simulator holds
    the same prices, time and accounts either way: the skipped prices, inside every
    band, liquidate nothing and write no record), and every such symbol has an oracle
    tick in it (the board and the other sinks keep the last price per symbol and are
    read after the tick). Then the skip's last prices are not applied: the hour's own
    ticks replace them, as in per-bar stepping."""
    stop = skip.stop
    if stop >= len(tape.buf):
        return False
    table = tape.index().hours()
    h = table.at_tick.get(stop)
    if h is None:
        return _prices_overwritten_rows(tape, sim, skip, until)
    sym = tape.sym
    sids = [sym.item(i) for i in skip.apply]
    return _hour_overwritten(tape, table, h, _hour_plan(table, sim, tape), until, sids)


def _prices_overwritten_rows(tape: EventTape, sim: Any, skip: Skip, until: int | None) -> bool:
    """`_prices_overwritten` from the tape's `TapeRows` (the reference)."""
    stop = skip.stop
    n = len(tape.buf)
    if stop >= n:
        return False
    rows = tape.rows()
    if until is not None and rows.bound[stop] > until:
        return False
    end = rows.tick_end[stop]
    if end >= n and not tape.exhausted:
        return False  # the tick may go on past the chunk
    sym = rows.sym
    first = sym[stop]
    if first < 0:
        return False
    keys = _symbol_keys(sim, tape)
    cover = keys[first]
    ticked = sym[stop:end]
    for i in skip.apply:
        sid = sym[i]
        if sid not in ticked or not all(k in cover for k in keys[sid]):
            return False
    return True


def intersect(bands: Sequence[dict[MarketKey, tuple[int, int]]]) -> dict:
    out: dict[MarketKey, tuple[int, int]] = {}
    for b in bands:
        for k, (lo, hi) in b.items():
            if k in out:
                olo, ohi = out[k]
                out[k] = (max(olo, lo), min(ohi, hi))
            else:
                out[k] = (lo, hi)
    return out


__all__ = [
    "EventTape",
    "Skip",
    "drawdown_ticks",
    "equity_path",
    "forward",
    "intersect",
    "key_prices",
    "max_equity",
    "plan_fast",
    "plan_hour",
    "plan_skip",
    "truncate",
]
