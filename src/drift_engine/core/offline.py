"""driftpy's own DriftClient and DriftUser over Drift accounts we hold in memory.

Why: margin, health, leverage and liquidation prices must come from the same math for
paper and live. driftpy implements that math on `DriftUser`, which reads its accounts
through "account subscribers". The *cached* subscribers keep data we push in, so this
module builds a DriftClient whose caches point at our account objects. Nothing is
fetched: the RPC URL is a placeholder that is never contacted (no method here awaits).

The objects are shared, not copied: a simulator that mutates a User or PerpMarket in
place is seen at once by every DriftUser built here; oracle prices are pushed with
`set_oracle_price`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from driftpy.account_subscription_config import AccountSubscriptionConfig
from driftpy.accounts.types import DataAndSlot
from driftpy.drift_client import DriftClient
from driftpy.drift_user import DriftUser
from driftpy.oracles.oracle_id import get_oracle_id
from driftpy.types import OraclePriceData
from solana.rpc.async_api import AsyncClient
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from drift_engine.core.accounts import oracle_price_data, user_pubkey

_UNUSED_RPC_URL = "http://127.0.0.1:9"


@cache
def _unused_connection() -> AsyncClient:
    """The placeholder RPC client every OfflineDrift hands driftpy: one per process, as
    it is never contacted (building one costs ~35 ms: an httpx client and its TLS
    context, which a sweep would otherwise pay again at every run)."""
    return AsyncClient(_UNUSED_RPC_URL)


class OfflineDrift:
    """A driftpy DriftClient (+ DriftUsers) whose caches are our in-memory accounts.

    `wallet` signs nothing here; it only gives driftpy's instruction builders the
    authority's public key. Pass a Keypair when byte-comparing instructions with
    driftpy's builders (they use `wallet.public_key` as the authority account).
    """

    def __init__(
        self,
        perp_markets: dict[int, Any],
        spot_markets: dict[int, Any],
        *,
        authority: Pubkey | None = None,
        wallet: Keypair | None = None,
        state: Any | None = None,
        slot: int = 0,
    ) -> None:
        self.wallet = wallet or Keypair()
        self.authority = authority or self.wallet.pubkey()
        self.slot = slot
        self.perp_markets = perp_markets
        self.spot_markets = spot_markets
        self.client = DriftClient(
            _unused_connection(),
            self.wallet,
            env="mainnet",
            authority=self.authority,
            account_subscription=AccountSubscriptionConfig("cached"),
            perp_market_indexes=sorted(perp_markets),
            spot_market_indexes=sorted(spot_markets),
            oracle_infos=[],
            sub_account_ids=[],
        )
        cache = self.client.account_subscriber.cache
        # driftpy's `resurrect` indexes its lists by position, not market index, which is
        # wrong for a sparse set of spot markets (0, 1, 3, 4): fill the cache directly.
        cache["perp_markets"] = [DataAndSlot(slot, perp_markets[i]) for i in sorted(perp_markets)]
        cache["spot_markets"] = [DataAndSlot(slot, spot_markets[i]) for i in sorted(spot_markets)]
        cache["state"] = DataAndSlot(slot, state) if state is not None else None
        for market in perp_markets.values():
            hist = market.amm.historical_oracle_data
            self._put_oracle(market.amm.oracle, market.amm.oracle_source, hist.last_oracle_price)
        for market in spot_markets.values():
            hist = market.historical_oracle_data
            self._put_oracle(market.oracle, market.oracle_source, hist.last_oracle_price)

    # ------------------------------------------------------------------ oracles

    def _put_oracle(self, oracle: Pubkey, source: Any, price: int | OraclePriceData) -> None:
        data = price if isinstance(price, OraclePriceData) else oracle_price_data(price, self.slot)
        key = get_oracle_id(oracle, source)
        self.client.account_subscriber.cache["oracle_price_data"][key] = DataAndSlot(
            data.slot, data
        )

    def set_perp_oracle_price(self, market_index: int, price: int | OraclePriceData) -> None:
        m = self.perp_markets[market_index]
        self._put_oracle(m.amm.oracle, m.amm.oracle_source, price)

    def set_spot_oracle_price(self, market_index: int, price: int | OraclePriceData) -> None:
        m = self.spot_markets[market_index]
        self._put_oracle(m.oracle, m.oracle_source, price)

    def perp_oracle_price(self, market_index: int) -> int:
        return self.client.get_oracle_price_data_for_perp_market(market_index).price

    def spot_oracle_price(self, market_index: int) -> int:
        return self.client.get_oracle_price_data_for_spot_market(market_index).price

    # ------------------------------------------------------------------ users

    def add_user(self, user: Any, slot: int | None = None) -> DriftUser:
        """Register a User account (of this authority) and return driftpy's DriftUser for it."""
        if user.authority != self.authority:
            raise ValueError(
                f"user authority {user.authority} is not this client's authority {self.authority}"
            )
        sub_id = user.sub_account_id
        drift_user = DriftUser(
            self.client,
            user_pubkey(self.authority, sub_id),
            AccountSubscriptionConfig("cached"),
        )
        drift_user.account_subscriber.update_data(
            DataAndSlot(self.slot if slot is None else slot, user)
        )
        self.client.users[sub_id] = drift_user
        if sub_id not in self.client.sub_account_ids:
            self.client.sub_account_ids.append(sub_id)
        return drift_user

    def user(self, sub_account_id: int = 0) -> DriftUser:
        return self.client.get_user(sub_account_id)
