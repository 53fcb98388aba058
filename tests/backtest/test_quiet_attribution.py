"""The attribution's payment bookings (`backtest.attribution.KEPT_BOOKING`, ADR-0020
points 69-70): a booking whose records since the last one are payments takes the new
holdings from the last ones moved by the payments (`moved_by`) instead of reading every
slot of the account, and values them from each leg's change (`leg_change`); `value()`
tests its marks price by price. It gives what the reference gives (`KEPT_BOOKING =
False`: every slot read, both holdings valued, the price dict built):

- whole fast backtests, both ways: the report (every `PnlParts` figure, funding hours
  and payments, final equity), every hourly sample, every row of every table, the
  ticks, accounts and records (`flag_scenarios.flag_runs`), and the report of per-bar
  stepping; on synthetic minutes held short and in and out of the market, the real LUNA
  crash (liquidation, drawdown halt), real SOL minutes and real SOL hours (held short,
  and delta-neutral with its spot leg); the kept runs book hours
  from their payments, the reference none;
- on the simulator itself (Hypothesis): prices of both SOL markets, settled funding,
  interest rates on USDC and SOL (deposits and borrows: interest on a non-quote leg),
  perp and spot orders, settle_pnl, deposits and withdrawals, with and without
  auto-settle: after every operation the same parts, holdings (equal to the account's
  own), values and counters, and the holdings are the account's;
- `leg_change` is the difference of the two `leg_value`s (Hypothesis)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drift_engine.backtest import attribution as at
from drift_engine.backtest.attribution import (
    PnlAttribution,
    holdings_of_user,
    leg_change,
    leg_value,
)
from drift_engine.core.types import MarketType, OrderIntent, PositionDirection
from drift_engine.data.models import OracleTick
from drift_engine.data.real_hourly import real_hourly
from drift_engine.sim import DriftSimulator
from drift_engine.venues.paper import PaperVenue
from tests.backtest.attribution_steps import (
    CAPITAL,
    OPS,
    PRICE,
    T0,
    apply_step,
    flag_switch,
    funded_simulator,
)
from tests.backtest.flag_scenarios import IGNORED, flag_runs, named, scenario, spying
from tests.backtest.test_fast_stepping import _run as _bar_run

HOUR = 3_600
#: `fn(*args)` with `KEPT_BOOKING` on or off
_as = flag_switch("KEPT_BOOKING")


# ------------------------------------------------------------------ whole backtests


#: the scenarios run with payment bookings and without (tests/backtest/flag_scenarios.py)
SCENARIOS = named(
    "held-short",
    "entering-and-leaving",
    "luna-liquidated",
    "luna-short",
    "luna-leveraged-long",
    "sol-minutes",
    "sol-hours-held-short",
    "sol-hours-delta-neutral",
)
#: how many bookings must take their holdings from the payments at the least, if not 1
#: (the held short's hours with a settle_pnl read the account)
DERIVED = {"held-short": 60}
#: the short LUNA crash's profit is settled every hour: each booking reads the account
READS_EVERY_HOUR = {"luna-short"}
#: the scenarios whose report is also per-bar stepping's
BAR = {
    "held-short",
    "luna-liquidated",
    "sol-minutes",
    "sol-hours-held-short",
    "sol-hours-delta-neutral",
}


def _derived_count(mp: pytest.MonkeyPatch):
    """How many bookings took their holdings from the payments (`_derived`)."""
    derived = _spy_moved_by(mp)
    return lambda: sum(derived)


def _spy_moved_by(mp: pytest.MonkeyPatch) -> list[bool]:
    """[bool, ...]: for each booking that asks `moved_by`, whether it took its holdings
    from the payments (not None)."""
    derived: list[bool] = []
    moved_by = at.moved_by
    # (the hour's check in one function moves the holdings without `moved_by`; it is
    # compared with this way in tests/backtest/test_hour_fused.py)
    mp.setattr(at, "HOUR_FUSED", False)

    def spy(*a):
        out = moved_by(*a)
        derived.append(out is not None)
        return out

    mp.setattr(at, "moved_by", spy)
    return derived


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_backtest_is_the_same_with_payment_bookings(tmp_path, name):
    runs = flag_runs(tmp_path, name, at, "KEPT_BOOKING", _derived_count)
    assert runs[False]["spied"] == 0
    if name not in READS_EVERY_HOUR:  # hours booked from their payments
        assert runs[True]["spied"] >= DERIVED.get(name, 1)
    if name in BAR:  # and per-bar stepping's report (samples, parts, final equity ...)
        case = scenario(name)
        report, _ = _bar_run(tmp_path, "bar", *case.args, **case.kw)
        for f in dataclasses.fields(report):
            if f.name not in IGNORED:
                assert runs[True]["report"][f.name] == getattr(report, f.name), f.name


# ------------------------------------------------------------------ on the simulator


def _setup(auto_settle: bool) -> tuple[DriftSimulator, PaperVenue, PnlAttribution, PnlAttribution]:
    sim, (venue,) = funded_simulator(auto_settle)
    kept = _as(True, PnlAttribution, sim, venue, CAPITAL)
    ref = _as(False, PnlAttribution, sim, venue, CAPITAL)
    return sim, venue, kept, ref


def _same(sim, venue, kept, ref, sample: bool) -> None:
    assert kept.parts == ref.parts
    assert kept.holdings() == ref.holdings()
    assert kept.holdings() == holdings_of_user(sim.user(venue.key), sim.spot_markets)
    assert (kept.funding_hours, kept.funding_payments) == (ref.funding_hours, ref.funding_payments)
    assert kept._marked == ref._marked
    if sample:
        assert _as(True, kept.value) == _as(False, ref.value)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(OPS, min_size=1, max_size=30),
    st.lists(st.booleans(), min_size=30, max_size=30),
    st.booleans(),
)
def test_payment_bookings_book_what_reading_the_account_books(ops, samples, auto_settle):
    sim, venue, kept, ref = _setup(auto_settle)
    prices = {"SOL-PERP": PRICE, "SOL": PRICE}
    ts = T0
    for step, sample in zip(ops, samples, strict=False):
        ts += 600
        ts, event = apply_step(sim, venue, None, step, ts, prices)
        if event is not None:
            sim.apply(event)
            _as(True, kept.apply, event)
            _as(False, ref.apply, event)
        else:
            _as(True, kept.check)
            _as(False, ref.check)
        _same(sim, venue, kept, ref, sample)
    assert _as(True, kept.finish) == _as(False, ref.finish)
    _same(sim, venue, kept, ref, True)
    assert kept.parts.total == kept.finish() - CAPITAL


def test_a_hedged_week_books_its_hours_from_the_payments():
    """Spot long + perp short of 10 SOL through a week of real SOL-PERP hours, interest
    on both legs (the SOL deposit too): every hour booked from its payments, the same
    parts, samples and holdings as the reference at every hour (no auto-settle: a
    settle_pnl makes its hour read the account)."""
    sim, venue, kept, ref = _setup(False)
    records = [r for r in real_hourly("SOL-PERP").records if T0 <= r.ts < T0 + 7 * 86_400]
    first = records[0]
    sim.apply(OracleTick(first.ts, "SOL-PERP", first.oracle_price_twap, "real"))
    size = 1000 * 10**7
    venue.place(
        [
            OrderIntent(1, MarketType.SPOT, PositionDirection.LONG, size),
            OrderIntent(0, MarketType.PERP, PositionDirection.SHORT, size),
        ],
        first.ts + 1,
    )
    _as(True, kept.check)
    _as(False, ref.check)
    with spying(_spy_moved_by) as derived:
        for r in records[1:]:
            for event in (
                OracleTick(r.ts, "SOL", r.oracle_price_twap + 17_000, "real"),
                OracleTick(r.ts, "SOL-PERP", r.oracle_price_twap, "real"),
                r,
            ):
                sim.apply(event)
                _as(True, kept.apply, event)
                _as(False, ref.apply, event)
            _same(sim, venue, kept, ref, True)
    assert sum(derived) == len(records) - 1
    assert _as(True, kept.finish) == _as(False, ref.finish)
    assert kept.parts == ref.parts
    assert kept.parts.interest > 0 and kept.parts.funding != 0


@given(
    st.sampled_from([(MarketType.PERP, 0, 9), (MarketType.SPOT, 0, 6), (MarketType.SPOT, 1, 9)]),
    st.one_of(st.none(), st.tuples(st.integers(-(10**15), 10**15), st.integers(-(10**13), 10**13))),
    st.one_of(
        st.none(),
        st.tuples(st.integers(-(10**15), 10**15), st.integers(-(10**13), 10**13)),
        st.integers(-(10**9), 10**9),  # the old base (tokens) moved by this much
    ),
    st.one_of(st.integers(-(10**6), 10**12), st.sampled_from([0, 1, 999_999_999, 10**9])),
)
def test_leg_change_is_the_difference_of_the_leg_values(key, old, new, price):
    if isinstance(new, int):  # a perp's quote moved, its base kept; a balance's tokens moved
        if old is None:
            return
        new = (old[0], old[1] + new) if key[0] is MarketType.PERP else (old[0] + new, 0)
    if key[0] is MarketType.SPOT:  # a spot holding has no quote
        old = None if old is None else (old[0], 0)
        new = None if new is None else (new[0], 0)

    def value(h):
        return 0 if h is None else leg_value(key[0], key[1], key[2], h[0], h[1], price)

    assert leg_change(key, old, new, price) == value(new) - value(old)
