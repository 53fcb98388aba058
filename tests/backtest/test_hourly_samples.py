"""A backtest samples its account once per clock hour, at the hour's funding update (the
runner's `sample_due`): the report's Sharpe ratio, drawdown and time in market are
figures over hourly samples, so an hour may be neither skipped nor sampled twice. Real
hourly data is the case that matters: a funding record lands 0-299 s after its hour,
often a price bar before it, and "an hour since the last sample" left ~12 % of the
bundled hours unsampled. An update later than `FUNDING_GRACE_S` (or none) gives way to
the first tick from then; an hour with no tick by then to the next hour's first tick;
data without funding samples each hour's first tick. Fast stepping (which wakes at
`next_sample`) and per-bar stepping alike, checked against `_expected`, a reference
written per hour rather than per tick."""

from __future__ import annotations

import numpy as np
import pytest

from drift_engine.backtest.runner import FUNDING_GRACE_S
from drift_engine.data.models import OracleTick
from drift_engine.data.pipeline import open_market_data
from drift_engine.risk import RiskLimits
from tests.backtest.flag_scenarios import SOL_YEAR, _funding, _whole
from tests.backtest.strategy_kit import Hold

HOUR = 3_600
DAY = 24 * HOUR
LAX = RiskLimits(max_drawdown=1.0, max_leverage=10)


