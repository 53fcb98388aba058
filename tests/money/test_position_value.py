"""One perp position's value, PnL and requirement (`math/margin.rs::
calculate_perp_position_value_and_pnl`), by hand, through every branch that moves money:
a USDC oracle off $1 (strict prices), open orders, a market in settlement, a prediction
market, funding on each side, a flat position with leftover quote, LP shares refused.

Position: long 1.23 SOL entered for 151_851_741 (quote = entry), SOL-PERP with a 3 %
maintenance / 10 % initial ratio and no IMF premium, set by the test.
"""

from __future__ import annotations

import pytest
from driftpy.oracles.strict_oracle_price import StrictOraclePrice
from driftpy.types import ContractType, MarketStatus

from drift_engine.core.program_math import MarginCategory, perp_position_value_and_pnl

from .conftest import T0, funded, perp

SIZE, ENTRY = 1_230_000_000, 151_851_741
MAINT = MarginCategory.MAINTENANCE
ONE = StrictOraclePrice(1_000_000)


@pytest.fixture
def position():
    sim, k = funded(123_456_700)
    sim.place_order(k, perp("long", SIZE), T0 + 1)
    pos = sim.perp_position(k, "SOL-PERP")
    pos.quote_asset_amount = pos.quote_entry_amount = pos.quote_break_even_amount = -ENTRY
    market = sim.perp_market("SOL-PERP")
    market.margin_ratio_initial, market.margin_ratio_maintenance, market.imf_factor = 1000, 300, 0
    market.high_leverage_margin_ratio_initial = 500
    market.high_leverage_margin_ratio_maintenance = 200
    market.unrealized_pnl_maintenance_asset_weight = 10_000
    return pos, market


def test_value_pnl_and_requirement_at_a_one_dollar_usdc(position):
    pos, market = position
    v = perp_position_value_and_pnl(pos, market, 125_000_000, ONE, MAINT)
    # value trunc(1.23 x 125) = 153_750_000; pnl 153_750_000 - 151_851_741 = 1_898_259
    assert (v.base_asset_value, v.unrealized_pnl, v.weighted_unrealized_pnl) == (
        153_750_000,
        1_898_259,
        1_898_259,
    )
    # requirement floor(153_750_000 x 300 / 1e4) = floor(4_612_500) = 4_612_500
    assert (v.worst_case_liability_value, v.margin_requirement) == (153_750_000, 4_612_500)
    # the defaults are the normal ratios, not high leverage mode (2 %), no custom ratio
    hlm = perp_position_value_and_pnl(pos, market, 125_000_000, ONE, MAINT, high_leverage=True)
    assert hlm.margin_requirement == 3_075_000


def test_the_initial_category_takes_the_initial_ratio(position):
    # the category reaches the ratio: floor(153_750_000 x 1000 / 1e4) = 15_375_000
    pos, market = position
    v = perp_position_value_and_pnl(pos, market, 125_000_000, ONE, MarginCategory.INITIAL)
    assert (v.worst_case_liability_value, v.margin_requirement) == (153_750_000, 15_375_000)


def test_usdc_off_one_dollar_uses_the_strict_price_against_the_user(position):
    pos, market = position
    usdc = StrictOraclePrice(999_987, twap=1_000_013)  # current $0.999987, twap $1.000013
    up = perp_position_value_and_pnl(pos, market, 125_000_000, usdc, MAINT)
    # gains are worth the lower price: trunc(1_898_259 x 999_987 / 1e6) = 1_898_234
    assert (up.weighted_unrealized_pnl, up.unrealized_pnl) == (1_898_234, 1_898_234)
    # the liability at the higher price: floor(153_750_000 x 1_000_013 / 1e6) = 153_751_998
    assert up.worst_case_liability_value == 153_751_998
    assert up.margin_requirement == 153_751_998 * 300 // 10_000  # 4_612_559
    down = perp_position_value_and_pnl(pos, market, 120_000_000, usdc, MAINT)
    # losses at the higher price: pnl 147_600_000 - 151_851_741 = -4_251_741
    # trunc(-4_251_741 x 1_000_013 / 1e6) = trunc(-4_251_796.27) = -4_251_796
    assert (down.weighted_unrealized_pnl, down.unrealized_pnl) == (-4_251_796, -4_251_796)


