"""Simulator fixes found in review (issue #13 item 5): liquidation with the program's
margin ratio, the margin a liquidation actually frees, one quote per match rounded by
the maker's direction. Each test failed against the simulator before its fix.
"""

from __future__ import annotations

from driftpy.types import MarginMode

from drift_engine.core.markets import MarketCatalog
from drift_engine.core.program_math import MarginCategory, calculate_margin, perp_margin_ratio
from drift_engine.core.types import MarketType, OrderIntent, OrderType, PositionDirection
from drift_engine.sim import DriftSimulator, LiquidationRecord

from .conftest import AT_ORACLE, BASE, PRICE, QUOTE, T0, make_sim, perp, spot

MAINTENANCE = MarginCategory.MAINTENANCE
BUFFER = 200  # State.liquidation_margin_buffer_ratio (2 %)


def _shortage(sim: DriftSimulator, key) -> int:
    calc = calculate_margin(sim.user(key), sim.market_snapshot(), MAINTENANCE, margin_buffer=BUFFER)
    return max(0, calc.margin_requirement_plus_buffer - calc.total_collateral)


# ------------------------------------------------- liquidation margin ratio (liquidate_perp)


def test_liquidation_uses_the_programs_integer_margin_ratio_with_the_size_premium():
    """controller/liquidation.rs::liquidate_perp takes `get_margin_ratio` (an integer,
    IMF size premium included). driftpy's `calculate_market_margin_ratio` returns a float
    once the premium applies (BTC-PERP's imf_factor 1900 at 100 BTC: 430.0), and a float
    ratio turns every liquidation amount into a float."""
    btc = MarketCatalog.from_constants().by_symbol("BTC-PERP")
    sim = DriftSimulator({"BTC-PERP": 100_000 * PRICE}, ts=T0, default_price_model=AT_ORACLE)
    key = sim.open_account()
    sim.deposit(key, "USDC", 1_000_000 * QUOTE, T0)
    order = OrderIntent(btc.market_index, MarketType.PERP, PositionDirection.LONG, 100 * BASE)
    sim.place_order(key, order, T0 + 1)  # $10M of BTC (fees 0: fee_adjustment -100)
    market = sim.perp_market("BTC-PERP")
    assert perp_margin_ratio(market, 100 * BASE, MAINTENANCE) == 430
    # maintenance: 1e6 + 100 x (p - 1e5) < 100 x p x 4.3 %  <=>  p < 94,252.35
    sim.set_oracle_price("BTC-PERP", 94_000 * PRICE, T0 + 2)
    records = [r for r in sim.liquidate_if_needed(T0 + 2) if isinstance(r, LiquidationRecord)]
    assert records
    for rec in records:
        for name in ("base_asset_amount", "quote_asset_amount", "liquidator_fee", "if_fee"):
            value = getattr(rec, name)
            assert type(value) is int, (name, value)
    rec = records[0]
    # shortage = 100 x 94,000 x (4.3 % + 2 %) - (1e6 - 600,000) = $192,200
    assert (rec.margin_requirement, rec.total_collateral) == (592_200 * QUOTE, 400_000 * QUOTE)
    # IF fee: min(0.75 %, 6.3 % - 0.5 % - 192,200e6 x 1e9 / 100e9 x 1e6 / 94,000e6 [2.04 %])
    # base = 192,200e6 x 1e9 / (94,000e6 x (63,000 - 5,000) / 1e6 - 94,000e6 x 7,500 / 1e6)
    #      = 1.922e20 / (5,452,000,000 - 705,000,000) = 40,488,729,723 -> step 1e5 up
    assert rec.base_asset_amount == -40_488_800_000
    assert type(sim.perp_position(key, "BTC-PERP").base_asset_amount) is int
    sim.account_bytes()  # every account still encodes: no float reached the User


