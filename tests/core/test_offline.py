"""driftpy's DriftUser runs on accounts we hold, and sees in-place changes."""

from driftpy.types import SpotBalanceType

from drift_engine.core.accounts import default_markets, make_user
from drift_engine.core.markets import MarketCatalog
from drift_engine.core.offline import OfflineDrift


def _usdc_deposit(user, usdc: int) -> None:
    sp = user.spot_positions[0]
    # USDC has 6 decimals; scaled balance (1e9) = tokens * 1e9 / 1e6 at unit interest.
    sp.market_index, sp.scaled_balance = 0, usdc * 10**9
    sp.balance_type = SpotBalanceType.Deposit()


def test_driftuser_math_runs_offline_and_follows_oracle_updates():
    catalog = MarketCatalog.from_constants()
    perps, spots = default_markets(catalog, {"SOL-PERP": 150_000_000, "SOL": 150_000_000})
    drift = OfflineDrift(perps, spots)
    user = make_user(drift.authority, 0)
    _usdc_deposit(user, 10_000)
    du = drift.add_user(user)
    # $10,000 USDC at asset weight 1.0 -> total collateral 10,000e6, nothing required.
    assert int(du.get_total_collateral()) == 10_000 * 10**6
    assert int(du.get_margin_requirement()) == 0

    pp = user.perp_positions[0]
    pp.market_index, pp.base_asset_amount = 0, -10 * 10**9  # short 10 SOL at $150
    pp.quote_asset_amount = pp.quote_entry_amount = pp.quote_break_even_amount = 1_500 * 10**6
    # In place: the same DriftUser sees the new position. Oracle to $160:
    # uPnL = 1,500 - 10*160 = -100 -> collateral 9,900e6.
    drift.set_perp_oracle_price(0, 160_000_000)
    assert drift.perp_oracle_price(0) == 160_000_000
    assert int(du.get_total_collateral()) == 9_900 * 10**6
