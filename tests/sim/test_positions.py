"""Perp positions by the program's rules, with fees: hand-computed expectations.

SOL-PERP, tier-0 taker fee 3.5 bps (today's documented mainnet tier 1: 350 / 1_000_000,
core/params/state.json), fills at the oracle price (AT_ORACLE model) unless a test says
otherwise; auto PnL settlement off so the perp fields show every step. Rules:
controller/position.rs::update_position_and_market,
math/orders.rs::calculate_quote_asset_amount_for_maker_order, math/fees.rs.
"""

from __future__ import annotations

from drift_engine.core.types import MarketType, OrderIntent, PositionDirection
from drift_engine.sim import DriftSimulator, PriceModel
from drift_engine.sim.pricing import DEFAULT_PRICE_MODEL

from .conftest import AT_ORACLE, BASE, PRICE, QUOTE, T0, make_sim, perp


def test_open_increase_reduce_flip_close_with_fees():
    sim = make_sim(auto_settle_pnl=False)
    k = sim.open_account()
    sim.deposit(k, "USDC", 10_000 * QUOTE, T0)

    # open: buy 10 SOL @ $100 -> quote 10 x 100 = 1_000_000_000; fee ceil(1e9 x 350/1e6) = 350_000
    r = sim.place_order(k, perp("long", 10 * BASE), T0 + 1)
    f = r.fills[0]
    assert (f.quote_asset_amount, f.fee, f.realized_pnl) == (1_000_000_000, 350_000, 0)
    p = sim.perp_position(k, "SOL-PERP")
    assert p.base_asset_amount == 10 * BASE
    assert p.quote_entry_amount == -1_000_000_000
    assert p.quote_asset_amount == -1_000_350_000  # -1e9 - fee
    assert p.quote_break_even_amount == -1_000_350_000  # the fee moves break-even too

    # increase: buy 5 @ $110 -> quote 550_000_000, fee 192_500
    sim.set_oracle_price("SOL-PERP", 110 * PRICE, T0 + 2)
    f = sim.place_order(k, perp("long", 5 * BASE), T0 + 3).fills[0]
    assert (f.quote_asset_amount, f.fee, f.realized_pnl) == (550_000_000, 192_500, 0)
    assert p.base_asset_amount == 15 * BASE
    assert p.quote_entry_amount == -1_550_000_000  # -1e9 - 5.5e8
    assert p.quote_asset_amount == -1_550_542_500  # -1_000_350_000 - 550_000_000 - 192_500
    assert p.quote_break_even_amount == -1_550_542_500

    # reduce: sell 6 @ $120 -> quote 720_000_000, fee 252_000
    # entry removed = trunc(-1_550_000_000 x 6 / 15) = -620_000_000 -> entry -930_000_000
    # break-even removed = trunc(-1_550_542_500 x 6 / 15) = -620_217_000 -> -930_325_500
    # pnl = entry_before - entry_after + quote = -1_550_000_000 + 930_000_000 + 720_000_000
    #     = 100_000_000  (= 6 x (120 - 103.333...))
    sim.set_oracle_price("SOL-PERP", 120 * PRICE, T0 + 4)
    f = sim.place_order(k, perp("short", 6 * BASE), T0 + 5).fills[0]
    assert (f.quote_asset_amount, f.fee, f.realized_pnl) == (720_000_000, 252_000, 100_000_000)
    assert p.base_asset_amount == 9 * BASE
    assert p.quote_entry_amount == -930_000_000
    assert p.quote_asset_amount == -830_794_500  # -1_550_542_500 + 720_000_000 - 252_000
    assert p.quote_break_even_amount == -930_577_500  # -930_325_500 - 252_000

    # flip: sell 14 @ $90 -> quote 1_260_000_000, fee 441_000
    # new entry = new break-even = q - trunc(q x 9/14) = 1_260_000_000 - 810_000_000 = 450_000_000
    # pnl = entry_before + (q - new) = -930_000_000 + 810_000_000 = -120_000_000 (9 x (90 - 103.33))
    sim.set_oracle_price("SOL-PERP", 90 * PRICE, T0 + 6)
    f = sim.place_order(k, perp("short", 14 * BASE), T0 + 7).fills[0]
    assert (f.quote_asset_amount, f.fee, f.realized_pnl) == (1_260_000_000, 441_000, -120_000_000)
    assert p.base_asset_amount == -5 * BASE
    assert p.quote_entry_amount == 450_000_000
    assert p.quote_asset_amount == 428_764_500  # -830_794_500 + 1_260_000_000 - 441_000
    assert p.quote_break_even_amount == 449_559_000  # 450_000_000 - 441_000

    # close: buy 5 @ $80 -> quote 400_000_000, fee 140_000
    # pnl = 450_000_000 - 0 - 400_000_000 = 50_000_000 (5 x (90 - 80))
    sim.set_oracle_price("SOL-PERP", 80 * PRICE, T0 + 8)
    f = sim.place_order(k, perp("long", 5 * BASE), T0 + 9).fills[0]
    assert (f.quote_asset_amount, f.fee, f.realized_pnl) == (400_000_000, 140_000, 50_000_000)
    assert p.base_asset_amount == 0
    assert p.quote_entry_amount == 0 and p.quote_break_even_amount == 0
    assert p.last_cumulative_funding_rate == 0
    # realized 100 - 120 + 50 = $30; fees .35 + .1925 + .252 + .441 + .14 = $1.3755
    assert p.quote_asset_amount == 28_624_500
    assert sim.user_stats().fees.total_fee_paid == 1_375_500

    # settle_pnl moves the $28.6245 into USDC and frees the position slot
    rec = sim.settle_pnl(k, "SOL-PERP", T0 + 10)
    assert rec.pnl == 28_624_500
    assert sim.token_amount(k, "USDC") == 10_028_624_500
    assert sim.perp_position(k, "SOL-PERP") is None
    assert sim.user(k).settled_perp_pnl == 28_624_500


