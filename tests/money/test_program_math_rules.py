"""The program's account-level numbers in core/program_math.py, worked out by hand:
user equity (math/margin.rs `calculate_user_equity`), token values
(math/spot_balance.rs `get_token_value`), the users' net pnl a pnl-pool imbalance is
measured by (math/amm.rs `calculate_net_user_pnl`) and the scaled initial asset weight
(state/spot_market.rs `get_scaled_initial_asset_weight`).

Every case has an inexact division (`discriminates`), a non-unit quote price and
positions on both sides, so a wrong rounding, sign, side or skipped position gives a
different integer.
"""

from __future__ import annotations

import pytest
from driftpy.types import MarketStatus, SpotBalanceType

from drift_engine.core import program_math as pm

from .conftest import PRICE, discriminates, funded

SOL_PRICE = 101_234_567
USDC_PRICE = 999_999  # a quote oracle slightly under $1: every perp pnl is rescaled


def _equity_world():
    """A user with: USDC deposit (slot 0), an empty spot slot, a SOL borrow (slot 2); an
    empty perp slot, a 2.5 SOL long and a 1 SOL short, each with unsettled funding."""
    sim, k = funded()
    user = sim.user(k)
    usdc, sol = sim.spot_markets[0], sim.spot_markets[1]
    usdc.cumulative_deposit_interest = 10_300_000_000  # 1.03 (1e10 precision)
    sol.cumulative_borrow_interest = 10_500_000_000  # 1.05
    user.spot_positions[0].scaled_balance = 5 * 10**12
    assert user.spot_positions[1].scaled_balance == 0 and user.spot_positions[1].open_orders == 0
    borrow = user.spot_positions[2]
    borrow.market_index = 1
    borrow.balance_type = SpotBalanceType.Borrow()
    borrow.scaled_balance = 3_000_000_001
    market = sim.perp_markets[0]
    market.amm.cumulative_funding_rate_long = 1_000 + 123_456_789
    market.amm.cumulative_funding_rate_short = -2_000 + 7_777_777
    empty, long, short = user.perp_positions[0], user.perp_positions[1], user.perp_positions[2]
    assert empty.base_asset_amount == 0 and empty.quote_asset_amount == 0
    long.market_index, long.base_asset_amount = 0, 2_500_000_000
    long.quote_asset_amount, long.last_cumulative_funding_rate = -250_000_003, 1_000
    short.market_index, short.base_asset_amount = 0, -1_000_000_000
    short.quote_asset_amount, short.last_cumulative_funding_rate = 101_000_000, -2_000
    snapshot = pm.MarketSnapshot(
        perp_markets=sim.perp_markets,
        spot_markets=sim.spot_markets,
        perp_prices={0: SOL_PRICE},
        spot_prices={0: USDC_PRICE, 1: SOL_PRICE},
    )
    return user, market, snapshot


# USDC: 5e12 x 1.03e10 / 1e13 = 5_150_000_000 tokens, x 0.999999 = 5_149_994_850 (exact)
USDC_VALUE = 5_149_994_850
# SOL borrow: ceil(3_000_000_001 x 1.05e10 / 1e10) = ceil(3_150_000_001.05) = 3_150_000_002
# lamports; value floors: floor(-3_150_000_002 x 101_234_567 / 1e9) = floor(-318_888_886.25)
SOL_VALUE = -318_888_887
# long 2.5 SOL: trunc(2.5e9 x 101_234_567 / 1e9) = 253_086_417 - 250_000_003 = 3_086_414;
# funding: the long pays floor(123_456_789 x 2.5e9 / 1e9) = 308_641_972 / 1e3 -> -308_641;
# (3_086_414 - 308_641) x 0.999999 = 2_777_770.22 -> 2_777_770
LONG_VALUE = 2_777_770
# short 1 SOL: -101_234_567 + 101_000_000 = -234_567; receives 7_777_777 / 1e3 -> +7_777;
# -226_790 x 0.999999 = -226_789.77 -> toward zero -226_789 (floor would be -226_790)
SHORT_VALUE = -226_789


def test_user_equity_by_hand_every_position_at_its_price_with_unsettled_funding():
    user, _, snapshot = _equity_world()
    assert discriminates(3_000_000_001 * 10_500_000_000, 10**10)
    assert discriminates(-226_790 * USDC_PRICE, 10**6)
    assert pm.user_equity(user, snapshot) == USDC_VALUE + SOL_VALUE + LONG_VALUE + SHORT_VALUE


def test_user_equity_of_a_settled_market_uses_the_expiry_price():
    user, market, snapshot = _equity_world()
    market.status = MarketStatus.Settlement()
    market.expiry_price = 95_000_001
    # long: trunc(2.5e9 x 95_000_001 / 1e9) = 237_500_002 - 250_000_003 = -12_500_001,
    # - 308_641 funding = -12_808_642; x 0.999999 = -12_808_629.19 -> -12_808_629
    # short: -95_000_001 + 101_000_000 = 5_999_999 + 7_777 = 6_007_776; x 0.999999 -> 6_007_769
    assert pm.user_equity(user, snapshot) == USDC_VALUE + SOL_VALUE - 12_808_629 + 6_007_769


def test_token_value_floors_negative_and_truncates_positive_in_integers():
    assert pm._token_value(0, 6, 2 * PRICE) == 0
    assert pm._token_value(1, 6, 2 * PRICE) == 2  # 1 x 2e6 / 1e6
    assert discriminates(3 * 1_500_001, 10**6)
    value = pm._token_value(-3, 6, 1_500_001)  # floor(-4.500003) = -5
    assert value == -5 and type(value) is int
    assert pm._token_value(3, 6, 1_500_001) == 4


def test_spot_size_in_amm_precision_from_more_and_fewer_decimals():
    size = pm.spot_size_in_amm_precision(25, 10)  # 25 / (1e10 / 1e9) = 2.5 -> 2
    assert size == 2 and type(size) is int
    assert pm.spot_size_in_amm_precision(25, 9) == 25
    assert pm.spot_size_in_amm_precision(25, 6) == 25_000


def _perp_market_with_users_pnl():
    sim, _ = funded()
    market = sim.perp_markets[0]
    amm = market.amm
    amm.historical_oracle_data.last_oracle_price = SOL_PRICE
    amm.base_asset_amount_with_amm = -3_000_000_000
    amm.base_asset_amount_with_unsettled_lp = 500_000_001
    amm.quote_asset_amount = 300_000_007
    amm.quote_asset_amount_with_unsettled_lp = -40_000_011
    amm.net_unsettled_funding_pnl = 1_234_567
    return market


def test_net_user_pnl_counts_lp_base_lp_quote_and_unsettled_funding():
    market = _perp_market_with_users_pnl()
    # base -3e9 + 500_000_001 = -2_499_999_999; x 101_234_567 / 1e9 = -253_086_417.4 ->
    # toward zero -253_086_417; cost basis 300_000_007 - 40_000_011 + 1_234_567 = 261_234_563
    assert discriminates(-2_499_999_999 * SOL_PRICE, 10**9)
    assert pm._net_user_pnl(market) == -253_086_417 + 261_234_563
    market.amm.historical_oracle_data.last_oracle_price = 1  # tiny but valid
    # trunc(-2_499_999_999 x 1 / 1e9) = -2 (toward zero)
    assert pm._net_user_pnl(market) == -2 + 261_234_563


