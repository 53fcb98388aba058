"""A check of payments only booked in one walk (`backtest.attribution.HOUR_ATTRIBUTION`,
ADR-0020 points 100-101) gives what the general way gives (`HOUR_ATTRIBUTION = False`:
the records filtered into a list, `_read`, `_book`, `_close`, `_explain`).

- Whole fast backtests both ways (`flag_runs`, tests/backtest/flag_scenarios.py): the
  report (every attribution part, funding hours and payments, final equity, every
  hourly sample), every row of every table, the ticks, the simulator's records and
  account; on the bookkeeping scenarios (`BOOKKEEPING`: synthetic minutes held short,
  the bench's kind, and a carry strategy entering and leaving, fills taking the general
  way; the real LUNA crash liquidated and halted; real SOL minutes; real SOL hours held
  short and delta-neutral, interest on its SOL leg) and the whole real SOL year
  delta-neutral (slow). The flag-on run books most quiet hours in the one walk,
  the reference none.
- On the simulator itself (Hypothesis): prices, funding, interest rates, hours of
  interest accrued, perp and spot orders, settle_pnl, deposits and withdrawals, each
  checked or left for a later check (several hours of interest on one balance in one
  booking: a rest to rounding), with and without auto-settle: after every step the same
  parts, holdings, marks, marked value, counters and cursor, and the holdings are the
  account's; with another account's deposits between.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drift_engine.backtest import attribution as at
from drift_engine.backtest.attribution import PnlAttribution, holdings_of_user
from drift_engine.core.types import MarketType, OrderIntent, PositionDirection
from tests.backtest.attribution_steps import (
    CAPITAL,
    HOUR,
    OPS,
    OTHER,
    PRICE,
    T0,
    apply_step,
    attribution_pair,
    count_fused_hours,
    flag_switch,
)
from tests.backtest.flag_scenarios import BOOKKEEPING, flag_runs, named, spying

# ------------------------------------------------------------------ whole backtests

#: the runs of a quiet hour's bookkeeping (tests/backtest/flag_scenarios.py), the real
#: SOL year delta-neutral (slow) among them
SCENARIOS = named(*BOOKKEEPING, "sol-year-delta-neutral")
#: the scenarios whose held short settles its profit in most hours (real SOL held short:
#: a settle_pnl record in ~190 of ~335 hours); such an hour takes the general way
SETTLED = {"sol-minutes", "sol-hours-held-short"}


def _walks(mp: pytest.MonkeyPatch):
    """Counts the checks `_book_hour` took (the one walk), and those `_check_hour` took
    itself (`HOUR_FUSED`: the one walk in one function, without `check`)."""
    taken = [0]
    book_hour = PnlAttribution._book_hour

    def spy(self, records, n):
        done = book_hour(self, records, n)
        taken[0] += done
        return done

    mp.setattr(PnlAttribution, "_book_hour", spy)
    count_fused_hours(mp, taken)
    return lambda: taken[0]


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_backtest_is_the_same_with_the_hours_attribution_in_one_walk(tmp_path, name):
    runs = flag_runs(tmp_path, name, at, "HOUR_ATTRIBUTION", _walks)
    assert runs[False]["spied"] == 0
    if name in SETTLED:
        assert runs[True]["spied"] > 0
    else:  # most quiet hours in the one walk
        assert runs[True]["spied"] * 2 > runs[True]["quiet"] > 0
    if name == "sol-hours-delta-neutral":  # (its SOL leg's interest: `leg_change`)
        assert runs[True]["report"]["interest"] != 0


# ------------------------------------------------------------------ on the simulator

#: `fn(*args)` with `HOUR_ATTRIBUTION` on or off
_as = flag_switch("HOUR_ATTRIBUTION")


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
    )


#: the account's steps and another sub-account's deposits
_op = st.one_of(OPS, OTHER)


def _setup(auto_settle: bool):
    return attribution_pair("HOUR_ATTRIBUTION", auto_settle)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(_op, st.booleans()), min_size=1, max_size=30),
    st.booleans(),
)
def test_drawn_steps_book_what_the_general_way_books(steps, auto_settle):
    sim, venue, other, hour, ref = _setup(auto_settle)
    prices = {"SOL-PERP": PRICE, "SOL": PRICE}
    ts = T0
    with spying(_walks) as walked:
        for step, checked in steps:
            ts += 600
            ts, event = apply_step(sim, venue, other, step, ts, prices)
            if event is not None:
                sim.apply(event)
                _as(True, hour.apply, event)
                _as(False, ref.apply, event)
            elif checked:
                _as(True, hour.check)
                _as(False, ref.check)
            assert _state(hour) == _state(ref)
            if checked:
                assert _as(True, hour.value) == _as(False, ref.value)
        assert _as(True, hour.finish) == _as(False, ref.finish)
    assert _state(hour) == _state(ref)
    assert hour.holdings() == holdings_of_user(sim.user(venue.key), sim.spot_markets)
    assert hour.parts.total == hour.finish() - CAPITAL
    assert walked() <= len(steps) + 1


def test_a_hedged_week_of_hours_takes_the_one_walk():
    """Spot long + perp short through a week of hourly funding and prices, interest on
    both legs, no auto-settle: every hour in the one walk, the same state as the
    general way at every hour; an hour left unchecked with two accruals on one balance
    books a rest to rounding the same way."""
    sim, venue, other, hour, ref = _setup(False)
    prices = {"SOL-PERP": PRICE, "SOL": PRICE}
    size = 1000 * 10**7
    venue.place(
        [
            OrderIntent(1, MarketType.SPOT, PositionDirection.LONG, size),
            OrderIntent(0, MarketType.PERP, PositionDirection.SHORT, size),
        ],
        T0 + 1,
    )
    _as(True, hour.check)
    _as(False, ref.check)
    ts = T0 + 1
    with spying(_walks) as walked:
        for h in range(7 * 24):
            for step in (("price", "SOL", 7 - h % 13), ("price", "SOL-PERP", h % 11 - 5),
                         ("funding", 300_000 - 5_000 * (h % 97))):  # fmt: skip
                ts, event = apply_step(sim, venue, other, step, ts, prices)
                sim.apply(event)
                _as(True, hour.apply, event)
                _as(False, ref.apply, event)
            assert _state(hour) == _state(ref)
        sim.accrue_interest(ts + HOUR)
        sim.accrue_interest(ts + 2 * HOUR)
        _as(True, hour.check)
        _as(False, ref.check)
        assert _state(hour) == _state(ref)
    assert walked() == 7 * 24 + 1
    assert hour.parts.interest > 0 and hour.parts.funding != 0
    assert hour.holdings() == holdings_of_user(sim.user(venue.key), sim.spot_markets)
