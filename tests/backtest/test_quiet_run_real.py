"""The lean loop takes the usual quiet hours of hourly data too (ADR-0020 session 10,
points 73-74, `fastforward.QUIET_BARE`): an hour tick with no bar before it (the tape
stands at it) has nothing to skip, and `_quiet_run` passes it by the rules `forward`'s
general loop passes it by (`_next_quiet_tick`, `passes_hour`, `tick`, `after_hour`).
Whole backtests with the flag on and off (the lean loop's other hours alike) leave the
same report and samples, every row of every table, the tick results `on_tick` saw
with the engine's bookkeeping at each, the heartbeat's counters and last result, every
simulator record, the final account and prices (`test_quiet_run._whole`/`_same`), and
per-bar stepping leaves the same. Cases: the real bundled SOL-PERP hourly data (weeks;
to and past its drawdown halt; the whole year, slow), the real LUNA crash made hourly
(its first tick of each hour with a funding record there: a liquidation, a drawdown
halt, a short, a strategy exit), and synthetic hourly paths: records 0-299 s after the
hour, with the hour's oracle tick beside the record or on the hour in a bar of its own,
many prices inside the hour tick (the tick's own price moves, and chunk edges every
~400 hours), a carry strategy in and out on its funding band, and runs that end before,
at and after a record."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import drift_engine.engine.quiet as engine_quiet
from drift_engine import fastforward as ff
from drift_engine.data.bundled import luna_ticks
from drift_engine.data.models import OracleTick
from drift_engine.engine.engine import EngineState
from drift_engine.risk import RiskLimits
from tests.backtest.flag_scenarios import LIQUIDATION_ONLY, SOL_YEAR, _funding, _same, _whole
from tests.backtest.strategy_kit import Carry, Hold, LeveragedLong
from tests.backtest.test_quiet_halted import _assert_same as _same_but_skips

HOUR = 3_600
DAY = 24 * HOUR
SOL_END = 1_775_001_600  # the bundled file's end (the bench's year)
LAX = RiskLimits(max_drawdown=1.0, max_leverage=10)


def _runs(tmp_path: Path, *args, **kw) -> dict[str, dict]:
    """`_whole` (the lean loop on) with `QUIET_BARE` on ("bare") and off ("ref"), and
    per-bar stepping ("bar")."""
    out = {}
    for name, bare, stepping in (
        ("bare", True, "fast"),
        ("ref", False, "fast"),
        ("bar", True, "bar"),
    ):
        sub = tmp_path / name
        sub.mkdir()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(ff, "QUIET_BARE", bare)
            out[name] = _whole(sub, True, *args, stepping=stepping, **kw)
    return out


def _assert_same(tmp_path: Path, *args, **kw) -> dict:
    """The three runs equal in everything (per-bar stepping: but for the ticks a skipped
    bar does not make); the lean loop took more hours with the flag on (hourly data: its
    every tick is an hour with no bar before it)."""
    runs = _runs(tmp_path, *args, **kw)
    assert runs["bare"]["quiet"] > runs["ref"]["quiet"]
    _compare(runs)
    return runs["bare"]


def _compare(runs: dict[str, dict]) -> None:
    bare, ref, bar = runs["bare"], runs["ref"], runs["bar"]
    _same(bare, ref)
    if bare["hb"][2] == 0:  # no bar skipped (hourly data): per-bar stepping's every tick
        _same(bare, bar)
    else:  # every tick both saw; a skipped bar makes no tick
        _same_but_skips(bare, bar)


def _luna_hourly() -> list:
    """The real LUNA crash, hourly: each hour's first oracle tick (seconds after the
    hour, as Drift's hourly records stand) with a synthetic funding record at its time."""
    ts, prices = luna_ticks()
    events: list = []
    last_hour = None
    for t, p in zip(ts, prices, strict=True):
        hour = t - t % HOUR
        if hour != last_hour:
            events.append(OracleTick(t, "SOL-PERP", p))
            events.append(_funding(t, p, 0.0002))
            last_hour = hour
    events.sort(key=lambda e: (e.ts, e.rank))
    return events


