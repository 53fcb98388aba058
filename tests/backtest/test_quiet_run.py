"""A run of quiet hours in one lean loop (`fastforward._quiet_run`, ADR-0020 session 9,
points 62-63) gives the whole backtest `forward`'s general loop gives (`QUIET_RUN =
False`, hour by hour through `_hour_ahead`, `passes_hour`, `tick`, `after_hour`): the
report and its samples, every row of every table of the run's database (ledger rows,
engine records, vault snapshots, heartbeat rows, engine events; wall-clock columns
left out), the tick results `on_tick` saw with the engine's bookkeeping at each, the
heartbeat's counters and last result, every simulator record and the final accounts
(`flag_scenarios.flag_runs`). Cases (`SCENARIOS`, named in tests/backtest/
flag_scenarios.py): synthetic minutes in the market and entering/leaving it, a carry
strategy with a funding band (its hours through `events_pass`), the real LUNA crash
(liquidations, a drawdown halt), real SOL minutes; and runs that end inside an hour's
bar. Each run must take hours through the lean loop (and the reference none). Also: `Quiet.carry`
gives the Quiet `after_hour` gives, field by field, and a hand-made mistake in the lean
loop fails the comparison (`test_a_wrong_lean_loop_is_caught`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import drift_engine.engine.quiet as engine_quiet
from drift_engine import fastforward as ff
from drift_engine.data.models import Candle, OracleTick, SpotRateRecord
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.risk import RiskLimits
from drift_engine.sim import stretch
from tests.backtest.flag_scenarios import DAY, HOUR, Scenario, _funding, _whole, flag_runs, named
from tests.backtest.strategy_kit import Hold
from tests.backtest.test_run_end import _offset_path

#: the scenarios run with the lean loop and without (tests/backtest/flag_scenarios.py)
SCENARIOS = named(
    "held-short",
    "entering-and-leaving",
    "delta-neutral-in-and-out",
    "luna-liquidated",
    "luna-liquidated-off-the-hour",
    "luna-halted",
    "luna-short",
    "luna-leveraged-long",
    "sol-minutes",
)


def _assert_same(tmp_path: Path, case: str | Scenario, lean_hours: bool = True) -> dict:
    """`flag_runs` of `QUIET_RUN`: the lean run took hours (when `lean_hours`), the
    reference none."""
    runs = flag_runs(tmp_path, case, ff, "QUIET_RUN")
    assert runs[False]["quiet"] == 0
    assert (runs[True]["quiet"] > 0) == lean_hours  # the lean loop took hours
    return runs[True]


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_backtest_is_the_same_through_the_lean_loop(tmp_path, name):
    # (LeveragedLong wakes every tick until its drawdown halt; a halted engine's hours
    # are quiet: point 67)
    _assert_same(
        tmp_path, name, lean_hours=name != "luna-leveraged-long" or engine_quiet.QUIET_HALTED
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
    kw = {
        "data": (events, "synthetic random path, records inside their minute"),
        "risk": RiskLimits(max_drawdown=1.0, max_leverage=10),
    }
    got = _assert_same(tmp_path, Scenario(Hold, start, end, {"leverage": 3.0, "short": short}, kw))
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
