"""The hours of a chunk planned together (`sim.stretch.HourTable`, `fastforward.
plan_hour`, ADR-0020 session 6) give exactly the skip the hour-by-hour planner
(`plan_fast`, itself held equal to the vectorised scan `plan_skip`) gives, at every
hour of random tapes (prices, funding at random minutes, two symbols, bands, due
times, ends); a table with a deliberately wrong extreme or bar count fails the same
comparison. The whole-run equality (fast vs per-bar: records, ledger, liquidation
minute) is tests/backtest/test_fast_stepping.py, which now runs through `plan_hour`."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from drift_engine.core.types import MarketType
from drift_engine.data.models import FundingRecord, OracleTick
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.fastforward import UNDECIDED, EventTape, plan_fast, plan_hour
from drift_engine.sim import DriftSimulator

PERP = (MarketType.PERP, 0)
SPOT = (MarketType.SPOT, 1)


def _funding(ts: int, rate: int, price: int) -> FundingRecord:
    return FundingRecord(ts, "SOL-PERP", 0, rate, rate, rate, 0, 0, price, price)


@st.composite
def tapes(draw):
    n_bars = draw(st.integers(2, 400))
    price = draw(st.integers(50_000_000, 150_000_000))
    events = []
    ts = DEFAULT_ORIGIN
    for i in range(n_bars):
        ts += 60
        price = max(1, price + draw(st.integers(-2_000_000, 2_000_000)))
        shape = draw(st.sampled_from(["perp", "both", "spot", "funding first", "none"]))
        funding = i % 60 == 59 or draw(st.integers(0, 40)) == 0
        if funding and shape == "funding first":
            events.append(_funding(ts, 1000, price))
        for symbol in {"perp": ("SOL-PERP",), "spot": ("SOL",), "none": ()}.get(
            shape, ("SOL-PERP", "SOL")
        ):
            events.append(OracleTick(ts, symbol, price + draw(st.integers(-50_000, 50_000))))
        if funding and shape != "funding first":
            events.append(_funding(ts, 1000, price))
    return events


def _key(skip):
    if skip is None or skip is UNDECIDED:
        return skip
    return (skip.start, skip.stop, skip.ticks, skip.last_tick, skip.apply)


def _mismatches(events, width, centre, due_in, until_in, spot_band) -> tuple[int, list]:
    """Walk the tape hour by hour as a quiet stretch does (each planned skip taken, then
    the hour's tick): (hours `plan_hour` decided, where it differed from `plan_fast`)."""
    sim = DriftSimulator({"SOL-PERP": 100_000_000, "SOL": 100_000_000}, ts=DEFAULT_ORIGIN)
    tape = EventTape(iter(events), 60)
    tape.refill()
    decided, bad = 0, []
    while tape.pos < len(tape.buf) - 1:
        mid = int(tape.price[tape.pos]) or 100_000_000
        bands = {PERP: (mid + centre - width, mid + centre + width)}
        if spot_band:
            bands[SPOT] = (mid - 2 * width, mid + width)
        now = int(tape.bound[tape.pos])
        due = None if due_in is None else now + due_in
        until = None if until_in is None else now + until_in
        hour = plan_hour(tape, sim, bands, due, until)
        ref = plan_fast(tape, sim, bands, due, until)
        if hour is not UNDECIDED:
            decided += 1
            if _key(hour) != _key(ref):
                bad.append((tape.pos, _key(hour), _key(ref)))
            elif hour is not None and not np.array_equal(hour.tick_ends, ref.tick_ends):
                bad.append((tape.pos, "tick_ends"))
            elif hour is not None:
                index = tape.index()
                for sid, got in hour.ranges.items():  # what `_equity_bounded` reads
                    if got != index.price_range(sid, hour.start, hour.stop):
                        bad.append((tape.pos, "range", sid))
        # go on as the stretch would: past the skip, then past the next tick
        if ref is not None and ref is not UNDECIDED:
            tape.pos = ref.stop
        rows = tape.rows()
        tape.pos = rows.tick_end[tape.pos]
    return decided, bad


@settings(max_examples=150, deadline=None)
@given(
    events=tapes(),
    width=st.integers(0, 20_000_000),
    centre=st.integers(-5_000_000, 5_000_000),
    due_in=st.one_of(st.none(), st.integers(0, 5_000)),
    until_in=st.one_of(st.none(), st.integers(0, 30_000)),
    spot_band=st.booleans(),
)
def test_plan_hour_equals_plan_fast_at_every_hour(
    events, width, centre, due_in, until_in, spot_band
):
    _, bad = _mismatches(events, width, centre, due_in, until_in, spot_band)
    assert bad == []


def _hourly_tape(hours: int) -> list:
    rng = np.random.default_rng(5)
    events, price, ts = [], 100_000_000, DEFAULT_ORIGIN
    for i in range(hours * 60):
        ts += 60
        price += int(rng.integers(-30_000, 30_000))
        events.append(OracleTick(ts, "SOL-PERP", price))
        events.append(OracleTick(ts, "SOL", price + 7))
        if i % 60 == 59:
            events.append(_funding(ts, 1000, price))
    return events


def test_plan_hour_decides_the_quiet_hours():
    """On an hourly tape with wide bands every hour after the first is decided from
    the table (the first starts mid-gap only if the tape does not start at one)."""
    decided, bad = _mismatches(_hourly_tape(48), 20_000_000, 0, None, None, True)
    assert bad == []
    assert decided >= 47


def test_a_wrong_table_fails_the_comparison(monkeypatch):
    """The comparison sees a table that is off: an extreme one tick too high (the
    band check is skipped where it should not be) and a bar count off by one."""
    from drift_engine.sim import stretch

    real = stretch.HourTable.__init__

    def off_by_one(self, index):
        real(self, index)
        self.ticks = [t + 1 if t else t for t in self.ticks]

    monkeypatch.setattr(stretch.HourTable, "__init__", off_by_one)
    _, bad = _mismatches(_hourly_tape(6), 20_000_000, 0, None, None, True)
    assert bad

    def lowered_high(self, index):
        real(self, index)
        self.gap_hi = [[h - 10**9 for h in row] for row in self.gap_hi]

    monkeypatch.setattr(stretch.HourTable, "__init__", lowered_high)
    _, bad = _mismatches(_hourly_tape(6), 30_000, 0, None, None, False)
    assert bad

    def raised_low(self, index):  # the band still holds: only the kept range is off
        real(self, index)
        self.gap_lo = [[lo + 1 for lo in row] for row in self.gap_lo]

    monkeypatch.setattr(stretch.HourTable, "__init__", raised_low)
    _, bad = _mismatches(_hourly_tape(6), 20_000_000, 0, None, None, True)
    assert bad
