"""Injected RPC faults: the adapter recovers and never places an order twice.

Orders are counted by user order id in the simulator itself (the program's view), so a
duplicate placement anywhere — a rebuilt transaction after a lost response, a resend
after a lost confirmation — would show as a second program order id.
"""

from __future__ import annotations

import asyncio

import pytest

from drift_engine.core.types import MarketType, OrderIntent
from drift_engine.live.client import RpcUnavailableError
from tests.live.conftest import USDC

SOL = 10**9


def market_hedge(a: int, b: int):
    return [
        OrderIntent(1, MarketType.SPOT, "long", SOL, user_order_id=a),
        OrderIntent(0, MarketType.PERP, "short", SOL, user_order_id=b),
    ]


def resting(uid: int, price: int = 100_000_000):
    return [
        OrderIntent(
            0, MarketType.PERP, "long", SOL, order_type="limit", price=price, user_order_id=uid
        )
    ]


async def _ready(world, make_client, **kw):
    client = make_client(world.server, **kw)
    await client.connect()
    await client.initialize_user()
    await client.deposit(5_000 * USDC, 0)
    return client


FAULTS = {
    "send_response_dropped": [("drop_response", "sendTransaction", 1)],
    "send_response_dropped_twice": [("drop_response", "sendTransaction", 2)],
    "confirmation_lost": [("lost_confirmation", None, 1)],
    "confirmation_lost_and_response_dropped": [
        ("lost_confirmation", None, 1),
        ("drop_response", "sendTransaction", 1),
    ],
    "blockhash_expired_twice": [("expired_blockhash", None, 2)],
    "send_429_three_times": [("http_429", "sendTransaction", 3)],
    "reads_429": [
        ("http_429", "getMultipleAccounts", 2),
        ("http_429", "getLatestBlockhash", 2),
        ("http_429", "getSignatureStatuses", 2),
    ],
    "status_response_dropped": [("drop_response", "getSignatureStatuses", 2)],
    "expired_then_lost": [("expired_blockhash", None, 1), ("lost_confirmation", None, 1)],
}


@pytest.mark.parametrize("kind", ["market", "resting"])
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_places_each_order_exactly_once(world, make_client, fault, kind):
    async def scenario():
        client = await _ready(world, make_client)
        try:
            intents = (
                market_hedge(21, 22) if kind == "market" else resting(21) + resting(22, 99_000_000)
            )
            for spec in FAULTS[fault]:
                world.server.faults.arm(*spec)
            out = await client.place_orders(intents)
            assert out.user_order_ids == (21, 22)
            assert out.status in ("confirmed", "already_landed")
            # and the next order goes through normally
            out2 = await client.place_orders(resting(23, 98_000_000))
            assert out2.status == "confirmed"
        finally:
            await client.close()

    asyncio.run(scenario())
    assert world.server.faults.pending == 0, "every armed fault fired"
    assert sum(world.server.faults.fired.values()) >= 1
    for uid in (21, 22, 23):
        assert len(world.placements(uid)) == 1, (
            f"user order id {uid} placed {world.placements(uid)}"
        )
    if kind == "market":
        assert world.sim.token_amount(world.key, "SOL") == SOL
        assert world.sim.perp_position(world.key, "SOL-PERP").base_asset_amount == -SOL


def test_lost_confirmation_is_resolved_from_the_account(world, make_client):
    async def scenario():
        client = await _ready(world, make_client)
        try:
            world.server.faults.arm("lost_confirmation")
            out = await client.place_orders(market_hedge(31, 32))
            assert out.status == "already_landed" and out.signature is None
        finally:
            await client.close()

    asyncio.run(scenario())
    assert len(world.placements(31)) == len(world.placements(32)) == 1


def test_deposit_with_lost_confirmation_lands_once(world, make_client):
    async def scenario():
        client = make_client(world.server)
        await client.connect()
        await client.initialize_user()
        world.server.faults.arm("lost_confirmation")
        world.server.faults.arm("drop_response", "sendTransaction")
        out = await client.deposit(700 * USDC, 0)
        assert out.status == "already_landed"
        await client.close()

    asyncio.run(scenario())
    assert world.sim.token_amount(world.key, "USDC") == 700 * USDC
    assert world.chain.token_balance(world.ata) == (10_000 - 700) * USDC


def test_fault_storm_many_orders(world, make_client):
    """Every few requests something fails; eight orders, each placed exactly once."""

    async def scenario():
        client = await _ready(world, make_client, max_attempts=12)
        try:
            f = world.server.faults
            f.every("http_429", 5)
            f.every("drop_response", 7)
            f.every("lost_confirmation", 3)
            f.every("expired_blockhash", 4)
            for i in range(4):
                await client.place_orders(resting(40 + 2 * i, 90_000_000 - i * 1_000_000))
                await client.place_orders(market_hedge(41 + 2 * i, 100 + i)[1:])
            f.clear()
        finally:
            await client.close()

    asyncio.run(scenario())
    fired = world.server.faults.fired
    assert fired["lost_confirmation"] and fired["expired_blockhash"]
    for uid in [*range(40, 48, 2), *range(100, 104)]:
        assert len(world.placements(uid)) == 1, uid