def test_net_user_pnl_refuses_a_zero_oracle_price():
    market = _perp_market_with_users_pnl()
    market.amm.historical_oracle_data.last_oracle_price = 0
    with pytest.raises(pm.InvalidOracleError, match="perp market 0: oracle_price <= 0"):
        pm._net_user_pnl(market)


def _sol_spot_with_deposits(start: int):
    sim, _ = funded()
    sol = sim.spot_markets[1]
    sol.initial_asset_weight = 8_000
    sol.imf_factor = 0
    sol.cumulative_deposit_interest = 10_000_000_001  # a hair over 1.0
    sol.deposit_balance = 30_000 * 10**9  # 30_000 SOL scaled
    sol.scale_initial_asset_weight_start = start
    return sol


def test_scaled_initial_asset_weight_above_the_start_value():
    sol = _sol_spot_with_deposits(start=1_000_000 * 10**6)  # $1M
    # deposits: 3e13 x 10_000_000_001 / 1e10 = 30_000_000_003_000 lamports (30_000.000003 SOL)
    # value: 30_000_000_003_000 x 101_234_567 / 1e9 = 3_037_037_010_303 (floor of ...303.70)
    # weight: 8_000 x 1e12 / 3_037_037_010_303 = 2_634.15 -> 2_634
    assert discriminates(8_000 * 10**12, 3_037_037_010_303)
    weight = pm._scaled_initial_asset_weight(sol, SOL_PRICE)
    assert weight == 2_634 and type(weight) is int
    # through the asset weight (Initial): the scaled weight, with the oracle price
    assert pm.spot_asset_weight(sol, 10**9, SOL_PRICE, pm.MarginCategory.INITIAL) == 2_634
    # Maintenance ignores the scaling
    sol.maintenance_asset_weight = 9_000
    assert pm.spot_asset_weight(sol, 10**9, SOL_PRICE, pm.MarginCategory.MAINTENANCE) == 9_000


def test_scaled_initial_asset_weight_below_the_start_or_without_one():
    sol = _sol_spot_with_deposits(start=5_000_000 * 10**6)  # $5M > $3.04M of deposits
    assert pm._scaled_initial_asset_weight(sol, SOL_PRICE) == 8_000
    sol.scale_initial_asset_weight_start = 0  # no scaling
    assert pm._scaled_initial_asset_weight(sol, SOL_PRICE) == 8_000


# --------------------------------------------------------------------------- spot orders


def _sol_weights(sol):
    sol.initial_asset_weight, sol.maintenance_asset_weight = 8_000, 9_000
    sol.initial_liability_weight, sol.maintenance_liability_weight = 12_000, 11_000
    sol.imf_factor = 0
    return sol


def _spot_position(bids: int, asks: int):
    sim, k = funded()
    sp = sim.user(k).spot_positions[1]
    sp.market_index, sp.open_bids, sp.open_asks = 1, bids, asks
    return sp


PRICE_NOW = pm.StrictOraclePrice(SOL_PRICE)


def test_spot_fill_without_orders_is_the_position_at_the_scaled_weight():
    sol = _sol_weights(_sol_spot_with_deposits(start=1_000_000 * 10**6))  # weight 2_634
    sim = pm.spot_fill_simulation(
        _spot_position(0, 0), sol, PRICE_NOW, 2_000_000_001, pm.MarginCategory.INITIAL
    )
    # value floor(2_000_000_001 x 101_234_567 / 1e9) = 202_469_134;
    # weighted trunc(202_469_134 x 2_634 / 1e4) = 53_330_369
    assert sim == pm.OrderFillSimulation(2_000_000_001, 0, 202_469_134, 53_330_369, 53_330_369)


def test_spot_fill_with_bids_counts_the_bought_tokens_and_the_quote_paid():
    sol = _sol_weights(_sol_spot_with_deposits(start=1_000_000 * 10**6))  # weight 2_634
    sim = pm.spot_fill_simulation(
        _spot_position(10**9, 0), sol, PRICE_NOW, 2_000_000_001, pm.MarginCategory.INITIAL
    )
    # all bids fill: +1 SOL for -101_234_567 of quote (weight 1); 303_703_701 of SOL at
    # 0.2634 -> 79_995_554; contribution 79_995_554 - 101_234_567 = -21_239_013, riskier
    # than the no-fill side (53_330_369)
    assert sim == pm.OrderFillSimulation(
        3_000_000_001, -101_234_567, 303_703_701, 79_995_554, -21_239_013
    )


def test_spot_fill_with_asks_on_a_borrow_takes_the_riskier_ask_side():
    sol = _sol_weights(_sol_spot_with_deposits(start=0))
    sim = pm.spot_fill_simulation(
        _spot_position(0, -(10**9)), sol, PRICE_NOW, -2_000_000_001, pm.MarginCategory.INITIAL
    )
    # borrow value floor(-202_469_134.2) = -202_469_135; all asks fill: -1 SOL more, +101_234_567
    # of quote; -303_703_702 x 1.2 = -364_444_442; contribution -263_209_875 < -242_962_962
    assert sim == pm.OrderFillSimulation(
        -3_000_000_001, 101_234_567, -303_703_702, -364_444_442, -263_209_875
    )


def _fill(amount, value, weighted, orders_value=0):
    return pm.OrderFillSimulation(amount, orders_value, value, weighted, weighted + orders_value)


def test_custom_margin_ratio_raises_a_liability_weight_to_one_plus_the_ratio():
    sol = _sol_weights(_sol_spot_with_deposits(start=0))
    borrow = _fill(-3_000_000_001, -303_703_701, -364_444_441, orders_value=-7)
    # max(1.2, 1 + 0.5) = 1.5: trunc(-303_703_701 x 1.5) = -455_555_551 (floor: ...552)
    out = pm._apply_user_custom_margin_ratio(borrow, sol, SOL_PRICE, 5_000)
    assert out == _fill(-3_000_000_001, -303_703_701, -455_555_551, orders_value=-7)
    # max(1.2, 1 + 0.1) = 1.2: the market's weight stays
    out = pm._apply_user_custom_margin_ratio(borrow, sol, SOL_PRICE, 1_000)
    assert out == _fill(-3_000_000_001, -303_703_701, -364_444_441, orders_value=-7)


def test_custom_margin_ratio_lowers_an_asset_weight_to_one_minus_the_ratio():
    sol = _sol_weights(_sol_spot_with_deposits(start=0))
    deposit = _fill(2_000_000_001, 202_469_134, 161_975_307)
    # min(0.8, 1 - 0.3) = 0.7: trunc(202_469_134 x 0.7) = 141_728_393
    out = pm._apply_user_custom_margin_ratio(deposit, sol, SOL_PRICE, 3_000)
    assert out == _fill(2_000_000_001, 202_469_134, 141_728_393)
    # min(0.8, 1 - 0.1) = 0.8 stays; a ratio above 100 % leaves no asset weight
    assert pm._apply_user_custom_margin_ratio(deposit, sol, SOL_PRICE, 1_000) == deposit
    assert pm._apply_user_custom_margin_ratio(deposit, sol, SOL_PRICE, 12_000) == _fill(
        2_000_000_001, 202_469_134, 0
    )
    # a weighted value of one micro-USDC is still re-weighted: trunc(2 x 0.4) = 0
    tiny = _fill(20, 2, 1)
    assert pm._apply_user_custom_margin_ratio(tiny, sol, SOL_PRICE, 6_000) == _fill(20, 2, 0)


