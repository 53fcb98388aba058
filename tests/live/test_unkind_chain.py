"""The local chain behaves like mainnet (issue 11, part 1), through the real client:
slots on the clock, blockhash expiry, Drift's order path (auctions filled by the keeper
over slots, limits that rest, post-only refusals, max_ts expiry, trigger orders,
place_and_take), no automatic settlement, fees and rent, compute limits, prioritization
fees and congestion — and it refuses what mainnet refuses: a wrong oracle account, a
non-sequential sub-account id, a transaction over its compute limit."""

from __future__ import annotations

import pytest
from solders.instruction import AccountMeta, Instruction

from drift_engine.core.auction import AuctionOrder, auction_price
from drift_engine.core.types import MarketType, OrderIntent, OrderType, PositionDirection
from drift_engine.engine.execution import ExecutionConfig, OrderPricer, stop_loss
from drift_engine.live.client import (
    TransactionFailedError,
    TransactionUnconfirmedError,
    drift_events,
)
from drift_engine.localnet.chain import MAX_BLOCKHASH_AGE, account_size, rent_exempt_minimum
from tests.live.conftest import USDC

SOL = 10**9
ORACLE = 150_000_000


def _ready(world, make_client, deposit=5_000 * USDC, **kw):
    client = make_client(world.server, now=lambda: world.sim.now, **kw)
    client.run(client.connect())
    client.run(client.initialize_user())
    client.run(client.deposit(deposit, 0))
    return client


def _events(world, user, name, action=None):
    """(slot, event) of the program's `name` events of `user`, in chain order."""
    out = []
    for rec in world.chain.signatures.values():
        for n, d in drift_events(rec.logs):
            if n != name:
                continue
            who = getattr(d, "user", None) or getattr(d, "taker", None) or getattr(d, "maker", None)
            if who != user:
                continue
            if action is not None and type(d.action).__name__ != action:
                continue
            out.append((rec.slot, d))
    return out


def _taker(direction="long", size=30 * SOL, ts=None, worst_bps=50, duration=10, world=None):
    pricer = OrderPricer(ExecutionConfig(worst_price_bps=worst_bps, auction_duration=duration))
    return pricer.price(
        OrderIntent(0, MarketType.PERP, direction, size), world.sim.oracle_price("SOL-PERP"), ts
    )


def _custom_code(exc: TransactionFailedError) -> int:
    return exc.err.err.code


# --------------------------------------------------------------------------- time


def test_slots_follow_the_clock_about_400ms_each(world):
    start = world.chain.sync()
    assert world.wait(4.0) == start + 10
    assert world.wait(0.39) == start + 10  # not a whole slot yet
    assert world.wait(0.01) == start + 11


def test_a_blockhash_expires_after_150_slots(world):
    blockhash, last_valid = world.chain.latest_blockhash()
    assert last_valid == world.chain.slot + MAX_BLOCKHASH_AGE
    world.wait(MAX_BLOCKHASH_AGE * 0.4)
    assert world.chain.is_blockhash_valid(blockhash)
    world.wait(0.4)
    assert not world.chain.is_blockhash_valid(blockhash)


# --------------------------------------------------------------------------- orders


