"""Property tests: value is conserved to the micro-USDC and positions stay on the step.

For any sequence of perp fills (market and limit, both sides), funding updates and
oracle moves (with liquidations checked after each), at every point:

    E + F + Fp + L == D + R + U + Fr

where (all QUOTE 1e6 integers):
- E  (user collateral): the USDC spot token amount (signed) plus, for each perp
  position, its unsettled PnL `trunc(base x oracle / 1e9) + quote_asset_amount`;
- F  (fees paid): the sum of `FillRecord.fee` (taker fees > 0, maker rebates < 0);
- Fp / Fr (funding paid / received): minus the sum of negative / the sum of positive
  `FundingPaymentRecord.funding_payment`;
- L  (liquidation fees): the sum of `liquidator_fee + if_fee` of `LiquidationRecord`s;
- D  (starting deposits): the sum of `DepositRecord` deposits;
- R  (realized PnL): the sum of `realized_pnl` of fills and liquidations (the program's
  PnL of each position update, before fees);
- U  (unrealized price PnL): for each open position `trunc(base x oracle / 1e9) +
  quote_entry_amount`.
No interest accrues in these runs (USDC's cumulative interest stays 1e10, so scaled
balances are exact).
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drift_engine.core.errors import OrderValidationError
from drift_engine.sim import (
    DepositRecord,
    FillRecord,
    FundingPaymentRecord,
    InsufficientCollateralError,
    LiquidationRecord,
    rules,
)
from drift_engine.sim.pricing import DEFAULT_PRICE_MODEL

from .conftest import PRICE, QUOTE, T0, limit, make_sim, perp

STEP = 10**7  # SOL-PERP order step (0.01 SOL)

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


def conservation(sim, k) -> tuple[int, int]:
    recs = sim.records
    oracle = sim.oracle_price("SOL-PERP")
    e = sim.token_amount(k, "USDC")
    u = 0
    for pos in sim.user(k).perp_positions:
        if rules.is_perp_position_available(pos):
            continue
        e += rules.unrealized_pnl(pos, oracle)
        if pos.base_asset_amount:
            u += rules.div_trunc(pos.base_asset_amount * oracle, 10**9) + pos.quote_entry_amount
    fees = sum(r.fee for r in recs if isinstance(r, FillRecord))
    funding = [r.funding_payment for r in recs if isinstance(r, FundingPaymentRecord)]
    liqs = [r for r in recs if isinstance(r, LiquidationRecord)]
    deposits = sum(r.amount for r in recs if isinstance(r, DepositRecord))
    realized = sum(r.realized_pnl for r in recs if isinstance(r, FillRecord | LiquidationRecord))
    left = (
        e + fees - sum(f for f in funding if f < 0) + sum(r.liquidator_fee + r.if_fee for r in liqs)
    )
    right = deposits + realized + u + sum(f for f in funding if f > 0)
    return left, right


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=ops, deposit=st.integers(50, 20_000))
def test_value_is_conserved_and_positions_stay_on_step(ops, deposit):
    sim = make_sim(default_price_model=DEFAULT_PRICE_MODEL)
    k = sim.open_account()
    sim.deposit(k, "USDC", deposit * QUOTE, T0)
    ts = T0
    hour = T0
    price = 100 * PRICE
    for op in ops:
        ts += 60
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
                sim.update_funding("SOL-PERP", ts=ts, funding_rate=op[1])
        except (InsufficientCollateralError, OrderValidationError):
            pass
        sim.liquidate_if_needed(ts)
        left, right = conservation(sim, k)
        assert left == right
        for pos in sim.user(k).perp_positions:
            assert pos.base_asset_amount % STEP == 0
        for r in sim.records:
            if isinstance(r, FillRecord | LiquidationRecord):
                assert r.base_asset_amount % STEP == 0