def test_no_custom_margin_ratio_or_nothing_weighted_changes_nothing():
    sol = _sol_weights(_sol_spot_with_deposits(start=0))
    deposit = _fill(2_000_000_001, 202_469_134, 161_975_307)
    assert pm._apply_user_custom_margin_ratio(deposit, sol, SOL_PRICE, 0) is deposit
    zero = _fill(0, 0, 0)
    assert pm._apply_user_custom_margin_ratio(zero, sol, SOL_PRICE, 5_000) is zero


def test_weighted_token_value_of_one_micro_usdc_and_of_nothing():
    sim, _ = funded()
    usdc = sim.spot_markets[0]
    assert usdc.initial_asset_weight == 10_000  # USDC counts at 100 %
    # 1 x 1e4 / 1e4 = 1: the smallest positive value keeps its weight
    assert pm._weighted_token_value(usdc, 1, 1, PRICE, pm.MarginCategory.INITIAL) == 1
    assert pm._weighted_token_value(usdc, 0, 0, PRICE, pm.MarginCategory.INITIAL) == 0
    # a one-micro borrow at the 100 % liability weight
    assert pm._weighted_token_value(usdc, -1, -1, PRICE, pm.MarginCategory.INITIAL) == -1


# ----------------------------------------------- session 4: rules the mutants showed unpinned


def test_scaled_initial_asset_weight_counts_deposits_at_the_deposit_interest():
    # the deposits the scaling divides by are the market's *deposit* balance at the
    # cumulative deposit interest (1.25), never at the borrow interest (2.0, set apart):
    # 3e13 x 1.25e10 / 1e10 = 37_500 SOL; x $101.234567 = 3_796_296_262_500;
    # 8_000 x 1e12 / 3_796_296_262_500 = 2_107.3 -> 2_107 (at the borrow interest:
    # 60_000 SOL, 6_074_074_020_000, 1_317)
    sol = _sol_spot_with_deposits(start=1_000_000 * 10**6)
    sol.cumulative_deposit_interest = 12_500_000_000
    sol.cumulative_borrow_interest = 20_000_000_000
    assert discriminates(8_000 * 10**12, 3_796_296_262_500)
    assert pm._scaled_initial_asset_weight(sol, SOL_PRICE) == 2_107


def test_spot_fill_with_one_base_unit_of_bids_is_not_the_no_order_shortcut():
    # one lamport of open bids: all bids fill at -floor(1 x 101_234_567 / 1e9) = -1 micro
    # of quote (a negative value floors: -0.10 -> -1); 2_000_000_011 lamports worth
    # 202_469_135 + 1 = 202_469_136, x 0.2634 -> 53_330_370 (53_330_370.42 truncated);
    # contribution 53_330_370 - 1 = 53_330_369 < 53_330_370 of the no-fill side:
    # value floor(2_000_000_010 x 101_234_567 / 1e9) = 202_469_135, x 0.2634 -> 53_330_370
    sol = _sol_weights(_sol_spot_with_deposits(start=1_000_000 * 10**6))  # weight 2_634
    sim = pm.spot_fill_simulation(
        _spot_position(1, 0), sol, PRICE_NOW, 2_000_000_010, pm.MarginCategory.INITIAL
    )
    assert sim == pm.OrderFillSimulation(2_000_000_011, -1, 202_469_136, 53_330_370, 53_330_369)


def test_custom_margin_ratio_keeps_a_lower_scaled_initial_asset_weight():
    # the asset weight a custom margin ratio caps is the market's *scaled* initial weight,
    # priced at the oracle: min(0.2634, 1 - 0.3) = 0.2634;
    # trunc(202_469_134 x 2_634 / 1e4) = 53_330_369 (the unscaled 0.8 would give 161_975_307)
    sol = _sol_weights(_sol_spot_with_deposits(start=1_000_000 * 10**6))
    deposit = _fill(2_000_000_001, 202_469_134, 161_975_307)
    out = pm._apply_user_custom_margin_ratio(deposit, sol, SOL_PRICE, 3_000)
    assert out == _fill(2_000_000_001, 202_469_134, 53_330_369)


def test_user_equity_a_one_unit_long_pays_the_longs_funding():
    # a long of one base unit takes the long side's cumulative rate: delta 5_000_000_000_123
    # -> the long pays floor(5_000_000_000_123 x 1 / 1e9) = 5_000 / 1e3 = 5 micro-USDC;
    # its value trunc(1 x 101_234_567 / 1e9) = 0; -5 x 0.999999 = -4.999995 -> -4
    # (on the short side's rate, -3e12, it would receive 3 -> 2)
    user, market, snapshot = _equity_world()
    market.amm.cumulative_funding_rate_long = 5_000_000_000_123
    market.amm.cumulative_funding_rate_short = -3_000_000_000_000
    long, short = user.perp_positions[1], user.perp_positions[2]
    long.base_asset_amount, long.quote_asset_amount, long.last_cumulative_funding_rate = 1, 0, 0
    short.base_asset_amount, short.quote_asset_amount = 0, 0  # flat and settled: skipped
    assert pm.user_equity(user, snapshot) == USDC_VALUE + SOL_VALUE - 4


# ------------------------------------------- calculate_margin (math/margin.rs) by hand


def _margin_world():
    """Real SOL-PERP / SOL / USDC parameters (tests/core/test_margin_support.py) at $150;
    interest indices 1.0, so tokens = scaled balances and every value is exact."""
    from tests.core.test_margin_support import markets, new_user

    perps, spots = markets(150 * PRICE)
    snapshot = pm.MarketSnapshot(
        perp_markets=perps,
        spot_markets=spots,
        perp_prices={0: 150 * PRICE},
        spot_prices={0: PRICE, 1: 150 * PRICE},
    )
    return perps, spots, snapshot, new_user()


