"""Account builders shared by the margin tests (this module holds no tests).

Everything is built from the real market parameters (core/params/mainnet_markets.jsonl) through
core/accounts.py; amounts are Drift integers: USDC = 1e6 (QUOTE), SOL = 1e9 (spot decimals
and perp BASE), prices PRICE 1e6.
"""

from __future__ import annotations

from typing import Any

from driftpy.types import SpotBalanceType
from solders.keypair import Keypair

from drift_engine.core.accounts import default_markets, make_user
from drift_engine.core.markets import MarketCatalog
from drift_engine.core.offline import OfflineDrift

USDC = 10**6  # one USDC in QUOTE / token precision
SOL = 10**9  # one SOL in BASE (perp) and in SOL spot decimals
PRICE = 10**6  # $1 in PRICE precision

SOL_PERP, SOL_SPOT, USDC_SPOT = 0, 1, 0

_CATALOG = MarketCatalog.from_constants()
AUTHORITY = Keypair.from_seed(bytes(range(32))).pubkey()


def markets(sol_price: int = 150 * PRICE) -> tuple[dict[int, Any], dict[int, Any]]:
    """SOL-PERP, USDC and SOL spot market accounts with the real parameters."""
    return default_markets(_CATALOG, {"SOL-PERP": sol_price, "SOL": sol_price})


def new_user() -> Any:
    """An empty sub-account 0 of a fixed authority."""
    return make_user(AUTHORITY, 0)


def _spot_balance(tokens: int, spot_market: Any, deposit: bool) -> int:
    """math/spot_balance.rs get_spot_balance: tokens -> scaled balance (borrows round up)."""
    interest = (
        spot_market.cumulative_deposit_interest
        if deposit
        else spot_market.cumulative_borrow_interest
    )
    scaled = tokens * 10 ** (19 - spot_market.decimals) // interest
    if not deposit and scaled * interest < tokens * 10 ** (19 - spot_market.decimals):
        scaled += 1
    return scaled


def deposit(user: Any, slot: int, spot_market: Any, tokens: int) -> None:
    sp = user.spot_positions[slot]
    sp.market_index = spot_market.market_index
    sp.balance_type = SpotBalanceType.Deposit()
    sp.scaled_balance = _spot_balance(tokens, spot_market, deposit=True)


def borrow(user: Any, slot: int, spot_market: Any, tokens: int) -> None:
    sp = user.spot_positions[slot]
    sp.market_index = spot_market.market_index
    sp.balance_type = SpotBalanceType.Borrow()
    sp.scaled_balance = _spot_balance(tokens, spot_market, deposit=False)


def perp(user: Any, slot: int, market_index: int, base: int, entry_price: int) -> None:
    """A perp position of signed `base` (BASE 1e9) entered at `entry_price`, fees ignored."""
    pp = user.perp_positions[slot]
    pp.market_index = market_index
    pp.base_asset_amount = base
    quote = -base * entry_price // SOL
    pp.quote_asset_amount = pp.quote_entry_amount = pp.quote_break_even_amount = quote


def offline(user: Any, perps: dict[int, Any], spots: dict[int, Any]) -> OfflineDrift:
    """An OfflineDrift (driftpy DriftClient over our accounts) holding `user`."""
    drift = OfflineDrift(perps, spots, authority=user.authority)
    drift.add_user(user)
    return drift
