"""Delta-neutral declares its carry comparison itself (`delta_neutral.FUNDING_MEANS`,
ADR-0020 points 78-79): a `FundingAprOutside` on the short side's `funding_apr_over(L)`
against entry/exit APR, asked by fast stepping after each funding record on the board as
the hour left it (`engine.quiet.aprs_pass`), instead of a band on each record's rate
that must hold for any number of records (`_carry_band`, the flag's reference). The
whole backtest must be the one the band gives, the one `NextFunding` gives
(`FUNDING_BANDS` off) and the one per-bar stepping gives; and a Hypothesis test that the
declaration never says "stays" when the strategy's own on_tick would act or change its
state (nor "wakes" when it would not), at thresholds a float ulp from the carry."""

from __future__ import annotations

import dataclasses
import math
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import drift_engine.engine.quiet as engine_quiet
from drift_engine.data.models import FundingRecord, OracleTick, SpotRateRecord
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.engine.market_board import MarketBoard
from drift_engine.strategies import delta_neutral as dn
from drift_engine.strategies.wake import (
    EveryTick,
    FundingAprOutside,
    FundingOutside,
    NextFunding,
    NextSpotRate,
    fired,
)
from tests.backtest.flag_scenarios import SOL_YEAR
from tests.strategies.test_delta_neutral import market, snap
from tests.strategies.test_delta_neutral_wakes import BOTH, run_counting

HOUR = 3_600
DAY = 24 * HOUR
#: (FUNDING_BANDS, FUNDING_MEANS) of each fast run: the carry comparison, the s10 band,
#: `NextFunding` always
FLAGS = {"means": (True, True), "band": (True, False), "off": (False, False)}


def _run(tmp_path: Path, name: str, stepping: str, market_, start, end, params, **kw) -> dict:
    bands, means = FLAGS[name]
    flags = {"FUNDING_BANDS": bands, "FUNDING_MEANS": means}
    where = tmp_path / f"{name}-{stepping}"
    return run_counting(where, flags, stepping, market_, start, end, params, **kw)


def _assert_exact(tmp_path: Path, start, end, params=None, market_="SOL-PERP", **kw) -> dict:
    """Fast stepping with the carry comparison gives what the band, `NextFunding` and
    per-bar stepping give: the report with its samples, the engine's stats and
    bookkeeping, the simulator's records, the final account and prices, every table row."""
    got = {name: _run(tmp_path, name, "fast", market_, start, end, params, **kw) for name in FLAGS}
    got["bar"] = _run(tmp_path, "means", "bar", market_, start, end, params, **kw)
    for part in BOTH:
        for other in ("band", "off", "bar"):
            assert got["means"][part] == got[other][part], (part, other)
    assert got["off"]["quiet_hours"] == 0
    assert got["means"]["quiet_hours"] >= got["band"]["quiet_hours"]
    return got


def test_real_sol_weeks_with_entries_and_exits(tmp_path):
    got = _assert_exact(tmp_path, SOL_YEAR, SOL_YEAR + 28 * DAY, source="bundled")
    assert got["means"]["report"]["trades"] >= 4
    assert got["means"]["quiet_hours"] > got["band"]["quiet_hours"] + 20


@pytest.mark.parametrize(
    "params",
    [
        # a long carry's hours pass too when its settle is not hourly: the comparison
        # with exit_apr before and inside the exit window
        {"settle_every_s": DAY, "exit_window_hours": 6, "lookback_hours": 5},
        {"settle_every_s": 0, "exit_apr": 0.02, "exit_window_hours": 3, "lookback_hours": 24},
        # a long lookback: flat with fewer than L records waits quietly
        {"lookback_hours": 72, "settle_every_s": 4 * HOUR},
    ],
)
def test_real_sol_weeks_long_carry_hours(tmp_path, params):
    got = _assert_exact(
        tmp_path, SOL_YEAR + 112 * DAY, SOL_YEAR + 133 * DAY, params, source="bundled"
    )
    assert got["means"]["report"]["trades"] >= 2
    assert got["means"]["quiet_hours"] > got["band"]["quiet_hours"]


def test_real_btc_weeks(tmp_path):
    got = _assert_exact(
        tmp_path, SOL_YEAR, SOL_YEAR + 28 * DAY, {"settle_every_s": DAY}, "BTC-PERP",
        source="bundled",
    )  # fmt: skip
    assert got["means"]["report"]["trades"] >= 2


@pytest.mark.parametrize(
    "params",
    [
        {"entry_apr": 0.0, "exit_apr": 0.0, "exit_window_hours": 1, "lookback_hours": 3},
        {
            "entry_apr": -0.05,
            "exit_apr": -0.1,
            "exit_window_hours": 2,
            "lookback_hours": 12,
            "settle_every_s": DAY,
        },
    ],
)
def test_synthetic_minutes_in_and_out(tmp_path, params):
    got = _assert_exact(
        tmp_path, DEFAULT_ORIGIN, DEFAULT_ORIGIN + 6 * DAY, params, source="synthetic", seed=11
    )
    assert got["means"]["report"]["trades"] >= 2


