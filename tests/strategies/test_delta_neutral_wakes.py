"""Delta-neutral's funding wakes (`delta_neutral.FUNDING_BANDS`, ADR-0020 points 76-77):
instead of `NextFunding` it declares, where it can prove it, a band on the next funding
records' short-side rate inside which its carry comparison keeps its side, a wake at a
spot-rate update and the time the spot leg's deposit interest could change a test. The
whole backtest must be the one per-bar stepping gives and the one `NextFunding` (flag
off) gives: report, samples, every table row, the tick results, the simulator's records
and the final account (`tests/backtest/test_quiet_run.py`'s harness). Cases: real
bundled SOL hours (weeks with entries and exits; the whole year, slow), synthetic
minutes in and out, the borrow side allowed, several lookbacks; and a Hypothesis test
that a band never misses: any run of new rates inside it keeps the mean on its side.
(With `FUNDING_MEANS`, the default since session 11, the whole-backtest cases here run
the carry comparison; test_delta_neutral_wakes_means.py compares it with the band.)"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import drift_engine.engine.quiet as engine_quiet
from drift_engine.data.models import FundingRecord, SpotRateRecord
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.engine.market_board import hourly_rate, hourly_sides
from drift_engine.sim import rules
from drift_engine.strategies import delta_neutral as dn
from drift_engine.strategies.base import MarketSnapshot
from drift_engine.strategies.wake import FundingOutside, NextFunding, NextSpotRate, fired
from tests.backtest.flag_scenarios import SOL_YEAR, _whole
from tests.strategies.test_delta_neutral import market, snap

HOUR = 3_600
DAY = 24 * HOUR
#: what fast stepping and per-bar stepping both leave, as do fast stepping with and
#: without the bands (the tick results and the heartbeat's counters count the ticks
#: each stepped for real: an `AtTime` of the interest horizon is a real step at a bar)
BOTH = ("report", "engine", "records", "account", "prices", "tables")


def run_counting(where: Path, flags: dict, stepping: str, market_, start, end, params, **kw):
    """`_whole` of delta-neutral with `flags` (delta_neutral's module flags) set, and
    the funding hours passed without a real step (`quiet_step` calls) counted."""
    where.mkdir()
    passed: list[int] = []
    real = engine_quiet.quiet_step

    def counting(engine, ts, *args):
        passed.append(ts)
        real(engine, ts, *args)

    with pytest.MonkeyPatch.context() as mp:
        for flag, value in flags.items():
            mp.setattr(dn, flag, value)
        mp.setattr(engine_quiet, "quiet_step", counting)
        got = _whole(
            where, True, "delta-neutral", market_, start, end, params, stepping=stepping, **kw
        )
    got["quiet_hours"] = len(passed)
    return got


def _run(tmp_path: Path, name: str, bands: bool, stepping: str, start, end, params, **kw):
    flags = {"FUNDING_BANDS": bands}
    return run_counting(tmp_path / name, flags, stepping, "SOL-PERP", start, end, params, **kw)


def _assert_exact(tmp_path: Path, start, end, params=None, **kw) -> dict:
    """Fast stepping with the bands gives what the flag off and per-bar stepping give:
    the report with its samples, the engine's stats and bookkeeping, the simulator's
    records, the final account and prices, every table row."""
    on = _run(tmp_path, "on", True, "fast", start, end, params, **kw)
    off = _run(tmp_path, "off", False, "fast", start, end, params, **kw)
    bar = _run(tmp_path, "bar", True, "bar", start, end, params, **kw)
    for part in BOTH:
        assert on[part] == off[part], part
        assert on[part] == bar[part], part
    return {"on": on, "off": off}


def test_real_sol_weeks_with_entries_and_exits(tmp_path):
    got = _assert_exact(tmp_path, SOL_YEAR, SOL_YEAR + 28 * DAY, source="bundled")
    assert got["on"]["report"]["trades"] >= 4  # in and out, and in again
    assert got["off"]["quiet_hours"] == 0 and got["on"]["quiet_hours"] > 300


@pytest.mark.parametrize("lookback", [1, 5, 72])
def test_real_sol_weeks_other_lookbacks(tmp_path, lookback):
    got = _assert_exact(
        tmp_path,
        SOL_YEAR + 112 * DAY,
        SOL_YEAR + 133 * DAY,
        {"lookback_hours": lookback, "exit_window_hours": 6},
        source="bundled",
    )
    assert got["on"]["report"]["trades"] >= 2 and got["on"]["quiet_hours"] > 0


@pytest.mark.parametrize("entry", [0.0, 0.1])
def test_real_sol_weeks_borrow_allowed(tmp_path, entry):
    # the borrow side (spot borrow APR, rate updates) is never banded: `NextFunding`
    # while flat with `allow_borrow` and in a short carry; a long carry still is
    got = _assert_exact(
        tmp_path,
        SOL_YEAR,
        SOL_YEAR + 28 * DAY,
        {"allow_borrow": True, "entry_apr": entry, "lookback_hours": 8},
        source="bundled",
    )
    assert got["on"]["report"]["trades"] >= 2


@pytest.mark.parametrize(
    "params",
    [
        {"entry_apr": 0.0, "exit_apr": 0.0, "exit_window_hours": 1, "lookback_hours": 3},
        {"entry_apr": -0.05, "exit_apr": -0.1, "exit_window_hours": 2, "lookback_hours": 12},
        {"entry_apr": -0.1, "exit_apr": -0.2, "exit_window_hours": 1, "lookback_hours": 6},
        # both sides: short carries (never banded) and a long carry
        {
            "entry_apr": 0.0,
            "exit_apr": -0.01,
            "lookback_hours": 4,
            "allow_borrow": True,
            "exit_window_hours": 1,
        },
    ],
)
def test_synthetic_minutes_in_and_out(tmp_path, params):
    got = _assert_exact(
        tmp_path, DEFAULT_ORIGIN, DEFAULT_ORIGIN + 6 * DAY, params, source="synthetic", seed=11
    )
    assert got["on"]["report"]["trades"] >= 2


@pytest.mark.slow
def test_the_real_sol_year(tmp_path):
    got = _assert_exact(tmp_path, SOL_YEAR, 1_775_001_600, source="bundled")
    assert got["on"]["report"]["funding_hours"] > 8000 and got["on"]["quiet_hours"] > 4000


def _apr(known: list[float], new: list[float], lookback: int) -> float | None:
    """The carry on_tick compares after `new` records: the short side's
    `funding_apr_over` of a snapshot holding `known` then `new` (the board's tuples)."""
    rates = known + new
    m = MarketSnapshot(
        "SOL-PERP",
        0,
        100_000_000,
        funding_history=tuple((i, r) for i, r in enumerate(rates)),
        funding_sides=tuple((i, 0.0, r) for i, r in enumerate(rates)),
    )
    return m.funding_apr_over(lookback, side="short")


_RATE = st.one_of(
    st.floats(-1e-3, 1e-3, allow_nan=False, allow_subnormal=False),
    st.sampled_from([0.0, 1e-5, -1e-5, 5e-6, 0.05 / 8760, -0.05 / 8760, 1 / 3]),
)


@settings(max_examples=400, deadline=None)
@given(
    known=st.lists(_RATE, min_size=1, max_size=60),
    threshold=st.one_of(
        st.floats(-1.0, 1.0, allow_nan=False, allow_subnormal=False),
        st.sampled_from([0.0, 0.05, -0.05, 0.1, 1e-9]),
    ),
    below=st.booleans(),
    picks=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=70),
    edge=st.booleans(),
)
def test_a_band_never_misses(known, threshold, below, picks, edge):
    """Any run of new records inside `_carry_band`'s band keeps the mean on its side:
    <= (strictly <) the threshold for a band below it, >= for one above."""
    lookback = len(known)
    band = dn._carry_band(known, threshold, below)
    assume(band is not None)
    lo, hi = band
    edge_rate = hi if below else lo
    assume(abs(edge_rate) < 1.0)
    spread = 1e-3
    if edge:  # every new record at the band's edge (the worst case)
        new = [edge_rate] * len(picks)
    else:
        new = [edge_rate - p * spread if below else edge_rate + p * spread for p in picks]
    for k in range(1, len(new) + 1):
        apr = _apr(known, new[:k], lookback)
        assert apr is not None
        if below:
            assert apr < threshold, (k, apr)
        else:
            assert apr >= threshold, (k, apr)


@settings(max_examples=300, deadline=None)
@given(
    known=st.lists(_RATE, min_size=1, max_size=40),
    threshold=st.floats(-0.5, 0.5, allow_nan=False, allow_subnormal=False),
    below=st.booleans(),
)
def test_a_band_is_one_sided(known, threshold, below):
    """A band below the threshold bounds the rates from above only, one above from
    below only (the other side never wakes the comparison it protects)."""
    band = dn._carry_band(known, threshold, below)
    assert band is not None
    lo, hi = band
    assert lo <= hi
    if below:
        assert lo == -math.inf
    else:
        assert hi == math.inf


@settings(max_examples=300, deadline=None)
@given(
    rate=st.integers(-300, 300),
    long=st.integers(-300, 300),
    short=st.integers(-300, 300),
    band=st.tuples(st.integers(-300, 300), st.integers(0, 300)),
    side=st.sampled_from([None, "long", "short"]),
)
def test_a_side_band_reads_that_sides_rate(rate, long, short, band, side):
    """`events_pass` and `fired` compare a side's band with the rate that side paid or
    received (`hourly_sides`), the market band with the market's rate."""
    price = 100_000_000
    record = FundingRecord(
        DEFAULT_ORIGIN + HOUR, "SOL-PERP", 0, rate * 100, long * 100, short * 100, 0, 0, price,
        price,
    )  # fmt: skip
    lo, hi = band[0] / 1e6, (band[0] + band[1]) / 1e6
    cond = FundingOutside("SOL-PERP", lo, hi, side=side)
    engine = SimpleNamespace(
        risk=SimpleNamespace(checks=[]), strategy=SimpleNamespace(wake_conditions=lambda s: [cond])
    )
    q = engine_quiet.Quiet()
    assert engine_quiet._risk_and_wakes(engine, None, q) == []
    long_rate, short_rate = hourly_sides(record)
    got = {None: hourly_rate(record), "long": long_rate, "short": short_rate}[side]
    inside = lo <= got <= hi
    assert engine_quiet.events_pass(q, DEFAULT_ORIGIN + HOUR, [record]) == inside
    before = SimpleNamespace(ts=0, markets={"SOL-PERP": MarketSnapshot("SOL-PERP", 0, price)})
    after = MarketSnapshot(
        "SOL-PERP",
        0,
        price,
        funding_rate=hourly_rate(record),
        funding_rate_long=long_rate,
        funding_rate_short=short_rate,
        last_funding_ts=record.ts,
    )
    now = SimpleNamespace(ts=record.ts, markets={"SOL-PERP": after})
    assert fired([cond], before, now) == (not inside)


def test_a_spot_rate_update_wakes_next_spot_rate():
    engine = SimpleNamespace(
        risk=SimpleNamespace(checks=[]),
        strategy=SimpleNamespace(wake_conditions=lambda s: [NextSpotRate("SOL-PERP")]),
    )
    q = engine_quiet.Quiet()
    engine_quiet._risk_and_wakes(engine, None, q)
    rate = SpotRateRecord(DEFAULT_ORIGIN, "SOL", 1, 0, 0)
    assert not engine_quiet.events_pass(q, DEFAULT_ORIGIN, [rate])
    price = 100_000_000
    funding = FundingRecord(DEFAULT_ORIGIN, "SOL-PERP", 0, 5, 5, 5, 0, 0, price, price)
    assert engine_quiet.events_pass(q, DEFAULT_ORIGIN, [funding])


@settings(max_examples=300, deadline=None)
@given(
    balance=st.integers(10**8, 10**13),
    cum=st.integers(10**10, 3 * 10**10),
    deposit=st.integers(1, 100 * 10**6),  # SPOT_RATE 1e6: up to 10,000% APR
    borrow=st.integers(0, 100 * 10**6),
    room=st.floats(1.0, 4.0),
    lag=st.integers(0, 3_153),
    steps=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=8),
)
def test_the_interest_horizon_is_conservative(balance, cum, deposit, borrow, room, lag, steps):
    """Until `_interest_until`'s time, the simulator's deposit interest (`accrue_spot_
    interest`, accrued at any times before it, with time pending from before the
    declaration) leaves the spot deposit's base at or below the limit."""
    ts = DEFAULT_ORIGIN
    market = SimpleNamespace(
        decimals=9,
        cumulative_deposit_interest=cum,
        cumulative_borrow_interest=cum,
        last_interest_ts=ts - lag,
    )
    amount = rules.get_token_amount(balance, market, True)
    assume(amount > 0)
    limit = int(amount * room)
    m = MarketSnapshot("SOL-PERP", 0, 100_000_000, 1, spot_deposit_apr=deposit / 1e6)
    until = dn.DeltaNeutralStrategy._interest_until(None, m, ts, amount, limit)  # type: ignore[arg-type]
    if until is None:
        return
    assert until > ts
    for f in sorted(steps):
        rules.accrue_spot_interest(market, ts + int(f * (until - 1 - ts)), deposit, borrow)
    rules.accrue_spot_interest(market, until - 1, deposit, borrow)
    assert rules.get_token_amount(balance, market, True) <= limit