def test_a_one_micro_usdc_gain_is_valued_at_the_lower_usdc_price(position):
    pos, market = position
    pos.quote_asset_amount = -153_749_999  # pnl at $125: +1
    usdc = StrictOraclePrice(1_000_000, twap=999_987)
    v = perp_position_value_and_pnl(pos, market, 125_000_000, usdc, MAINT)
    assert v.weighted_unrealized_pnl == 0  # trunc(1 x 999_987 / 1e6); at $1 it would be 1


def test_open_orders_add_a_cent_each_to_the_requirement(position):
    pos, market = position
    pos.open_orders = 2
    v = perp_position_value_and_pnl(pos, market, 125_000_000, ONE, MAINT)
    assert v.margin_requirement == 4_612_500 + 2 * 10_000


def test_a_market_in_settlement_values_at_the_expiry_price_and_requires_nothing(position):
    pos, market = position
    market.status = MarketStatus.Settlement()
    market.expiry_price = 140_000_000
    pos.open_orders = 1
    v = perp_position_value_and_pnl(pos, market, 125_000_000, ONE, MAINT)
    # value trunc(1.23 x 140) = 172_200_000; pnl 20_348_259; margin only for the order
    assert (v.base_asset_value, v.unrealized_pnl) == (172_200_000, 20_348_259)
    assert v.margin_requirement == 10_000


def test_a_prediction_market_short_owes_one_dollar_minus_the_price(position):
    pos, market = position
    market.contract_type = ContractType.Prediction()
    pos.base_asset_amount = -SIZE
    pos.quote_asset_amount = pos.quote_entry_amount = 369_001  # sold at ~$0.30
    v = perp_position_value_and_pnl(pos, market, 300_000, ONE, MAINT)
    # liability floor(1.23e9 x (1e6 - 300_000) / 1e9) = 861_000 ($1.23 x $0.70)
    assert v.worst_case_liability_value == 861_000
    # pnl: trunc(-1.23e9 x 300_000 / 1e9) + 369_001 = -369_000 + 369_001
    assert v.unrealized_pnl == 1


def test_unsettled_funding_uses_the_positions_own_side(position):
    pos, market = position
    market.amm.cumulative_funding_rate_long = pos.last_cumulative_funding_rate + 2 * 10**15
    market.amm.cumulative_funding_rate_short = pos.last_cumulative_funding_rate - 2 * 10**15
    pos.base_asset_amount = 1  # the smallest long: floor(2e15 x 1 / 1e12) = 2000, paid
    pos.quote_asset_amount = 0
    v = perp_position_value_and_pnl(pos, market, 125_000_000, ONE, MAINT)
    assert v.unrealized_pnl == -2_000  # value trunc(1 x 125e6 / 1e9) = 0


def test_a_flat_position_is_its_leftover_quote_and_bad_prices_count_as_zero(position):
    pos, market = position
    pos.base_asset_amount = 0
    pos.quote_asset_amount = -1_234
    v = perp_position_value_and_pnl(pos, market, 125_000_000, ONE, MAINT)
    assert (v.base_asset_value, v.unrealized_pnl, v.margin_requirement) == (0, -1_234, 0)
    pos.base_asset_amount = SIZE
    pos.quote_asset_amount = -ENTRY
    zero = perp_position_value_and_pnl(pos, market, 0, ONE, MAINT)
    assert (zero.base_asset_value, zero.unrealized_pnl) == (0, -ENTRY)
    negative = perp_position_value_and_pnl(pos, market, -5, ONE, MAINT)
    assert negative.base_asset_value == 0 and negative.worst_case_liability_value == 0


def test_lp_shares_are_refused_not_guessed(position):
    pos, market = position
    pos.lp_shares = 1
    with pytest.raises(NotImplementedError, match="perp market 0: LP shares are not modelled"):
        perp_position_value_and_pnl(pos, market, 125_000_000, ONE, MAINT)


def test_settlement_requires_nothing_even_under_a_custom_margin_ratio(position):
    pos, market = position
    market.status = MarketStatus.Settlement()
    market.expiry_price = 140_000_000
    v = perp_position_value_and_pnl(
        pos, market, 125_000_000, ONE, MarginCategory.INITIAL, custom_margin_ratio=5_000
    )
    assert v.margin_requirement == 0
