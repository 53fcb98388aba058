"""The margin monitor's rules at their edges (core/margin.py), worked out by hand: which
liquidation buffer an account in liquidation must clear (the State's, else 2 %), the high
leverage *maintenance* mode in the requirement and in the liquidation price, the price of an
account with no free collateral (the oracle itself), a perp in another market than 0, the
perp/spot "sister" deltas, the boundaries of leverage, liquidation price, classification and
thresholds, and the SDK's free-collateral deltas in integers.

Markets are the catalog's real parameters (tests/core/test_margin_support.py): SOL-PERP
maintenance ratio 3 % (high leverage 0.66 %), SOL spot maintenance weights 0.9 / 1.1,
BTC-PERP maintenance 3 %. Precisions: USDC 1e6, SOL 1e9, price 1e6, ratios 1e4.
"""

from __future__ import annotations

import copy

import pytest
from driftpy.types import MarginMode, SpotBalanceType, UserStatus

from drift_engine.core.accounts import default_markets, make_state, make_user
from drift_engine.core.fees import load_state_params
from drift_engine.core.margin import (
    UNBOUNDED,
    DriftMarginMonitor,
    MarginThresholds,
    leverage,
    liquidation_price,
    perp_free_collateral_delta,
    snapshot_of,
    spot_free_collateral_delta,
)
from drift_engine.core.offline import OfflineDrift
from drift_engine.core.program_math import MarginCalculation, MarginCategory
from drift_engine.core.types import DriftMarginMetrics, MarketType, RiskLevel
from tests.core.test_margin_support import (
    _CATALOG,
    AUTHORITY,
    PRICE,
    SOL,
    SOL_PERP,
    SOL_SPOT,
    USDC,
    deposit,
    markets,
    new_user,
    offline,
    perp,
)

BTC_PERP = 1


def _being_liquidated():
    # $1,000 of USDC, long 100 SOL-PERP at $150 = $15,000 of notional, flagged in liquidation
    perps, spots = markets(sol_price=150 * PRICE)
    user = new_user()
    deposit(user, 0, spots[0], 1_000 * USDC)
    perp(user, 0, SOL_PERP, 100 * SOL, 150 * PRICE)
    user.status = UserStatus.BEING_LIQUIDATED
    return user, perps, spots


# --------------------------------------------------------------------------- liquidation buffer


def test_an_account_in_liquidation_must_clear_the_states_buffer():
    # the State's liquidation_margin_buffer_ratio (3 % here, not the 2 % default):
    # requirement 15,000 x 3 % = $450 + buffer 15,000 x 3 % = $450 -> $900
    user, perps, spots = _being_liquidated()
    params = {**load_state_params()["liquidation"], "liquidation_margin_buffer_ratio": 300}
    with_state = OfflineDrift(
        perps, spots, authority=user.authority, state=make_state(params=params)
    )
    with_state.add_user(user)
    drift = offline(user, perps, spots)  # an OfflineDrift without a State account
    assert DriftMarginMonitor().compute(with_state).maintenance_margin_requirement == 900 * USDC
    # no State account read: the program's default 2 %: $450 + $300 = $750
    assert DriftMarginMonitor().compute(drift).maintenance_margin_requirement == 750 * USDC


def test_compute_reads_the_sub_account_it_is_given_and_stamps_zero_by_default():
    # only sub-account 1 is registered: $2,000 of USDC, nothing owed
    perps, spots = markets()
    user = make_user(AUTHORITY, 1)
    deposit(user, 0, spots[0], 2_000 * USDC)
    m = DriftMarginMonitor().compute(offline(user, perps, spots), 1)
    assert (m.total_collateral, m.timestamp) == (2_000 * USDC, 0)
    assert DriftMarginMonitor().compute_for(user, perps, spots).timestamp == 0
    snap = snapshot_of(perps, spots)
    assert DriftMarginMonitor().compute_from(user, snap).timestamp == 0


# --------------------------------------------------------------------------- high leverage mode