def test_a_taker_order_rests_and_the_keeper_fills_it_along_the_auction_over_slots(
    world, make_client
):
    client = _ready(world, make_client)
    intent = _taker("long", 30 * SOL, ts=world.sim.now, world=world)  # $4,500: several fills
    out = client.run(client.place_orders([intent]))
    placing = world.chain.signatures[
        next(s for s in world.chain.signatures if str(s) == out.signature)
    ]
    (placed,) = [d.order for n, d in drift_events(placing.logs) if n == "OrderRecord"]
    assert not [n for n, d in drift_events(placing.logs) if n == "OrderActionRecord"]
    world.wait(10)
    fills = _events(world, client.user_pubkey, "OrderActionRecord", "Fill")
    assert len(fills) >= 4 and len({slot for slot, _ in fills}) == len(fills)
    assert sum(d.base_asset_amount_filled for _, d in fills) == 30 * SOL
    prices = [d.quote_asset_amount_filled * SOL // d.base_asset_amount_filled for _, d in fills]
    assert prices == sorted(prices)  # a long's auction price only rises
    worst = ORACLE + placed.oracle_price_offset
    assert all(ORACLE < p <= worst for p in prices)
    # each fill at the auction's price in the slot the keeper filled it (math/auction.rs)
    auction = AuctionOrder.of(placed)
    for (slot, d), price in zip(fills, prices, strict=True):
        fill_slot = slot - 1  # the keeper transaction lands in the slot after the fill
        assert price == auction_price(auction, fill_slot, ORACLE, 100), (slot, d)
    assert client.run(client.refresh()).open_orders == ()


def test_an_order_outside_the_market_never_fills_and_expires_at_max_ts(world, make_client):
    client = _ready(world, make_client)
    # a buy whose worst price is 1% under the oracle: no maker sells there
    intent = OrderIntent(
        0,
        MarketType.PERP,
        "long",
        SOL,
        order_type="oracle",
        oracle_price_offset=-1_500_000,
        auction_start_price=-3_000_000,
        auction_end_price=-1_500_000,
        auction_duration=10,
        max_ts=world.sim.now + 30,
        user_order_id=21,
    )
    client.run(client.place_orders([intent]))
    world.wait(25)
    assert [o.user_order_id for o in client.run(client.refresh()).open_orders] == [21]
    world.wait(10)  # past max_ts: the keeper cancels it as expired
    assert client.run(client.refresh()).open_orders == ()
    assert _events(world, client.user_pubkey, "OrderActionRecord", "Fill") == []
    ((_slot, cancel),) = _events(world, client.user_pubkey, "OrderActionRecord", "Cancel")
    assert type(cancel.action_explanation).__name__ == "OrderExpired"


def test_a_market_order_without_max_ts_gets_the_programs_default_expiry(world, make_client):
    client = _ready(world, make_client)
    bare = OrderIntent(0, MarketType.PERP, "long", SOL, user_order_id=5)  # no auction given
    out = client.run(client.place_orders([bare]))
    rec = next(r for s, r in world.chain.signatures.items() if str(s) == out.signature)
    (order,) = [d.order for n, d in drift_events(rec.logs) if n == "OrderRecord"]
    # place_perp_order: auction from the oracle to 50 bps worse, max_ts now + 30 s
    assert order.auction_start_price == ORACLE and order.auction_end_price == 150_750_000
    assert order.auction_duration == 10 and order.max_ts >= world.sim.now + 20


def test_limit_orders_rest_until_the_oracle_crosses_them(world, make_client):
    client = _ready(world, make_client)
    bid = OrderIntent(
        0, MarketType.PERP, "long", SOL, order_type="limit", price=145_000_000, user_order_id=8
    )
    client.run(client.place_orders([bid]))
    world.wait(30)
    assert [o.user_order_id for o in client.run(client.refresh()).open_orders] == [8]
    with world.chain._lock:
        world.sim.set_oracle_price("SOL-PERP", 144_000_000, world.sim.now + 1)
    world.wait(1)
    (fill,) = [d for _, d in _events(world, client.user_pubkey, "OrderActionRecord", "Fill")]
    assert fill.maker == client.user_pubkey and fill.quote_asset_amount_filled == 145 * USDC
    assert client.run(client.refresh()).open_orders == ()


def test_a_post_only_order_that_would_cross_is_rejected(world, make_client):
    client = _ready(world, make_client)
    crossing = OrderPricer().maker(MarketType.PERP, 0, PositionDirection.LONG, SOL, 151_000_000)
    with pytest.raises(TransactionFailedError) as refused:
        client.run(client.place_orders([crossing]))
    assert _custom_code(refused.value) == 6057  # PlacePostOnlyLimitFailure
    resting = OrderPricer().maker(MarketType.PERP, 0, PositionDirection.LONG, SOL, 149_000_000)
    client.run(client.place_orders([resting]))
    assert len(client.run(client.refresh()).open_orders) == 1


def test_a_trigger_order_waits_for_its_price_then_auctions(world, make_client):
    client = _ready(world, make_client)
    client.run(client.place_orders([_taker("short", 2 * SOL, ts=world.sim.now, world=world)]))
    world.wait(10)
    sl = stop_loss(MarketType.PERP, 0, -2 * SOL, 160_000_000)
    client.run(client.place_orders([sl]))
    world.wait(20)
    (resting,) = client.run(client.refresh()).open_orders
    assert resting.order_type is OrderType.TRIGGER_MARKET
    with world.chain._lock:
        world.sim.set_oracle_price("SOL-PERP", 161_000_000, world.sim.now + 1)
    world.wait(10)
    triggers = _events(world, client.user_pubkey, "OrderActionRecord", "Trigger")
    assert len(triggers) == 1
    state = client.run(client.refresh())
    assert state.open_orders == ()
    assert state.position(MarketType.PERP, 0) is None or (
        state.position(MarketType.PERP, 0).base_asset_amount == 0
    )


def test_place_and_take_fills_in_its_transaction_or_not_at_all(world, make_client):
    client = _ready(world, make_client)
    pricer = OrderPricer(ExecutionConfig(taker_style="place_and_take"))
    take = pricer.price(OrderIntent(0, MarketType.PERP, "short", SOL), ORACLE, world.sim.now)
    out = client.run(client.place_and_take(take))
    rec = next(r for s, r in world.chain.signatures.items() if str(s) == out.signature)
    assert "place_and_take_perp_order" in rec.instructions
    assert [n for n, _ in drift_events(rec.logs)].count("OrderActionRecord") == 1  # its fill
    assert client.run(client.refresh()).position(MarketType.PERP, 0).base_asset_amount == -SOL
    # outside the market: nothing fills, nothing rests
    far = OrderIntent(
        0,
        MarketType.PERP,
        "short",
        SOL,
        order_type="limit",
        price=160_000_000,
        immediate_or_cancel=True,
        max_ts=world.sim.now + 60,
    )
    client.run(client.place_and_take(far))
    state = client.run(client.refresh())
    assert state.open_orders == () and state.position(MarketType.PERP, 0).base_asset_amount == -SOL


# --------------------------------------------------------------------------- settlement


def test_pnl_and_funding_are_not_settled_by_themselves(world, make_client):
    client = _ready(world, make_client)
    client.run(client.place_orders([_taker("short", 2 * SOL, ts=world.sim.now, world=world)]))
    world.wait(10)
    before = client.run(client.refresh())
    with world.chain._lock:
        for _ in range(2):
            world.sim.update_funding("SOL-PERP", ts=world.sim.now + 3600, funding_rate=2_000_000)
        world.sim.set_oracle_price("SOL-PERP", 160_000_000, world.sim.now + 1)
    world.wait(1)
    waiting = client.run(client.refresh())
    assert waiting.user.cumulative_perp_funding == 0 and waiting.user.settled_perp_pnl == 0
    assert waiting.position(MarketType.PERP, 0) == before.position(MarketType.PERP, 0)
    assert waiting.spot_balance(0) == before.spot_balance(0)
    out = client.run(client.settle_pnl(0))
    rec = next(r for s, r in world.chain.signatures.items() if str(s) == out.signature)
    names = [n for n, _ in drift_events(rec.logs)]
    assert names == ["FundingPaymentRecord", "SettlePnlRecord"]
    settled = client.run(client.refresh())
    # two hours at 2e6 per SOL-hour on 2 SOL: the short receives 2 x 2 x 2e6 / 1e3
    assert settled.user.cumulative_perp_funding == 2 * 2 * 2_000_000 // 1_000
    assert settled.user.settled_perp_pnl < 0  # the short lost as the price rose: settled
    assert settled.spot_balance(0) < before.spot_balance(0)


# --------------------------------------------------------------------------- fees


def test_fees_and_rent_are_charged_to_the_payer(world, make_client):
    client = make_client(world.server, compute_unit_price=10_000, compute_unit_limit=300_000)
    client.run(client.connect())
    payer = world.keypair.pubkey()
    before = world.chain.lamports[payer]
    client.run(client.initialize_user())
    rent = rent_exempt_minimum(account_size("User")) + rent_exempt_minimum(
        account_size("UserStats")
    )
    priority = -(-10_000 * 300_000 // 1_000_000)
    assert before - world.chain.lamports[payer] == rent + 5_000 + priority
    init = next(r for r in world.chain.signatures.values() if "initialize_user" in r.instructions)
    assert init.fee == 5_000 + priority and init.unit_price == 10_000 and init.units > 0


def test_a_payer_without_sol_cannot_send(world, make_client):
    from solders.keypair import Keypair

    from drift_engine.live.client import DriftClient
    from tests.live.conftest import fast_config

    broke = DriftClient(fast_config(world.server.url), keypair=Keypair(), clock=world.clock)
    broke.run(broke.connect())
    # refused by the simulation (rent) or by preflight (fee): nothing lands
    with pytest.raises(TransactionFailedError, match="prior credit|simulation failed"):
        broke.run(broke.initialize_user())
    broke.close_blocking()


def test_recent_prioritization_fees_and_congestion(world, make_client):
    client = _ready(world, make_client, compute_unit_price=1_000, max_attempts=3)
    fees = client.run(client.recent_priority_fees())
    assert max(f for _, f in fees) == 1_000  # our own sends
    world.wait(100)
    assert len(client.run(client.recent_priority_fees())) == 150  # the last 150 slots
    world.server.faults.congest(50_000)
    assert {f for _, f in client.run(client.recent_priority_fees())} == {50_000}
    order = _taker("short", SOL, ts=world.sim.now, world=world)
    with pytest.raises(TransactionUnconfirmedError) as unknown:
        client.run(client.place_orders([order]))  # dropped: never lands
    assert world.chain.dropped and world.sim.perp_position(world.key, "SOL-PERP") is None
    exc = unknown.value
    world.wait(MAX_BLOCKHASH_AGE * 0.4 + 1)  # its blockhash expires
    found = client.run(
        client.resolve_orders(
            exc.user_order_ids,
            since_order_id=exc.since_order_id,
            since_slot=exc.since_slot,
            last_valid_block_height=exc.last_valid_block_height,
            signatures=exc.signatures,
        )
    )
    assert {r.status for r in found.values()} == {"not_landed"}
    world.server.faults.clear()
    paying = make_client(world.server, compute_unit_price=60_000)
    paying.run(paying.connect())
    world.server.faults.congest(50_000)
    paying.run(paying.place_orders([_taker("short", SOL, ts=world.sim.now, world=world)]))
    assert len(paying.run(paying.refresh()).open_orders) == 1


# --------------------------------------------------------------------------- refusals


def test_a_wrong_oracle_account_fails_as_the_program_fails(world, make_client):
    """The SOL-PERP order passes BTC's oracle where SOL's should be: OracleNotFound."""
    client = _ready(world, make_client)
    state = client.run(client.refresh())
    from drift_engine.core.builder import UserAccountsView

    ix = client.builder.place_perp_order(
        _taker("short", SOL, ts=world.sim.now, world=world), UserAccountsView.of(state.user)
    )
    sol_oracle = client.catalog.get(MarketType.PERP, 0).oracle
    btc_oracle = client.catalog.get(MarketType.PERP, 1).oracle
    metas = [
        AccountMeta(btc_oracle, False, False) if m.pubkey == sol_oracle else m for m in ix.accounts
    ]
    wrong = Instruction(ix.program_id, ix.data, metas)
    with pytest.raises(TransactionFailedError) as refused:
        client.run(client._send("place_perp_order", [wrong], None))
    assert _custom_code(refused.value) == 6036  # OracleNotFound
    # the right accounts pass
    client.run(client._send("place_perp_order", [ix], None))
    assert len(client.run(client.refresh()).open_orders) == 1


def test_a_missing_market_account_fails_as_the_program_fails(world, make_client):
    client = _ready(world, make_client)
    ix = client.builder.place_perp_order(_taker("short", SOL, ts=world.sim.now, world=world))
    perp = client.catalog.get(MarketType.PERP, 0).account_pubkey
    stripped = Instruction(ix.program_id, ix.data, [m for m in ix.accounts if m.pubkey != perp])
    with pytest.raises(TransactionFailedError) as refused:
        client.run(client._send("place_perp_order", [stripped], None))
    assert _custom_code(refused.value) == 6078  # PerpMarketNotFound


def test_sub_account_ids_must_be_created_in_sequence(world, make_client):
    second = make_client(world.server, sub_account_id=1)
    second.run(second.connect())
    with pytest.raises(TransactionFailedError) as refused:
        second.run(second.initialize_user())
    assert _custom_code(refused.value) == 6214  # InvalidUserSubAccountId
    first = make_client(world.server)
    first.run(first.connect())
    first.run(first.initialize_user())
    second.run(second.initialize_user())  # now it is the next id
    assert second.run(second.refresh()).exists


def test_a_transaction_over_its_compute_limit_fails(world, make_client):
    client = _ready(world, make_client)
    tight = make_client(world.server, compute_unit_limit=40_000)
    tight.run(tight.connect())
    legs = [
        _taker("short", SOL, ts=world.sim.now, world=world),
        OrderPricer().price(OrderIntent(1, MarketType.SPOT, "long", SOL), ORACLE, world.sim.now),
    ]
    with pytest.raises(TransactionFailedError) as refused:
        tight.run(tight.place_orders(legs))
    assert "ComputationalBudgetExceeded" in str(refused.value.err)
    assert tight.run(tight.refresh()).open_orders == ()  # nothing of it landed
    client.run(client.place_orders(legs))  # the default limit (600,000) is enough
    assert len(client.run(client.refresh()).open_orders) == 2


# --------------------------------------------------------------------------- flags


@pytest.mark.localnet(kind=True)
def test_each_unkind_behaviour_can_be_switched_off(world, make_client):
    """LocalnetConfig.kind(): takers fill inside their transaction, statuses are final at
    once, no fees, any sub-account id, no account checks, funding settles by itself."""
    client = make_client(world.server, now=lambda: world.sim.now, sub_account_id=3)
    client.run(client.connect())
    payer = world.keypair.pubkey()
    before = world.chain.lamports[payer]
    client.run(client.initialize_user())  # sub-account 3 first: allowed here
    client.run(client.deposit(5_000 * USDC, 0))
    out = client.run(client.place_orders([OrderIntent(0, MarketType.PERP, "short", SOL)]))
    rec = next(r for s, r in world.chain.signatures.items() if str(s) == out.signature)
    assert "Fill" in str(
        [type(d.action).__name__ for n, d in drift_events(rec.logs) if n == "OrderActionRecord"]
    )
    assert world.chain.commitment_of(rec) == "finalized"
    assert world.chain.lamports[payer] == before
    with world.chain._lock:
        world.sim.update_funding("SOL-PERP", ts=world.sim.now + 3600, funding_rate=2_000_000)
    assert world.sim.user((payer, 3)).cumulative_perp_funding != 0