def test_calculate_margin_counts_each_spot_liability_and_buffers_each_one():
    # slot 0: 1 SOL borrowed ($150 at the 1.1 maintenance liability weight: $165);
    # slot 1: $100 of USDC borrowed (weight 1.0: $100). Requirement 165 + 100 = $265;
    # liabilities 150 + 100 = $250; two spot liabilities, no perp one; no collateral.
    # A 1 % buffer adds 1 % of each liability: 165 + 1.5 + 100 + 1 = $267.50; a buffer of
    # one hundredth of a basis point (1) adds 150e6 // 1e4 + 100e6 // 1e4 = 25_000;
    # no buffer: the requirement itself.
    from tests.core.test_margin_support import SOL, USDC, borrow

    _, spots, snapshot, user = _margin_world()
    borrow(user, 0, spots[1], 1 * SOL)
    borrow(user, 1, spots[0], 100 * USDC)
    calc = pm.calculate_margin(user, snapshot, pm.MarginCategory.MAINTENANCE, margin_buffer=100)
    assert (calc.total_collateral, calc.margin_requirement) == (0, 265 * USDC)
    assert calc.margin_requirement_plus_buffer == 267_500_000
    assert (calc.total_spot_asset_value, calc.total_spot_liability_value) == (0, 250 * USDC)
    assert (calc.num_spot_liabilities, calc.num_perp_liabilities) == (2, 0)
    one = pm.calculate_margin(user, snapshot, pm.MarginCategory.MAINTENANCE, margin_buffer=1)
    assert one.margin_requirement_plus_buffer == 265 * USDC + 25_000
    none = pm.calculate_margin(user, snapshot, pm.MarginCategory.MAINTENANCE)
    assert none.margin_requirement_plus_buffer == none.margin_requirement == 265 * USDC
    # the same two borrows the other way round (USDC in slot 0, SOL in slot 1): same sums
    _, spots, snapshot, user = _margin_world()
    borrow(user, 0, spots[0], 100 * USDC)
    borrow(user, 1, spots[1], 1 * SOL)
    calc = pm.calculate_margin(user, snapshot, pm.MarginCategory.MAINTENANCE, margin_buffer=100)
    assert (calc.margin_requirement, calc.margin_requirement_plus_buffer) == (
        265 * USDC,
        267_500_000,
    )
    assert (calc.total_spot_liability_value, calc.num_spot_liabilities) == (250 * USDC, 2)


def test_calculate_margin_reads_every_slot_after_an_empty_one_and_adds_usdc_last():
    # slot 0 empty, slot 1: 2 SOL (x 0.9 maintenance = $270), slot 2: $300 of USDC:
    # collateral 270 + 300 = $570; unweighted assets 300 + 300 = $600
    from tests.core.test_margin_support import SOL, USDC, deposit

    _, spots, snapshot, user = _margin_world()
    deposit(user, 1, spots[1], 2 * SOL)
    deposit(user, 2, spots[0], 300 * USDC)
    calc = pm.calculate_margin(user, snapshot, pm.MarginCategory.MAINTENANCE)
    assert (calc.total_collateral, calc.total_spot_asset_value) == (570 * USDC, 600 * USDC)
    assert (calc.num_spot_liabilities, calc.num_perp_liabilities) == (0, 0)


def test_calculate_margin_applies_the_users_margin_ratio_to_initial_only():
    # max_margin_ratio 50 %: long 10 SOL-PERP at $150 = $1,500 needs 1,500 x 50 % = $750
    # initial (the market's 5 % would be $75); maintenance stays at the market's 3 %: $45
    from tests.core.test_margin_support import SOL, USDC, deposit, perp

    _, spots, snapshot, user = _margin_world()
    deposit(user, 0, spots[0], 1_000 * USDC)
    perp(user, 0, 0, 10 * SOL, 150 * PRICE)
    user.max_margin_ratio = 5_000
    initial = pm.calculate_margin(user, snapshot, pm.MarginCategory.INITIAL)
    maintenance = pm.calculate_margin(user, snapshot, pm.MarginCategory.MAINTENANCE)
    assert (initial.margin_requirement, maintenance.margin_requirement) == (750 * USDC, 45 * USDC)
    assert maintenance.num_perp_liabilities == 1


def test_calculate_margin_high_leverage_maintenance_mode_is_maintenance_only():
    # HighLeverageMaintenance: the high-leverage maintenance ratio 0.66 % for maintenance
    # (1,500 x 0.66 % = $9.90); initial at the ordinary 5 % ($75)
    from driftpy.types import MarginMode

    from tests.core.test_margin_support import SOL, USDC, deposit, perp

    _, spots, snapshot, user = _margin_world()
    deposit(user, 0, spots[0], 1_000 * USDC)
    perp(user, 0, 0, 10 * SOL, 150 * PRICE)
    user.margin_mode = MarginMode.HighLeverageMaintenance()
    maintenance = pm.calculate_margin(user, snapshot, pm.MarginCategory.MAINTENANCE)
    initial = pm.calculate_margin(user, snapshot, pm.MarginCategory.INITIAL)
    assert (maintenance.margin_requirement, initial.margin_requirement) == (9_900_000, 75 * USDC)


def test_calculate_margin_refuses_a_spot_oracle_of_zero_and_names_the_market():
    from tests.core.test_margin_support import SOL, deposit

    perps, spots, _, user = _margin_world()
    deposit(user, 1, spots[1], 2 * SOL)
    zero = pm.MarketSnapshot(
        perp_markets=perps,
        spot_markets=spots,
        perp_prices={0: 150 * PRICE},
        spot_prices={0: PRICE, 1: 0},
    )
    with pytest.raises(pm.InvalidOracleError, match=r"oracle price 0 <= 0 \(spot market 1\)"):
        pm.calculate_margin(user, zero, pm.MarginCategory.MAINTENANCE)


def test_calculate_margin_caps_spot_asset_weights_by_the_users_margin_ratio():
    # max_margin_ratio 50 %: 2 SOL ($300) count at min(0.8, 1 - 0.5) = 0.5 initially: $150.
    # With SOL deposits of 2,000,000 SOL ($300M) above the $180M scaling start, the scaled
    # initial weight is 8_000 x 180e12 / 300e12 = 4_800 (0.48 < 0.5): $144
    from tests.core.test_margin_support import SOL, deposit

    _, spots, snapshot, user = _margin_world()
    deposit(user, 0, spots[1], 2 * SOL)
    user.max_margin_ratio = 5_000
    calc = pm.calculate_margin(user, snapshot, pm.MarginCategory.INITIAL)
    assert calc.total_collateral == 150 * 10**6
    assert spots[1].scale_initial_asset_weight_start == 180_000_000 * 10**6
    spots[1].deposit_balance = 2_000_000 * SOL
    calc = pm.calculate_margin(user, snapshot, pm.MarginCategory.INITIAL)
    assert calc.total_collateral == 144 * 10**6


def test_calculate_margin_an_open_order_on_an_empty_spot_slot_is_a_liability():
    # a SOL slot with no balance but one open order (no bids or asks counted): $0.01 of
    # requirement per open order, one spot liability, nothing of value
    _, _, snapshot, user = _margin_world()
    sp = user.spot_positions[0]
    sp.market_index, sp.open_orders = 1, 1
    calc = pm.calculate_margin(user, snapshot, pm.MarginCategory.MAINTENANCE, margin_buffer=10_000)
    assert (calc.margin_requirement, calc.margin_requirement_plus_buffer) == (10_000, 10_000)
    assert (calc.num_spot_liabilities, calc.total_spot_asset_value) == (1, 0)
    # after a $100 USDC borrow in slot 0 it is the second spot liability
    from tests.core.test_margin_support import USDC, borrow

    _, spots, snapshot, user = _margin_world()
    borrow(user, 0, spots[0], 100 * USDC)
    sp = user.spot_positions[1]
    sp.market_index, sp.open_orders = 1, 1
    calc = pm.calculate_margin(user, snapshot, pm.MarginCategory.MAINTENANCE)
    assert (calc.num_spot_liabilities, calc.margin_requirement) == (2, 100 * USDC + 10_000)


