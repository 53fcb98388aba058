"""DriftMarginMonitor on hand-computed accounts (real market parameters).

Parameters used below (the catalog's mainnet snapshots, core/params/mainnet_markets.jsonl):
SOL-PERP (2026-03-28) margin_ratio_initial 500 (5%), maintenance 300 (3%), imf_factor 50
(too small to bind at these sizes), unrealized-pnl weights 0 initial / 1.0 maintenance
(positive uPnL counts nothing toward initial collateral on mainnet); USDC weights 1.0;
SOL spot (2025-06-24) asset weights 0.8 initial / 0.9 maintenance, liability weights
1.2 / 1.1, imf_factor 1250 (too small to bind at the sizes here: see test_spot_borrow).
Precisions: USDC 1e6, SOL 1e9, price 1e6, leverage / margin ratio 1e4.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from driftpy.types import UserStatus
from typer.testing import CliRunner

from drift_engine.cli import app
from drift_engine.core.margin import UNBOUNDED, DriftMarginMonitor, MarginThresholds
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

NOW = 1_764_000_000  # any timestamp: the monitor stamps what it is given


def test_usdc_only_account():
    perps, spots = markets()
    user = new_user()
    deposit(user, 0, spots[0], 10_000 * USDC)

    m = DriftMarginMonitor().compute(offline(user, perps, spots), 0, now=NOW)

    # USDC counts at weight 1.0 in both categories; nothing is owed.
    assert m.total_collateral == m.maintenance_total_collateral == 10_000 * USDC
    assert m.initial_margin_requirement == m.maintenance_margin_requirement == 0
    assert m.free_collateral == 10_000 * USDC
    assert m.health == 100  # no requirement -> 100
    assert m.leverage == 0
    assert m.margin_ratio == UNBOUNDED  # no liabilities (the SDK's BN_MAX)
    assert m.unrealized_pnl == 0
    assert m.position_risks == ()
    assert m.risk_level is RiskLevel.HEALTHY
    assert m.timestamp == NOW


def test_long_perp():
    # $1,000 USDC; long 10 SOL-PERP entered at $150; SOL now $160.
    perps, spots = markets(sol_price=160 * PRICE)
    user = new_user()
    deposit(user, 0, spots[0], 1_000 * USDC)
    perp(user, 0, SOL_PERP, 10 * SOL, 150 * PRICE)

    m = DriftMarginMonitor().compute_for(user, perps, spots, now=NOW)

    upnl = 10 * 160 - 10 * 150  # +$100: weight 0 initial (mainnet), 1.0 maintenance
    assert m.unrealized_pnl == upnl * USDC
    assert m.total_collateral == 1_000 * USDC
    assert m.maintenance_total_collateral == (1_000 + 100) * USDC
    notional = 10 * 160  # $1,600
    assert m.initial_margin_requirement == notional * 500 // 10_000 * USDC  # $80
    assert m.maintenance_margin_requirement == notional * 300 // 10_000 * USDC  # $48
    assert m.free_collateral == (1_000 - 80) * USDC
    # health = round_half_up(100 * (1 - 48 / 1100)) = round(95.64) = 96
    assert m.health == 96
    assert m.leverage == 1_600 * 10_000 // 1_100  # 1.4545x -> 14545
    assert m.margin_ratio == 1_100 * 10_000 // 1_600  # 0.6875 -> 6875
    # Liquidation price: free maintenance collateral $1,052 shrinks by (1 - 0.03) * 10 =
    # $9.70 per $1 SOL falls: 160 - 1052 / 9.7 = 160 - 108.453608 = 51.546392.
    (risk,) = m.position_risks
    assert (risk.market_type, risk.market_index) == (MarketType.PERP, SOL_PERP)
    assert risk.oracle_price == 160 * PRICE
    assert risk.liquidation_price == 160 * PRICE - (1_052 * USDC * PRICE) // 9_700_000
    assert risk.liquidation_price == 51_546_392
    assert risk.distance == 51_546_392 - 160 * PRICE
    assert m.risk_level is RiskLevel.HEALTHY


def test_short_perp_hedged_by_spot_sol():
    # Delta-neutral carry: $1,000 USDC + 20 SOL spot, short 20 SOL-PERP entered at $148;
    # SOL at $150 (spot and perp read the same oracle).
    perps, spots = markets(sol_price=150 * PRICE)
    user = new_user()
    deposit(user, 0, spots[0], 1_000 * USDC)
    deposit(user, 1, spots[SOL_SPOT], 20 * SOL)
    perp(user, 0, SOL_PERP, -20 * SOL, 148 * PRICE)

    m = DriftMarginMonitor().compute(offline(user, perps, spots), 0, now=NOW)

    # SOL spot IMF (imf 1250): isqrt(20e9 * 10 + 1) = 447213; 447213 * 1250 // 1e5 = 5590;
    # discount weight = 1.1e6 * 1e4 // (1e6 + 5590) = 10938 > 9000, so weights stay 0.9/0.8.
    upnl = 20 * 148 - 20 * 150  # -$40 on the short
    assert m.unrealized_pnl == upnl * USDC
    spot_value = 20 * 150  # $3,000
    # maintenance: 1000 + 3000 * 0.9 - 40 = 3660; initial: 1000 + 3000 * 0.8 - 40 = 3360
    assert m.maintenance_total_collateral == (1_000 + spot_value * 9 // 10 - 40) * USDC
    assert m.total_collateral == (1_000 + spot_value * 8 // 10 - 40) * USDC
    assert m.maintenance_margin_requirement == 3_000 * 300 // 10_000 * USDC  # $90
    assert m.initial_margin_requirement == 3_000 * 500 // 10_000 * USDC  # $150
    assert m.free_collateral == (3_360 - 150) * USDC
    # health = round_half_up(100 * (1 - 90 / 3660)) = round(97.54) = 98
    assert m.health == 98
    # leverage = perp liability / (spot assets + pnl) = 3000 / (1000 + 3000 - 40)
    assert m.leverage == 3_000 * 10_000 // 3_960  # 0.7575x
    # Liquidation: free maintenance collateral 3660 - 90 = $3,570. Per $1 SOL rises the
    # short loses (1 + 0.03) * 20 = $20.60 and the spot gains 0.9 * 20 = $18.00: net -$2.60.
    # 150 + 3570 / 2.6 = 150 + 1373.076923 = 1523.076923 (rounded toward the oracle).
    expected_liq = 150 * PRICE + (3_570 * USDC * PRICE) // 2_600_000
    assert expected_liq == 1_523_076_923
    risks = {(r.market_type, r.market_index): r for r in m.position_risks}
    assert set(risks) == {(MarketType.PERP, SOL_PERP), (MarketType.SPOT, SOL_SPOT)}
    assert risks[(MarketType.PERP, SOL_PERP)].liquidation_price == expected_liq
    assert risks[(MarketType.SPOT, SOL_SPOT)].liquidation_price == expected_liq
    assert risks[(MarketType.PERP, SOL_PERP)].distance_pct == Decimal("915.38")
    assert m.risk_level is RiskLevel.HEALTHY


@pytest.mark.parametrize(
    ("sol", "tc", "req", "health", "level"),
    [
        # $1,000 USDC, long 100 SOL-PERP opened at $150 (15x). tc = 1000 + 100 * (sol - 150),
        # maintenance req = 100 * sol * 0.03, health = round_half_up(100 * (1 - req / tc)).
        (150, 1_000, 450, 55, RiskLevel.HEALTHY),  # 100 * (1 - 450/1000) = 55
        (146, 600, 438, 27, RiskLevel.WARNING),  # 100 * (1 - 438/600) = 27
        (145, 500, 435, 13, RiskLevel.CRITICAL),  # 100 * (1 - 435/500) = 13
        (144, 400, 432, 0, RiskLevel.LIQUIDATABLE),  # 400 < 432: below maintenance
    ],
)
def test_over_levered_long_through_the_risk_levels(sol, tc, req, health, level):
    perps, spots = markets(sol_price=sol * PRICE)
    user = new_user()
    deposit(user, 0, spots[0], 1_000 * USDC)
    perp(user, 0, SOL_PERP, 100 * SOL, 150 * PRICE)

    m = DriftMarginMonitor().compute_for(user, perps, spots)

    assert m.maintenance_total_collateral == tc * USDC
    assert m.maintenance_margin_requirement == req * USDC
    assert m.health == health
    assert m.risk_level is level
    assert m.is_liquidatable is (level is RiskLevel.LIQUIDATABLE)


def test_position_below_maintenance_is_liquidatable():
    # $1,000 USDC, long 100 SOL-PERP at $150; SOL falls to $144.
    perps, spots = markets(sol_price=144 * PRICE)
    user = new_user()
    deposit(user, 0, spots[0], 1_000 * USDC)
    perp(user, 0, SOL_PERP, 100 * SOL, 150 * PRICE)

    m = DriftMarginMonitor().compute(offline(user, perps, spots), 0, now=NOW)

    # collateral 1000 + 100 * (144 - 150) = $400 < maintenance 14,400 * 0.03 = $432
    assert m.maintenance_total_collateral == 400 * USDC
    assert m.maintenance_margin_requirement == 432 * USDC
    assert m.maintenance_total_collateral < m.maintenance_margin_requirement
    assert m.health == 0  # 100 * (1 - 432/400) < 0 -> 0
    assert m.initial_margin_requirement == 14_400 * 500 // 10_000 * USDC  # $720
    assert m.free_collateral == 0  # max(0, 400 - 720)
    assert m.leverage == 14_400 * 10_000 // 400  # 36x
    assert m.risk_level is RiskLevel.LIQUIDATABLE
    # No free collateral left: the liquidation price is the oracle price itself.
    (risk,) = m.position_risks
    assert risk.liquidation_price == 144 * PRICE
    assert risk.distance == 0


def test_spot_borrow():
    # $10,000 USDC deposited, 20 SOL borrowed (and withdrawn); SOL at $150.
    perps, spots = markets(sol_price=150 * PRICE)
    user = new_user()
    deposit(user, 0, spots[0], 10_000 * USDC)
    borrow(user, 1, spots[SOL_SPOT], 20 * SOL)

    m = DriftMarginMonitor().compute_for(user, perps, spots, now=NOW)

    # Liability weights with the SOL IMF premium: isqrt(20e9 * 10 + 1) = 447213;
    # maintenance 11000 - 11000 // 5 + 447213 * 1250 // 1e7 = 8800 + 55 = 8855 < 11000 and
    # initial 12000 - 2400 + 55 = 9655 < 12000, so the weights stay 1.1 and 1.2.
    liability = 20 * 150  # $3,000
    assert m.total_collateral == m.maintenance_total_collateral == 10_000 * USDC
    assert m.maintenance_margin_requirement == liability * 11_000 // 10_000 * USDC  # $3,300
    assert m.initial_margin_requirement == liability * 12_000 // 10_000 * USDC  # $3,600
    assert m.free_collateral == (10_000 - 3_600) * USDC
    assert m.health == 67  # 100 * (1 - 3300 / 10000) = 67
    # leverage = liabilities / (assets - liabilities) = 3000 / 7000; margin ratio inverse
    assert m.leverage == 3_000 * 10_000 // 7_000
    assert m.margin_ratio == 7_000 * 10_000 // 3_000
    # The SOL borrow is liquidated when SOL rises by free / (1.1 * 20 SOL):
    # 150 + 6700 / 22 = 150 + 304.545454 = 454.545454.
    (risk,) = m.position_risks
    assert (risk.market_type, risk.market_index) == (MarketType.SPOT, SOL_SPOT)
    assert risk.liquidation_price == 150 * PRICE + (6_700 * USDC * PRICE) // 22_000_000
    assert risk.liquidation_price == 454_545_454
    assert m.risk_level is RiskLevel.HEALTHY


def test_account_being_liquidated_must_clear_the_buffer():
    # An account flagged BEING_LIQUIDATED stays liquidatable until its collateral covers the
    # maintenance requirement plus the 2% liquidation buffer (margin_calculation.rs).
    perps, spots = markets(sol_price=150 * PRICE)
    user = new_user()
    deposit(user, 0, spots[0], 1_000 * USDC)
    perp(user, 0, SOL_PERP, 100 * SOL, 150 * PRICE)
    user.status = UserStatus.BEING_LIQUIDATED

    m = DriftMarginMonitor().compute_for(user, perps, spots)
    # requirement 15,000 * 0.03 = 450 plus buffer 15,000 * 0.02 = 300 -> 750 <= 1000
    assert m.maintenance_margin_requirement == 750 * USDC
    assert m.health == 0  # the SDK reports 0 while liquidation is in progress
    assert m.risk_level is RiskLevel.CRITICAL

    at_145 = DriftMarginMonitor().compute_for(
        user, perps, spots, oracle_prices={(MarketType.PERP, SOL_PERP): 145 * PRICE}
    )
    # collateral 500 < 435 + 14,500 * 0.02 = 725
    assert at_145.maintenance_margin_requirement == 725 * USDC
    assert at_145.risk_level is RiskLevel.LIQUIDATABLE


def test_compute_and_compute_for_agree_and_prices_can_be_passed():
    perps, spots = markets(sol_price=150 * PRICE)
    user = new_user()
    deposit(user, 0, spots[0], 1_000 * USDC)
    deposit(user, 1, spots[SOL_SPOT], 5 * SOL)
    perp(user, 0, SOL_PERP, -5 * SOL, 150 * PRICE)
    drift = offline(user, perps, spots)
    drift.set_perp_oracle_price(SOL_PERP, 170 * PRICE)  # one oracle: SOL spot moves too
    monitor = DriftMarginMonitor()

    via_client = monitor.compute(drift, 0, now=7)
    via_accounts = monitor.compute_for(
        user, perps, spots, now=7, oracle_prices={(MarketType.SPOT, SOL_SPOT): 170 * PRICE}
    )
    assert via_client == via_accounts
    assert via_client.unrealized_pnl == 5 * (150 - 170) * USDC

    with pytest.raises(ValueError, match="same oracle"):
        monitor.compute_for(
            user,
            perps,
            spots,
            oracle_prices={
                (MarketType.PERP, SOL_PERP): 170 * PRICE,
                (MarketType.SPOT, SOL_SPOT): 160 * PRICE,
            },
        )


def test_results_are_integers():
    perps, spots = markets(sol_price=151_234_567)
    user = new_user()
    deposit(user, 0, spots[0], 1_234 * USDC + 567_891)
    perp(user, 0, SOL_PERP, 33_330_000_000, 149_990_000)
    perps[SOL_PERP].amm.cumulative_funding_rate_long = 123_456_789  # unsettled funding
    m = DriftMarginMonitor().compute_for(user, perps, spots)
    for name in (
        "total_collateral",
        "maintenance_total_collateral",
        "initial_margin_requirement",
        "maintenance_margin_requirement",
        "free_collateral",
        "health",
        "leverage",
        "margin_ratio",
        "unrealized_pnl",
        "timestamp",
    ):
        assert type(getattr(m, name)) is int, name
    for risk in m.position_risks:
        assert type(risk.liquidation_price) is int and type(risk.oracle_price) is int


def test_classify_uses_configurable_thresholds():
    perps, spots = markets(sol_price=146 * PRICE)
    user = new_user()
    deposit(user, 0, spots[0], 1_000 * USDC)
    perp(user, 0, SOL_PERP, 100 * SOL, 150 * PRICE)
    m = DriftMarginMonitor().compute_for(user, perps, spots)
    assert m.health == 27

    assert DriftMarginMonitor().classify(m) is RiskLevel.WARNING  # 20 < 27 <= 50
    assert DriftMarginMonitor(MarginThresholds(80, 27)).classify(m) is RiskLevel.CRITICAL
    assert DriftMarginMonitor(MarginThresholds(26, 10)).classify(m) is RiskLevel.HEALTHY
    assert DriftMarginMonitor(MarginThresholds(27, 10)).classify(m) is RiskLevel.WARNING

    with pytest.raises(ValueError, match="critical_health"):
        MarginThresholds(warning_health=20, critical_health=50)
    with pytest.raises(ValueError, match="warning_health"):
        MarginThresholds(warning_health=101)


def test_margin_demo_command_prints_the_real_numbers():
    result = CliRunner().invoke(app, ["margin", "--demo"])
    assert result.exit_code == 0, result.output
    out = result.output
    # hedged account (test_short_perp_hedged_by_spot_sol): 3660 / 90 / 3210 / 98 / 1523.0769
    for text in ("hedged SOL carry", "$3,660.00", "$90.00", "$3,210.00", "0.76x", "HEALTHY"):
        assert text in out
    assert "$1,523.0769" in out and "+915.38%" in out
    # over-levered account at $145: collateral 500, requirement 435, health 13, 29x
    for text in ("over-levered SOL long", "$500.00", "$435.00", "29.00x", "CRITICAL"):
        assert text in out
    # liquidation 145 - (500 - 435) / 97 = 144.329897
    assert "$144.3299" in out and "-0.46%" in out


def test_margin_command_without_demo_explains_itself():
    result = CliRunner().invoke(app, ["margin"])
    assert result.exit_code == 2
    assert "--demo" in result.output
    assert CliRunner().invoke(app, ["margin", "--help"]).exit_code == 0
