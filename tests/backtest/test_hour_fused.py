"""`apply`'s check of a funding hour in one function (`backtest.attribution.HOUR_FUSED`,
`PnlAttribution._check_hour`) gives what `check` gives (`HOUR_FUSED = False`: `check`,
`_book_hour`, `sim.user`, `_hour_payments`, `moved_by`, `_book_moves`).

- Whole fast backtests both ways (`flag_runs`, tests/backtest/flag_scenarios.py): the
  report (every attribution part, funding hours and payments, final equity, every
  hourly sample), every row of every table, the ticks, the simulator's records and
  account; on the bookkeeping scenarios (synthetic minutes held short, a carry strategy
  entering and leaving, the LUNA crash liquidated and halted, real SOL minutes and
  hours held short and delta-neutral: interest on a SOL leg, `leg_change`). With the
  flag on most quiet hours are booked by `_check_hour` itself, with it off never.
- On the simulator itself (Hypothesis): prices, funding, interest rates, hours of
  interest accrued, perp and spot orders, settle_pnl, deposits and withdrawals, each
  fed as a market event or left for a later check, with and without auto-settle, and
  another sub-account's deposits (its interest records: not the account's): after
  every step the same parts, holdings, marks, marked value, counters, cursor and kept
  read; the held balances leaving (a holding moved to nothing, a leg `moved_by` cannot
  move) take `check` both ways.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drift_engine.backtest import attribution as at
from drift_engine.backtest.attribution import PnlAttribution, holdings_of_user
from drift_engine.core.types import MarketType, OrderIntent, PositionDirection
from drift_engine.data.models import FundingRecord
from drift_engine.sim.state import SimulationError
from tests.backtest.attribution_steps import (
    OPS,
    OTHER,
    PRICE,
    T0,
    apply_step,
    attribution_pair,
    count_fused_hours,
    flag_switch,
)
from tests.backtest.flag_scenarios import BOOKKEEPING, flag_runs, spying


def _fused(mp: pytest.MonkeyPatch):
    """Counts the checks `_check_hour` booked itself (it returned without `check`)."""
    fused = [0]
    count_fused_hours(mp, fused)
    return lambda: fused[0]


@pytest.mark.parametrize("name", BOOKKEEPING)
def test_a_backtest_is_the_same_with_the_hours_check_in_one_function(tmp_path, name):
    runs = flag_runs(tmp_path, name, at, "HOUR_FUSED", _fused)
    assert runs[False]["spied"] == 0
    assert runs[True]["spied"] > 0


# ------------------------------------------------------------------ on the simulator

#: `fn(*args)` with `HOUR_FUSED` on or off
_as = flag_switch("HOUR_FUSED")


def _state(pnl: PnlAttribution) -> tuple:
    return (
        pnl.parts,
        pnl._holdings,
        pnl._marks,
        pnl._marked,
        pnl.funding_hours,
        pnl.funding_payments,
        pnl.last_funding_ts,
        pnl._cursor,
        pnl._kept,
    )


def _setup(auto_settle: bool):
    return attribution_pair("HOUR_FUSED", auto_settle)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.one_of(OPS, OTHER), st.booleans()), min_size=1, max_size=30),
    st.booleans(),
)
def test_drawn_steps_book_what_check_books(steps, auto_settle):
    sim, venue, other, fused, ref = _setup(auto_settle)
    prices = {"SOL-PERP": PRICE, "SOL": PRICE}
    ts = T0
    for step, checked in steps:
        ts += 600
        ts, event = apply_step(sim, venue, other, step, ts, prices)
        if event is not None:
            sim.apply(event)
            _as(True, fused.apply, event)
            _as(False, ref.apply, event)
        elif checked:
            _as(True, fused.check)
            _as(False, ref.check)
        assert _state(fused) == _state(ref)
    assert _as(True, fused.finish) == _as(False, ref.finish)
    assert _state(fused) == _state(ref)
    assert fused.holdings() == holdings_of_user(sim.user(venue.key), sim.spot_markets)


def _hedged(auto_settle: bool):
    """A spot SOL long and a SOL-PERP short, checked: the kept read at the cursor."""
    sim, venue, other, fused, ref = _setup(auto_settle)
    size = 1000 * 10**7
    venue.place(
        [
            OrderIntent(1, MarketType.SPOT, PositionDirection.LONG, size),
            OrderIntent(0, MarketType.PERP, PositionDirection.SHORT, size),
        ],
        T0 + 1,
    )
    fused.check()
    ref.check()
    return sim, venue, other, fused, ref


def test_a_hedged_week_of_hours_is_booked_by_the_one_function():
    """Every hour's funding and interest (USDC and the SOL leg: `leg_change`,
    `_interest_value`) booked by `_check_hour` itself, the same state as `check` at
    every hour; then another sub-account's deposit (a record not a payment) and an
    accrual left for `check` both ways."""
    sim, venue, other, fused, ref = _hedged(False)
    prices = {"SOL-PERP": PRICE, "SOL": PRICE}
    ts = T0 + 1
    with spying(_fused) as booked:
        for h in range(7 * 24):
            for step in (("price", "SOL", 7 - h % 13), ("price", "SOL-PERP", h % 11 - 5),
                         ("funding", 300_000 - 5_000 * (h % 97))):  # fmt: skip
                ts, event = apply_step(sim, venue, other, step, ts, prices)
                sim.apply(event)
                _as(True, fused.apply, event)
                _as(False, ref.apply, event)
            assert _state(fused) == _state(ref)
        assert booked() == 7 * 24
        ts, _ = apply_step(sim, venue, other, ("other", 10**6), ts + 600, prices)
        ts, event = apply_step(sim, venue, other, ("funding", 100_000), ts, prices)
        sim.apply(event)
        _as(True, fused.apply, event)
        _as(False, ref.apply, event)
        assert _state(fused) == _state(ref)
        assert booked() == 7 * 24  # (a deposit record: `check`'s general way)
    assert fused.parts.interest > 0 and fused.parts.funding != 0
    assert fused.holdings() == holdings_of_user(sim.user(venue.key), sim.spot_markets)


def test_the_fused_check_refuses_what_book_hour_refuses():
    """A funding payment on a perp the holdings do not hold (the kept holdings made
    stale by hand), a new slot list, and an account gone: `check` decides each, as
    the reference does (the same state, or the same error)."""
    for case in ("stale", "user", "gone"):
        sim, venue, other, fused, ref = _hedged(True)
        event = FundingRecord(
            ts=T0 + 3_600, market="SOL-PERP", market_index=0, funding_rate=250_000,
            funding_rate_long=250_000, funding_rate_short=250_000,
            cumulative_funding_rate_long=0, cumulative_funding_rate_short=0,
            oracle_price_twap=PRICE, mark_price_twap=PRICE, source="test",
        )  # fmt: skip
        if case == "stale":
            for pnl in (fused, ref):
                pnl._holdings = {k: v for k, v in pnl._holdings.items() if k[0] is not at._PERP}
        sim.apply(event)
        if case == "user":
            user = sim.user(venue.key)  # (the same positions in a new slot list)
            user.perp_positions = list(user.perp_positions)
        if case == "gone":
            sim._accounts.pop(venue.key)
            with pytest.raises(SimulationError) as fast_error:
                _as(True, fused.apply, event)
            with pytest.raises(SimulationError) as ref_error:
                _as(False, ref.apply, event)
            assert type(fast_error.value) is type(ref_error.value)
            assert str(fast_error.value) == str(ref_error.value)
            continue
        with spying(_fused) as booked:
            _as(True, fused.apply, event)
            assert booked() == 0
        _as(False, ref.apply, event)
        assert _state(fused) == _state(ref)
