"""Where our margin math and driftpy 0.8.89's agree, and where we follow the program instead.

Each deviation test builds a case where it matters and shows driftpy's number next to
ours (core/program_math.py, core/margin.py name the Rust / SDK source of each rule).
driftpy's own numbers come from its real `DriftUser` over the same accounts (OfflineDrift)
or from the driftpy function the deviation replaces.
"""

from __future__ import annotations

import pytest
from driftpy.math.margin import (
    MarginCategory,
    calculate_asset_weight,
    calculate_size_premium_liability_weight,
    calculate_unrealized_asset_weight,
)
from driftpy.math.perp_position import calculate_position_funding_pnl
from driftpy.math.spot_market import get_token_amount
from driftpy.types import MarginMode, SpotBalanceType

from drift_engine.core import program_math as pm
from drift_engine.core.accounts import oracle_price_data
from drift_engine.core.margin import DriftMarginMonitor, health
from drift_engine.core.types import MarketType, RiskLevel
from tests.core.test_margin_support import (
    PRICE,
    SOL,
    SOL_PERP,
    SOL_SPOT,
    USDC,
    borrow,
    deposit,
    markets,
    new_user,
    offline,
    perp,
)

INITIAL, MAINTENANCE = MarginCategory.INITIAL, MarginCategory.MAINTENANCE


def _both(user, perps, spots):
    """(driftpy DriftUser, our metrics) for the same accounts and prices."""
    drift = offline(user, perps, spots)
    return drift.user(0), DriftMarginMonitor().compute(drift)


# --------------------------------------------------------------------------- agreement


def _usdc_only():
    perps, spots = markets()
    u = new_user()
    deposit(u, 0, spots[0], 10_000 * USDC)
    return u, perps, spots


def _long():
    perps, spots = markets(160 * PRICE)
    u = new_user()
    deposit(u, 0, spots[0], 1_000 * USDC)
    perp(u, 0, SOL_PERP, 10 * SOL, 150 * PRICE)
    return u, perps, spots


def _short():
    perps, spots = markets(150 * PRICE)
    u = new_user()
    deposit(u, 0, spots[0], 10_000 * USDC)
    perp(u, 0, SOL_PERP, -10 * SOL, 150 * PRICE)
    return u, perps, spots


def _hedged():
    perps, spots = markets(150 * PRICE)
    u = new_user()
    deposit(u, 0, spots[0], 1_000 * USDC)
    deposit(u, 1, spots[SOL_SPOT], 20 * SOL)
    perp(u, 0, SOL_PERP, -20 * SOL, 148 * PRICE)
    return u, perps, spots


def _borrow():
    perps, spots = markets(150 * PRICE)
    u = new_user()
    deposit(u, 0, spots[0], 10_000 * USDC)
    borrow(u, 1, spots[SOL_SPOT], 20 * SOL)
    return u, perps, spots


@pytest.mark.parametrize("build", [_usdc_only, _long, _short, _hedged, _borrow])
def test_same_numbers_as_driftpy_where_driftpy_follows_the_program(build):
    du, m = _both(*build())
    # driftpy returns floats here; on these accounts they are integral.
    assert du.get_total_collateral(INITIAL) == m.total_collateral
    assert du.get_total_collateral(MAINTENANCE) == m.maintenance_total_collateral
    assert du.get_margin_requirement(INITIAL) == m.initial_margin_requirement
    assert du.get_margin_requirement(MAINTENANCE) == m.maintenance_margin_requirement
    assert du.get_health() == m.health
    for risk in m.position_risks:
        if risk.market_type is MarketType.PERP and du.get_perp_position(0).base_asset_amount > 0:
            assert du.get_perp_liq_price(risk.market_index) == risk.liquidation_price


# --------------------------------------------------------------------------- deviations