def _hourly(
    start: int, hours: int, seed: int, *, inside: int = 0, split: bool = False, vol: float = 0.01
) -> list:
    """A synthetic hourly path: each hour a funding record 0-299 s after the hour with
    an oracle tick at its time (`split`: at random, on the hour instead, in a bar of its
    own), and `inside` more oracle ticks in the record's bar before and after it (the
    hour tick's own price moves); rates drift around zero (a carry strategy's band is
    crossed both ways)."""
    rng = np.random.default_rng(seed)
    price = 100_000_000.0
    rate = 0.0
    events: list = []
    for i in range(1, hours + 1):
        hour = start + i * HOUR
        at = hour + int(rng.integers(1, 300))
        price *= float(np.exp(rng.normal(0.0, vol)))
        rate = 0.7 * rate + float(rng.normal(0.0, 0.00004))
        if split and rng.random() < 0.5:
            events.append(OracleTick(hour, "SOL-PERP", int(price), "synthetic"))
        else:
            events.append(OracleTick(at, "SOL-PERP", int(price), "synthetic"))
        events.append(_funding(at, int(price), rate))
        bar_end = -(-at // 60) * 60
        for t in sorted(rng.integers(bar_end - 59, bar_end + 1, inside).tolist()):
            p = price * float(np.exp(rng.normal(0.0, vol / 4)))
            events.append(OracleTick(int(t), "SOL-PERP", int(p), "synthetic"))
    events.sort(key=lambda e: (e.ts, e.rank))
    return events


def test_real_sol_hourly_weeks(tmp_path):
    start = SOL_YEAR + 40 * DAY
    got = _assert_same(
        tmp_path, Hold, "SOL-PERP", start, start + 21 * DAY, {"leverage": 2.0},
        source="bundled", risk=LAX,
    )  # fmt: skip
    assert got["quiet"] > 450


def test_real_sol_hourly_to_its_drawdown_halt(tmp_path):
    # the bench's hold-short with the default limits halts on 2025-05-08 (point 66); the
    # halted engine's hours are quiet (point 67) and bare
    got = _assert_same(
        tmp_path, Hold, "SOL-PERP", SOL_YEAR, SOL_YEAR + 30 * DAY, {"leverage": 1.0},
        source="bundled",
    )  # fmt: skip
    assert got["engine"][4] is EngineState.HALTED
    assert got["quiet"] > 650


@pytest.mark.slow
def test_real_sol_hourly_year(tmp_path):
    # the bench's run (halted on drawdown) over the whole bundled year: chunk edges
    got = _assert_same(
        tmp_path, Hold, "SOL-PERP", SOL_YEAR, SOL_END, {"leverage": 1.0}, source="bundled"
    )
    assert got["engine"][4] is EngineState.HALTED
    assert got["quiet"] > 8000


LUNA = "real LUNA oracle, 2022-05-09..11, hourly; synthetic hourly funding"


@pytest.mark.parametrize(
    ("strategy", "params", "limits", "halted"),
    [
        (
            Hold,
            {"leverage": 5.0, "short": False},
            LIQUIDATION_ONLY,
            False,
        ),
        (Hold, {"leverage": 2.0, "short": False}, RiskLimits(max_drawdown=0.3), True),
        (Hold, {"leverage": 3.0, "short": True}, RiskLimits(max_leverage=10), False),
        (LeveragedLong, {"leverage": 2.0, "exit_health": 30}, RiskLimits(max_drawdown=0.3), False),
    ],
)
def test_real_luna_crash_hourly(tmp_path, strategy, params, limits, halted):
    events = _luna_hourly()
    got = _assert_same(
        tmp_path,
        strategy,
        "SOL-PERP",
        events[0].ts,
        events[-1].ts + 60,
        params,
        data=(events, LUNA),
        risk=limits,
    )
    if limits.health_floor == 0:
        assert got["report"]["liquidations"] >= 1
    if halted:  # (on drawdown; the liquidation case halts too)
        assert got["engine"][4] is EngineState.HALTED


@pytest.mark.parametrize(
    ("seed", "inside", "split", "short"),
    [(1, 0, False, True), (2, 0, True, False), (3, 40, False, True), (4, 40, True, False)],
)
def test_synthetic_hourly_held(tmp_path, seed, inside, split, short):
    # `inside` = 40: ~40 events an hour, the tape's chunk ends every ~400 hours
    start = SOL_YEAR
    hours = 30 * 24 if inside else 10 * 24
    events = _hourly(start, hours, seed, inside=inside, split=split)
    got = _assert_same(
        tmp_path,
        Hold,
        "SOL-PERP",
        start,
        start + (hours + 1) * HOUR,
        {"leverage": 3.0, "short": short},
        data=(events, "synthetic hourly path"),
        risk=LAX,
    )
    assert got["quiet"] > hours // 2


def test_synthetic_hourly_entering_and_leaving(tmp_path):
    # a carry strategy in and out on its funding band, passing hours quietly between
    events = _hourly(SOL_YEAR, 10 * 24, 5, split=True)
    got = _assert_same(
        tmp_path,
        Carry,
        "SOL-PERP",
        SOL_YEAR,
        SOL_YEAR + 241 * HOUR,
        {"entry_rate": 0.00003, "exit_rate": -0.00001},
        data=(events, "synthetic hourly path"),
    )
    assert got["report"]["trades"] >= 4


def test_synthetic_hourly_to_a_drawdown_halt(tmp_path):
    events = _hourly(SOL_YEAR, 10 * 24, 6, inside=3, vol=0.02)
    got = _assert_same(
        tmp_path,
        Hold,
        "SOL-PERP",
        SOL_YEAR,
        SOL_YEAR + 241 * HOUR,
        {"leverage": 3.0},
        data=(events, "synthetic hourly path"),
        risk=RiskLimits(max_drawdown=0.05),
    )
    assert got["engine"][4] is EngineState.HALTED
    assert engine_quiet.QUIET_HALTED


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("cut", [-1, 0, 1, 59, 61])
def test_an_end_around_the_last_record(tmp_path, cut, split):
    # the run's `end` a second before, at, or after the last record (point 48)
    events = _hourly(SOL_YEAR, 3 * 24, 7, split=split)
    last = [e for e in events if e.kind == "funding"][-1].ts
    got = _assert_same(
        tmp_path,
        Hold,
        "SOL-PERP",
        SOL_YEAR,
        last + cut,
        {"leverage": 2.0},
        data=(events, "synthetic hourly path"),
        risk=LAX,
    )
    assert got["report"]["events"] == sum(e.time <= last + cut for e in events)


def test_an_hour_tick_longer_than_the_read_ahead(tmp_path):
    # one hour tick of ~20,000 oracle ticks: it goes on past the tape's first chunk, so
    # it is stepped for real (`_next_quiet_tick`), not passed with half its events
    rng = np.random.default_rng(8)
    events = _hourly(SOL_YEAR, 48, 8)
    record = [e for e in events if e.kind == "funding"][30]
    bar_end = -(-record.ts // 60) * 60
    times = np.sort(rng.integers(record.ts, bar_end + 1, 20_000))
    prices = record.oracle_price_twap * np.exp(np.cumsum(rng.normal(0.0, 0.0001, len(times))))
    events += [
        OracleTick(int(t), "SOL-PERP", int(p), "synthetic")
        for t, p in zip(times.tolist(), prices.tolist(), strict=True)
    ]
    events.sort(key=lambda e: (e.ts, e.rank))
    _assert_same(
        tmp_path, Hold, "SOL-PERP", SOL_YEAR, SOL_YEAR + 49 * HOUR, {"leverage": 2.0},
        data=(events, "synthetic hourly path, one crowded hour"), risk=LAX,
    )  # fmt: skip


@settings(max_examples=8, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    inside=st.sampled_from([0, 2, 9]),
    split=st.booleans(),
    short=st.booleans(),
    leverage=st.sampled_from([1.0, 4.0, 8.0]),
    cut=st.integers(-120, 400),
)
def test_property_random_hourly_paths(tmp_path_factory, seed, inside, split, short, leverage, cut):
    # random hourly paths (sharp moves: liquidations, drawdown halts), records 0-299 s
    # after the hour, an end anywhere around the last hours
    events = _hourly(SOL_YEAR, 60, seed, inside=inside, split=split, vol=0.03)
    runs = _runs(
        tmp_path_factory.mktemp("paths"), Hold, "SOL-PERP", SOL_YEAR, SOL_YEAR + 58 * HOUR + cut,
        {"leverage": leverage, "short": short}, data=(events, "synthetic hourly path"),
        risk=RiskLimits(max_drawdown=0.2, max_leverage=10),
    )  # fmt: skip
    _compare(runs)