@settings(max_examples=200, deadline=None)
@given(
    shorts=st.lists(st.floats(-3e-5, 3e-5, allow_nan=False), min_size=8, max_size=8),
    gaps=st.lists(st.floats(0.0, 3e-5), min_size=8, max_size=8),
    state=st.sampled_from(["flat", "long", "below"]),
    deposit=st.floats(0.0, 0.5),
)
def test_the_declared_band_is_the_short_sides(shorts, gaps, state, deposit):
    """The strategy declares `_carry_band` of the short side's last L rates (what its
    perp short receives), with the threshold and side its on_tick comparison uses, as a
    `FundingOutside(side="short")`, and `NextSpotRate`; the long side (longs pay at
    least what shorts receive) is not read."""
    rows = [(i * HOUR, s + g, s) for i, (s, g) in enumerate(zip(shorts, gaps, strict=True))]
    m = dataclasses.replace(
        market([0.0] * 8),
        funding_sides=tuple(rows),
        funding_history=tuple((t, lng) for t, lng, _ in rows),
        spot_deposit_apr=deposit,
    )
    s = dn.DeltaNeutralStrategy({"entry_apr": 0.05, "exit_apr": 0.01, "lookback_hours": 6})
    ts = 100 * HOUR
    if state == "flat":
        assume(s.expected_carry(m, "long_carry") <= 0.05)
        view = snap(ts, m)
        threshold, below = 0.05, True
    else:
        s.state.side = "long_carry"
        s.state.last_settle_ts = ts
        if state == "below":
            s.state.below_exit_since = ts - HOUR
        view = snap(ts, m, spot=10 * 10**9, perp=-10 * 10**9)
        threshold, below = 0.01, state == "below"
    with pytest.MonkeyPatch.context() as mp:  # the band (`FUNDING_MEANS` off: its reference)
        mp.setattr(dn, "FUNDING_MEANS", False)
        wakes = s.wake_conditions(view)
    bands = [c for c in wakes if isinstance(c, FundingOutside)]
    if state != "flat" and deposit == 0.0:
        assert bands == [] and NextFunding("SOL-PERP") in wakes  # no known interest rate
        return
    low, high = dn._carry_band(list(shorts[-6:]), threshold, below)
    assert bands == [FundingOutside("SOL-PERP", low, high, side="short")]
    assert NextSpotRate("SOL-PERP") in wakes and NextFunding("SOL-PERP") not in wakes