def test_auto_settle_moves_losses_into_usdc_and_keeps_unrealized_gains():
    sim = make_sim()
    k = sim.open_account()
    sim.deposit(k, "USDC", 1_000 * QUOTE, T0)
    sim.place_order(k, perp("long", 1 * BASE), T0 + 1)
    # upnl = 100 - 100 - 0.035 fee = -0.035 -> settled at once
    assert sim.token_amount(k, "USDC") == 1_000 * QUOTE - 35_000
    sim.set_oracle_price("SOL", 150 * PRICE, T0 + 2)
    # +$50 unrealized is not claimable: only realized (quote - entry) settles
    # (the pnl pool is not modelled)
    assert sim.settle_pnl(k, "SOL-PERP", T0 + 3) is None
    f = sim.place_order(k, perp("short", 1 * BASE), T0 + 4).fills[0]
    assert f.realized_pnl == 50 * QUOTE and f.fee == 52_500
    assert sim.token_amount(k, "USDC") == 1_000 * QUOTE - 35_000 + 50 * QUOTE - 52_500


def test_default_price_model_calibration_10k_sol_perp():
    # $10k of SOL-PERP at $100 = 100 SOL: slippage = 1 bp half-spread + 0.5 bp x sqrt(1) = 150 ppm
    assert DEFAULT_PRICE_MODEL.slippage_ppm(10_000 * QUOTE) == 150
    sim = make_sim(default_price_model=DEFAULT_PRICE_MODEL)
    k = sim.open_account()
    sim.deposit(k, "USDC", 5_000 * QUOTE, T0)
    f = sim.place_order(k, perp("long", 100 * BASE), T0 + 1).fills[0]
    assert f.fill_price == 100_015_000  # 100 x (1 + 150e-6), on the $0.0001 tick
    assert f.quote_asset_amount == 10_001_500_000
    assert f.fee == 3_500_525  # ceil(10_001_500_000 x 350 / 1e6): 3.5 bps tier-1 taker fee
    cost_bps = (f.quote_asset_amount - 10_000 * QUOTE + f.fee) * 10_000 / (10_000 * QUOTE)
    assert 5 < cost_bps < 5.01  # 1.5 bps slippage + 3.5 bps fee
    # $1M: 1 bp + 0.5 bp x sqrt(100) = 6 bps of slippage
    assert DEFAULT_PRICE_MODEL.slippage_ppm(1_000_000 * QUOTE) == 600
    # sells fill below the oracle, rounded down to the tick
    assert PriceModel(100, 0).taker_price(100 * PRICE, False, 0, 100) == 99_990_000