def test_high_leverage_maintenance_mode_sets_the_requirement_and_the_liquidation_price():
    # HighLeverageMaintenance: the market's high-leverage *maintenance* ratio (0.66 %) for
    # the maintenance requirement and the liquidation price; initial stays at 5 %.
    # $1,000 of USDC, long 10 SOL at $150 = $1,500:
    #   maintenance requirement 1,500 x 0.66 % = $9.90; initial 1,500 x 5 % = $75
    #   free (maintenance) 1,000 - 9.90 = $990.10
    #   delta per $1: (1e6 - 66 x 1e6 / 1e4) x 10 = 9_934_000
    #   price 150e6 - trunc(990_100_000 x 1e6 / 9_934_000) = 150e6 - 99_667_807 = 50_332_193
    # (at the ordinary 3 %: requirement $45, delta 9_700_000, price 51_546_392)
    perps, spots = markets(150 * PRICE)
    user = new_user()
    deposit(user, 0, spots[0], 1_000 * USDC)
    perp(user, 0, SOL_PERP, 10 * SOL, 150 * PRICE)
    user.margin_mode = MarginMode.HighLeverageMaintenance()
    m = DriftMarginMonitor().compute_for(user, perps, spots)
    assert m.maintenance_margin_requirement == 9_900_000
    assert m.initial_margin_requirement == 75 * USDC
    (risk,) = m.position_risks
    assert risk.liquidation_price == 50_332_193


# --------------------------------------------------------------------------- liquidation prices


def test_no_free_collateral_puts_the_liquidation_price_at_the_oracle():
    # $1 of USDC, long 1 SOL entered at $150, oracle $149: collateral 1 - 1 = $0 against a
    # requirement of 149 x 3 % = $4.47: free collateral is 0 (not negative), so the price
    # that liquidates is the oracle itself, 149_000_000 (a free collateral of one micro-USDC
    # would move it: 1e6 / 970_000 -> 1 below)
    perps, spots = markets(sol_price=149 * PRICE)
    user = new_user()
    deposit(user, 0, spots[0], 1 * USDC)
    perp(user, 0, SOL_PERP, 1 * SOL, 150 * PRICE)
    m = DriftMarginMonitor().compute_for(user, perps, spots)
    assert m.risk_level is RiskLevel.LIQUIDATABLE
    (risk,) = m.position_risks
    assert risk.liquidation_price == 149 * PRICE


def test_a_perp_outside_market_zero_has_its_own_liquidation_price():
    # BTC-PERP (market 1) at $60,000, long 1 BTC with $10,000 of USDC; 3 % maintenance
    # (imf 1900: 240 + isqrt(1e10 + 1) x 1900 / 1e7 = 259 < 300, so 3 % holds):
    # requirement $1,800, free $8,200, delta (1e6 - 30_000) x 1 = 970_000;
    # price 60_000e6 - trunc(8_200e6 x 1e6 / 970_000) = 60_000e6 - 8_453_608_247
    perps, spots = default_markets(
        _CATALOG, {"SOL-PERP": 150 * PRICE, "SOL": 150 * PRICE, "BTC-PERP": 60_000 * PRICE}
    )
    user = new_user()
    deposit(user, 0, spots[0], 10_000 * USDC)
    perp(user, 0, BTC_PERP, 1 * SOL, 60_000 * PRICE)
    m = DriftMarginMonitor().compute_for(user, perps, spots)
    (risk,) = m.position_risks
    assert (risk.market_type, risk.market_index) == (MarketType.PERP, BTC_PERP)
    assert risk.liquidation_price == 60_000 * PRICE - 8_453_608_247


def test_a_spot_balance_adds_its_perp_sisters_delta_even_when_it_is_zero():
    # 5 SOL of spot (0.9 maintenance weight) and one base unit of SOL-PERP (no quote):
    # maintenance collateral 5 x 150 x 0.9 = $675; the perp's delta truncates to 0
    # ((1e6 - 30_000) x 1 / 1e9); the spot's 900_000 x 5 = 4_500_000; so the SOL price
    # that liquidates is 150e6 - 675e6 x 1e6 / 4_500_000 = 0 (exactly 0 is a price, not
    # "none"); a delta one larger would give 34
    perps, spots = markets(150 * PRICE)
    user = new_user()
    deposit(user, 1, spots[SOL_SPOT], 5 * SOL)
    perp(user, 0, SOL_PERP, 1, 150 * PRICE)
    user.perp_positions[0].quote_asset_amount = 0
    m = DriftMarginMonitor().compute_for(user, perps, spots)
    assert m.maintenance_total_collateral == 675 * USDC
    spot_risk = [r for r in m.position_risks if r.market_type is MarketType.SPOT]
    assert [(r.market_index, r.liquidation_price) for r in spot_risk] == [(SOL_SPOT, 0)]


