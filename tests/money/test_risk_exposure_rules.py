"""Risk exposure rules by hand: which holdings count towards leverage (perps both ways,
spot only as a borrow, USDC only when negative), which price a spot leg is valued at,
that working orders count, that an order adding no exposure passes however high leverage
already is, the notional of a market the snapshot does not know, and the exact wording of
the refusals (dollars to the cent).

Snapshots are built by hand: SOL-PERP (perp 0) at $100.00 and SOL spot (1) at $101.50, so a
spot leg valued at the perp's price (or the other way round) gives a different integer.
Steps of 0.01 SOL unless a test says otherwise.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

from drift_engine.core.types import (
    DriftMarginMetrics,
    DriftPosition,
    MarketType,
    OrderIntent,
    PositionDirection,
)
from drift_engine.risk import Halt, RiskLimits
from drift_engine.risk.checks import (
    MaxDrawdown,
    MaxLeverage,
    MaxOrderNotional,
    apply_orders,
    gross_exposure,
    notional,
    reduce_orders,
)
from drift_engine.strategies.base import (
    MarketSnapshot,
    OrderView,
    StrategySnapshot,
    VaultSnapshot,
)

USDC = 10**6
SOL = 10**9
STEP = 10**7  # 0.01 SOL
PERP, SPOT = MarketType.PERP, MarketType.SPOT
LONG, SHORT = PositionDirection.LONG, PositionDirection.SHORT
PERP_PRICE = 100 * USDC  # $100.00
SPOT_PRICE = 101_500_000  # $101.50


def market(**overrides) -> MarketSnapshot:
    fields = dict(
        symbol="SOL-PERP",
        perp_market_index=0,
        oracle_price=PERP_PRICE,
        spot_market_index=1,
        spot_oracle_price=SPOT_PRICE,
        spot_decimals=9,
        perp_step_size=STEP,
        perp_min_order_size=STEP,
        spot_step_size=STEP,
        spot_min_order_size=STEP,
    )
    fields.update(overrides)
    return MarketSnapshot(**fields)


def snap(
    *,
    equity: int = 1_000 * USDC,
    hwm: int = 0,
    positions: tuple[DriftPosition, ...] = (),
    orders: tuple[OrderView, ...] = (),
    m: MarketSnapshot | None = None,
) -> StrategySnapshot:
    return StrategySnapshot(
        ts=0,
        markets=MappingProxyType({"SOL-PERP": m or market()}),
        vault=VaultSnapshot("v", equity=equity, balance=equity, high_water_mark=hwm),
        positions=positions,
        margin=DriftMarginMetrics(0, 0, 0, 0, 0, 100, 0, 0, 0),
        orders=orders,
    )


def intent(market_type: MarketType, direction: PositionDirection, base: int, index=None):
    idx = index if index is not None else (0 if market_type is PERP else 1)
    return OrderIntent(idx, market_type, direction, base)


# --------------------------------------------------------------------------- prices


def test_spot_leg_is_valued_at_the_spot_oracle_and_falls_back_to_the_perp_oracle():
    # 2 SOL spot at $101.50 = $203.00; the same 2 SOL on the perp at $100.00 = $200.00
    assert notional(SPOT, 1, 2 * SOL, snap()) == 203 * USDC
    assert notional(PERP, 0, -2 * SOL, snap()) == 200 * USDC
    # a spot price the snapshot does not have (0) falls back to the perp's oracle
    no_spot_price = snap(m=market(spot_oracle_price=0))
    assert notional(SPOT, 1, 2 * SOL, no_spot_price) == 200 * USDC
    # USDC (spot 0) is $1.00 with 6 decimals: 12.345678 USDC is 12_345_678 micro-USDC
    assert notional(SPOT, 0, -12_345_678, snap()) == 12_345_678


def test_notional_of_a_market_the_snapshot_does_not_know_is_zero():
    # no price is known for perp 7 or spot 9: the estimate is 0, whatever the size
    # (5 SOL at a "price" of one micro-USDC would be 5; any default price shows)
    assert notional(PERP, 7, 5 * SOL, snap()) == 0
    assert notional(SPOT, 9, -5 * SOL, snap()) == 0


# --------------------------------------------------------------------------- holdings


def test_orders_fill_into_empty_holdings_and_spot_trades_settle_against_usdc():
    # nothing held: a perp buy of 2 SOL is +2 SOL; a spot buy of 3 SOL at $101.50 is
    # +3 SOL and -$304.50 of USDC; a spot sell of 1.5 SOL gives back +$152.25
    orders = [intent(PERP, LONG, 2 * SOL), intent(SPOT, LONG, 3 * SOL)]
    assert apply_orders({}, orders, snap()) == {
        (PERP, 0): 2 * SOL,
        (SPOT, 1): 3 * SOL,
        (SPOT, 0): -304_500_000,
    }
    assert apply_orders({}, [intent(SPOT, SHORT, 1_500_000_000)], snap()) == {
        (SPOT, 1): -1_500_000_000,
        (SPOT, 0): 152_250_000,
    }


def test_gross_exposure_counts_perps_both_ways_and_spot_only_as_a_borrow():
    # perp short 3 SOL at $100.00: $300.00; spot long 2 SOL: an asset, 0; USDC $500: 0
    held = {(PERP, 0): -3 * SOL, (SPOT, 1): 2 * SOL, (SPOT, 0): 500 * USDC}
    assert gross_exposure(held, snap()) == 300 * USDC
    # perp long 1 SOL: $100.00; spot short 2 SOL (a borrow) at $101.50: $203.00; USDC
    # overdrawn by $50.25: $50.25
    borrowed = {(PERP, 0): 1 * SOL, (SPOT, 1): -2 * SOL, (SPOT, 0): -50_250_000}
    assert gross_exposure(borrowed, snap()) == 100 * USDC + 203 * USDC + 50_250_000


# --------------------------------------------------------------------------- leverage


def test_leverage_counts_working_orders_and_says_so():
    # equity $1,000, max 3.0x. A resting short of 10 SOL-PERP (nothing filled) plus a new
    # short of 20.01 SOL is 30.01 SOL x $100 = $3,001.00: 3.001x, refused, and the reason
    # names the working orders. Without the resting order the same short is 2.001x: fine.
    check = MaxLeverage(RiskLimits(max_leverage=3.0))
    new = [intent(PERP, SHORT, 20 * SOL + STEP)]
    resting = (OrderView(1, PERP, 0, SHORT, 10 * SOL, 0, "open"),)
    assert check.check(new, snap(orders=resting)) == (
        "leverage after orders (with the working orders) 3.00x exceeds max_leverage 3.0x"
    )
    assert check.check(new, snap()) is None
    # a reduce-only working order never adds exposure: the short passes beside it
    reducing = (OrderView(2, PERP, 0, SHORT, 10 * SOL, 0, "open", reduce_only=True),)
    assert check.check(new, snap(orders=reducing)) is None


def test_leverage_refusal_without_working_orders_has_no_suffix():
    # 30.01 SOL x $100 = $3,001.00 on $1,000 of equity: 3.001x printed as 3.00x
    check = MaxLeverage(RiskLimits(max_leverage=3.0))
    assert check.check([intent(PERP, SHORT, 30 * SOL + STEP)], snap()) == (
        "leverage after orders 3.00x exceeds max_leverage 3.0x"
    )


def test_an_order_that_adds_no_exposure_passes_above_the_limit():
    # already at 5x (short 50 SOL-PERP = $5,000 on $1,000); buying 1 SOL spot with the
    # $1,000 of USDC held adds an asset and leaves USDC at $898.50: exposure stays
    # $5,000 (after == before), so it is not refused although 5x > 1x
    check = MaxLeverage(RiskLimits(max_leverage=1.0))
    positions = (
        DriftPosition(0, SPOT, 1_000 * USDC, decimals=6),
        DriftPosition(0, PERP, -50 * SOL),
    )
    assert check.check([intent(SPOT, LONG, 1 * SOL)], snap(positions=positions)) is None
    # 0.01 SOL more of perp short does add exposure: refused
    assert check.check([intent(PERP, SHORT, SOL // 100)], snap(positions=positions)) is not None


def test_one_micro_usdc_of_equity_is_positive():
    # equity 1 micro-USDC: the check goes on; one base unit of SOL-PERP is worth
    # 1 x 100_000_000 // 1e9 = 0 micro-USDC, so leverage is 0 and the order passes
    check = MaxLeverage(RiskLimits(max_leverage=3.0))
    assert check.check([intent(PERP, LONG, 1)], snap(equity=1)) is None
    assert check.check([intent(PERP, LONG, 1)], snap(equity=0)) == "equity 0 is not positive"


# --------------------------------------------------------------------------- drawdown


def test_a_high_water_mark_of_one_micro_usdc_counts():
    # hwm 1 micro-USDC, equity 0: drawdown (1 - 0) / 1 = 100 % >= 25 %: halt
    check = MaxDrawdown(RiskLimits(max_drawdown=0.25))
    assert check.assess(snap(equity=0, hwm=1)) == Halt(
        "drawdown 100.00% from high-water mark >= 25.00%"
    )


# --------------------------------------------------------------------------- notional


def test_order_notional_refusal_in_dollars_to_the_cent():
    # 1,234.5678 SOL x $100.00 = $123,456.78 > $100,000.00: the reason prints both to the
    # cent (a wrong divisor, e.g. 1_000_001, shows at this size: $123,456.66)
    check = MaxOrderNotional(RiskLimits(max_order_notional_usdc=100_000))
    assert check.check([intent(PERP, LONG, 1_234_567_800_000)], snap()) == (
        "order notional 123,456.78 USDC on perp 0 exceeds max_order_notional 100,000.00"
    )


# --------------------------------------------------------------------------- reduce orders


def test_reduce_orders_of_a_market_without_steps_use_one_base_unit():
    # perp 7 and spot 9 are not in the snapshot: step 1, min size 1. Cutting half of a
    # 7-unit short: int(3.5) = 3 units, already a whole step; flattening a 7-unit spot long
    # sells all 7 (a step of 2 would give 4 and 6)
    assert [
        o.base_asset_amount for o in reduce_orders((DriftPosition(7, PERP, -7),), 0.5, snap())
    ] == [3]
    flat = reduce_orders((DriftPosition(9, SPOT, 7),), 1.0, snap())
    assert [(o.direction, o.base_asset_amount) for o in flat] == [(SHORT, 7)]


def test_spot_dust_below_a_step_is_not_sold_even_when_the_minimum_is_smaller():
    # step 0.01 SOL, minimum 1 base unit: a 1-unit spot long is dust (1 % 10_000_000 = 1
    # -> 0 to sell); 0.01 SOL + 1 unit sells exactly 0.01 SOL
    m = market(spot_min_order_size=1)
    assert reduce_orders((DriftPosition(1, SPOT, 1),), 1.0, snap(m=m)) == []
    sold = reduce_orders((DriftPosition(1, SPOT, STEP + 1),), 1.0, snap(m=m))
    assert [o.base_asset_amount for o in sold] == [STEP]


def test_a_position_too_small_to_cut_does_not_stop_the_others():
    # half of 0.009999999 SOL-PERP rounds up to one 0.01 step, capped at the position:
    # 9_999_999 < the 0.01 SOL minimum, skipped; half of 12.34 SOL spot is 6.17 SOL
    positions = (DriftPosition(0, PERP, 9_999_999), DriftPosition(1, SPOT, 12_340_000_000))
    orders = reduce_orders(positions, 0.5, snap())
    assert [(o.market_type, o.direction, o.base_asset_amount) for o in orders] == [
        (SPOT, SHORT, 6_170_000_000)
    ]


def test_reduce_orders_are_tagged_risk_reduce():
    # the tag is how the order book and the activity feed tell a risk cut from a
    # strategy's order (OrderIntent's equality ignores tags: compared here on purpose)
    positions = (DriftPosition(0, PERP, -1 * SOL), DriftPosition(1, SPOT, 1 * SOL))
    orders = reduce_orders(positions, 1.0, snap())
    assert [o.tags for o in orders] == [("risk", "reduce"), ("risk", "reduce")]
    assert all(o.reduce_only for o in orders)


def test_holdings_with_a_partly_filled_working_order_count_only_what_remains():
    # resting short of 10 SOL with 4 filled: 6 SOL remain; with a 24.01 SOL short that is
    # 30.01 SOL = $3,001.00 > 3x $1,000; with 5 filled (5 remain) it is $2,901.00: fine
    check = MaxLeverage(RiskLimits(max_leverage=3.0))
    new = [intent(PERP, SHORT, 24 * SOL + STEP)]
    four = (OrderView(1, PERP, 0, SHORT, 10 * SOL, 4 * SOL, "open"),)
    assert check.check(new, snap(orders=four)) is not None
    five = (replace(four[0], base_filled=5 * SOL),)
    assert check.check(new, snap(orders=five)) is None


# --------------------------------------------------------------------------- no price


def test_an_order_in_a_market_without_a_price_is_refused_not_valued_at_zero():
    # perp 7 is not in the snapshot: valued at 0 it would pass any notional limit
    order = intent(PERP, LONG, 10_000 * SOL, index=7)
    limits = RiskLimits(max_order_notional_usdc=1.0, max_leverage=1.0)
    assert MaxOrderNotional(limits).check([order], snap()) == (
        "no oracle price for perp 7 in the snapshot: cannot check max_order_notional"
    )
    assert MaxLeverage(limits).check([order], snap()) == (
        "no oracle price for perp 7 in the snapshot: cannot check max_leverage"
    )


def test_a_zero_oracle_price_counts_as_no_price():
    # the perp's oracle reads 0 (a feed not yet seen): its orders cannot be checked
    dark = snap(m=market(oracle_price=0, spot_oracle_price=0))
    limits = RiskLimits(max_order_notional_usdc=10**6, max_leverage=20.0)
    assert MaxOrderNotional(limits).check([intent(PERP, SHORT, SOL)], dark) == (
        "no oracle price for perp 0 in the snapshot: cannot check max_order_notional"
    )
    assert MaxOrderNotional(limits).check([intent(SPOT, LONG, SOL)], dark) == (
        "no oracle price for spot 1 in the snapshot: cannot check max_order_notional"
    )


def test_a_held_position_without_a_price_blocks_orders_that_add_exposure():
    # leverage cannot be measured while a held market has no price; a reduce-only order
    # still passes (it can only lower exposure), so the engine can always get out
    held = (DriftPosition(7, PERP, -3 * SOL),)
    limits = RiskLimits(max_order_notional_usdc=10**6, max_leverage=20.0)
    s = snap(positions=held)
    assert MaxLeverage(limits).check([intent(PERP, LONG, SOL)], s) == (
        "no oracle price for perp 7 in the snapshot: cannot check max_leverage"
    )
    out = replace(intent(PERP, LONG, SOL, index=7), reduce_only=True)
    assert MaxLeverage(limits).check([out], s) is None
    assert MaxOrderNotional(limits).check([out], s) is None