def test_liquidation_of_a_high_leverage_user_uses_the_high_leverage_ratio_and_fee():
    """liquidate_perp passes `user.is_high_leverage_mode(Maintenance)` to get_margin_ratio
    and get_base_liquidator_fee; driftpy's calculate_market_margin_ratio ignores the mode
    (300 where the program says 66). SOL-PERP's high leverage ratios: 0.99 % / 0.66 %;
    liquidator fee min(0.75 %, 0.8 x 0.66 %) = 0.528 %."""
    sim = make_sim()
    key = sim.open_account()
    sim.user(key).margin_mode = MarginMode.HighLeverage()
    sim.deposit(key, "USDC", 100 * QUOTE, T0)
    sim.place_order(key, perp("long", 60 * BASE), T0 + 1)  # $6,000 at 60x; fee 2 x $2.10
    assert sim.token_amount(key, "USDC") == 100 * QUOTE - 4_200_000
    sim.set_oracle_price("SOL", 98_500_000, T0 + 2)
    # collateral 95.80 - 90 = $5.80 < 60 x 98.5 x 0.66 % = $39.006
    (rec,) = [r for r in sim.liquidate_if_needed(T0 + 2) if isinstance(r, LiquidationRecord)]
    # shortage = 5,910 x (0.66 % + 2 %) - 5.80 = 157.206 - 5.80 = $151.406
    assert (rec.margin_requirement, rec.total_collateral) == (157_206_000, 5_800_000)
    # IF fee = min(0.75 %, 2.66 % - 0.528 % - 151.406e6 x 1e9 / 60e9 x 1e6 / 98.5e6) -> 0
    # base = 151.406e15 / (98.5e6 x (26,600 - 5,280) / 1e6) = 151.406e15 / 2,100,020,000
    #      = 72,097,408,596 -> above the position: all 60 SOL
    assert rec.base_asset_amount == -60 * BASE
    assert rec.liquidator_fee == 5_910 * QUOTE * 5_280 // 1_000_000  # $31.2048
    assert rec.if_fee == 0


# ------------------------------------------------ liquidation_margin_freed (calculate_margin_freed)


def test_liquidation_margin_freed_grows_by_the_margin_actually_freed():
    """controller/liquidation.rs: after each partial liquidation `liquidation_margin_freed`
    grows by initial shortage - new shortage (`calculate_margin_freed`), not by the whole
    shortage. With liquidations paced (10 % at once, +100 % over 150 slots) the freed
    margin paces the next step (math/liquidation.rs calculate_max_pct_to_liquidate; a
    shortage under $50 would be liquidated at once, so this one is ten times larger)."""
    sim = make_sim()
    sim.state.initial_pct_to_liquidate = 1_000  # 10 %
    sim.state.liquidation_duration = 150  # slots
    key = sim.open_account()
    sim.deposit(key, "USDC", 1_000 * QUOTE, T0)
    sim.place_order(key, perp("long", 50 * BASE), T0 + 1)
    sim.set_oracle_price("SOL", 82 * PRICE, T0 + 3)
    before = _shortage(sim, key)
    assert before >= 50 * QUOTE  # paced: not the accelerated small-shortage case
    recs = [r for r in sim.liquidate_if_needed(T0 + 3) if isinstance(r, LiquidationRecord)]
    assert len(recs) == 1  # 10 % now; the rest waits for time to pass
    after = _shortage(sim, key)
    assert 0 < after < before  # still short: still being liquidated
    assert sim.user(key).status & 1
    assert sim.user(key).liquidation_margin_freed == before - after
    # 60 s later (150 slots): the rest may go
    later = [r for r in sim.liquidate_if_needed(T0 + 63) if isinstance(r, LiquidationRecord)]
    assert later
    assert not sim.user(key).status & 1


# ------------------------------------------------------- match rounding (math/matching.rs)


def test_a_taker_fill_quote_is_rounded_by_the_makers_direction():
    """math/matching.rs calculate_fill_for_matched_orders: one quote per match,
    `calculate_quote_asset_amount_for_maker_order` with the *maker's* direction. A taker
    buying 0.1001 SOL at $100.0001 matches a selling maker: ceil(10,010,010.01) =
    10,010,011, which the taker pays (rounding by the taker's own direction gave floor)."""
    sim = make_sim(sol_price=100_000_100)
    key = sim.open_account()
    sim.deposit(key, "USDC", 1_000 * QUOTE, T0)
    size = 100_100_000  # 0.1001 SOL (step 1e5, minimum 0.1)
    (buy,) = sim.place_order(key, spot("long", size), T0 + 1).fills
    assert buy.quote_asset_amount == 10_010_011
    (sell,) = sim.place_order(key, spot("short", size), T0 + 2).fills
    assert sell.quote_asset_amount == 10_010_010  # the maker buys: floor
    assert sim.token_amount(key, "SOL") == 0


def test_a_maker_fill_quote_is_rounded_by_its_own_direction():
    sim = make_sim(sol_price=100_000_200)
    key = sim.open_account()
    sim.deposit(key, "USDC", 1_000 * QUOTE, T0)
    bid = spot("long", 100_100_000, order_type=OrderType.LIMIT, price=100_000_100)
    assert sim.place_order(key, bid, T0 + 1).status == "open"
    (fill,) = sim.set_oracle_price("SOL", 100_000_000, T0 + 2)
    assert fill.is_maker and fill.quote_asset_amount == 10_010_010  # a buying maker: floor