def test_initial_collateral_caps_positive_pnl_at_100_dollars_per_position():
    # math/margin.rs: weighted_unrealized_pnl.min(MAX_POSITIVE_UPNL_FOR_INITIAL_MARGIN).
    # $1,000 USDC, long 10 SOL-PERP from $150, SOL at $650: uPnL = 10 * 500 = +$5,000.
    # On mainnet SOL-PERP's initial uPnL weight is 0 (test_mainnet_initial_upnl_weight_is_
    # zero); the cap guards a market configured with weight 1.0, as here.
    perps, spots = markets(650 * PRICE)
    perps[SOL_PERP].unrealized_pnl_initial_asset_weight = 10_000
    u = new_user()
    deposit(u, 0, spots[0], 1_000 * USDC)
    perp(u, 0, SOL_PERP, 10 * SOL, 150 * PRICE)
    du, m = _both(u, perps, spots)

    assert du.get_total_collateral(INITIAL) == (1_000 + 5_000) * USDC  # driftpy: all of it
    assert m.total_collateral == (1_000 + 100) * USDC  # program: capped at $100
    # Maintenance has no cap: both count the full $5,000.
    assert m.maintenance_total_collateral == du.get_total_collateral(MAINTENANCE) == 6_000 * USDC
    # Free collateral (what may be opened or withdrawn): requirement 6500 * 0.05 = $325.
    driftpy_free = du.get_total_collateral(INITIAL) - du.get_margin_requirement(INITIAL)
    assert driftpy_free == (6_000 - 325) * USDC
    assert m.free_collateral == (1_100 - 325) * USDC


def test_positive_pnl_imf_discount_scales_pnl_by_1000():
    # state/perp_market.rs get_unrealized_asset_weight: the IMF size is pnl * 1000.
    perps, spots = markets(155 * PRICE)
    perps[SOL_PERP].unrealized_pnl_initial_asset_weight = 10_000  # mainnet: 0 (see above)
    perps[SOL_PERP].unrealized_pnl_imf_factor = 100_000
    upnl = 50 * USDC  # long 10 SOL from $150 at $155
    # ours: isqrt(50e6 * 1000 * 10 + 1) = 707106; 707106 * 100000 // 100000 = 707106;
    #       1.1e6 * 1e4 // (1e6 + 707106) = 6443 < 10000
    assert pm.unrealized_pnl_asset_weight(perps[SOL_PERP], upnl, INITIAL) == 6_443
    # driftpy: size 50e6 unscaled -> ceil(sqrt(5e8)) + 1 = 22362 -> weight 10760 -> min 10000
    driftpy_weight = calculate_unrealized_asset_weight(
        perps[SOL_PERP], spots[0], upnl, INITIAL, oracle_price_data(155 * PRICE)
    )
    assert driftpy_weight == 10_000

    u = new_user()
    deposit(u, 0, spots[0], 1_000 * USDC)
    perp(u, 0, SOL_PERP, 10 * SOL, 150 * PRICE)
    du, m = _both(u, perps, spots)
    assert du.get_total_collateral(INITIAL) == 1_050 * USDC
    assert m.total_collateral == 1_000 * USDC + 50 * USDC * 6_443 // 10_000  # $1,032.215


def test_spot_asset_weight_imf_discount_floors_like_the_program():
    # math/margin.rs calculate_size_discount_asset_weight; 50,000 SOL with SOL's imf 1250:
    # ours   isqrt(5e13 * 10 + 1) = 22360679; 22360679 * 1250 // 1e5 = 279508;
    #        1.1e6 * 1e4 // 1279508 = 8597 (floor)
    # driftpy ceil(sqrt(5e14)) + 1 = 22360681 -> 279508.5125 -> 8597.05 rounded up = 8598
    perps, spots = markets(150 * PRICE)
    size = 50_000 * SOL
    assert pm.spot_asset_weight(spots[SOL_SPOT], size, 150 * PRICE, MAINTENANCE) == 8_597
    assert calculate_asset_weight(size, 150 * PRICE, spots[SOL_SPOT], MAINTENANCE) == 8_598

    u = new_user()
    deposit(u, 0, spots[SOL_SPOT], size)
    du, m = _both(u, perps, spots)
    value = 50_000 * 150  # $7.5M
    assert m.maintenance_total_collateral == value * 8_597 // 10_000 * USDC  # $6,447,750
    assert du.get_total_collateral(MAINTENANCE) == value * 8_598 // 10_000 * USDC  # +$750