def _expected(ticks: list[int], records: list[int]) -> list[int]:
    """The sample times for tick times `ticks` and funding record times `records`: the
    first tick, then for each later clock hour: after an hour with a record, the tick
    of its own first record if that came before the grace, else its first tick from
    the grace on, else (no tick by then) nothing; after an hour without a record or
    without a sample, its first tick."""
    by_hour: dict[int, list[int]] = {}
    for t in ticks:
        by_hour.setdefault(t // HOUR, []).append(t)
    first_record: dict[int, int] = {}
    for r in records:
        first_record.setdefault(r // HOUR, r)
    out = [ticks[0]]
    missed = False
    for hour in range(ticks[0] // HOUR + 1, ticks[-1] // HOUR + 1):
        hour_ticks = by_hour.get(hour, [])
        if not hour_ticks:
            missed = True
            continue
        grace = hour * HOUR + FUNDING_GRACE_S
        r = first_record.get(hour)
        if missed or hour - 1 not in first_record:  # (no update awaited)
            pick = hour_ticks[0]
        elif r is not None and r < grace:
            pick = min(t for t in hour_ticks if t >= r)
        else:
            late = [t for t in hour_ticks if t >= grace]
            pick = late[0] if late else None
        missed = pick is None
        if pick is not None:
            out.append(pick)
    return out


def _samples(got: dict, events: list) -> list[int]:
    """The run's sample times, checked: `_expected` of its ticks and records, at most
    one per clock hour."""
    samples = [s.ts for s in got["report"]["samples"]]
    ticks = [tick[0] for tick in got["ticks"]]
    records = [e.ts for e in events if e.kind == "funding" and e.ts <= ticks[-1]]
    assert samples == _expected(ticks, records)
    assert len({t // HOUR for t in samples}) == len(samples)
    return samples


def _run(tmp_path, start, end, events, stepping, **kw) -> dict:
    sub = tmp_path / stepping
    sub.mkdir()
    return _whole(
        sub, True, Hold, "SOL-PERP", start, end, {"leverage": 2.0},
        stepping=stepping, data=(events, "test data"), risk=LAX, **kw,
    )  # fmt: skip


def _both(tmp_path, start, end, events) -> list[int]:
    """Fast and per-bar stepping: the same samples and report, as `_expected` says."""
    fast = _run(tmp_path, start, end, events, "fast")
    bar = _run(tmp_path, start, end, events, "bar")
    samples = _samples(fast, events)
    assert _samples(bar, events) == samples
    assert fast["report"] == bar["report"]
    return samples


def test_real_sol_hours_each_sampled_once_at_their_funding(tmp_path):
    start = SOL_YEAR + 40 * DAY
    end = start + 14 * DAY
    events = list(open_market_data("bundled", ["SOL-PERP"], start, end).events)
    samples = _both(tmp_path, start, end, events)
    # every hour of the fortnight, each at its record's tick (a record at :00 and its
    # price bar share a tick; most come a minute or more in, after a price bar at :00)
    assert len(samples) == 14 * 24
    assert {t // HOUR for t in samples} == {start // HOUR + k for k in range(14 * 24)}
    assert sum(t % HOUR != 0 for t in samples) > 200


def test_synthetic_minutes_sampled_on_the_hour(tmp_path):
    start = SOL_YEAR
    events = list(open_market_data("synthetic", ["SOL-PERP"], start, start + 3 * DAY).events)
    samples = _both(tmp_path, start, start + 3 * DAY, events)
    assert samples == [start + k * HOUR for k in range(3 * 24)]


def _minutes(start: int, hours: int, seed: int, late: tuple[int, int], drop: float) -> list:
    """Minute oracle ticks from `start` (on the hour) and each hour's funding record
    `late` seconds after it (drawn), a `drop` share of the hours without one."""
    rng = np.random.default_rng(seed)
    prices = 100_000_000 * np.exp(np.cumsum(rng.normal(0.0, 0.0005, hours * 60 + 60)))
    events: list = [
        OracleTick(start + 60 * i, "SOL-PERP", int(p), "synthetic") for i, p in enumerate(prices)
    ]
    for h in range(1, hours):
        if rng.random() < drop:
            continue
        at = start + h * HOUR + int(rng.integers(*late))
        events.append(_funding(at, int(prices[(at - start) // 60]), 0.00001))
    events.sort(key=lambda e: (e.ts, e.rank))
    return events


@pytest.mark.parametrize("seed", [1, 2])
def test_a_run_started_mid_hour_samples_each_funding_hour(tmp_path, seed):
    # the first sample at the start (:30), the next at the next hour's record, a price
    # bar or more after the hour: fast stepping must not stop the skip at :00 (a real
    # step an hour) nor let an hour go by
    start = SOL_YEAR + 30 * 60
    events = [e for e in _minutes(SOL_YEAR, 49, seed, (60, 300), 0.0) if e.ts >= start]
    samples = _both(tmp_path, start, start + 2 * DAY, events)
    assert samples[0] == start and len(samples) == 2 * 24 + 1
    # (the first hour's bar at :00: the hour before had its record before the start)
    assert samples[1] == SOL_YEAR + HOUR
    assert all(t % HOUR >= 60 for t in samples[2:])


@pytest.mark.parametrize("seed", [3, 4])
def test_late_and_missing_records_give_way_to_the_grace(tmp_path, seed):
    # records up to 15 minutes late, a fifth of the hours without one: those hours are
    # sampled at their first tick from the grace on (fast stepping wakes there)
    start = SOL_YEAR
    events = _minutes(start, 49, seed, (0, 900), 0.2)
    samples = _both(tmp_path, start, start + 2 * DAY, events)
    # (every hour; the run's last tick, at 48:00, too when hour 47 had no record)
    assert {t // HOUR - start // HOUR for t in samples} >= set(range(48))
    assert sum(t % HOUR == FUNDING_GRACE_S for t in samples) > 10


def test_hourly_bars_with_a_missing_record_take_the_next_hours_first_tick(tmp_path):
    # hourly bars (one price a hour, on the hour) and the records 1-4 minutes in, two
    # hours without one: no tick after the grace in those hours (no sample), the hour
    # after is sampled at its bar
    start = SOL_YEAR
    rng = np.random.default_rng(5)
    events: list = []
    for h in range(49):
        price = int(100_000_000 * (1 + 0.01 * rng.normal()))
        events.append(OracleTick(start + h * HOUR, "SOL-PERP", price, "synthetic"))
        if h and h not in (7, 30):
            events.append(_funding(start + h * HOUR + int(rng.integers(60, 240)), price, 0.00001))
    events.sort(key=lambda e: (e.ts, e.rank))
    samples = _both(tmp_path, start, start + 48 * HOUR, events)
    hours = [t // HOUR - start // HOUR for t in samples]
    assert 7 not in hours and 30 not in hours
    assert [t for t in samples if t // HOUR - start // HOUR in (8, 31)] == [
        start + 8 * HOUR,
        start + 31 * HOUR,
    ]


def test_without_funding_each_hours_first_tick(tmp_path):
    start = SOL_YEAR + 10 * 60
    events = [e for e in _minutes(SOL_YEAR, 26, 6, (0, 1), 1.0) if e.ts >= start]
    assert not any(e.kind == "funding" for e in events)
    samples = _both(tmp_path, start, start + DAY, events)
    assert samples == [start] + [SOL_YEAR + k * HOUR for k in range(1, 25)]