def test_latency_is_tolerated(world, make_client):
    async def scenario():
        client = await _ready(world, make_client)
        world.server.faults.latency_s = 0.05
        try:
            out = await client.place_orders(market_hedge(51, 52))
            assert out.status == "confirmed"
        finally:
            await client.close()

    asyncio.run(scenario())
    assert len(world.placements(51)) == 1


def test_rpc_down_raises_and_places_nothing(world, make_client):
    async def scenario():
        client = await _ready(world, make_client, max_attempts=3)
        try:
            world.server.faults.arm("http_429", None, 50)
            with pytest.raises(RpcUnavailableError):
                await client.place_orders(market_hedge(61, 62))
        finally:
            world.server.faults.clear()
            await client.close()

    asyncio.run(scenario())
    assert world.placements(61) == set()


def test_another_writer_does_not_fool_the_landed_check(world, make_client):
    """Between our attempts someone else places an order on the same sub-account (the
    account's order counter moves) while our transaction was refused with HTTP 429: the
    adapter reads the program's OrderRecord events, sees ours did not land, and sends it
    once more — placed exactly once, not skipped."""

    async def scenario():
        client = await _ready(world, make_client)
        other = OrderIntent(
            0, MarketType.PERP, "long", SOL, order_type="limit", price=80_000_000, user_order_id=200
        )

        def other_writer(kind: str, method: str) -> None:
            with world.chain._lock:
                world.sim.place_order(world.key, other, world.sim.now)

        world.server.faults.on_fire = other_writer
        world.server.faults.arm("http_429", "sendTransaction")
        try:
            out = await client.place_orders(resting(71))
            assert out.status == "confirmed"
        finally:
            world.server.faults.on_fire = None
            await client.close()

    asyncio.run(scenario())
    assert len(world.placements(200)) == 1
    assert len(world.placements(71)) == 1


@pytest.mark.localnet(auctions=False)
def test_fills_are_found_in_order_records(world, make_client):
    """An order that fills inside its transaction (here: the chain without auctions; on
    mainnet: place_and_take) leaves no order slot: its OrderRecord event in the
    transaction's logs is what shows it landed."""
    from drift_engine.live.client import drift_events

    async def scenario():
        client = await _ready(world, make_client)
        try:
            world.server.faults.arm("lost_confirmation")
            out = await client.place_orders(market_hedge(81, 82))
            assert out.status == "already_landed"
            assert not any(o.user_order_id in (81, 82) for o in client.last_state.open_orders)
            assert await client._placed_in_history({81, 82}, 0, 0) == {81, 82}
        finally:
            await client.close()

    asyncio.run(scenario())
    landed = [rec for rec in world.chain.signatures.values() if "place_orders" in rec.instructions]
    events = [data for name, data in drift_events(landed[-1].logs) if name == "OrderRecord"]
    assert sorted(e.order.user_order_id for e in events) == [81, 82]
    assert all(type(e.order.status).__name__ == "Filled" for e in events)
    assert len(world.placements(81)) == len(world.placements(82)) == 1


def test_withdraw_and_transfer_with_lost_confirmations_happen_once(world, keypair_file):
    from drift_engine.live.client import DriftClient
    from tests.live.conftest import fast_config

    async def scenario():
        main = DriftClient.from_keypair_file(
            fast_config(world.server.url), keypair_file, clock=world.clock
        )
        sub1 = DriftClient.from_keypair_file(
            fast_config(world.server.url, sub_account_id=1), keypair_file, clock=world.clock
        )
        async with main, sub1:
            await main.initialize_user()
            await sub1.initialize_user()
            await main.deposit(1_000 * USDC, 0)
            world.server.faults.arm("lost_confirmation")
            assert (await main.withdraw(100 * USDC, 0)).status == "already_landed"
            world.server.faults.arm("drop_response", "sendTransaction")
            world.server.faults.arm("lost_confirmation")
            assert (await main.transfer_deposit(50 * USDC, 0, 1)).status == "already_landed"

    asyncio.run(scenario())
    assert world.chain.token_balance(world.ata) == (10_000 - 1_000 + 100) * USDC
    assert world.sim.token_amount((world.keypair.pubkey(), 1), "USDC") == 50 * USDC
    main_usdc = world.sim.token_amount(world.key, "USDC")
    assert abs(main_usdc - 850 * USDC) <= 1  # scaled-balance rounding
