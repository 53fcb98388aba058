"""Property tests: value is conserved to the micro-USDC and positions stay on the step.

For any sequence of perp fills (market and limit, both sides, reduce-only), funding
updates and oracle moves (with liquidations checked after each), the test keeps its own
books from what it asked for and what the trades were (sizes, prices, rates) and checks
the simulator against them after every step. Nothing on the expected side comes from the
simulator's own money functions or its PnL records:

- fees: taker ceil(quote x 100 / 100_000), maker rebate floor(quote x 20 / 100_000) (the
  fee tier is set by the test; volumes stay far below the first volume tier);
- funding: -sign(base x rate) x floor(|base x rate| / 1e12) on the base the test's books
  say the account held (`math/funding.rs`);
- liquidations: the liquidator fee is floor(value x liquidator_fee / 1e6) of the
  position value the record moved (`controller/liquidation.rs`);
- cash: every perp trade moves its quote (buys pay, sells receive), so
  USDC + sum(position quote) == deposit - buys + sells - fees + funding - liquidation fees,
  with the USDC balance read from the raw account (scaled balance x cumulative interest);
- position: the base is the sum of the signed fills and liquidations.

A refused order (insufficient collateral, a reduce-only order with nothing to reduce,
...) must leave every account byte as it was.
No interest accrues in these runs (USDC's cumulative interest stays 1e10).
"""

from __future__ import annotations

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from drift_engine.core.errors import OrderValidationError
from drift_engine.core.types import PositionDirection
from drift_engine.sim import (
    FillRecord,
    FundingPaymentRecord,
    InsufficientCollateralError,
    LiquidationRecord,
)
from drift_engine.sim.pricing import DEFAULT_PRICE_MODEL

from .conftest import PRICE, QUOTE, T0, limit, make_sim, perp

STEP = 10**7  # SOL-PERP order step (0.01 SOL)
TAKER, MAKER, DEN = 100, 20, 100_000

ops = st.lists(
    st.one_of(
        st.tuples(st.just("trade"), st.sampled_from(["long", "short"]), st.integers(1, 3_000)),
        st.tuples(
            st.just("limit"),
            st.sampled_from(["long", "short"]),
            st.integers(1, 2_000),
            st.integers(-300, 300),
        ),
        st.tuples(st.just("price"), st.integers(-250_000, 250_000)),
        st.tuples(st.just("funding"), st.integers(-20_000_000, 20_000_000)),
        st.tuples(st.just("reduce"), st.sampled_from(["long", "short"]), st.integers(1, 3_000)),
    ),
    min_size=1,
    max_size=30,
)


