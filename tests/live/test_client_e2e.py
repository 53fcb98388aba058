"""The real driftpy client, through our adapter, against the local RPC over the simulator."""

from __future__ import annotations

import asyncio

import pytest
from solders.keypair import Keypair

from drift_engine.core.margin import DriftMarginMonitor
from drift_engine.core.types import (
    MarketType,
    OrderIntent,
    OrderModification,
    positions_from_user,
)
from drift_engine.live.client import (
    DriftAdapter,
    DriftClient,
    ReadOnlyClientError,
    TransactionFailedError,
)
from tests.live.conftest import USDC, fast_config

SOL = 10**9  # 1 SOL (spot and perp base precision)


def run(coro):
    return asyncio.run(coro)


def sim_metrics(world):
    return DriftMarginMonitor().compute(world.sim.drift(world.keypair.pubkey()), 0, world.sim.now)


def hedge(uid_spot: int = 1, uid_perp: int = 2, size: int = SOL):
    return [
        OrderIntent(1, MarketType.SPOT, "long", size, user_order_id=uid_spot),
        OrderIntent(0, MarketType.PERP, "short", size, user_order_id=uid_perp),
    ]


def test_adapter_alias():
    assert DriftAdapter is DriftClient


def test_delta_neutral_round_trip(world, make_client):
    """init -> deposit -> both legs in one tx, resting in their auctions, filled by the
    keeper over the next slots -> funding, settled by settle_pnl -> read back -> cancel ->
    close -> withdraw."""

    async def scenario():
        async with make_client(world.server, now=lambda: world.sim.now) as client:
            assert not client.last_state.exists
            await client.initialize_user()
            assert (await client.refresh()).exists

            await client.deposit(5_000 * USDC, 0)
            assert world.chain.token_balance(world.ata) == 5_000 * USDC
            assert world.sim.token_amount(world.key, "USDC") == 5_000 * USDC

            sends_before = world.server.stats.calls["sendTransaction"]
            out = await client.place_orders(hedge())
            assert out.status == "confirmed" and out.user_order_ids == (1, 2)
            assert world.server.stats.calls["sendTransaction"] == sends_before + 1
            landed = world.chain.signatures[
                next(s for s in world.chain.signatures if str(s) == out.signature)
            ]
            assert landed.instructions == ["compute_budget", "place_orders"]
            assert world.placements(1) and world.placements(2)
            # on chain the legs rest with their auctions; the keeper fills them
            world.wait(10)
            state = await client.refresh()
            assert state.open_orders == ()
            sim_user = world.sim.user(world.key)
            assert list(state.positions) == positions_from_user(sim_user, world.sim.spot_markets)
            assert state.spot_balance(1) == SOL
            assert state.position(MarketType.PERP, 0).base_asset_amount == -SOL
            assert state.margin == sim_metrics(world)

            # an hour of funding: positive rate, the short receives once it is settled
            world.sim.update_funding("SOL-PERP", ts=world.sim.now + 3600, funding_rate=50_000)
            before = state.position(MarketType.PERP, 0)
            state = await client.refresh()
            assert state.position(MarketType.PERP, 0) == before  # nothing settles by itself
            await client.settle_pnl(0)
            state = await client.refresh()
            after = state.position(MarketType.PERP, 0)
            assert after.last_cumulative_funding_rate != before.last_cumulative_funding_rate
            assert state.user.cumulative_perp_funding > 0
            assert list(state.positions) == positions_from_user(
                world.sim.user(world.key), world.sim.spot_markets
            )
            assert state.margin == sim_metrics(world)
            assert state.margin.timestamp == world.sim.now

            # a resting order, modified, then cancelled by its user order id
            rest = OrderIntent(
                0,
                MarketType.PERP,
                "long",
                SOL,
                order_type="limit",
                price=100_000_000,
                user_order_id=9,
            )
            await client.place_order(rest)
            state = client.last_state
            assert [(o.user_order_id, o.price) for o in state.open_orders] == [(9, 100_000_000)]
            await client.modify_order_by_user_id(9, OrderModification(price=101_000_000))
            assert [(o.user_order_id, o.price) for o in client.last_state.open_orders] == [
                (9, 101_000_000)
            ]
            await client.cancel_order_by_user_id(9)
            assert client.last_state.open_orders == ()
            # as in the program, cancelling an order that is not open is a no-op
            again = await client.cancel_order_by_user_id(9)
            assert again.status == "confirmed"

            # close both legs (reduce-only), then withdraw
            await client.place_orders(
                [
                    OrderIntent(
                        1, MarketType.SPOT, "short", SOL, user_order_id=3, reduce_only=True
                    ),
                    OrderIntent(0, MarketType.PERP, "long", SOL, user_order_id=4, reduce_only=True),
                ]
            )
            world.wait(10)
            state = await client.refresh()
            assert state.position(MarketType.PERP, 0) is None or (
                state.position(MarketType.PERP, 0).base_asset_amount == 0
            )
            assert state.spot_balance(1) == 0
            usdc_left = state.spot_balance(0)
            await client.withdraw(1_000 * USDC, 0)
            assert world.chain.token_balance(world.ata) == 6_000 * USDC
            # scaled balances round down: compare with the program, within one micro-USDC
            assert client.last_state.spot_balance(0) == world.sim.token_amount(world.key, "USDC")
            assert abs(client.last_state.spot_balance(0) - (usdc_left - 1_000 * USDC)) <= 1
            assert client.last_state.margin == sim_metrics(world)

    run(scenario())
    assert not world.server.stats.unknown