def test_calculate_margin_a_spot_deposit_worth_one_micro_usdc_is_an_asset():
    # 7 lamports x $150 = 1.05 micro-USDC -> 1 (a deposit truncates): an asset of 1; at
    # 0.9 it weighs 0
    from tests.core.test_margin_support import deposit

    _, spots, snapshot, user = _margin_world()
    deposit(user, 0, spots[1], 7)
    calc = pm.calculate_margin(user, snapshot, pm.MarginCategory.MAINTENANCE)
    assert (calc.total_spot_asset_value, calc.total_collateral) == (1, 0)


def test_calculate_margin_a_spot_deposit_worth_nothing_is_not_a_liability():
    # 1 lamport x $150 = 0.15 micro-USDC -> 0: no asset, no liability, nothing counted
    from tests.core.test_margin_support import deposit

    _, spots, snapshot, user = _margin_world()
    deposit(user, 0, spots[1], 1)
    calc = pm.calculate_margin(user, snapshot, pm.MarginCategory.MAINTENANCE)
    assert (calc.total_spot_asset_value, calc.total_spot_liability_value) == (0, 0)
    assert (calc.num_spot_liabilities, calc.margin_requirement) == (0, 0)


def test_calculate_margin_counts_the_quote_an_ask_would_receive():
    # $1,000 USDC (slot 0); 2 SOL (slot 1) with an ask of 7 lamports resting. All asks
    # filled: 2e9 - 7 lamports worth 300e6 - 1 = 299_999_999, x 0.9 -> 269_999_999, plus
    # the quote received, trunc(7 x 150e6 / 1e9) = 1, at weight 1: 270_000_000, a tie with
    # the no-fill side, which the ask side wins. Collateral 1_000e6 + 269_999_999 + 1;
    # assets 1_000e6 + 299_999_999 + 1; requirement $0.01 for the open order
    from tests.core.test_margin_support import SOL, USDC, deposit

    _, spots, snapshot, user = _margin_world()
    deposit(user, 0, spots[0], 1_000 * USDC)
    deposit(user, 1, spots[1], 2 * SOL)
    sp = user.spot_positions[1]
    sp.open_asks, sp.open_orders = -7, 1
    calc = pm.calculate_margin(user, snapshot, pm.MarginCategory.MAINTENANCE)
    assert calc.total_collateral == 1_000 * USDC + 270_000_000
    assert calc.total_spot_asset_value == 1_000 * USDC + 300_000_000
    assert calc.margin_requirement == 10_000