class Books:
    """What the account must hold, kept from the trades themselves."""

    def __init__(self, deposit: int, liquidator_fee_rate: int) -> None:
        self.deposit = deposit
        self.liquidator_fee_rate = liquidator_fee_rate
        self.base = 0
        self.trade_cash = 0  # + sells, - buys (QUOTE)
        self.fees = 0
        self.funding = 0
        self.liquidation_fees = 0

    def fill(self, r: FillRecord) -> None:
        long = r.direction is PositionDirection.LONG
        self.base += r.base_asset_amount if long else -r.base_asset_amount
        self.trade_cash += -r.quote_asset_amount if long else r.quote_asset_amount
        if r.is_maker:
            expected = -(r.quote_asset_amount * MAKER // DEN)
        else:
            expected = -(-r.quote_asset_amount * TAKER // DEN)
        assert r.fee == expected, (r, expected)
        self.fees += expected

    def funding_payment(self, rate: int) -> int:
        """What the held base pays (< 0) or receives at `rate`."""
        if self.base == 0 or rate == 0:
            return 0
        magnitude = abs(rate) * abs(self.base) // 10**12
        return -magnitude if (self.base > 0) == (rate > 0) else magnitude

    def liquidation(self, r: LiquidationRecord) -> None:
        self.base += r.base_asset_amount
        self.trade_cash += r.quote_asset_amount
        value = abs(r.quote_asset_amount)
        assert r.liquidator_fee == value * self.liquidator_fee_rate // 10**6
        assert r.if_fee >= 0
        self.liquidation_fees += r.liquidator_fee + r.if_fee

    def cash(self) -> int:
        return self.deposit + self.trade_cash - self.fees + self.funding - self.liquidation_fees


def account_cash(sim, k) -> tuple[int, int]:
    """(USDC token amount + sum of perp quote, perp base) from the raw account fields."""
    user = sim.user(k)
    usdc = sim.spot_markets[0]
    cash = 0
    for sp in user.spot_positions:
        if sp.market_index != 0 or sp.scaled_balance == 0:
            continue
        if type(sp.balance_type).__name__ == "Deposit":
            cash += sp.scaled_balance * usdc.cumulative_deposit_interest // 10**13
        else:
            cash -= -(-sp.scaled_balance * usdc.cumulative_borrow_interest // 10**13)
    base = 0
    for pp in user.perp_positions:
        if pp.market_index == 0:
            cash += pp.quote_asset_amount
            base += pp.base_asset_amount
    return cash, base


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=ops, deposit=st.integers(50, 20_000))
# (found by this test in CI: the closed position's slot, its settled pnl left, is reset
# for the new position before the fill's undo kept it; the refused fill lost that pnl)
@example(ops=[("trade", "long", 1), ("trade", "short", 1), ("trade", "long", 979)], deposit=50)
def test_value_is_conserved_and_positions_stay_on_step(ops, deposit):
    sim = make_sim(default_price_model=DEFAULT_PRICE_MODEL)
    tier = sim.state.perp_fee_structure.fee_tiers[0]
    tier.fee_numerator, tier.fee_denominator = TAKER, DEN
    tier.maker_rebate_numerator, tier.maker_rebate_denominator = MAKER, DEN
    sim.perp_market("SOL-PERP").fee_adjustment = 0
    k = sim.open_account()
    sim.deposit(k, "USDC", deposit * QUOTE, T0)
    books = Books(deposit * QUOTE, sim.perp_market("SOL-PERP").liquidator_fee)
    ts = T0
    hour = T0
    price = 100 * PRICE
    for op in ops:
        ts += 60
        seen = len(sim.records)
        before = sim.account_bytes()
        rate = None
        try:
            if op[0] == "trade":
                sim.place_order(k, perp(op[1], op[2] * STEP), ts)
            elif op[0] == "reduce":
                sim.place_order(k, perp(op[1], op[2] * STEP, reduce_only=True), ts)
            elif op[0] == "limit":
                px = max(price + op[3] * PRICE // 100, PRICE) // 100 * 100
                sim.place_order(k, limit(op[1], op[2] * STEP, px), ts)
            elif op[0] == "price":
                price = max(PRICE, price * (1_000_000 + op[1]) // 1_000_000 // 100 * 100)
                sim.set_oracle_price("SOL", price, ts)
            else:
                hour = max(hour + 3600, ts)
                ts = hour
                rate = op[1]
                expected_payment = books.funding_payment(rate)
                sim.update_funding("SOL-PERP", ts=ts, funding_rate=rate)
        except (InsufficientCollateralError, OrderValidationError):
            event(f"refused {op[0]}")
            # a refusal changes nothing at all
            assert sim.account_bytes() == before
            assert len(sim.records) == seen
        for r in sim.records[seen:]:
            if isinstance(r, FillRecord):
                books.fill(r)
                event("filled")
            elif isinstance(r, FundingPaymentRecord):
                assert r.funding_payment == expected_payment, (r, books.base, rate)
                books.funding += expected_payment
        liquidated = sim.liquidate_if_needed(ts)
        for r in liquidated:
            books.liquidation(r)
            event("liquidated")
        cash, base = account_cash(sim, k)
        assert base == books.base
        assert cash == books.cash()
        assert base % STEP == 0
        for r in sim.records:
            if isinstance(r, FillRecord | LiquidationRecord):
                assert r.base_asset_amount % STEP == 0