def test_an_emptied_spot_slot_has_no_liquidation_price():
    # a SOL slot whose balance went to 0 keeps its market index; it is not a position
    perps, spots = markets()
    user = new_user()
    deposit(user, 0, spots[0], 1_000 * USDC)
    sp = user.spot_positions[1]
    sp.market_index, sp.balance_type, sp.scaled_balance = SOL_SPOT, SpotBalanceType.Deposit(), 0
    assert DriftMarginMonitor().compute_for(user, perps, spots).position_risks == ()


def test_liquidation_price_zero_is_a_price_and_below_zero_is_none():
    # oracle $150, free $150, delta 1e6 per $1: 150e6 - 150e6 = 0; one micro more: -1 -> None
    assert liquidation_price(150 * PRICE, 150 * USDC, 1_000_000) == 0
    assert liquidation_price(150 * PRICE, 150 * USDC + 1, 1_000_000) is None


# --------------------------------------------------------------------------- SDK formulas


def test_perp_free_collateral_delta_is_none_only_when_flat():
    perps, _ = markets()
    assert perp_free_collateral_delta(perps[SOL_PERP], 0, 300) is None
    # one base unit long: (1e6 - 30_000) x 1 / 1e9 truncates to 0, a number
    assert perp_free_collateral_delta(perps[SOL_PERP], 1, 300) == 0


def test_spot_free_collateral_delta_in_integers_on_a_six_decimal_token():
    # a 6-decimal token at maintenance weights 0.9 / 1.1, imf 0: one unit of deposit is
    # 1e6 x 0.9 x 1 / 1e6 = 0.9 -> 0; two are 1.8 -> 1; one unit of borrow is
    # trunc(-1e6 x 1.1) x 1 / 1e6 = -1.1 -> -1
    _, spots = markets()
    token = copy.deepcopy(spots[0])
    token.maintenance_asset_weight, token.maintenance_liability_weight = 9_000, 11_000
    token.imf_factor = 0
    assert spot_free_collateral_delta(token, 1, PRICE) == 0
    assert spot_free_collateral_delta(token, 2, PRICE) == 1
    assert spot_free_collateral_delta(token, -1, PRICE) == -1
    # 5 SOL at 0.9: 900_000 x 5e9 / 1e9 = 4_500_000, an integer (never a float)
    delta = spot_free_collateral_delta(spots[SOL_SPOT], 5 * SOL, 150 * PRICE)
    assert delta == 4_500_000 and type(delta) is int


def _calc(spot_assets: int, perp_liabilities: int) -> MarginCalculation:
    return MarginCalculation(
        category=MarginCategory.MAINTENANCE,
        total_collateral=0,
        margin_requirement=0,
        margin_requirement_plus_buffer=0,
        total_spot_asset_value=spot_assets,
        total_spot_liability_value=0,
        total_perp_liability_value=perp_liabilities,
        total_perp_pnl=0,
        num_spot_liabilities=0,
        num_perp_liabilities=1,
    )


def test_leverage_with_one_micro_usdc_of_net_assets_and_with_none():
    # net assets 1, liabilities 1: 1 x 1e4 / 1 = 10_000 (1x); net assets 0: unbounded
    assert leverage(_calc(1, 1)) == 10_000
    assert leverage(_calc(0, 1)) == UNBOUNDED


# --------------------------------------------------------------------------- classification


