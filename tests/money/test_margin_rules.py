"""Margin and health by the program's rules: unsettled funding counts in a position's
unrealized PnL with its sign, health rounds half up, free collateral floors at 0, the
liquidation trigger is `collateral < requirement` (equal is safe).
"""

from __future__ import annotations

from drift_engine.core.margin import health, leverage, margin_ratio
from drift_engine.core.program_math import MarginCalculation, MarginCategory

from .conftest import T0, funded, perp

PRICE_X = 123_456_700
SIZE = 1_230_000_000
DELTA = 1_234_567  # unsettled funding: -1518 for the long (see test_funding_rules)


def test_unsettled_funding_is_added_to_a_positions_unrealized_pnl():
    sim, k = funded(PRICE_X)
    sim.place_order(k, perp("long", SIZE), T0 + 1)  # the fee is settled into USDC at once
    sim.set_oracle_price("SOL", 125_000_000, T0 + 2)
    # value trunc(1.23 x 125) = 153_750_000; entry 151_851_741 -> price PnL 1_898_259
    assert sim.margin_metrics(k).unrealized_pnl == 1_898_259
    # the market's long cumulative rate moves on, the position has not settled it yet
    sim.perp_market("SOL-PERP").amm.cumulative_funding_rate_long += DELTA
    # 1_898_259 + (-1518) = 1_896_741 (subtracting the funding would give 1_899_777)
    assert sim.margin_metrics(k).unrealized_pnl == 1_896_741


def test_unsettled_funding_a_short_receives_raises_its_pnl():
    sim, k = funded(PRICE_X)
    sim.place_order(k, perp("short", SIZE), T0 + 1)
    assert sim.margin_metrics(k).unrealized_pnl == 0
    sim.perp_market("SOL-PERP").amm.cumulative_funding_rate_short += DELTA
    assert sim.margin_metrics(k).unrealized_pnl == 1518


def test_health_rounds_half_up():
    # 100 x (8 - 3) / 8 = 62.5 -> 63 (Python's round would say 62)
    assert health(8_000_000, 3_000_000) == 63
    # 100 x 4_999_999 / 8_000_000 = 62.4999875 -> 62
    assert health(8_000_000, 3_000_001) == 62
    # 100 x 1 / 3 = 33.33 -> 33; 100 x 2 / 3 = 66.67 -> 67
    assert health(3_000_000, 2_000_000) == 33 and health(3_000_000, 1_000_000) == 67


def test_health_bounds():
    assert health(5, 0) == 100  # no requirement
    assert health(0, 0) == 100
    assert health(10, 10) == 0  # at maintenance
    assert health(10, 11) == 0  # below: floored
    assert health(0, 1) == 0 and health(-5, 1) == 0
    assert health(1_000_000, 1) == 100  # 99.9999 rounds to 100


def _calc(**kw) -> MarginCalculation:
    base = dict(
        category=MarginCategory.MAINTENANCE,
        total_collateral=0,
        margin_requirement=0,
        margin_requirement_plus_buffer=0,
        total_spot_asset_value=0,
        total_spot_liability_value=0,
        total_perp_liability_value=0,
        total_perp_pnl=0,
        num_spot_liabilities=0,
        num_perp_liabilities=0,
    )
    return MarginCalculation(**{**base, **kw})


def test_leverage_and_margin_ratio_floor_in_1e4():
    # liabilities 3_333_333 + 1_000_000; net assets 2_000_000 + 500_001 - 1_000_000
    calc = _calc(
        total_perp_liability_value=3_333_333,
        total_spot_liability_value=1_000_000,
        total_spot_asset_value=2_000_000,
        total_perp_pnl=500_001,
    )
    # 4_333_333 x 1e4 / 1_500_001 = 28_888.8674 -> 28_888
    assert leverage(calc) == 28_888
    # 1_500_001 x 1e4 / 4_333_333 = 3_461.5411 -> 3_461
    assert margin_ratio(calc) == 3_461
    assert leverage(_calc()) == 0
    underwater = _calc(total_perp_liability_value=1, total_perp_pnl=-5)
    assert leverage(underwater) == 2**63 - 1 and margin_ratio(underwater) == 0


def test_free_collateral_floors_at_zero_and_requirement_equal_meets_it():
    met = _calc(total_collateral=7, margin_requirement=7)
    assert met.meets_margin_requirement and met.free_collateral == 0
    short = _calc(total_collateral=6, margin_requirement=7)
    assert not short.meets_margin_requirement and short.free_collateral == 0
    assert _calc(total_collateral=10, margin_requirement=7).free_collateral == 3