def _capped_path(start: int, hours: int, capped: float) -> list:
    """Minute ticks and an hourly funding record whose receiving side is capped: shorts
    receive `capped` x a positive rate, longs a negative one; spot rates at the start
    and mid-way a deposit rate (3,000 % APR) whose interest soon unbalances the legs."""
    events: list = [SpotRateRecord(start, "SOL", 1, Decimal("0.01"), Decimal("0.03"))]
    for i in range(hours * 60 + 1):
        t = start + 60 * i
        price = 100_000_000 + (7_000 if i % 2 else 0)
        events.append(OracleTick(t, "SOL-PERP", int(price), "synthetic"))
        h = i // 60
        if i and i % 60 == 0:
            hourly = 1.2e-5 * math.sin(2 * math.pi * h / 53) + 5e-6 + 2e-6 * math.sin(h)
            rate = round(hourly * int(price) * 1000)
            # the receiving side gets `capped` of it (`calculate_funding_rate_long_short`)
            short = round(rate * capped) if rate > 0 else rate
            long = round(rate * capped) if rate < 0 else rate
            events.append(
                FundingRecord(t, "SOL-PERP", 0, rate, long, short, 0, 0, int(price), int(price))
            )
        if i == hours * 30:
            events.append(SpotRateRecord(t, "SOL", 1, Decimal(30), Decimal(40)))
    return events


@pytest.mark.parametrize(("lookback", "exit_apr"), [(3, 0.0), (12, 0.0), (3, 0.028), (6, 0.025)])
def test_a_capped_short_side_and_a_rate_update(tmp_path, lookback, exit_apr):
    # the comparison (and the band, `_assert_exact`) reads the short side (what a short
    # perp receives), not the market rate; and a 3,000 % deposit APR mid-way
    start = DEFAULT_ORIGIN
    hours = 12 * 24
    events = _capped_path(start, hours, 0.4)
    params = {
        "entry_apr": 0.03,
        "exit_apr": exit_apr,
        "lookback_hours": lookback,
        "settle_every_s": DAY,
    }
    got = _assert_exact(
        tmp_path, start, start + hours * HOUR, params, data=(events, "synthetic: capped")
    )
    assert got["means"]["report"]["trades"] >= 1 and got["means"]["quiet_hours"] > 100


_RATE = st.one_of(
    st.floats(-1e-3, 1e-3, allow_nan=False, allow_subnormal=False),
    st.sampled_from([0.0, 1e-5, -1e-5, 5e-6, 0.05 / 8760, -0.05 / 8760, 1 / 3]),
)


def _ulps(x: float, k: int) -> float:
    for _ in range(abs(k)):
        x = math.nextafter(x, math.inf if k > 0 else -math.inf)
    return x


@settings(max_examples=500, deadline=None)
@given(
    shorts=st.lists(_RATE, min_size=0, max_size=30),
    gaps=st.lists(st.floats(0.0, 3e-5), min_size=33, max_size=33),
    new=st.lists(_RATE, min_size=1, max_size=3),
    lookback=st.integers(1, 32),
    state=st.sampled_from(["flat", "long", "below"]),
    nudge=st.integers(-2, 2),
    unequal=st.booleans(),
)
def test_the_comparison_never_misses(shorts, gaps, new, lookback, state, nudge, unequal):
    """Declared at a snapshot, then one to three funding records: the declaration wakes
    (`fired`, and fast stepping's `aprs_pass` on the board) exactly when the strategy's
    own on_tick at the new snapshot acts or changes its state, with the threshold at the
    new carry and a float ulp or two either side of it (where `<` and `<=` differ)."""
    rates = shorts + new
    rows = [((i + 1) * HOUR, r + g, r) for i, (r, g) in enumerate(zip(rates, gaps, strict=False))]
    history = tuple((t, lng) for t, lng, _ in rows)
    if unequal:  # side history shorter than the market's: funding_apr_over reads the market's
        history = ((-HOUR, 1e-5), *history)
    before_rows, k = rows[: len(shorts)], len(new)
    base = dataclasses.replace(market([]), spot_deposit_apr=0.03)
    m0 = dataclasses.replace(
        base, funding_sides=tuple(before_rows), funding_history=history[: len(history) - k],
        last_funding_ts=before_rows[-1][0] if before_rows else 0,
    )  # fmt: skip
    m1 = dataclasses.replace(
        base, funding_sides=tuple(rows), funding_history=history, last_funding_ts=rows[-1][0]
    )
    carry = m1.funding_apr_over(lookback, side="short")
    threshold = _ulps(carry, nudge) if carry is not None else 0.05
    assume(math.isfinite(threshold))
    ts = 100 * DAY
    if state == "flat":
        params = {"entry_apr": threshold, "exit_apr": min(threshold, -1.0)}
    else:
        params = {"entry_apr": max(threshold, 1.0), "exit_apr": threshold}
    s = dn.DeltaNeutralStrategy({**params, "lookback_hours": lookback})
    legs = {}
    if state != "flat":
        s.state.side = "long_carry"
        s.state.last_settle_ts = ts
        if state == "below":
            s.state.below_exit_since = ts - HOUR
        legs = {"spot": 10 * 10**9, "perp": -10 * 10**9}
    declared_at = snap(ts, m0, **legs)
    wakes = s.wake_conditions(declared_at)
    assume(not any(isinstance(c, (EveryTick, NextFunding)) for c in wakes))
    aprs = [c for c in wakes if isinstance(c, FundingAprOutside)]
    assert len(aprs) == 1 and NextSpotRate("SOL-PERP") in wakes
    assert not any(isinstance(c, FundingOutside) for c in wakes)
    now = snap(ts + 1, m1, **legs)  # (no time of the declaration is due)
    woken = fired(wakes, declared_at, now)
    q = engine_quiet.Quiet()
    engine = SimpleNamespace(
        risk=SimpleNamespace(checks=[]), strategy=SimpleNamespace(wake_conditions=lambda _: wakes)
    )
    assert engine_quiet._risk_and_wakes(engine, declared_at, q) is not None
    assert engine_quiet.aprs_pass(q, SimpleNamespace(funding_view=lambda _: m1)) == (not woken)
    if not unequal:  # a board fed the same records (its rows: side and market, equal)
        board = MarketBoard(["SOL-PERP"])
        for t, lng, short in rows:
            board.add_funding("SOL-PERP", t, lng, lng, short)
        for flag in (True, False):  # its funding rows, and its whole snapshot
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(engine_quiet, "APRS_VIEW", flag)
                assert engine_quiet.aprs_pass(q, board) == (not woken)
    was = s.state.model_dump()
    actions = s.on_tick(now)
    acted = bool(actions) or s.state.model_dump() != was
    if carry is None and state != "flat":
        assert woken  # an unknown carry in a carry wakes (conservative)
        return
    assert woken == acted, (carry, threshold, state, actions)