def test_collateral_equal_to_the_requirement_is_not_liquidatable():
    # the program's meets_margin_requirement is collateral >= requirement
    metrics = DriftMarginMetrics(
        total_collateral=500 * USDC,
        maintenance_total_collateral=500 * USDC,
        initial_margin_requirement=500 * USDC,
        maintenance_margin_requirement=500 * USDC,
        free_collateral=0,
        health=0,
        leverage=0,
        margin_ratio=0,
        unrealized_pnl=0,
    )
    assert DriftMarginMonitor().classify(metrics) is RiskLevel.CRITICAL


def test_thresholds_accept_0_100_and_equal_levels_and_refuse_booleans():
    assert MarginThresholds(warning_health=100, critical_health=0).warning_health == 100
    assert MarginThresholds(warning_health=30, critical_health=30).critical_health == 30
    with pytest.raises(ValueError, match="warning_health must be an integer"):
        MarginThresholds(warning_health=True)


# --------------------------------------------------------------------------- inputs


def test_snapshot_prices_default_to_each_markets_last_oracle_price():
    perps, spots = default_markets(
        _CATALOG, {"SOL-PERP": 150 * PRICE, "SOL": 150 * PRICE, "BTC-PERP": 60_000 * PRICE}
    )
    snap = snapshot_of(perps, spots)
    assert snap.perp_prices == {SOL_PERP: 150 * PRICE, BTC_PERP: 60_000 * PRICE}
    with pytest.raises(KeyError, match="oracle price given for unknown perp market 9"):
        snapshot_of(perps, spots, {(MarketType.PERP, 9): PRICE})


def test_only_one_sister_market_on_the_same_oracle_counts():
    # The SDK (user.ts liquidationPrice) adds the delta of *one* market reading the same
    # oracle (a `find`), not of every one. A second SOL spot market (index 2, a copy of
    # market 1 on the same oracle) and a second SOL perp (index 5, a copy of SOL-PERP):
    #   spot 5 SOL (mkt 1) + 3 SOL (mkt 2): collateral 675 + 405 = $1,080
    #   perp short 10 SOL (mkt 0) at $150, pnl 0: requirement $45; free $1,035
    #   perp 0's delta (-1e6 - 30_000) x 10 = -10_300_000, + spot 1's 4_500_000 only:
    #   -5_800_000; price 150e6 + trunc(1_035e6 x 1e6 / 5_800_000) = 150e6 + 178_448_275
    perps, spots = markets(150 * PRICE)
    spots[2] = copy.deepcopy(spots[SOL_SPOT])
    spots[2].market_index = 2
    user = new_user()
    deposit(user, 1, spots[SOL_SPOT], 5 * SOL)
    deposit(user, 2, spots[2], 3 * SOL)
    perp(user, 0, SOL_PERP, -10 * SOL, 150 * PRICE)
    m = DriftMarginMonitor().compute_for(user, perps, spots)
    assert m.maintenance_total_collateral - m.maintenance_margin_requirement == 1_035 * USDC
    perp_risk = [r for r in m.position_risks if r.market_type is MarketType.PERP]
    assert [r.liquidation_price for r in perp_risk] == [150 * PRICE + 178_448_275]

    # and a spot balance adds one perp's delta: 5 SOL spot, shorts of 10 SOL (mkt 0) and
    # 2 SOL (mkt 5, same oracle): requirement (1,500 + 300) x 3 % = $54, free 675 - 54 =
    # $621; spot 1's delta 4_500_000 + perp 0's -10_300_000 = -5_800_000;
    # price 150e6 + trunc(621e6 x 1e6 / 5_800_000) = 150e6 + 107_068_965
    perps, spots = markets(150 * PRICE)
    perps[5] = copy.deepcopy(perps[SOL_PERP])
    perps[5].market_index = 5
    user = new_user()
    deposit(user, 1, spots[SOL_SPOT], 5 * SOL)
    perp(user, 0, SOL_PERP, -10 * SOL, 150 * PRICE)
    perp(user, 1, 5, -2 * SOL, 150 * PRICE)
    m = DriftMarginMonitor().compute_for(user, perps, spots)
    assert m.maintenance_total_collateral - m.maintenance_margin_requirement == 621 * USDC
    spot_risk = [r for r in m.position_risks if r.market_type is MarketType.SPOT]
    assert [r.liquidation_price for r in spot_risk] == [150 * PRICE + 107_068_965]
