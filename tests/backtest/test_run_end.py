"""The end of a replay (ADR-0020 point 48): `run_events(until=...)` applies every event
with time <= `until`. The events of the run's last, partial bar (after the last tick
boundary at or before `until`) are applied at one last tick at `until` itself, never at
a boundary past it; a boundary at or before `until` ticks as before. A backtest's data
is [start, end) and its `until` is `end`: every funding record before `end` is applied,
counted and booked, in both stepping modes and through the columns or the objects.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import drift_engine.engine.quiet as engine_quiet
from drift_engine.backtest.runner import run_backtest
from drift_engine.data.models import OracleTick
from drift_engine.data.pipeline import open_market_data
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.engine import MarketBoard
from drift_engine.heartbeat import HeartbeatDataCollector
from drift_engine.risk import RiskLimits
from drift_engine.storage.database import Database
from drift_engine.vaults import VaultRegistry
from tests.backtest.flag_scenarios import _funding
from tests.backtest.strategy_kit import Hold
from tests.backtest.test_fast_stepping import _assert_equal

HOUR = 3_600
DAY = 24 * HOUR
USDC = 1_000_000
SOL_YEAR = 1_744_588_800  # 2025-04-14, the bundled real SOL-PERP file's first hour
IGNORED = {"wall_seconds", "events_per_second", "data"}


def _replay(times: list[int], until: int | None, interval_s: int, fast: bool):
    """(tick times, events applied) of `run_events` over oracle ticks at `times`."""
    events = [OracleTick(t, "SOL-PERP", (100 + i) * USDC) for i, t in enumerate(times)]
    fed: list = []

    class Sink:
        def apply(self, event):
            fed.append(event)

    ticks: list[int] = []
    hb = HeartbeatDataCollector(
        events, MarketBoard(["SOL-PERP"]), markets=[Sink()], on_tick=lambda r: ticks.append(r.ts)
    )
    hb.run_events(interval_s=interval_s, until=until, fast=fast)
    assert hb.ticks == len(ticks) and hb.events_processed == len(fed)
    assert hb.last_ts == (ticks[-1] if ticks else None)
    return ticks, fed, events


@pytest.mark.parametrize("fast", [False, True])
def test_the_last_partial_bar_ticks_at_until(fast):
    # 130 is inside the bar (120, 180]: its event 125 is applied at a tick at 130
    ticks, fed, events = _replay([10, 70, 125, 131], 130, 60, fast)
    assert ticks == [60, 120, 130] and fed == events[:3]
    # an event at `until` itself, inside a bar
    ticks, fed, events = _replay([10, 130, 131], 130, 60, fast)
    assert ticks == [60, 130] and fed == events[:2]
    # `until` on a boundary: unchanged, the event after it waits for the next bar
    ticks, fed, events = _replay([10, 70, 125], 120, 60, fast)
    assert ticks == [60, 120] and fed == events[:2]
    # nothing in the last partial bar: no extra tick
    ticks, fed, events = _replay([10, 70, 200], 130, 60, fast)
    assert ticks == [60, 120] and fed == events[:2]
    # no end: every bar with data ticks at its boundary
    ticks, fed, events = _replay([10, 70, 125], None, 60, fast)
    assert ticks == [60, 120, 180] and fed == events


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 2_000), max_size=30).map(sorted),
    st.one_of(st.none(), st.integers(0, 2_100)),
    st.sampled_from([1, 7, 60, 300]),
    st.booleans(),
)
def test_property_every_event_up_to_until_is_applied_no_tick_passes_it(
    times, until, interval_s, fast
):
    ticks, fed, events = _replay(times, until, interval_s, fast)
    assert fed == [e for e in events if until is None or e.time <= until]
    bars = sorted({-(-e.time // interval_s) * interval_s for e in fed})
    if until is not None:
        bars = sorted({min(b, until) for b in bars})
    assert ticks == bars


def _window_with_a_record_in_its_last_bar(hours: int) -> tuple[int, int]:
    """[start, end) of real SOL data, `end` one second after the funding record of the
    window's hour `hours` (the records stand a few seconds after the hour): the record
    is in the last partial bar, after the last minute boundary before `end`."""
    start = SOL_YEAR + DAY
    probe = open_market_data("bundled", ["SOL-PERP"], start, start + (hours + 2) * HOUR)
    funding = [e for e in probe.events if e.kind == "funding"]
    record = next(e for e in funding if e.time >= start + hours * HOUR)
    end = record.time + 1
    assert end % 60 != 0 and record.time > end - end % 60
    return start, end


def _backtest(tmp_path: Path, name: str, start: int, end: int, stepping: str, data=None):
    url = f"sqlite:///{tmp_path / f'{name}.db'}"
    report = run_backtest(
        "delta-neutral",
        "SOL-PERP",
        start,
        end,
        {"entry_apr": -1.0, "exit_apr": -2.0},
        source="bundled",
        database_url=url,
        stepping=stepping,
        data=data,
    )
    db = Database.open(url)
    try:
        entries = [
            (e.kind.value, e.amount, e.fee, e.key, e.market_index)
            + ((e.occurred_at,) if e.kind.value != "transfer_in" else ())
            for e in VaultRegistry(db).ledger.entries("backtest-delta-neutral-SOL-PERP")
        ]
    finally:
        db.dispose()
    return report, entries


def test_a_funding_record_in_the_last_partial_bar_is_booked(tmp_path):
    start, end = _window_with_a_record_in_its_last_bar(26)
    opened = open_market_data("bundled", ["SOL-PERP"], start, end)
    label = opened.label()
    objects = list(opened.events)
    records = [e for e in objects if e.kind == "funding"]
    last = records[-1]
    assert end - 60 < last.time < end
    runs = {
        (stepping, via): _backtest(
            tmp_path,
            f"{stepping}-{via}",
            start,
            end,
            stepping,
            None if via == "columns" else (list(objects), label),
        )
        for stepping in ("fast", "bar")
        for via in ("columns", "objects")
    }
    report, entries = runs["bar", "objects"]
    for other, other_entries in runs.values():
        for f in dataclasses.fields(report):
            if f.name not in IGNORED:
                assert getattr(other, f.name) == getattr(report, f.name), f.name
        assert other_entries == entries
    # every event before `end` is applied, every funding record counted and booked
    assert report.events == len(objects)
    assert report.funding_hours == len(records)
    funding = [e for e in entries if e[0] == "funding"]
    assert report.funding_payments == len(funding) >= 2
    # the last record is booked (the account holds the perp then), at its own time
    assert funding[-1][3] == f"funding:0:{last.time}"
    assert funding[-1][-1].timestamp() == last.time


def _offset_path(start: int, hours: int, offset: int, prices, rates) -> list:
    """Oracle ticks one a minute and a funding record each hour, all `offset` seconds
    after the minute (as Drift's records stand a few seconds after the hour): inside a
    bar, never on its boundary."""
    events: list = []
    for i, p in enumerate(prices):
        t = start + 60 * i + offset
        events.append(OracleTick(t, "SOL-PERP", int(p), "synthetic"))
        if i and i % 60 == 0 and i // 60 <= hours:
            events.append(_funding(t, int(p), rates[i // 60 - 1]))
    return events


@settings(max_examples=6, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    offset=st.integers(1, 59),
    cut=st.integers(-70, 70),
    inside=st.booleans(),
    short=st.booleans(),
)
def test_property_fast_equals_per_bar_up_to_an_end_inside_a_bar(
    tmp_path_factory, seed, offset, cut, inside, short
):
    # quiet hours up to the end; the end near the last funding record, inside its bar or
    # around it; the events after the end are handed in too and must never be applied
    import numpy as np

    rng = np.random.default_rng(seed)
    hours = 6
    steps = rng.normal(0.0, 0.002, (hours + 1) * 60)
    prices = 100_000_000 * np.exp(np.concatenate([[0.0], np.cumsum(steps)]))
    rates = 0.0002 + rng.normal(0.0, 0.0002, hours + 1)
    start = DEFAULT_ORIGIN
    events = _offset_path(start, hours + 1, offset, prices, rates)
    if inside:  # the end inside the last record's bar, after it
        cut = abs(cut) % (60 - offset)
    end = start + hours * HOUR + offset + cut
    quiet_hours: list[int] = []
    real = engine_quiet.quiet_step

    def counting(engine, ts, *args):
        quiet_hours.append(ts)
        real(engine, ts, *args)

    engine_quiet.quiet_step = counting
    try:
        report, entries = _assert_equal(
            tmp_path_factory.mktemp("end"),
            Hold,
            "SOL-PERP",
            start,
            end,
            {"leverage": 3.0, "short": short},
            data=(events, "synthetic random path, records inside their minute"),
            risk=RiskLimits(max_drawdown=1.0, max_leverage=10),
        )
    finally:
        engine_quiet.quiet_step = real
    applied = [e for e in events if e.time <= end]
    assert report.events == len(applied)
    assert report.funding_hours == sum(e.kind == "funding" for e in applied)
    assert (
        report.funding_payments == sum(e[0] == "funding" for e in entries) == hours - 1 + (cut >= 0)
    )
    assert quiet_hours  # the fast path ran up to the edge
    assert all(t <= end for t in quiet_hours)