def test_health_rounds_half_up_like_the_sdk():
    # $8,000 USDC, long 1,000 SOL-PERP at $100: maintenance req 100,000 * 0.03 = $3,000;
    # health = 100 * (1 - 3000/8000) = 62.5 -> SDK Math.round 63; Python round 62.
    perps, spots = markets(100 * PRICE)
    u = new_user()
    deposit(u, 0, spots[0], 8_000 * USDC)
    perp(u, 0, SOL_PERP, 1_000 * SOL, 100 * PRICE)
    du, m = _both(u, perps, spots)
    assert (m.maintenance_total_collateral, m.maintenance_margin_requirement) == (
        8_000 * USDC,
        3_000 * USDC,
    )
    assert du.get_health() == 62
    assert m.health == 63
    assert health(8, 3) == 63 and health(1000, 25) == 98  # 97.5 -> 98 either way


def test_short_liquidation_price_truncates_toward_the_oracle():
    # $10,000 USDC, short 10 SOL-PERP at $150. Free maintenance collateral 10000 - 45 = 9955;
    # delta = (-1 - 0.03) * 10 = -10.3 per $1; 9955 / 10.3 = 966.504854(37).
    u, perps, spots = _short()
    du, m = _both(u, perps, spots)
    (risk,) = m.position_risks
    assert risk.liquidation_price == 150 * PRICE + 966_504_854  # SDK: BN truncates
    assert du.get_perp_liq_price(SOL_PERP) == 150 * PRICE + 966_504_855  # driftpy floors

    # Ours is the last price the account survives; driftpy's is already past liquidation.
    def level_at(price):
        prices = {(MarketType.PERP, SOL_PERP): price}
        return DriftMarginMonitor().compute_for(u, perps, spots, oracle_prices=prices).risk_level

    assert level_at(risk.liquidation_price) is not RiskLevel.LIQUIDATABLE
    assert level_at(risk.liquidation_price + 1) is RiskLevel.LIQUIDATABLE


def test_open_spot_order_quote_is_not_netted_against_usdc():
    # math/margin.rs: the quote side of open spot orders goes to the requirement at weight 1.
    # $1,000 USDC and one open bid for 2 SOL at $150 (no SOL yet). Worst case (bid fills):
    # +2 SOL worth $300 * 0.9 = $270 of collateral, -$300 of quote owed, + $0.01 per order.
    perps, spots = markets(150 * PRICE)
    u = new_user()
    deposit(u, 0, spots[0], 1_000 * USDC)
    sp = u.spot_positions[1]
    sp.market_index, sp.open_orders, sp.open_bids = SOL_SPOT, 1, 2 * SOL
    du, m = _both(u, perps, spots)

    # program: collateral 1000 + 270 = $1,270; requirement 300 + 0.01 = $300.01
    assert m.maintenance_total_collateral == 1_270 * USDC
    assert m.maintenance_margin_requirement == 300 * USDC + 10_000
    assert m.health == 76  # round_half_up(100 * (1 - 300.01 / 1270)) = round(76.38)
    # driftpy nets the $300 against the USDC: collateral 700 + 270 = $970, req $0.01
    assert du.get_total_collateral(MAINTENANCE) == 970 * USDC
    assert du.get_margin_requirement(MAINTENANCE) == 10_000
    assert du.get_health() == 100
    # Free collateral is the same either way: (1000 + 300 * 0.8) - 300.01 = 939.99
    driftpy_free = du.get_total_collateral(INITIAL) - du.get_margin_requirement(INITIAL)
    assert m.free_collateral == driftpy_free == 939_990_000


def test_funding_payment_is_an_integer():
    # math/funding.rs: sign * floor(|delta * base| / 1e12). 1 SOL long, delta 1,234,567
    # (FUNDING_RATE 1e9): 1.234567e6 * 1e9 / 1e12 = 1234.567 micro-USDC -> the long pays 1234.
    perps, _ = markets()
    market = perps[SOL_PERP]
    market.amm.cumulative_funding_rate_long = 1_234_567
    market.amm.cumulative_funding_rate_short = 1_234_567
    u = new_user()
    perp(u, 0, SOL_PERP, 1 * SOL, 150 * PRICE)
    pos = u.perp_positions[0]
    assert calculate_position_funding_pnl(market, pos) == pytest.approx(-1_234.567)  # float
    assert pm.funding_payment(1_234_567, pos) == -1_234
    pos.base_asset_amount = -1 * SOL
    assert pm.funding_payment(1_234_567, pos) == 1_234  # the short receives


