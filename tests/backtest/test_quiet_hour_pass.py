"""A quiet funding hour in one pass over the chunk's `HourTable` row (ADR-0020, session 7
points 42-43) decides exactly what the planners one by one decide:

- the facts of the tick after a skip (its time, its end, whether it holds a non-price
  event) read from the table equal the tape's `TapeRows` at every event of random
  tapes, and whether the tick after a skip sets again every price the skip would apply
  (`_prices_overwritten`) is the same from the table as from the rows, for skips that
  start at a gap's start, mid-gap or are cut short, with and without an end of run;
  a table with a wrong tick end, first symbol or per-symbol presence fails the
  comparison;
- a backtest through `fastforward._hour_ahead` (skip, equity bound, the hour tick's
  events read once and pulled) equals the same backtest through the general path
  (`_skip_bars`, `_next_quiet_tick`, `_pull`) and per-bar stepping, report and every
  ledger entry, and most of its hours are taken by the one-pass path.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import drift_engine.fastforward as ff
from drift_engine.data.models import OracleTick
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.fastforward import EventTape, plan_skip, truncate
from drift_engine.sim import DriftSimulator
from tests.backtest.flag_scenarios import IGNORED
from tests.backtest.strategy_kit import Hold
from tests.backtest.test_fast_stepping import _run
from tests.backtest.test_hour_batch import PERP, SPOT, tapes

DAY = 86_400


def _sim() -> DriftSimulator:
    return DriftSimulator({"SOL-PERP": 100_000_000, "SOL": 100_000_000}, ts=DEFAULT_ORIGIN)


def _mismatches(events, width, until_in, cut) -> tuple[int, list]:
    """Walk the tape tick by tick: (hour ticks compared, where the table's answers
    differed from the rows')."""
    sim = _sim()
    tape = EventTape(iter(events), 60)
    tape.refill()
    n = len(tape.buf)
    bad = []
    for pos in range(n):
        if ff._tick_facts(tape, pos) != ff._tick_facts_rows(tape, pos):
            bad.append(("facts", pos))
    table = tape.index().hours()
    hours = 0
    for h, stop in enumerate(table.tick_start):
        # skips ending at the hour's tick: from its gap's start, from mid-gap, cut short
        for start in {table.gap_start[h], (table.gap_start[h] + stop) // 2, stop - 1}:
            if not 0 <= start < stop:
                continue
            tape.pos = start
            mid = int(tape.price[start]) or 100_000_000
            bands = {PERP: (mid - width, mid + width), SPOT: (mid - width, mid + width)}
            until = None if until_in is None else int(tape.bound[stop]) + until_in
            skip = plan_skip(tape, sim, bands, None, until)
            if skip is None:
                continue
            if cut:
                skip = truncate(tape, skip, max(1, skip.ticks - 1))
            hours += 1
            got = ff._prices_overwritten(tape, sim, skip, until)
            want = ff._prices_overwritten_rows(tape, sim, skip, until)
            if got != want:
                bad.append(("overwritten", h, start, skip.stop, got, want))
    return hours, bad


@settings(max_examples=150, deadline=None)
@given(
    events=tapes(),
    width=st.integers(0, 20_000_000),
    until_in=st.one_of(st.none(), st.integers(-120, 120)),
    cut=st.booleans(),
)
def test_the_tables_tick_facts_equal_the_rows(events, width, until_in, cut):
    _, bad = _mismatches(events, width, until_in, cut)
    assert bad == []


def _fixed_tape() -> list:
    from tests.backtest.test_hour_batch import _hourly_tape

    events = _hourly_tape(8)
    # an hour whose tick has a perp price only (the skip's SOL price is not set again)
    # and an hour whose first event is its funding record
    out = []
    for e in events:
        if e.time == DEFAULT_ORIGIN + 3 * 3600 and getattr(e, "market", "") == "SOL":
            continue
        out.append(e)
    hour5 = [e for e in out if e.time == DEFAULT_ORIGIN + 5 * 3600]
    rest = [e for e in out if e.time != DEFAULT_ORIGIN + 5 * 3600]
    at = rest.index(next(e for e in rest if e.time > DEFAULT_ORIGIN + 5 * 3600))
    return rest[:at] + sorted(hour5, key=lambda e: e.kind != "funding") + rest[at:]


def test_the_fixed_tape_has_hours_of_each_kind():
    hours, bad = _mismatches(_fixed_tape(), 20_000_000, None, False)
    assert bad == [] and hours >= 8
    tape = EventTape(iter(_fixed_tape()), 60)
    tape.refill()
    sim = _sim()
    answers = set()
    table = tape.index().hours()
    for h in range(len(table.tick_start)):
        tape.pos = table.gap_start[h]
        skip = plan_skip(tape, sim, {}, None, None)
        if skip is not None:
            answers.add(ff._prices_overwritten(tape, sim, skip, None))
    assert answers == {True, False}


def _two_market_tape() -> list:
    """Minutes of SOL-PERP and BTC-PERP (markets neither symbol's ticks move for the
    other), hourly SOL-PERP funding; BTC-PERP is quiet in hours 4-7 (a skip there
    applies SOL-PERP only) and ticks first in odd hours' ticks."""
    from tests.backtest.flag_scenarios import _funding as funding

    events = []
    for i in range(1, 10 * 60 + 1):
        t = DEFAULT_ORIGIN + 60 * i
        ticks = [OracleTick(t, "SOL-PERP", 100_000_000 + i, "synthetic")]
        if not 4 * 60 <= i < 8 * 60 or i % 60 == 0:
            btc = OracleTick(t, "BTC-PERP", 90_000_000_000 + i, "synthetic")
            ticks = [btc, *ticks] if (i // 60) % 2 else [*ticks, btc]
        events.extend(ticks)
        if i % 60 == 0:
            events.append(funding(t, 100_000_000 + i, 0.0001))
    return events


def test_the_cover_rule_with_a_market_the_first_tick_does_not_move():
    """`_prices_overwritten` from the table equals the rows' when a skip applies the
    price of a symbol whose markets the hour tick's first symbol does not move (then
    they are applied: False), and when it applies only covered ones (True)."""
    sim = DriftSimulator(
        {"SOL-PERP": 100_000_000, "SOL": 100_000_000, "BTC-PERP": 90_000_000_000},
        ts=DEFAULT_ORIGIN,
    )
    tape = EventTape(iter(_two_market_tape()), 60)
    tape.refill()
    table = tape.index().hours()
    answers = []
    for h in range(len(table.tick_start)):
        tape.pos = table.gap_start[h]
        skip = plan_skip(tape, sim, {}, None, None)
        if skip is None:
            continue
        got = ff._prices_overwritten(tape, sim, skip, None)
        assert got == ff._prices_overwritten_rows(tape, sim, skip, None), h
        answers.append(got)
    assert True in answers and False in answers


def test_a_wrong_table_fails_the_comparison(monkeypatch):
    from drift_engine.sim import stretch

    real = stretch.HourTable.__init__
    broken = {
        "tick_end": lambda t: setattr(t, "tick_end", [e - 1 for e in t.tick_end]),
        "first_sym": lambda t: setattr(t, "first_sym", [0 for _ in t.first_sym]),
        "in_tick": lambda t: setattr(t, "in_tick", [[True] * len(r) for r in t.in_tick]),
        "time": lambda t: setattr(t, "time", [x - 60 for x in t.time]),
    }
    for name, breaking in broken.items():

        def init(self, index, breaking=breaking):
            real(self, index)
            breaking(self)

        monkeypatch.setattr(stretch.HourTable, "__init__", init)
        _, bad = _mismatches(_fixed_tape(), 20_000_000, 0, False)
        assert bad, name


# ------------------------------------------------------------ the one-pass hour, whole runs


def _spread_tape(hours: int, seed: int) -> list:
    """Minutes of SOL-PERP and SOL prices apart within each bar (the bar's end price is
    not its extreme), hourly funding."""
    import numpy as np

    from tests.backtest.flag_scenarios import _funding as funding

    rng = np.random.default_rng(seed)
    events, price = [], 100_000_000
    for i in range(hours * 60 + 1):
        t = DEFAULT_ORIGIN + 60 * i
        price += int(rng.integers(-150_000, 150_000))
        events.append(OracleTick(t, "SOL-PERP", price, "synthetic"))
        events.append(OracleTick(t, "SOL", price + int(rng.integers(-90_000, 90_000)), "synthetic"))
        if i and i % 60 == 0:
            events.append(funding(t, price, 0.0001))
    return events


@pytest.mark.parametrize(
    "data,short",
    [("synthetic", True), ("spread", True), ("spread", False)],
)
def test_one_pass_hours_equal_the_planners_one_by_one_and_per_bar(
    tmp_path, monkeypatch, data, short
):
    from drift_engine.engine.engine import DriftEngine
    from drift_engine.heartbeat import HeartbeatDataCollector

    monkeypatch.setattr(ff, "QUIET_RUN", False)  # (`_hour_ahead` hour by hour: the reference)
    taken, highs, engines = [], [], []
    real, real_equity, real_init = ff._hour_ahead, ff._hour_equity, DriftEngine.__init__

    def counting(*args):
        got = real(*args)
        taken.append(got is not ff.UNDECIDED)
        return got

    def equity(*args):
        got = real_equity(*args)
        highs.extend(got or ())
        return got

    def init(self, *args, **kw):
        real_init(self, *args, **kw)
        engines.append(self)

    monkeypatch.setattr(DriftEngine, "__init__", init)
    marks: list[dict] = []  # per run: tick time -> the engine's high-water mark after it
    real_tick = HeartbeatDataCollector.tick

    def tick(self, until_ts, **kw):
        out = real_tick(self, until_ts, **kw)
        marks[-1][until_ts] = tuple(e.high_water_mark for e in self.engines)
        return out

    monkeypatch.setattr(HeartbeatDataCollector, "tick", tick)
    args = ("SOL-PERP", DEFAULT_ORIGIN, DEFAULT_ORIGIN + 4 * DAY, {"leverage": 2.0})
    args[3]["short"] = short
    kw = {"source": "synthetic"} if data == "synthetic" else {"data": (_spread_tape(96, 3), "x")}
    for name in ("one", "gen", "bar"):
        (tmp_path / name).mkdir()
    monkeypatch.setattr(ff, "_hour_ahead", counting)
    monkeypatch.setattr(ff, "_hour_equity", equity)
    marks.append({})
    one, one_entries = _run(tmp_path / "one", "fast", Hold, *args, **kw)
    monkeypatch.setattr(ff, "_hour_ahead", lambda *a: ff.UNDECIDED)
    marks.append({})
    general, general_entries = _run(tmp_path / "gen", "fast", Hold, *args, **kw)
    marks.append({})
    bar, bar_entries = _run(tmp_path / "bar", "bar", Hold, *args, **kw)
    for f in dataclasses.fields(one):
        if f.name not in IGNORED:
            assert getattr(one, f.name) == getattr(general, f.name) == getattr(bar, f.name), f.name
    assert one_entries == general_entries == bar_entries
    # the engine's own books: steps and the high-water mark the skips raised
    assert len(engines) == 3
    assert len({(e.stats.steps, e.high_water_mark, e.last_ts) for e in engines}) == 1
    # ... and the high-water mark after every tick the fast runs made (hour ticks
    # included), as per-bar stepping had it at that minute
    assert marks[0] == {t: marks[2][t] for t in marks[0]}
    assert marks[1] == {t: marks[2][t] for t in marks[1]}
    assert one.fills == 1 and sum(e[0] == "funding" for e in one_entries) > 80
    assert sum(taken) >= 80 and sum(taken) >= 0.8 * len(taken)
    # new highs inside skips were taken exactly (`BarEnds`), not sent to the scan
    assert sum(h is not None for h in highs) >= (10 if short else 1)


# ------------------------------------------------------------ bar-end price extremes


def _bar_end_values(tape, movers, a, b) -> list:
    """Brute force: the market's price at the end of each bar of [a, b) ("standing":
    the price it held before `a`, when no bar so far had an event of `movers`)."""
    values, current, i = [], "standing", a
    while i < b:
        j = i
        while j < b and tape.bound[j] == tape.bound[i]:
            if int(tape.sym[j]) in movers:
                current = int(tape.price[j])
            j += 1
        values.append(current)
        i = j
    return values


@settings(max_examples=150, deadline=None)
@given(events=tapes(), data=st.data())
def test_bar_end_extremes_equal_a_bar_by_bar_walk(events, data):
    from drift_engine.sim.stretch import I64_MAX, I64_MIN

    tape = EventTape(iter(events), 60)
    tape.refill()
    # a range is asked over whole bars, b > a (`BarEnds.range`): a tape without events
    # (every bar drawn empty, no funding) has none
    assume(len(tape.buf) > 0)
    starts = [0] + [i for i in range(1, len(tape.buf)) if tape.bound[i] != tape.bound[i - 1]]
    index = tape.index()
    for _ in range(5):
        a = data.draw(st.sampled_from(starts))
        ends = [s for s in starts if s > a] + [len(tape.buf)]
        b = data.draw(st.sampled_from(ends))
        movers = data.draw(st.sampled_from([(0,), (1,), (0, 1)]))
        lo, hi, standing = index.bar_ends(movers).range(a, b)
        values = _bar_end_values(tape, movers, a, b)
        prices = [v for v in values if v != "standing"]
        assert standing == ("standing" in values)
        assert (lo, hi) == ((min(prices), max(prices)) if prices else (I64_MAX, I64_MIN))


def test_key_prices_agree_with_the_bar_ends():
    """`key_prices` (the exact equity path's prices) spans what `bar_ends` says."""
    tape = EventTape(iter(_fixed_tape()), 60)
    tape.refill()
    sim = _sim()
    table = tape.index().hours()
    keys = ff._symbol_keys(sim, tape)
    for h in range(len(table.head)):
        tape.pos = table.gap_start[h]
        skip = plan_skip(tape, sim, {}, None, None)
        if skip is None:
            continue
        for key in (PERP, SPOT):
            movers = tuple(sid for sid, ks in keys.items() if key in ks)
            lo, hi, standing = tape.index().bar_ends(movers).range(skip.start, skip.stop)
            if standing:
                p = sim._prices[key]
                lo, hi = min(lo, p), max(hi, p)
            prices = ff.key_prices(tape, sim, skip, key)
            assert (lo, hi) == (int(prices.min()), int(prices.max()))