@pytest.mark.parametrize(
    ("flat", "in_window", "low", "high", "unknown"),
    [
        (True, False, -math.inf, 0.05, False),
        (False, False, 0.05, math.inf, True),
        (False, True, -math.inf, math.nextafter(0.05, -math.inf), True),
    ],
)
def test_the_declared_condition(flat, in_window, low, high, unknown):
    got = dn._carry_condition("SOL-PERP", 24, 0.05, flat, in_window)
    assert got == FundingAprOutside("SOL-PERP", 24, low, high, "short", unknown)
    assert dn._carry_condition("SOL-PERP", 24, math.nan, flat, in_window) is None


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(st.tuples(_RATE, _RATE, _RATE), min_size=0, max_size=200),
    more=st.lists(st.tuples(_RATE, _RATE, _RATE), min_size=0, max_size=3),
    lookback=st.integers(1, 170),
    side=st.sampled_from([None, "long", "short"]),
)
def test_the_boards_funding_view_is_its_snapshots(rows, more, lookback, side):
    """`MarketBoard.funding_view` gives the funding APR its snapshot gives: stale (new
    records not published yet), published, and after `dump`/`load`."""
    board = MarketBoard(["SOL-PERP"])

    def same() -> None:
        want = board.snapshot("SOL-PERP").funding_apr_over(lookback, side=side)
        got = board.funding_view("SOL-PERP").funding_apr_over(lookback, side=side)
        assert got == want or (got is not None and want is not None and got != got)

    for i, (rate, lng, short) in enumerate(rows):
        board.add_funding("SOL-PERP", i * HOUR, rate, lng, short)
    view = board.funding_view("SOL-PERP").funding_apr_over(lookback, side=side)
    same()  # (stale before it: the view read the rows, the snapshot publishes them)
    assert view == board.snapshot("SOL-PERP").funding_apr_over(lookback, side=side)
    again = MarketBoard(["SOL-PERP"])
    again.load(board.dump())
    board = again
    same()
    for i, (rate, lng, short) in enumerate(more):
        board.add_funding("SOL-PERP", (len(rows) + i) * HOUR, rate, lng, short)
        same()


def test_a_quiet_carries_the_comparison():
    cond = FundingAprOutside("SOL-PERP", 3, -math.inf, 0.05, "short", False)
    engine = SimpleNamespace(
        risk=SimpleNamespace(checks=[]), strategy=SimpleNamespace(wake_conditions=lambda _: [cond])
    )
    q = engine_quiet.Quiet()
    assert engine_quiet._risk_and_wakes(engine, None, q) == []
    assert q.funding_aprs == [cond] and not q.funding_bands and not q.funding_wakes
    q.next_bands, q.next_legs = {}, object()
    after = q.after_hour(SimpleNamespace(next_save=lambda: 60))
    assert after is not None and after.funding_aprs == [cond]
    assert after.until == 60  # the next record save wakes the engine
    q.next_bands, q.next_legs = {}, object()
    # an engine that saves its record only on `persist` (a scratch backtest): no wake
    after = q.after_hour(SimpleNamespace(next_save=lambda: None))
    assert after is not None and after.funding_aprs == [cond] and after.until is None