def test_fee_tier_follows_30_day_volume():
    # math/fees.rs determine_perp_fee_tier: taker + maker 30-day volume; $2M reaches tier 2
    sim = make_sim()
    k = sim.open_account()
    sim.deposit(k, "USDC", 100_000 * QUOTE, T0)
    stats = sim.user_stats()
    stats.taker_volume30d = 1_999_999 * QUOTE
    stats.last_taker_volume30d_ts = T0
    f = sim.place_order(k, perp("long", 10 * BASE), T0).fills[0]
    assert f.fee == 350_000  # below $2M: 3.5 bps of $1,000
    # the fill itself pushed the rolling volume to $2,000,999: tier 2, 3 bps
    f = sim.place_order(k, perp("long", 10 * BASE), T0).fills[0]
    assert f.fee == 300_000
    stats.maker_volume30d = 200_000_000 * QUOTE  # maker volume counts too: VIP, 2 bps
    stats.last_maker_volume30d_ts = T0
    f = sim.place_order(k, perp("long", 10 * BASE), T0).fills[0]
    assert f.fee == 200_000


def test_staked_drift_discounts_the_taker_fee_rounding_up_at_30_percent():
    # 100,000 DRIFT staked: 30 % off the taker numerator, rounded up by the program:
    # ceil(350 x 70 / 100) = 245; 25 x 130 / 100 = 32 (floored) for the maker rebate
    sim = make_sim()
    k = sim.open_account()
    sim.deposit(k, "USDC", 100_000 * QUOTE, T0)
    sim.user_stats().if_staked_gov_token_amount = 100_000 * QUOTE
    f = sim.place_order(k, perp("long", 10 * BASE), T0 + 1).fills[0]
    assert f.fee == 1_000 * QUOTE * 245 // 1_000_000  # $0.245


def test_high_leverage_mode_pays_twice_the_tier_zero_fee():
    from driftpy.types import MarginMode

    sim = make_sim()
    k = sim.open_account()
    sim.deposit(k, "USDC", 100_000 * QUOTE, T0)
    sim.user_stats().taker_volume30d = 300_000_000 * QUOTE  # VIP volume is ignored in HLM
    sim.user_stats().last_taker_volume30d_ts = T0
    sim.user(k).margin_mode = MarginMode.HighLeverage()
    f = sim.place_order(k, perp("long", 10 * BASE), T0 + 1).fills[0]
    assert f.fee == 2 * 350_000  # tier 0 (3.5 bps), doubled


def test_market_fee_adjustment_scales_the_taker_fee():
    # BTC-PERP's mainnet snapshot (2025-07-14) has fee_adjustment -100: taker fees are 0
    sim = DriftSimulator({"BTC-PERP": 100_000 * PRICE}, ts=T0, default_price_model=AT_ORACLE)
    assert sim.perp_market("BTC-PERP").fee_adjustment == -100
    k = sim.open_account()
    sim.deposit(k, "USDC", 10_000 * QUOTE, T0)
    btc = OrderIntent(1, MarketType.PERP, PositionDirection.LONG, 10**7)  # 0.01 BTC
    (f,) = sim.place_order(k, btc, T0 + 1).fills
    assert f.quote_asset_amount == 1_000 * QUOTE and f.fee == 0
    sim.perp_market("BTC-PERP").fee_adjustment = 50  # +50 %: ceil(350_000 x 50 / 100) added
    (f,) = sim.place_order(k, btc, T0 + 2).fills
    assert f.fee == 350_000 + 175_000
