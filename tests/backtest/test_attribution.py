"""PnL attribution on the simulator itself: whatever happens to a sub-account (fills on both
legs, hourly funding, interest, price moves), funding + interest + fees + slippage +
price/basis equals the value change to the micro-USDC, and each part matches what the
simulator recorded."""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import NamedTuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drift_engine.backtest.attribution import PnlAttribution, holdings_of, leg_value
from drift_engine.core import program_math
from drift_engine.core.types import MarketType, OrderIntent, PositionDirection
from drift_engine.data.models import FundingRecord, OracleTick, SpotRateRecord
from drift_engine.data.real_hourly import real_hourly
from drift_engine.engine.ports import VenueError
from drift_engine.sim import DriftSimulator
from drift_engine.venues.paper import PaperVenue

T0 = 1_751_328_000  # 2025-07-01 00:00 UTC
CAPITAL = 10_000_000_000
PRICE = 150_000_000


def _setup() -> tuple[DriftSimulator, PaperVenue, PnlAttribution]:
    sim = DriftSimulator({"SOL-PERP": PRICE, "SOL": PRICE}, ts=T0)
    for market, deposit, borrow in (("USDC", "0.05", "0.08"), ("SOL", "0.006", "0.03")):
        sim.apply(SpotRateRecord(T0, market, None, Decimal(deposit), Decimal(borrow)))
    venue = PaperVenue(sim, sub_account_id=0)
    venue.fund(CAPITAL, T0)
    return sim, venue, PnlAttribution(sim, venue, CAPITAL)


def _order(kind: str, direction: str, size: int) -> OrderIntent:
    if kind == "perp":
        return OrderIntent(0, MarketType.PERP, PositionDirection(direction), size * 10**7)
    return OrderIntent(1, MarketType.SPOT, PositionDirection(direction), size * 10**7)


op = st.one_of(
    st.tuples(st.just("price"), st.integers(-300, 300)),  # basis points
    st.tuples(st.just("funding"), st.integers(-2_000_000, 2_000_000)),  # 1e9 per base
    st.tuples(
        st.sampled_from(["perp", "spot"]),
        st.sampled_from(["long", "short"]),
        st.integers(1, 3_000),  # x 0.01 SOL
    ),
)


