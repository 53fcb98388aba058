"""A run of quiet hours in one lean loop (`fastforward._quiet_run`, ADR-0020 session 9,
points 62-63) gives the whole backtest `forward`'s general loop gives (`QUIET_RUN =
False`, hour by hour through `_hour_ahead`, `passes_hour`, `tick`, `after_hour`): the
report and its samples, every row of every table of the run's database (ledger rows,
engine records, vault snapshots, heartbeat rows, engine events; wall-clock columns
left out), the tick results `on_tick` saw with the engine's bookkeeping at each, the
heartbeat's counters and last result, every simulator record and the final accounts.
Cases: synthetic minutes in the market and entering/leaving it, a carry strategy with a
funding band (its hours through `events_pass`), the real LUNA crash (liquidations, a
drawdown halt), real SOL minutes, and runs that end inside an hour's bar. Each run
must take hours through the lean loop (and the reference none). Also: `Quiet.carry`
gives the Quiet `after_hour` gives, field by field, and a hand-made mistake in the lean
loop fails the comparison (`test_a_wrong_lean_loop_is_caught`)."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import drift_engine.engine.quiet as engine_quiet
from drift_engine import fastforward as ff
from drift_engine.backtest.runner import run_backtest
from drift_engine.data.bundled import luna_ticks
from drift_engine.data.models import Candle, OracleTick, SpotRateRecord
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.heartbeat import HeartbeatDataCollector
from drift_engine.risk import RiskLimits
from drift_engine.sim import stretch
from tests.backtest.test_fast_stepping import (
    LIQUIDATION_ONLY,
    LUNA_LABEL,
    Carry,
    Hold,
    LeveragedLong,
    _funding,
)
from tests.backtest.test_run_end import _offset_path

HOUR = 3_600
DAY = 24 * HOUR
SOL_YEAR = 1_744_588_800  # 2025-04-14, the bundled real SOL-PERP file's first hour
#: report fields measured in wall time
IGNORED = {"wall_seconds", "events_per_second"}
#: database columns stamped with the wall clock
#: ledger kinds of the capital's allocation, stamped with the wall clock
CAPITAL = ("deposit", "transfer_in", "transfer_out")
WALL = {
    "created_at",
    "updated_at",
    "booked_at",
    "recorded_at",
    "duration_ms",
    "saved_at",
    "requested_at",
    "applied_at",
}


def _tables(path: Path) -> dict[str, list[tuple]]:
    """Every row of every table, wall-clock columns (and the capital's allocation
    times) left out."""
    con = sqlite3.connect(path)
    try:
        names = [
            r[0]
            for r in con.execute("select name from sqlite_master where type='table' order by name")
        ]
        out = {}
        for name in names:
            cur = con.execute(f"select * from {name} order by rowid")  # noqa: S608
            cols = [d[0] for d in cur.description]
            rows = []
            for row in cur.fetchall():
                kept = dict(zip(cols, row, strict=True))
                if kept.get("kind") in CAPITAL:
                    kept.pop("occurred_at", None)
                rows.append(tuple((c, v) for c, v in kept.items() if c not in WALL))
            out[name] = rows
    finally:
        con.close()
    return out


def _whole(
    tmp_path: Path, lean: bool, strategy, market, start, end, params, stepping="fast", **kw
) -> dict:
    """Everything a backtest leaves (fast stepping unless told), with `QUIET_RUN = lean`."""
    seen: dict[str, Any] = {"ticks": [], "quiet": 0}
    run_events = HeartbeatDataCollector.run_events
    tick_quiet = HeartbeatDataCollector.tick_quiet

    def capture(hb, **kwargs):
        seen["hb"] = hb
        then = hb.on_tick

        def on_tick(result):
            e = hb.engines[0]
            seen["ticks"].append(
                (
                    result.ts,
                    result.events,
                    result.engines_stepped,
                    result.errors,
                    result.lag_s,
                    e.stats.steps,
                    e.last_ts,
                    e.high_water_mark,
                    e._saved_ts,
                    e.state,
                    hb.ticks,
                    hb.events_processed,
                    hb.skipped_ticks,
                )
            )
            then(result)

        hb.on_tick = on_tick
        return run_events(hb, **kwargs)

    def counted(hb, *a, **k):
        seen["quiet"] += 1
        return tick_quiet(hb, *a, **k)

    url = tmp_path / f"{'lean' if lean else 'ref'}.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ff, "QUIET_RUN", lean)
        mp.setattr(HeartbeatDataCollector, "run_events", capture)
        mp.setattr(HeartbeatDataCollector, "tick_quiet", counted)
        report = run_backtest(
            strategy,
            market,
            start,
            end,
            params,
            stepping=stepping,
            margin_refresh_move=0.0,
            database_url=f"sqlite:///{url}",
            **kw,
        )
    hb = seen["hb"]
    (engine,) = hb.engines
    sim = engine.venue.sim
    last = hb._last_result
    return {
        "report": {
            f.name: getattr(report, f.name)
            for f in dataclasses.fields(report)
            if f.name not in IGNORED
        },
        "tables": _tables(url),
        "ticks": seen["ticks"],
        "hb": (
            hb.ticks,
            hb.events_processed,
            hb.skipped_ticks,
            hb.last_ts,
            hb._last_snapshot,
            hb._last_record,
            hb.exhausted,
            dict(hb.failed),
            None if last is None else (last.ts, last.events, last.engines_stepped, last.errors),
        ),
        "engine": (
            dataclasses.asdict(engine.stats),
            engine.last_ts,
            engine.high_water_mark,
            engine._saved_ts,
            engine.state,
        ),
        "records": [repr(r) for r in sim.records],
        "account": repr(sim.user(engine.venue.key)),
        "prices": dict(sim._prices),
        "quiet": seen["quiet"],
    }


def _assert_same(
    tmp_path: Path, strategy, market, start, end, params=None, *, lean_hours=True, **kw
) -> dict:
    lean = _whole(tmp_path, True, strategy, market, start, end, params, **kw)
    ref = _whole(tmp_path, False, strategy, market, start, end, params, **kw)
    assert ref["quiet"] == 0
    assert (lean["quiet"] > 0) == lean_hours  # the lean loop took hours
    _same(lean, ref)
    return lean


def _same(got: dict, ref: dict) -> None:
    """Two `_whole` results equal part by part and table by table."""
    for part in ("report", "ticks", "hb", "engine", "records", "account", "prices"):
        assert got[part] == ref[part], part
    assert got["tables"].keys() == ref["tables"].keys()
    for name, rows in ref["tables"].items():
        assert got["tables"][name] == rows, name


def test_synthetic_minutes_held_short(tmp_path):
    got = _assert_same(
        tmp_path, Hold, "SOL-PERP", DEFAULT_ORIGIN, DEFAULT_ORIGIN + 4 * DAY, {"leverage": 2.0},
        source="synthetic",
    )  # fmt: skip
    assert got["quiet"] >= 80
    assert len(got["tables"]["heartbeats"]) >= 4 and len(got["tables"]["vault_snapshots"]) >= 4


def test_synthetic_minutes_entering_and_leaving(tmp_path):
    # a carry strategy in and out on its funding band, passing hours quietly between
    _assert_same(
        tmp_path,
        Carry,
        "SOL-PERP",
        DEFAULT_ORIGIN,
        DEFAULT_ORIGIN + 4 * DAY,
        {"entry_rate": -0.00003, "exit_rate": -0.000035},
        source="synthetic",
        seed=11,
    )


def test_synthetic_minutes_delta_neutral_entries_and_exits(tmp_path):
    # in and out on the funding signal; between, its band on the next rates
    # (`delta_neutral.FUNDING_BANDS`) lets the lean loop take hours
    got = _assert_same(
        tmp_path,
        "delta-neutral",
        "SOL-PERP",
        DEFAULT_ORIGIN,
        DEFAULT_ORIGIN + 6 * DAY,
        {"entry_apr": 0.0, "exit_apr": 0.0, "exit_window_hours": 1, "lookback_hours": 1},
        source="synthetic",
        seed=11,
    )
    assert got["report"]["trades"] >= 2


def _luna(aligned: bool) -> list:
    """The real LUNA crash's oracle ticks with a synthetic funding record each hour;
    `aligned`: with one tick of the first price at the hour before the first (the run's
    first tick on the hour). Either way each hour's sample falls at its funding tick
    (`test_hourly_samples`), as in the bench, and the hours are usual quiet hours."""
    ts, prices = luna_ticks()
    events: list = []
    if aligned:
        events.append(OracleTick(ts[0] - ts[0] % HOUR, "SOL-PERP", prices[0]))
    last_hour = None
    for t, p in zip(ts, prices, strict=True):
        hour = t - t % 3600
        if last_hour is not None and hour > last_hour:
            events.append(_funding(hour, p, 0.0002))
        last_hour = hour
        events.append(OracleTick(t, "SOL-PERP", p))
    events.sort(key=lambda e: (e.ts, e.rank))
    return events


@pytest.mark.parametrize(
    ("strategy", "params", "limits", "aligned"),
    [
        (
            Hold,
            {"leverage": 5.0, "short": False},
            LIQUIDATION_ONLY,
            True,
        ),
        (
            Hold,
            {"leverage": 5.0, "short": False},
            LIQUIDATION_ONLY,
            False,  # (a run started off the hour: its samples still at the funding ticks)
        ),
        (Hold, {"leverage": 2.0, "short": False}, RiskLimits(max_drawdown=0.3), True),
        (Hold, {"leverage": 3.0, "short": True}, RiskLimits(max_leverage=10), True),
        (LeveragedLong, {"leverage": 2.0, "exit_health": 30}, RiskLimits(max_drawdown=0.3), True),
    ],
)
def test_real_luna_crash(tmp_path, strategy, params, limits, aligned):
    events = _luna(aligned)
    got = _assert_same(
        tmp_path,
        strategy,
        "SOL-PERP",
        events[0].ts - 60 * (not aligned),
        events[-1].ts + 60,
        params,
        # (LeveragedLong wakes every tick until its drawdown halt; a halted engine's
        # hours are quiet: point 67)
        lean_hours=strategy is Hold or engine_quiet.QUIET_HALTED,
        data=(events, LUNA_LABEL),
        risk=limits,
    )
    if limits.health_floor == 0:
        assert got["report"]["liquidations"] >= 1


def test_real_sol_minutes(tmp_path):
    start = SOL_YEAR + 30 * DAY
    # (the records stand seconds after the hour: each hour's sample is a real tick on
    # the hour, a minute before; the lean loop takes the hours whose sample came late)
    _assert_same(
        tmp_path,
        Hold,
        "SOL-PERP",
        start,
        start + 9 * DAY,
        {"leverage": 2.0},
        source="bundled",
        bridge_s=60,
    )


@pytest.mark.parametrize(
    ("offset", "cut", "short"), [(7, 20, True), (41, -13, False), (3, 0, True)]
)
def test_a_run_that_ends_inside_a_bar(tmp_path, offset, cut, short):
    rng = np.random.default_rng(offset)
    hours = 30
    steps = rng.normal(0.0, 0.002, (hours + 1) * 60)
    prices = 100_000_000 * np.exp(np.concatenate([[0.0], np.cumsum(steps)]))
    rates = 0.0002 + rng.normal(0.0, 0.0002, hours + 1)
    start = DEFAULT_ORIGIN
    events = _offset_path(start, hours + 1, offset, prices, rates)
    end = start + hours * HOUR + offset + cut
    got = _assert_same(
        tmp_path,
        Hold,
        "SOL-PERP",
        start,
        end,
        {"leverage": 3.0, "short": short},
        data=(events, "synthetic random path, records inside their minute"),
        risk=RiskLimits(max_drawdown=1.0, max_leverage=10),
    )
    assert got["report"]["events"] == sum(e.time <= end for e in events)


def test_carry_gives_the_quiet_after_hour_gives(tmp_path, monkeypatch):
    # every quiet hour of a run: the carried Quiet equals the one `after_hour` builds
    checked = []
    carry = engine_quiet.Quiet.carry

    def both(q, engine):
        want = q.after_hour(engine)
        got = carry(q, engine)
        assert got == (want is not None)
        if got:
            assert q == want
            checked.append(q.until)
        return got

    monkeypatch.setattr(engine_quiet.Quiet, "carry", both)
    _whole(
        tmp_path, True, Hold, "SOL-PERP", DEFAULT_ORIGIN, DEFAULT_ORIGIN + 2 * DAY,
        {"leverage": 2.0}, source="synthetic",
    )  # fmt: skip
    assert len(checked) >= 40


def _event(kind: str, market: str, rate: int):
    if kind == "oracle":
        return OracleTick(DEFAULT_ORIGIN, market, 100_000_000)
    if kind == "funding":
        return _funding(DEFAULT_ORIGIN, 100_000_000, rate / 1e6)
    if kind == "spot_rate":
        return SpotRateRecord(DEFAULT_ORIGIN, "USDC", 0, 0, 0)
    return Candle(DEFAULT_ORIGIN, market, 60, 1, 1, 1, 1, 0)


@settings(max_examples=300, deadline=None)
@given(
    kinds=st.lists(
        st.tuples(
            st.sampled_from(["oracle", "funding", "spot_rate", "candle"]),
            st.sampled_from(["SOL-PERP", "ETH-PERP"]),
            st.integers(-300, 300),
        ),
        max_size=5,
    ),
    wakes=st.sampled_from([set(), {"SOL-PERP", "*"}, {"ETH-PERP", "*"}]),
    band=st.one_of(st.none(), st.tuples(st.integers(-300, 300), st.integers(-300, 300))),
    until=st.one_of(st.none(), st.integers(-2, 2)),
)
def test_events_verdict_is_may_pass_then_events_pass(kinds, wakes, band, until):
    events = [_event(*k) for k in kinds]
    q = engine_quiet.Quiet(
        strategy_until=None if until is None else DEFAULT_ORIGIN + until,
        funding_wakes=wakes,
        funding_bands={} if band is None else {"SOL-PERP": (band[0] / 1e6, band[1] / 1e6)},
    )
    if not ff._may_pass(events, [(None, q)], DEFAULT_ORIGIN):
        want = ff._NOT
    elif engine_quiet.events_pass(q, DEFAULT_ORIGIN, events):
        want = ff._PASS
    else:
        want = ff._STEP
    assert ff._events_verdict(q, DEFAULT_ORIGIN, events) == want


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-1, 2), max_size=300), st.integers(0, 2))
def test_last_by_count_is_the_running_maximum(syms, sid):
    mine = np.asarray(syms, np.int32) == sid
    got = stretch._last_of(mine)
    pos = np.arange(len(mine), dtype=np.int64)
    want = np.maximum.accumulate(np.where(mine, pos, -1))
    assert got.dtype == want.dtype and got.tolist() == want.tolist()
