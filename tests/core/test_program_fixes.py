"""Margin-math fixes found in review (issue #13 item 5), each where our code differed from
the program (drift-labs/protocol-v2 `programs/drift/src/`, `0ae3e3b1`). Every test here
failed against the code before its fix.
"""

from __future__ import annotations

import copy

import pytest
from driftpy.math.margin import MarginCategory, calculate_unrealized_asset_weight

from drift_engine.core import program_math as pm
from drift_engine.core.accounts import oracle_price_data
from drift_engine.core.markets import load_mainnet_snapshots
from tests.core.test_margin_support import (
    PRICE,
    SOL,
    SOL_PERP,
    SOL_SPOT,
    USDC,
    deposit,
    markets,
    new_user,
    perp,
)

INITIAL, MAINTENANCE = MarginCategory.INITIAL, MarginCategory.MAINTENANCE


# ----------------------------------------------------------- net user pnl (math/amm.rs)


def _counting_market(price: int = 150 * PRICE):
    """SOL-PERP configured to count positive uPnL at weight 1.0 up to a $1,000 imbalance
    (mainnet's weight is 0; the imbalance rule matters for markets that count it)."""
    perps, spots = markets(price)
    market = perps[SOL_PERP]
    market.unrealized_pnl_initial_asset_weight = 10_000
    market.unrealized_pnl_max_imbalance = 1_000 * USDC
    market.amm.quote_asset_amount = 800 * USDC  # users net up $800: under the limit
    return market, spots


def test_net_user_pnl_includes_unsettled_funding():
    """math/amm.rs calculate_net_user_pnl adds `amm.net_unsettled_funding_pnl` (funding
    users are owed but have not settled): $800 + $1,200 = $2,000 > $1,000, so the initial
    uPnL weight is scaled by 1,000 / 2,000."""
    market, spots = _counting_market()
    assert pm.unrealized_pnl_asset_weight(market, 50 * USDC, INITIAL) == 10_000
    market.amm.net_unsettled_funding_pnl = 1_200 * USDC
    assert pm.unrealized_pnl_asset_weight(market, 50 * USDC, INITIAL) == 5_000
    # driftpy's calculate_net_user_pnl leaves it out: full weight
    driftpy_weight = calculate_unrealized_asset_weight(
        market, spots[0], 50 * USDC, INITIAL, oracle_price_data(150 * PRICE)
    )
    assert driftpy_weight == 10_000


def test_net_user_pnl_includes_unsettled_lp_base_and_quote():
    market, _ = _counting_market()
    # LPs' unsettled 10 SOL long at $150 = $1,500 more user value: $2,300 -> 10000 x 1000 / 2300
    market.amm.base_asset_amount_with_unsettled_lp = 10 * SOL
    assert pm.unrealized_pnl_asset_weight(market, 50 * USDC, INITIAL) == 4_347
    market.amm.quote_asset_amount_with_unsettled_lp = -1_300 * USDC  # back to $1,000: full
    assert pm.unrealized_pnl_asset_weight(market, 50 * USDC, INITIAL) == 10_000


# ----------------------------------------------------- settlement (math/margin.rs)


def test_settlement_market_values_the_liability_at_the_oracle_price():
    """math/margin.rs calculate_perp_position_value_and_pnl: in Settlement the pnl is
    valued at the expiry price, the (worst-case) liability at the oracle price. The market
    is the real KAMALA-POPULAR-VOTE-2024-BET account (Settlement, expiry price $0.000001)."""
    snap = next(s for s in load_mainnet_snapshots() if s.symbol.startswith("KAMALA"))
    market = copy.deepcopy(snap.account)
    assert type(market.status).__name__ == "Settlement" and market.expiry_price == 1
    _, spots = markets()
    user = new_user()
    deposit(user, 0, spots[0], 100 * USDC)
    perp(user, 0, market.market_index, 100 * SOL, 500_000)  # 100 shares bought at $0.50
    oracle = 600_000
    snapshot = pm.MarketSnapshot(
        {market.market_index: market}, spots, {market.market_index: oracle}, {0: PRICE}
    )
    calc = pm.calculate_margin(user, snapshot, MAINTENANCE, margin_buffer=200)
    assert calc.total_perp_pnl == 100 * 1 - 50 * USDC  # at the expiry price: -$49.9999
    assert calc.total_perp_liability_value == 60 * USDC  # 100 x $0.60, not 100 x $0.000001
    assert calc.margin_requirement == 0  # nothing is required in Settlement
    assert calc.margin_requirement_plus_buffer == 60 * USDC * 200 // 10_000  # $1.20


# ----------------------------------------------------- strict oracle (state/oracle.rs)


def _usdc_and_sol(twap5min: int):
    perps, spots = markets(150 * PRICE)
    spots[SOL_SPOT].historical_oracle_data.last_oracle_price_twap5min = twap5min
    user = new_user()
    deposit(user, 0, spots[0], 1_000 * USDC)
    deposit(user, 1, spots[SOL_SPOT], 20 * SOL)
    snapshot = pm.MarketSnapshot(perps, spots, {SOL_PERP: 150 * PRICE}, {0: PRICE, 1: 150 * PRICE})
    return user, snapshot


def test_strict_margin_treats_a_zero_twap_as_an_invalid_oracle():
    """state/oracle.rs StrictOraclePrice::validate: a 5-minute TWAP <= 0 in a strict
    calculation is `ErrorCode::InvalidOracle` (driftpy's StrictOraclePrice treats 0 as
    "no TWAP" and values the asset at the current price)."""
    user, snapshot = _usdc_and_sol(twap5min=0)
    with pytest.raises(pm.InvalidOracleError, match="twap"):
        pm.calculate_margin(user, snapshot, INITIAL, strict=True)
    # not strict: the TWAP is not read
    plain = pm.calculate_margin(user, snapshot, INITIAL)
    assert plain.total_collateral == (1_000 + 20 * 150 * 8 // 10) * USDC


def test_strict_quote_price_with_a_zero_twap_values_positive_pnl_at_zero():
    """The perp loop's strict quote price is not validated by the program: with a quote
    TWAP of 0, `min()` is 0 and positive pnl counts nothing (driftpy: the current price)."""
    perps, spots = markets(160 * PRICE)
    spots[0].historical_oracle_data.last_oracle_price_twap5min = 0
    user = new_user()
    deposit(user, 0, spots[SOL_SPOT], 10 * SOL)  # no USDC position: only the perp reads it
    perp(user, 1, SOL_PERP, 10 * SOL, 150 * PRICE)  # +$100
    snapshot = pm.MarketSnapshot(perps, spots, {SOL_PERP: 160 * PRICE}, {0: PRICE, 1: 160 * PRICE})
    strict = pm.calculate_margin(user, snapshot, MAINTENANCE, strict=True)
    plain = pm.calculate_margin(user, snapshot, MAINTENANCE)
    assert plain.total_collateral - strict.total_collateral == 100 * USDC


def test_strict_price_validation_and_bounds():
    price = pm.StrictOraclePrice(150, 140)
    assert (price.min(), price.max()) == (140, 150)
    assert pm.StrictOraclePrice(150).min() == 150  # not strict: no TWAP
    assert pm.StrictOraclePrice(150, 0).min() == 0  # strict with a zero TWAP: 0
    with pytest.raises(pm.InvalidOracleError, match="oracle price"):
        pm.StrictOraclePrice(0).validate()
