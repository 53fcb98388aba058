"""driftpy's own DriftClient, unwrapped, against the local RPC: what it calls works.

The adapter uses driftpy's "cached" subscribers fed by one getMultipleAccounts; these
tests show driftpy's own paths work too — "cached" (getAccountInfo per account) and
"polling" (BulkAccountLoader's batched JSON-RPC getMultipleAccounts) — and that every
method driftpy sends is one the server implements.
"""

from __future__ import annotations

import asyncio

from driftpy.account_subscription_config import AccountSubscriptionConfig
from driftpy.accounts.bulk_account_loader import BulkAccountLoader
from driftpy.drift_client import DriftClient as DriftpyClient
from driftpy.types import (
    MarketType,
    OracleInfo,
    OrderParams,
    OrderType,
    PositionDirection,
    TxParams,
)
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed

from drift_engine.core.margin import DriftMarginMonitor
from tests.live.conftest import USDC


def _client(url, keypair, subscription, oracles):
    return DriftpyClient(
        AsyncClient(url),
        keypair,
        env="mainnet",
        account_subscription=subscription,
        perp_market_indexes=[0],
        spot_market_indexes=[0, 1],
        oracle_infos=[OracleInfo(m.amm.oracle, m.amm.oracle_source) for m in oracles],
        market_lookup_tables=[],  # no lookup tables on the local chain
        tx_params=TxParams(600_000, 1_000),
    )


def test_driftpy_cached_client_full_flow(world):
    kp = world.keypair

    async def scenario():
        dc = _client(
            world.server.url, kp, AccountSubscriptionConfig("cached"), [world.sim.perp_markets[0]]
        )
        await dc.account_subscriber.subscribe()
        await dc.initialize_user()
        await dc.subscribe()  # markets, the new User and UserStats
        await dc.deposit(2_000 * USDC, 0, world.ata)
        await dc.place_orders(
            [
                OrderParams(
                    order_type=OrderType.Market(),
                    market_type=MarketType.Spot(),
                    direction=PositionDirection.Long(),
                    base_asset_amount=10**9,
                    market_index=1,
                    user_order_id=1,
                ),
                OrderParams(
                    order_type=OrderType.Market(),
                    market_type=MarketType.Perp(),
                    direction=PositionDirection.Short(),
                    base_asset_amount=10**9,
                    market_index=0,
                    user_order_id=2,
                ),
            ]
        )
        await dc.place_perp_order(
            OrderParams(
                order_type=OrderType.Limit(),
                market_type=MarketType.Perp(),
                direction=PositionDirection.Long(),
                base_asset_amount=10**9,
                market_index=0,
                price=120_000_000,
                user_order_id=3,
            )
        )
        await dc.cancel_order_by_user_id(3)
        await dc.withdraw(100 * USDC, 0, world.ata)
        await dc.get_user().account_subscriber.fetch()
        user = dc.get_user()
        theirs = world.sim.drift_user(world.key)
        assert user.get_total_collateral() == theirs.get_total_collateral()
        assert user.get_health() == theirs.get_health()
        await dc.connection.close()

    asyncio.run(scenario())
    calls = world.server.stats.calls
    assert not world.server.stats.unknown
    assert {"getAccountInfo", "getLatestBlockhash", "sendTransaction"} <= set(calls)
    assert calls["getSignatureStatuses"] >= 6  # solana-py's confirm_transaction polling
    assert len(world.placements(1)) == len(world.placements(2)) == len(world.placements(3)) == 1


def test_driftpy_polling_subscription_uses_batched_reads(world):
    kp = world.keypair
    world.program.initialize_user_stats(kp.pubkey())
    world.program.initialize_user(kp.pubkey(), 0, [32] * 32)
    world.sim.deposit(world.key, "USDC", 1_000 * USDC, world.sim.now)

    async def scenario():
        conn = AsyncClient(world.server.url)
        loader = BulkAccountLoader(conn, Confirmed, frequency=0.2)
        dc = _client(
            world.server.url,
            kp,
            AccountSubscriptionConfig("polling", loader),
            [world.sim.perp_markets[0]],
        )
        await dc.subscribe()
        user = dc.get_user()
        assert user.get_user_account().authority == kp.pubkey()
        assert user.get_total_collateral() == world.sim.drift_user(world.key).get_total_collateral()
        metrics = DriftMarginMonitor().compute_for(
            user.get_user_account(), world.sim.perp_markets, world.sim.spot_markets
        )
        assert metrics.total_collateral == user.get_total_collateral()
        await dc.unsubscribe()
        loader._stop_loading()
        await conn.close()

    asyncio.run(scenario())
    assert world.server.stats.calls["getMultipleAccounts"] >= 1
    assert not world.server.stats.unknown