def test_legacy_transactions_and_compute_unit_price(world, make_client):
    async def scenario():
        async with make_client(world.server, tx_version="legacy", compute_unit_price=5_000) as c:
            await c.initialize_user()
            out = await c.deposit(100 * USDC, 0)
            assert out.status == "confirmed"
            sig = next(s for s in world.chain.signatures if str(s) == out.signature)
            assert world.chain.signatures[sig].instructions == [
                "compute_budget",
                "compute_budget",
                "deposit",
            ]

    run(scenario())
    assert world.sim.token_amount(world.key, "USDC") == 100 * USDC


def test_program_rejection_is_not_retried(world, make_client):
    async def scenario():
        async with make_client(world.server) as client:
            await client.initialize_user()
            await client.deposit(100 * USDC, 0)
            sends = world.server.stats.calls["sendTransaction"]
            with pytest.raises(TransactionFailedError) as err:
                await client.place_order(
                    OrderIntent(0, MarketType.PERP, "short", 1_000 * SOL, user_order_id=5)
                )
            assert "0x1773" in str(err.value)  # InsufficientCollateral = 6003
            # refused by the simulation that sizes its compute budget: never sent
            assert world.server.stats.calls["sendTransaction"] == sends
            assert any("InsufficientCollateral" in line for line in err.value.logs)

    run(scenario())
    assert world.placements(5) == set()


def test_user_order_id_in_use_is_refused(world, make_client):
    async def scenario():
        async with make_client(world.server) as client:
            await client.initialize_user()
            await client.deposit(1_000 * USDC, 0)
            rest = OrderIntent(
                0, "perp", "long", SOL, order_type="limit", price=100_000_000, user_order_id=7
            )
            await client.place_order(rest)
            from drift_engine.live.client import DriftClientError

            with pytest.raises(DriftClientError, match="already in use"):
                await client.place_order(rest)
            # ids are assigned when not given, never colliding with open orders
            out = await client.place_order(
                OrderIntent(0, "perp", "long", SOL, order_type="limit", price=99_000_000)
            )
            assert out.user_order_ids[0] not in (0, 7)

    run(scenario())


def test_read_only_client_monitors_and_refuses_to_sign(world, make_client):
    async def scenario():
        async with make_client(world.server) as trader:
            await trader.initialize_user()
            await trader.deposit(1_000 * USDC, 0)
            await trader.place_orders(hedge())
        world.wait(10)  # the keeper fills the legs; the last fill confirms
        watcher = DriftClient.read_only(
            fast_config(world.server.url),
            world.keypair.pubkey(),
            now=lambda: world.sim.now,
            clock=world.clock,
        )
        async with watcher:
            state = await watcher.refresh()
            assert state.margin == sim_metrics(world)
            assert watcher.driftpy.get_user().get_user_account().authority == world.keypair.pubkey()
            with pytest.raises(ReadOnlyClientError):
                await watcher.deposit(1, 0)
            with pytest.raises(ReadOnlyClientError):
                await watcher.place_orders(hedge(11, 12))

    run(scenario())


def test_driftpy_math_over_fetched_accounts(world, make_client):
    """driftpy's DriftUser, fed by the adapter's batched read, agrees with the simulator's."""

    async def scenario():
        async with make_client(world.server) as client:
            await client.initialize_user()
            await client.deposit(2_000 * USDC, 0)
            await client.place_orders(hedge())
            world.wait(10)  # the keeper fills the legs; the last fill confirms
            await client.refresh()
            mine = client.driftpy.get_user()
            theirs = world.sim.drift_user(world.key)
            assert mine.get_total_collateral() == theirs.get_total_collateral()
            assert mine.get_margin_requirement() == theirs.get_margin_requirement()
            assert mine.get_health() == theirs.get_health()

    run(scenario())


def test_transfer_between_sub_accounts(world, keypair_file):
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
            await main.deposit(500 * USDC, 0)
            await main.transfer_deposit(200 * USDC, 0, 1)
            # the program's scaled-balance rounding: equal to the simulator's amounts
            assert main.last_state.spot_balance(0) == world.sim.token_amount(world.key, "USDC")
            assert abs(main.last_state.spot_balance(0) - 300 * USDC) <= 1
            assert (await sub1.refresh()).spot_balance(0) == 200 * USDC

    run(scenario())
    assert world.sim.token_amount((world.keypair.pubkey(), 1), "USDC") == 200 * USDC


def test_wrong_signer_is_rejected_by_the_chain(world, make_client):
    """A transaction signed by another key cannot touch the account (ConstraintHasOne)."""

    async def scenario():
        async with make_client(world.server) as owner:
            await owner.initialize_user()
            await owner.deposit(100 * USDC, 0)
        stranger = Keypair()
        world.chain.airdrop(stranger.pubkey(), 10**9)  # it can pay its fees
        intruder = DriftClient(
            fast_config(world.server.url),
            keypair=stranger,
            authority=world.keypair.pubkey(),
            clock=world.clock,
        )
        async with intruder:
            with pytest.raises(TransactionFailedError) as refused:
                await intruder.place_order(OrderIntent(0, "perp", "short", SOL, user_order_id=3))
            # the program's refusal (ConstraintHasOne, 2001), not a missing fee
            assert refused.value.err.err.code == 2001

    run(scenario())