def test_calculate_margin_adds_up_every_perp_and_counts_perp_liabilities():
    # SOL-PERP long 10 at $150 (oracle $150): liability $1,500, pnl 0, 3 %: $45;
    # BTC-PERP short 0.1 entered at $60,000, oracle $59,000: liability $5,900, pnl +$100,
    # 3 % (imf: 240 + isqrt(1e9 + 1) x 1900 / 1e7 = 246 < 300): $177;
    # ETH-PERP flat with an unsettled loss of $5 (quote < 0): a liability, pnl -$5;
    # DOGE-PERP flat with an unsettled gain of $5: not a liability, pnl +$5.
    # Requirement 45 + 177 = $222; liabilities $7,400; pnl 0 + 100 - 5 + 5 = $100; 3 counted
    from drift_engine.core.accounts import default_markets
    from tests.core.test_margin_support import _CATALOG, SOL, USDC, deposit, new_user, perp

    prices = {"SOL-PERP": 150, "SOL": 150, "BTC-PERP": 59_000, "ETH-PERP": 3_000, "DOGE-PERP": 1}
    perps, spots = default_markets(_CATALOG, {k: v * PRICE for k, v in prices.items()})
    eth, doge = (
        s.market_index for s in _CATALOG.perp_markets() if s.symbol in ("ETH-PERP", "DOGE-PERP")
    )
    snapshot = pm.MarketSnapshot(
        perp_markets=perps,
        spot_markets=spots,
        perp_prices={0: 150 * PRICE, 1: 59_000 * PRICE, eth: 3_000 * PRICE, doge: PRICE},
        spot_prices={0: PRICE, 1: 150 * PRICE},
    )
    user = new_user()
    deposit(user, 0, spots[0], 1_000 * USDC)
    perp(user, 0, 0, 10 * SOL, 150 * PRICE)
    perp(user, 1, 1, -SOL // 10, 60_000 * PRICE)
    for slot, index, quote in ((2, eth, -5 * USDC), (3, doge, 5 * USDC)):
        pp = user.perp_positions[slot]
        pp.market_index, pp.quote_asset_amount = index, quote
    calc = pm.calculate_margin(user, snapshot, pm.MarginCategory.MAINTENANCE)
    assert calc.margin_requirement == 222 * USDC
    assert calc.total_perp_liability_value == 7_400 * USDC
    assert calc.total_perp_pnl == 100 * USDC
    assert calc.num_perp_liabilities == 3


# ------------------------------------------------------- weights and ratios at their edges


def test_size_discount_asset_weight_by_hand():
    # math/margin.rs calculate_size_discount_asset_weight:
    # min(w, 1.1e6 x 1e4 // (1e6 + isqrt(size x 10 + 1) x imf // 100_000))
    # 4.4e15 (AMM precision) at imf 1250: isqrt(4.4e16 + 1) = 209_761_769;
    # x 1250 // 1e5 = 2_622_022; 1.1e10 // 3_622_022 = 3_036 (3_036.9)
    weight = pm.size_discount_asset_weight(4_400_000_000_000_000, 1_250, 8_000)
    assert weight == 3_036 and type(weight) is int
    # imf 1 binds only at absurd sizes: 2e20 -> isqrt(2e21 + 1) = 44_721_359_549 // 1e5 =
    # 447_213; 1.1e10 // 1_447_213 = 7_600 (7_600.7)
    assert pm.size_discount_asset_weight(2 * 10**20, 1, 8_000) == 7_600
    # size 0: isqrt(1) = 1, no discount; imf 0: none either
    assert pm.size_discount_asset_weight(0, 1_250, 8_000) == 8_000
    assert pm.size_discount_asset_weight(4_400_000_000_000_000, 0, 8_000) == 8_000


def test_spot_fill_simulation_the_ask_side_wins_a_tie():
    # state/user.rs OrderFillSimulation::riskier_side(ask, bid): on equal contributions the
    # ask side is taken. 2 SOL at 0.9 with an ask of 7 lamports: asks fill -> 299_999_999
    # of SOL x 0.9 = 269_999_999 + 1 of quote = 270_000_000; no fill: 270_000_000
    from tests.core.test_margin_support import SOL

    _, spots, _, user = _margin_world()
    sp = user.spot_positions[1]
    sp.market_index, sp.open_asks = 1, -7
    sim = pm.spot_fill_simulation(
        sp, spots[1], pm.StrictOraclePrice(150 * PRICE), 2 * SOL, pm.MarginCategory.MAINTENANCE
    )
    assert sim == pm.OrderFillSimulation(2 * SOL - 7, 1, 299_999_999, 269_999_999, 270_000_000)


def test_perp_margin_ratio_of_a_settling_market_is_zero_and_high_leverage_needs_both_ratios():
    from driftpy.types import MarketStatus

    from tests.core.test_margin_support import SOL

    perps, _, _, _ = _margin_world()
    market = perps[0]
    size = 10 * SOL
    # default: the ordinary ratios (3 % maintenance), high leverage only when asked for
    assert pm.perp_margin_ratio(market, size, pm.MarginCategory.MAINTENANCE) == 300
    # high-leverage ratios of 1 (0.01 %) are ratios: maintenance max(1, 1 + isqrt(1e11 + 1)
    # x 50 // 1e7) = max(1, 1 + 1) = 2
    market.high_leverage_margin_ratio_initial = 1
    market.high_leverage_margin_ratio_maintenance = 1
    assert pm.perp_margin_ratio(market, size, pm.MarginCategory.MAINTENANCE, True) == 2
    # a market without them (0) keeps the ordinary ratio for a high-leverage user
    market.high_leverage_margin_ratio_initial = 0
    assert pm.perp_margin_ratio(market, size, pm.MarginCategory.MAINTENANCE, True) == 300
    market.high_leverage_margin_ratio_initial = 1
    market.high_leverage_margin_ratio_maintenance = 0
    assert pm.perp_margin_ratio(market, size, pm.MarginCategory.MAINTENANCE, True) == 300
    # state/perp_market.rs get_margin_ratio: a market in Settlement requires nothing
    market.status = MarketStatus.Settlement()
    assert pm.perp_margin_ratio(market, size, pm.MarginCategory.INITIAL) == 0


# ------------------------------------ calculate_margin: whole vectors at a non-round price

P_SOL = 151_234_567  # $151.234567: every value below is an inexact division


def _vector_world(usdc_twap: int = PRICE):
    """Real SOL-PERP / SOL / USDC parameters at P_SOL, interest indices 1.0 (tokens =
    scaled balances); the USDC market's stored 5-minute TWAP set to `usdc_twap`."""
    from tests.core.test_margin_support import markets, new_user

    perps, spots = markets(P_SOL)
    spots[0].historical_oracle_data.last_oracle_price_twap5min = usdc_twap
    snapshot = pm.MarketSnapshot(
        perp_markets=perps,
        spot_markets=spots,
        perp_prices={0: P_SOL},
        spot_prices={0: PRICE, 1: P_SOL},
    )
    return perps, spots, snapshot, new_user()


def test_calculate_margin_vector_imf_discounted_sol_with_a_bid_and_a_perp_long():
    # math/margin.rs by hand. USDC 1_000_000_007 (slot 0). SOL deposit D = 123_456.789 SOL
    # (slot 1) with a bid of B = 2_500.5 SOL resting (one open order). SOL-PERP long 10.5
    # SOL entered at $140.5 in perp slot 1, after an empty slot 0.
    from tests.core.test_margin_support import SOL, deposit, perp

    _, spots, snapshot, user = _vector_world()
    d, b = 123_456_789 * SOL // 1_000, 2_500_500_000_000
    deposit(user, 0, spots[0], 1_000_000_007)
    deposit(user, 1, spots[1], d)
    sp = user.spot_positions[1]
    sp.open_bids, sp.open_orders = b, 1
    perp(user, 1, 0, 10_500_000_000, 140_500_000)  # quote -1_475_250_000
    # SOL value: D x P / 1e9 = 18_670_934_027_625.363 -> 18_670_934_027_625 (a deposit
    # truncates). Bids fill: the quote paid is get_token_value(-B) = floor(-B x P / 1e9) =
    # floor(-378_162_034_783.5) = -378_162_034_784 (a negative value floors); the SOL after
    # the fill is worth 18_670_934_027_625 + 378_162_034_784 = 19_049_096_062_409.
    assert discriminates(d * P_SOL, 10**9) and discriminates(b * P_SOL, 10**9)
    value_after = 19_049_096_062_409
    # IMF discount (imf 1250) of D + B = 125_957_289e9 base: isqrt(1_259_572_890e6 + 1) =
    # 35_490_461; x 1250 // 1e5 = 443_630; 1.1e10 // 1_443_630 = 7_619 (7_619.68) < 0.8
    # and < 0.9: both categories weigh 0.7619. Of D alone: isqrt(1_234_567_890e6 + 1) =
    # 35_136_418 -> 439_205 -> 7_643 (7_643.1).
    # bids side: floor(19_049_096_062_409 x 0.7619) = 14_513_506_289_949 (.4171), minus the
    # quote 378_162_034_784: 14_135_344_255_165; no-fill side: floor(18_670_934_027_625 x
    # 0.7643) = 14_270_194_877_313 (.7875). The bid side is riskier: it is taken.
    assert discriminates(value_after * 7_619, 10**4)
    # perp: value floor(10.5e9 x P / 1e9) = 1_587_962_953 (.5), pnl 1_587_962_953 -
    # 1_475_250_000 = 112_712_953; ratios 5 % initial, 3 % maintenance (imf 50 at 10.5
    # SOL: 400 + isqrt(1.05e11 + 1) x 50 // 1e7 = 401 < 500; 240 + 1 < 300):
    # 1_587_962_953 x 500 // 1e4 = 79_398_147 (.65); x 300 // 1e4 = 47_638_888 (.59).
    # Positive pnl weighs 0 initially (mainnet), 1.0 in maintenance.
    usdc, sol_weighted, quote_paid = 1_000_000_007, 14_513_506_289_949, 378_162_034_784
    maintenance = pm.calculate_margin(
        user, snapshot, pm.MarginCategory.MAINTENANCE, margin_buffer=200
    )
    assert maintenance.category is pm.MarginCategory.MAINTENANCE
    assert maintenance.total_collateral == usdc + sol_weighted + 112_712_953
    # requirement: $0.01 for the open order + the bid's quote at weight 1 + the perp's
    assert maintenance.margin_requirement == 10_000 + quote_paid + 47_638_888
    # a 2 % buffer on each liability: the quote 7_563_240_695 (.68), the perp 31_759_259
    # (.06); none on the open order's cent
    assert maintenance.margin_requirement_plus_buffer == (
        10_000 + quote_paid + 7_563_240_695 + 47_638_888 + 31_759_259
    )
    assert maintenance.total_spot_asset_value == usdc + value_after
    assert maintenance.total_spot_liability_value == quote_paid
    assert maintenance.total_perp_liability_value == 1_587_962_953
    assert maintenance.total_perp_pnl == 112_712_953
    assert (maintenance.num_spot_liabilities, maintenance.num_perp_liabilities) == (0, 1)
    initial = pm.calculate_margin(user, snapshot, pm.MarginCategory.INITIAL)
    assert initial.category is pm.MarginCategory.INITIAL
    assert initial.total_collateral == usdc + sol_weighted
    assert (
        initial.margin_requirement
        == initial.margin_requirement_plus_buffer
        == (10_000 + quote_paid + 79_398_147)
    )


def test_calculate_margin_strict_values_perp_pnl_and_liability_at_the_usdc_twap():
    # state/oracle.rs StrictOraclePrice: with `strict`, the quote (USDC) price of a perp is
    # max(oracle, 5-min TWAP) for a loss and the liability, min(...) for a gain.
    from tests.core.test_margin_support import SOL, USDC, deposit, perp

    # USDC TWAP $1.000337 (above the $1 oracle). Short 20,000 SOL entered at $140:
    # quote 2_800_000_000_000; value trunc(-20_000e9 x P / 1e9) = -3_024_691_340_000;
    # pnl -224_691_340_000. Liability 3_024_691_340_000 x 1.000337 -> 3_025_710_660_981
    # (.58); pnl trunc(-224_691_340_000 x 1.000337) = -224_767_060_981 (.42).
    # Ratios (imf 50 at 20,000 SOL: isqrt(2e14 + 1) = 14_142_135, x 50 // 1e7 = 70):
    # maintenance max(300, 240 + 70) = 310: 93_797_030_490 (.411); initial max(500,
    # 400 + 70) = 500: 151_285_533_049 (.05). USDC $300,000 at min(1, 1.000337) = $1.
    _, spots, snapshot, user = _vector_world(usdc_twap=1_000_337)
    deposit(user, 0, spots[0], 300_000 * USDC)
    perp(user, 0, 0, -20_000 * SOL, 140 * PRICE)
    assert discriminates(3_024_691_340_000 * 1_000_337, 10**6)
    assert discriminates(224_691_340_000 * 1_000_337, 10**6)
    m = pm.calculate_margin(user, snapshot, pm.MarginCategory.MAINTENANCE, strict=True)
    assert m.total_collateral == 300_000 * USDC - 224_767_060_981
    assert m.margin_requirement == 93_797_030_490
    assert m.total_perp_liability_value == 3_025_710_660_981
    assert m.total_perp_pnl == -224_767_060_981
    i = pm.calculate_margin(user, snapshot, pm.MarginCategory.INITIAL, strict=True)
    assert (i.total_collateral, i.margin_requirement) == (m.total_collateral, 151_285_533_049)
    # not strict: the oracle's $1 (3_024_691_340_000 x 310 // 1e4 = 93_765_431_540)
    loose = pm.calculate_margin(user, snapshot, pm.MarginCategory.MAINTENANCE)
    assert (loose.total_collateral, loose.margin_requirement) == (
        300_000 * USDC - 224_691_340_000,
        93_765_431_540,
    )

    # USDC TWAP $0.9997 (below). Long 10.5 SOL from $140.5: pnl +112_712_953 counts at
    # trunc(x 0.9997) = 112_679_139 (.1141); the liability at max(1, 0.9997) = $1:
    # 1_587_962_953 x 3 % = 47_638_888. USDC 1_000_000_007 at 0.9997 = 999_700_006 (.9979).
    _, spots, snapshot, user = _vector_world(usdc_twap=999_700)
    deposit(user, 0, spots[0], 1_000_000_007)
    perp(user, 0, 0, 10_500_000_000, 140_500_000)
    m = pm.calculate_margin(user, snapshot, pm.MarginCategory.MAINTENANCE, strict=True)
    assert m.total_collateral == 999_700_006 + 112_679_139
    assert (m.margin_requirement, m.total_perp_liability_value) == (47_638_888, 1_587_962_953)
    assert m.total_perp_pnl == 112_679_139


def test_calculate_margin_a_positions_own_max_margin_ratio_is_initial_only():
    # state/user.rs PerpPosition.max_margin_ratio (per-market leverage): in the Initial
    # category the ratio is max(user's, position's, market's); maintenance ignores both.
    # Long 10.5 SOL at P: liability 1_587_962_953. Position 20 %, user 10 %: initial
    # 1_587_962_953 x 2_000 // 1e4 = 317_592_590 (.6); maintenance 3 %: 47_638_888.
    from tests.core.test_margin_support import USDC, deposit, perp

    _, spots, snapshot, user = _vector_world()
    deposit(user, 0, spots[0], 1_000 * USDC)
    perp(user, 0, 0, 10_500_000_000, 140_500_000)
    user.max_margin_ratio = 1_000
    user.perp_positions[0].max_margin_ratio = 2_000
    initial = pm.calculate_margin(user, snapshot, pm.MarginCategory.INITIAL)
    maintenance = pm.calculate_margin(user, snapshot, pm.MarginCategory.MAINTENANCE)
    assert (initial.margin_requirement, maintenance.margin_requirement) == (
        317_592_590,
        47_638_888,
    )
    # the position's ratio below the user's: the user's 10 % -> 158_796_295 (.3)
    user.perp_positions[0].max_margin_ratio = 500
    initial = pm.calculate_margin(user, snapshot, pm.MarginCategory.INITIAL)
    assert initial.margin_requirement == 158_796_295


def test_calculate_margin_flat_perp_slots_liability_or_not():
    # math/margin.rs: a perp position is a liability when base != 0, quote < 0 or it has
    # an open order (PerpPosition::has_open_order: open_orders, bids or asks). A trigger
    # order not yet triggered counts in open_orders only (bids/asks move when it
    # triggers). Each case in perp slot 1, after an empty slot 0.
    _, _, snapshot, user = _vector_world()
    pp = user.perp_positions[1]
    pp.market_index, pp.open_orders = 0, 1
    calc = pm.calculate_margin(user, snapshot, pm.MarginCategory.MAINTENANCE)
    assert (calc.num_perp_liabilities, calc.margin_requirement) == (1, 10_000)
    # flat with an unsettled gain of 5_000_001 and no order: pnl, collateral in
    # maintenance, not a liability
    pp.open_orders, pp.quote_asset_amount = 0, 5_000_001
    calc = pm.calculate_margin(user, snapshot, pm.MarginCategory.MAINTENANCE)
    assert (calc.num_perp_liabilities, calc.margin_requirement) == (0, 0)
    assert (calc.total_collateral, calc.total_perp_pnl) == (5_000_001, 5_000_001)


def test_calculate_margin_a_bids_quote_adds_to_the_spot_liabilities_before_it():
    # $100 USDC borrowed (slot 0), then 2 SOL (slot 1) with a bid of 7 lamports resting,
    # SOL at $150. Bids fill: quote paid floor(-7 x 150e6 / 1e9) = floor(-1.05) = -2; SOL
    # after worth 300e6 + 2, x 0.9 = 270_000_001 (.8), contribution 270_000_001 - 2 =
    # 269_999_999 < 270_000_000 (no fill): the bid side. Liabilities: 100e6 + 2;
    # requirement: 100e6 (USDC at weight 1) + $0.01 for the order + the quote's 2
    from tests.core.test_margin_support import SOL, USDC, borrow, deposit

    _, spots, snapshot, user = _margin_world()
    borrow(user, 0, spots[0], 100 * USDC)
    deposit(user, 1, spots[1], 2 * SOL)
    sp = user.spot_positions[1]
    sp.open_bids, sp.open_orders = 7, 1
    calc = pm.calculate_margin(user, snapshot, pm.MarginCategory.MAINTENANCE)
    assert calc.total_spot_liability_value == 100 * USDC + 2
    assert calc.margin_requirement == 100 * USDC + 10_000 + 2
    assert (calc.total_collateral, calc.total_spot_asset_value) == (270_000_001, 300_000_002)
    assert calc.num_spot_liabilities == 1


def test_unrealized_pnl_asset_weight_pnl_pool_imbalance_by_hand():
    # state/perp_market.rs get_unrealized_asset_weight: in the Initial category a weight
    # > 0 is scaled by max_imbalance / net user pnl (math/amm.rs calculate_net_user_pnl)
    # when the users' net pnl exceeds max_imbalance; a pnl <= 0 weighs 1.0; maintenance
    # takes the market's maintenance weight and never reads the pnl pool.
    from tests.core.test_margin_support import markets

    perps, _ = markets(P_SOL)
    market = perps[0]
    initial, maintenance = pm.MarginCategory.INITIAL, pm.MarginCategory.MAINTENANCE
    market.unrealized_pnl_initial_asset_weight = 8_000  # mainnet: 0 (a market that counts)
    market.unrealized_pnl_max_imbalance = 1_000_000
    market.amm.quote_asset_amount = 3_000_007  # users net up 3_000_007 (no base)
    assert pm._net_user_pnl(market) == 3_000_007
    # 8_000 x 1_000_000 // 3_000_007 = 2_666 (2_666.66); pnl imf factor 0: no discount
    assert discriminates(8_000 * 1_000_000, 3_000_007)
    assert pm.unrealized_pnl_asset_weight(market, 50_000_001, initial) == 2_666
    assert pm.unrealized_pnl_asset_weight(market, 1, initial) == 2_666
    assert pm.unrealized_pnl_asset_weight(market, 0, initial) == 10_000
    assert pm.unrealized_pnl_asset_weight(market, -1, initial) == 10_000
    assert pm.unrealized_pnl_asset_weight(market, 50_000_001, maintenance) == 10_000
    # net pnl at the limit: not above it, the full weight
    market.amm.quote_asset_amount = 1_000_000
    assert pm.unrealized_pnl_asset_weight(market, 50_000_001, initial) == 8_000
    # a limit of 1 (> 0) scales: 8_000 x 1 // 3 = 2_666; a limit of 0 means no limit
    market.amm.quote_asset_amount = 3
    market.unrealized_pnl_max_imbalance = 1
    assert pm.unrealized_pnl_asset_weight(market, 50_000_001, initial) == 2_666
    market.unrealized_pnl_max_imbalance = 0
    assert pm.unrealized_pnl_asset_weight(market, 50_000_001, initial) == 8_000
    # a weight of 1 is a weight: scaled to 1 x 1 // 3 = 0 under a limit of 1; kept
    # without one
    market.unrealized_pnl_initial_asset_weight = 1
    assert pm.unrealized_pnl_asset_weight(market, 50_000_001, initial) == 1
    market.unrealized_pnl_max_imbalance = 1
    assert pm.unrealized_pnl_asset_weight(market, 50_000_001, initial) == 0
    # the pool is read only for an initial weight > 0: with a weight of 0, or in
    # maintenance, a market whose last oracle price is 0 is no error
    market.amm.historical_oracle_data.last_oracle_price = 0
    assert pm.unrealized_pnl_asset_weight(market, 50_000_001, maintenance) == 10_000
    market.unrealized_pnl_initial_asset_weight = 0
    assert pm.unrealized_pnl_asset_weight(market, 50_000_001, initial) == 0


def test_calculate_margin_initial_collateral_of_a_gain_weighted_scaled_and_capped():
    # math/margin.rs calculate_perp_position_value_and_pnl: weighted pnl = trunc(pnl x
    # weight), then min(., $100) in the Initial category. Long 10.5 SOL from $140.5 at P:
    # pnl 112_712_953. USDC 1_000_000_007.
    from tests.core.test_margin_support import deposit, perp

    perps, spots, snapshot, user = _vector_world()
    market = perps[0]
    deposit(user, 0, spots[0], 1_000_000_007)
    perp(user, 0, 0, 10_500_000_000, 140_500_000)
    market.unrealized_pnl_max_imbalance = 1_000_000

    def initial_collateral() -> int:
        calc = pm.calculate_margin(user, snapshot, pm.MarginCategory.INITIAL)
        return calc.total_collateral - 1_000_000_007

    assert initial_collateral() == 0  # mainnet's initial weight 0
    market.unrealized_pnl_initial_asset_weight = 8_000
    # trunc(112_712_953 x 0.8) = 90_170_362 (.4): under the cap
    assert initial_collateral() == 90_170_362
    market.amm.quote_asset_amount = 3_000_007  # the pool over its limit: weight 2_666
    # trunc(112_712_953 x 0.2666) = 30_049_273 (.2698)
    assert initial_collateral() == 30_049_273
    market.amm.quote_asset_amount = 0
    market.unrealized_pnl_initial_asset_weight = 10_000
    assert initial_collateral() == 100_000_000  # 112_712_953 capped at $100
    maintenance = pm.calculate_margin(user, snapshot, pm.MarginCategory.MAINTENANCE)
    assert maintenance.total_collateral - 1_000_000_007 == 112_712_953  # no cap there


def test_size_premium_liability_weight_by_hand():
    # math/margin.rs calculate_size_premium_liability_weight: max(w, w - w // 5 +
    # isqrt(size x 10 + 1) x imf // (1e5 x 1e6 // precision)); the high-leverage variant
    # (state/perp_market.rs) is not bounded below by w.
    # SOL spot's initial liability weight 1.2 at 123_456.789 SOL (AMM precision), imf
    # 1250: isqrt(1_234_567_890e6 + 1) = 35_136_418; x 1250 = 43_920_522_500 // 1e7 = 4_392
    # (.05); 12_000 - 2_400 + 4_392 = 13_992
    from tests.core.test_margin_support import SOL

    size = 123_456_789_000_000
    assert discriminates(43_920_522_500, 10**7)
    weight = pm.size_premium_liability_weight(size, 1_250, 12_000, 10**4)
    assert weight == 13_992 and type(weight) is int
    # 1 SOL: isqrt(1e10 + 1) = 100_000 x 1250 // 1e7 = 12: 9_600 + 12 = 9_612 < 12_000
    assert pm.size_premium_liability_weight(SOL, 1_250, 12_000, 10**4) == 12_000
    assert pm.size_premium_liability_weight(SOL, 1_250, 12_000, 10**4, bounded=False) == 9_612
    # imf 0: the weight itself, bounded or not; imf 1 at a huge size still adds:
    # isqrt(1e22 + 1) = 1e11 x 1 // 1e7 = 10_000 (exact: a divisor one part in 1e5 larger
    # would give 9_999): 400 + 10_000 = 10_400
    assert pm.size_premium_liability_weight(SOL, 0, 500, 10**4, bounded=False) == 500
    assert pm.size_premium_liability_weight(10**21, 1, 500, 10**4) == 10_400


def test_perp_base_value_and_pnl_of_one_base_unit_and_of_a_flat_position():
    # math/position.rs: 1 base unit (1e-9 BTC) at $59,000: value trunc(59e9 / 1e9) = 59,
    # pnl 59 + quote; a flat position is worth 0 and its pnl is its quote
    from tests.core.test_margin_support import new_user

    pp = new_user().perp_positions[0]  # an IDL PerpPosition
    pp.base_asset_amount, pp.quote_asset_amount = 1, -60
    assert pm.perp_base_value_and_pnl(pp, 59_000 * PRICE) == (59, -1)
    pp.base_asset_amount = 0
    assert pm.perp_base_value_and_pnl(pp, 59_000 * PRICE) == (0, -60)