def test_token_amount_stays_in_integers():
    # math/spot_balance.rs get_token_amount; driftpy divides deposits as floats.
    # 5,981.2 SOL scaled at cumulative interest 1.0123456789:
    # 5981209647774 * 10123456789 = 60550517415189999037686 -> // 1e10 = 6055051741518.
    _, spots = markets()
    sol = spots[SOL_SPOT]
    sol.cumulative_deposit_interest = 10_123_456_789
    scaled = 5_981_209_647_774
    assert pm.token_amount(scaled, sol, SpotBalanceType.Deposit()) == 6_055_051_741_518
    assert get_token_amount(scaled, sol, SpotBalanceType.Deposit()) == 6_055_051_741_519


def test_size_premium_liability_weight_uses_an_integer_square_root():
    # math/margin.rs calculate_size_premium_liability_weight: isqrt(size * 10 + 1).
    size, imf = 3_612_533_786_863_441, 450
    # ours: isqrt(36125337868634411) = 190066666; 8800 + 190066666 * 450 // 1e7 = 17352
    assert pm.size_premium_liability_weight(size, imf, 11_000, 10_000) == 17_352
    driftpy = calculate_size_premium_liability_weight(size, imf, 11_000, 10_000)
    assert isinstance(driftpy, float) and driftpy == 17_353.0


def test_high_leverage_mode_uses_the_markets_high_leverage_ratios():
    # state/perp_market.rs get_margin_ratio with a HighLeverage user; driftpy's DriftUser
    # does not pass the user's mode. $1,500 SOL-PERP notional; mainnet HL ratios 0.99% /
    # 0.66%. The HL initial ratio is size-adjusted from the ordinary one (math/margin.rs
    # calc_high_leverage_mode_initial_margin_ratio_from_size): imf 50 at 10 SOL gives
    # 400 + isqrt(1e11 + 1) * 50 // 1e7 = 401 < 500, a discount factor of
    # 1e6 - 99 * 1e6 // 100 = 10,000, and 99 + (500 - 99) * 10,000 // 1e6 = 103.
    perps, spots = markets(150 * PRICE)
    assert perps[SOL_PERP].high_leverage_margin_ratio_initial == 99
    assert perps[SOL_PERP].high_leverage_margin_ratio_maintenance == 66
    u = new_user()
    deposit(u, 0, spots[0], 1_000 * USDC)
    perp(u, 0, SOL_PERP, 10 * SOL, 150 * PRICE)
    u.margin_mode = MarginMode.HighLeverage()
    du, m = _both(u, perps, spots)
    assert m.maintenance_margin_requirement == 1_500 * 66 * USDC // 10_000  # $9.90
    assert m.initial_margin_requirement == 1_500 * 103 * USDC // 10_000  # $15.45
    assert du.get_margin_requirement(MAINTENANCE) == 45 * USDC  # 3%: mode ignored
    assert du.get_margin_requirement(INITIAL) == 75 * USDC  # 5%


def test_trunc_div_rounds_toward_zero():
    assert pm.trunc_div(7, 2) == 3 and pm.trunc_div(-7, 2) == -3
    assert pm.trunc_div(7, -2) == -3 and pm.trunc_div(-7, -2) == 3
    assert -7 // 2 == -4  # Python floors: the reason trunc_div exists


def test_strict_margin_uses_the_stored_twap_not_the_clock():
    # math/margin.rs strict context: StrictOraclePrice(price, last_oracle_price_twap_5min);
    # assets are valued at min(price, twap). driftpy recomputes the TWAP from time.time().
    # $1,000 USDC + 20 SOL at $150 with a stored 5-minute TWAP of $140:
    perps, spots = markets(150 * PRICE)
    spots[SOL_SPOT].historical_oracle_data.last_oracle_price_twap5min = 140 * PRICE
    u = new_user()
    deposit(u, 0, spots[0], 1_000 * USDC)
    deposit(u, 1, spots[SOL_SPOT], 20 * SOL)
    snapshot = pm.MarketSnapshot(perps, spots, {SOL_PERP: 150 * PRICE}, {0: PRICE, 1: 150 * PRICE})
    plain = pm.calculate_margin(u, snapshot, INITIAL)
    strict = pm.calculate_margin(u, snapshot, INITIAL, strict=True)
    assert plain.total_collateral == (1_000 + 20 * 150 * 8 // 10) * USDC  # $3,400
    assert strict.total_collateral == (1_000 + 20 * 140 * 8 // 10) * USDC  # $3,240