def _check(sim: DriftSimulator, venue: PaperVenue, pnl: PnlAttribution) -> None:
    value = pnl.finish()
    parts = pnl.parts
    assert parts.total == value - CAPITAL  # the identity, to the micro-USDC
    ours = [r for r in sim.records if getattr(r, "sub_account_id", None) == 0]
    assert parts.funding == sum(r.funding_payment for r in ours if r.kind == "funding")
    assert parts.fees == -sum(r.fee for r in ours if r.kind == "fill")
    assert pnl.holdings() == holdings_of(venue.positions())  # nothing missed
    # the same value as the venue's own equity (the program's user equity)
    assert venue.equity() == value


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, min_size=1, max_size=25))
def test_parts_add_up_to_the_value_change_whatever_happens(ops):
    sim, venue, pnl = _setup()
    price, ts = PRICE, T0
    for step in ops:
        ts += 600
        if step[0] == "price":
            price = max(1_000_000, price + price * step[1] // 10_000)
            event = OracleTick(ts, "SOL-PERP", price, "synthetic")
            sim.apply(event)
            pnl.apply(event)
        elif step[0] == "funding":
            rate = step[1]
            ts = (ts // 3600 + 1) * 3600 + 5  # the next hour's update, just after the hour
            event = FundingRecord(ts, "SOL-PERP", 0, rate, rate, rate, 0, 0, price, price,
                                  "synthetic")  # fmt: skip
            sim.apply(event)
            pnl.apply(event)
        else:
            with contextlib.suppress(VenueError):  # refused (margin): nothing changed
                venue.place([_order(step[0], step[1], step[2])], ts)
            pnl.check()
    _check(sim, venue, pnl)


def test_a_hedged_week_on_real_prices_and_funding():
    """Spot long + perp short of 10 SOL through a week of real SOL-PERP hours."""
    sim, venue, pnl = _setup()
    records = [r for r in real_hourly("SOL-PERP").records if T0 <= r.ts < T0 + 7 * 86_400]
    first = records[0]
    sim.apply(OracleTick(first.ts, "SOL-PERP", first.oracle_price_twap, "real"))
    venue.place([_order("spot", "long", 1000), _order("perp", "short", 1000)], first.ts + 1)
    pnl.check()
    for r in records[1:]:
        tick = OracleTick(r.ts, "SOL-PERP", r.oracle_price_twap, "real")
        sim.apply(tick)
        pnl.apply(tick)
        sim.apply(r)
        pnl.apply(r)
    _check(sim, venue, pnl)
    parts = pnl.parts
    # the hedge: SOL moved several percent that week, the legs cancel to a few dollars
    assert abs(parts.price_basis) < 5_000_000
    assert parts.funding != 0 and parts.interest > 0 and parts.fees < 0
    # funding by hand: the short receives the hour's rate x 10 SOL (math/funding.rs:
    # -sign(base x delta) x floor(|delta x base| / 1e12)), every hour after the entry
    base = -10 * 10**9
    by_hand = 0
    for r in records[1:]:
        magnitude = abs(r.funding_rate_short) * abs(base) // 10**6 // 10**3 // 10**3
        by_hand += magnitude if r.funding_rate_short > 0 else -magnitude
    assert parts.funding == by_hand


def test_leg_values_follow_the_program_rounding():
    # 1e-6 SOL at $1.5: 1.5 micro-USDC; a perp short's -1.5 goes toward zero (-1) ...
    assert leg_value(MarketType.PERP, 0, 9, -1_000, 0, 1_500_000) == -1
    assert leg_value(MarketType.PERP, 0, 9, 1_000, 7, 1_500_000) == 1 + 7
    # ... a spot borrow's -1.000000002 floors to -2 (get_token_value), a deposit truncates
    assert leg_value(MarketType.SPOT, 1, 9, -3, 0, 333_333_334) == -2
    assert leg_value(MarketType.SPOT, 1, 9, 3, 0, 333_333_334) == 1
    assert leg_value(MarketType.SPOT, 0, 6, 123, 0, 1) == 123  # USDC: tokens are money


class _Perp(NamedTuple):
    base_asset_amount: int
    quote_asset_amount: int


@given(
    st.one_of(st.just(0), st.integers(-(10**15), 10**15), st.integers(-(10**4), 10**4)),
    st.integers(-(10**13), 10**13),
    st.one_of(st.integers(-(10**6), 10**12), st.sampled_from([0, 1, 999_999_999, 10**9])),
)
def test_a_perp_leg_is_the_program_pnl(base, quote, price):
    """`leg_value` of a perp (computed inline) is `program_math.perp_base_value_and_pnl`'s
    pnl of that position: flat, long and short, toward-zero rounding, prices <= 0."""
    want = program_math.perp_base_value_and_pnl(_Perp(base, quote), price)[1]
    assert leg_value(MarketType.PERP, 0, 9, base, quote, price) == want


class _Revalued(PnlAttribution):
    """The booking as first written, every value worked out again from the holdings and
    prices (four valuations per booking): the reference the kept marked value
    (`_marked`) and the cached `value()` must equal, part for part."""

    def _book(self, records):
        parts = self.parts
        before = self._holdings
        now = self._prices(before)
        parts.price_basis += self._value(before, now) - self._value(before, self._marks)
        after = holdings_of(self.venue.positions())
        prices = {**now, **self._prices({k: v for k, v in after.items() if k not in now})}
        jump = self._value(after, prices) - self._value(before, prices)
        explained, trading = 0, False
        for r in records:
            if r.kind == "funding":
                parts.funding += r.funding_payment
                explained += r.funding_payment
                self.funding_payments += 1
            elif r.kind == "interest":
                value = self._interest_value(r, before, prices)
                parts.interest += value
                explained += value
            elif r.kind == "fill":
                parts.fees -= r.fee
                explained -= r.fee
                trading = True
            elif r.kind == "liquidation":
                fee = r.liquidator_fee + r.if_fee
                parts.fees -= fee
                explained -= fee
                trading = True
        if trading:
            parts.slippage += jump - explained
        else:
            parts.rounding += jump - explained
            parts.price_basis += jump - explained
        self._holdings = after
        self._marks = self._prices(after)
        self._marked = None  # not read by the reference

    def value(self):
        return self._value(self._holdings, self._prices(self._holdings))

    def finish(self):
        self.check()
        now = self._prices(self._holdings)
        self.parts.price_basis += self._value(self._holdings, now) - self._value(
            self._holdings, self._marks
        )
        self._marks = now
        return self._value(self._holdings, now)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, min_size=1, max_size=25), st.lists(st.booleans(), min_size=25, max_size=25))
def test_the_kept_marked_value_books_what_revaluing_everything_books(ops, samples):
    """Same parts, values and holdings as the reference that values everything again, with
    `value()` asked at random points (a backtest's hourly samples); `holds_perp` says what
    the holdings say about a perp base."""
    from drift_engine.backtest.attribution import holds_perp

    sim, venue, pnl = _setup()
    ref = _Revalued(sim, venue, CAPITAL)
    assert ref.initial_value == pnl.initial_value
    price, ts = PRICE, T0
    for step, sample in zip(ops, samples, strict=False):
        ts += 600
        event = None
        if step[0] == "price":
            price = max(1_000_000, price + price * step[1] // 10_000)
            event = OracleTick(ts, "SOL-PERP", price, "synthetic")
        elif step[0] == "funding":
            ts = (ts // 3600 + 1) * 3600 + 5
            event = FundingRecord(ts, "SOL-PERP", 0, step[1], step[1], step[1], 0, 0, price,
                                  price, "synthetic")  # fmt: skip
        else:
            with contextlib.suppress(VenueError):
                venue.place([_order(step[0], step[1], step[2])], ts)
        if event is not None:
            sim.apply(event)
            pnl.apply(event)
            ref.apply(event)
        else:
            pnl.check()
            ref.check()
        if sample:
            assert pnl.value() == ref.value()
        assert pnl.parts == ref.parts
        assert pnl.holdings() == ref.holdings()
        held = holdings_of(venue.positions())
        assert holds_perp(sim.user(venue.key)) == any(
            k[0] is MarketType.PERP and base != 0 for k, (base, _) in held.items()
        )
    assert pnl.finish() == ref.finish()
    assert pnl.parts == ref.parts
    assert (pnl.funding_payments, pnl.funding_hours) == (ref.funding_payments, ref.funding_hours)
