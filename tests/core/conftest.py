"""Shared fixtures for tests/core: real-parameter markets, a wallet, driftpy offline, users.

Everything is offline and deterministic: the wallet comes from a fixed seed, the market
accounts from the catalog's real parameters, and driftpy's DriftClient reads them from its
cache (core.offline.OfflineDrift), never from a network.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from driftpy.types import SpotBalanceType
from solders.keypair import Keypair

from drift_engine.core.accounts import default_markets, make_user
from drift_engine.core.markets import MarketCatalog
from drift_engine.core.offline import OfflineDrift

#: Oracle prices (PRICE 1e6) for every market in the catalog.
PRICES = {
    "SOL-PERP": 150_000_000,
    "BTC-PERP": 60_000_000_000,
    "ETH-PERP": 3_000_000_000,
    "SOL": 150_000_000,
    "wBTC": 60_000_000_000,
    "wETH": 3_000_000_000,
}


@pytest.fixture(scope="session")
def catalog() -> MarketCatalog:
    return MarketCatalog.from_constants("mainnet")


@pytest.fixture(scope="session")
def market_accounts(catalog) -> tuple[dict[int, Any], dict[int, Any]]:
    """(perp markets, spot markets) by index. Shared: tests must not mutate them."""
    return default_markets(catalog, PRICES)


@pytest.fixture(scope="session")
def wallet() -> Keypair:
    return Keypair.from_seed(bytes(range(32)))


@pytest.fixture(scope="session")
def delegate() -> Keypair:
    return Keypair.from_seed(bytes(range(100, 132)))


def put_spot(user: Any, slot: int, index: int, scaled: int, *, borrow: bool = False) -> Any:
    """Set spot position slot `slot` of a User account (scaled balance, SPOT_BALANCE 1e9)."""
    sp = user.spot_positions[slot]
    sp.market_index = index
    sp.scaled_balance = scaled
    sp.balance_type = SpotBalanceType.Borrow() if borrow else SpotBalanceType.Deposit()
    return sp


def put_perp(user: Any, slot: int, index: int, base: int, quote: int) -> Any:
    """Set perp position slot `slot` of a User account (quote amounts all equal `quote`)."""
    pp = user.perp_positions[slot]
    pp.market_index = index
    pp.base_asset_amount = base
    pp.quote_asset_amount = quote
    pp.quote_entry_amount = quote
    pp.quote_break_even_amount = quote
    return pp


def busy_user(authority: Any, sub_account_id: int = 0) -> Any:
    """A sub-account with positions and open orders across markets, slots out of index order.

    Spot: USDC deposit, wETH deposit with an open ask, SOL deposit, wBTC borrow.
    Perp: BTC-PERP long, SOL-PERP short, ETH-PERP flat with an open bid.
    (Scaled balances are SPOT_BALANCE 1e9 per token at unit cumulative interest.)
    """
    u = make_user(authority, sub_account_id)
    put_spot(u, 0, 0, 20_000 * 10**9)
    weth = put_spot(u, 1, 4, 2 * 10**9)
    weth.open_orders, weth.open_asks = 1, -(10**7)
    put_spot(u, 2, 1, 10 * 10**9)
    put_spot(u, 3, 3, 10**7, borrow=True)
    put_perp(u, 0, 1, 10_000_000, -600 * 10**6)  # long 0.01 BTC
    put_perp(u, 1, 0, -10 * 10**9, 1_500 * 10**6)  # short 10 SOL
    eth = put_perp(u, 2, 2, 0, 0)
    eth.open_orders, eth.open_bids = 1, 10**9
    u.open_orders = 2
    return u


def small_user(authority: Any, sub_account_id: int = 0) -> Any:
    """USDC collateral and one ETH-PERP short: SOL/BTC orders bring in new markets."""
    u = make_user(authority, sub_account_id)
    put_spot(u, 0, 0, 5_000 * 10**9)
    put_perp(u, 0, 2, -(10**9), 3_000 * 10**6)
    return u


def empty_user(authority: Any, sub_account_id: int = 0) -> Any:
    return make_user(authority, sub_account_id)


USER_FACTORIES: dict[str, Callable[..., Any]] = {
    "busy": busy_user,
    "small": small_user,
    "empty": empty_user,
}


@pytest.fixture(scope="session")
def make_test_user() -> Callable[..., Any]:
    """`make_test_user(kind, authority, sub_account_id=0)` with kind busy / small / empty."""

    def make(kind: str, authority: Any, sub_account_id: int = 0) -> Any:
        return USER_FACTORIES[kind](authority, sub_account_id)

    return make


@pytest.fixture(scope="session")
def offline_drift(market_accounts, wallet) -> OfflineDrift:
    """driftpy's real DriftClient over the shared market accounts; add users per test."""
    perps, spots = market_accounts
    return OfflineDrift(perps, spots, wallet=wallet)
