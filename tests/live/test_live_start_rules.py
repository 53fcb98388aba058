"""The startup reconciliation rules of docs/reconciliation.md, one test per rule, each
against the local RPC over the simulator (the chain) and a real SQLite database."""

from __future__ import annotations

import pytest

from drift_engine.core.types import MarketType, OrderIntent
from drift_engine.heartbeat import HeartbeatDataCollector
from drift_engine.live.start import LiveEngineStack, LiveStartError
from drift_engine.storage.database import Database
from drift_engine.storage.enums import EntryKind
from drift_engine.vaults.entries import NewEntry, fill_key
from tests.live import independent
from tests.live.live_helpers import (
    HOUR,
    USDC,
    ChainMarketFeed,
    board_for,
    chain_cash,
    dn_strategy,
    hourly_events,
)

SOL = 10**9
RATE = 2_000_000


def hedge(size: int = 2 * SOL):
    return [
        OrderIntent(1, MarketType.SPOT, "long", size),
        OrderIntent(0, MarketType.PERP, "short", size),
    ]


@pytest.fixture
def env(world, make_client, tmp_path):
    client = make_client(world.server, now=lambda: world.sim.now, max_attempts=2)
    client.run(client.connect())
    client.run(client.initialize_user())
    client.run(client.deposit(5_000 * USDC, 0))
    db = Database.open(f"sqlite:///{tmp_path / 'live.db'}")

    def start(unknown_orders: str = "cancel", **kw):
        """A fresh process's view: new client, stack and engine over the same database."""
        c = make_client(world.server, now=lambda: world.sim.now, max_attempts=2)
        stack = LiveEngineStack(db, c, engine_id="dn-live", unknown_orders=unknown_orders)
        engine = stack.start(dn_strategy(**kw), board_for(world), world.sim.now)
        return stack, engine

    yield world, client, db, start
    client.close_blocking()


def _chain(world, client):
    return client.run(client.refresh())


def _trade(world, client, size: int = 2 * SOL):
    """Both legs placed by hand (not by the engine) and filled by the keeper."""
    out = client.run(client.place_orders(hedge(size)))
    world.wait(10)
    return out


def _entries(stack):
    return stack.registry.ledger.entries(stack.registry.get("dn-live").id)


def test_rule1_no_start_while_the_chain_cannot_be_read(env):
    world, client, db, start = env
    stack, _ = start()  # creates the vault
    world.server.faults.arm("http_429", "getMultipleAccounts", 10_000)
    with pytest.raises(LiveStartError, match="cannot"):
        start()
    world.server.faults.clear()
    status = stack.registry.sync_status.get(stack.registry.get("dn-live").id)
    assert status.stale and "start" in status.reason


def test_rule2_no_start_without_the_sub_account(world, make_client, tmp_path):
    client = make_client(world.server)
    db = Database.open(f"sqlite:///{tmp_path / 'live.db'}")
    stack = LiveEngineStack(db, client, engine_id="dn-live")
    with pytest.raises(LiveStartError, match="does not exist"):
        stack.start(dn_strategy(), board_for(world), world.sim.now)
    assert stack.registry.ledger.entries(stack.registry.get("dn-live").id) == []


def test_rule3_restart_mid_auction_resumes_own_orders_and_sends_nothing(env):
    """The process dies while its entry rests in the auction; the restarted engine finds
    its orders in the database, resumes them from the chain (never re-sent, never
    cancelled as strangers) and books the keeper's fills as they come."""
    from drift_engine.engine.orders import OrderStatus

    world, client, db, start = env
    stack, engine = start()
    engine.start(world.sim.now)
    feed = ChainMarketFeed(world.chain, world.sim)
    t0 = world.sim.now
    hb = HeartbeatDataCollector(
        hourly_events(t0, 3, [RATE]),
        stack.engine.board,
        [engine],
        markets=[feed],
        sync_hooks=[stack.sync],
    )
    hb.tick(t0 + HOUR)  # the entry goes out; its legs rest in their auctions
    working = {o.user_order_id: o.status for o in stack.orders.working()}
    assert len(working) == 2 and set(working.values()) <= {OrderStatus.OPEN}
    sends = world.server.stats.calls["sendTransaction"]
    stack2, engine2 = start()  # the process restarts mid-auction
    assert stack2.report.cancelled_orders == [] and stack2.report.adopted_orders == []
    assert sorted(stack2.report.resumed_orders) == sorted(working)
    hb2 = HeartbeatDataCollector(
        hourly_events(t0 + HOUR, 2, [RATE]),
        engine2.board,
        [engine2],
        markets=[feed],
        sync_hooks=[stack2.sync],
    )
    hb2.tick(t0 + 2 * HOUR)
    hb2.tick(t0 + 3 * HOUR)
    # nothing placed again (the only sends after the restart are settle_pnl)
    assert sum("place_orders" in r.instructions for r in world.chain.signatures.values()) == 1
    later = world.server.stats.calls["sendTransaction"] - sends
    settles = sum("settle_pnl" in r.instructions for r in world.chain.signatures.values())
    assert later == settles
    assert engine2.state.value == "running"
    done = {o.user_order_id: o.status for o in stack2.orders.store.all("dn-live")}
    assert done == {uid: OrderStatus.FILLED for uid in working}
    chain = _chain(world, client)
    assert chain.position(MarketType.PERP, 0).base_asset_amount < 0
    assert stack2.registry.summary("dn-live").balance == chain_cash(world)


def test_rule4_unknown_open_orders_are_cancelled(env):
    world, client, db, start = env
    start()
    client.run(
        client.place_order(
            OrderIntent(
                0,
                MarketType.PERP,
                "long",
                SOL,
                order_type="limit",
                price=100_000_000,
                user_order_id=77,
            )
        )
    )
    assert [o.user_order_id for o in _chain(world, client).open_orders] == [77]
    stack, _ = start()
    assert stack.report.cancelled_orders == [77]
    assert _chain(world, client).open_orders == ()
    assert stack.store.events("dn-live", "start-cancel")


def test_rule4_unknown_open_orders_are_adopted_as_external_when_configured(env):
    world, client, db, start = env
    start()
    client.run(
        client.place_order(
            OrderIntent(
                0,
                MarketType.PERP,
                "long",
                SOL,
                order_type="limit",
                price=100_000_000,
                user_order_id=78,
            )
        )
    )
    stack, engine = start(unknown_orders="adopt")  # a process configured to adopt strangers
    assert stack.report.adopted_orders == [78] and stack.report.cancelled_orders == []
    (adopted,) = stack.orders.working()
    assert adopted.external and adopted.user_order_id == 78 and adopted.order_id is not None
    assert [o.user_order_id for o in _chain(world, client).open_orders] == [78]
    # the strategy sees it among the working orders and so does not trade over it
    snap = engine.snapshot(world.sim.now)
    assert [(o.user_order_id, o.external) for o in snap.orders] == [(78, True)]
    assert stack.store.events("dn-live", "order-adopted")


def test_rule5_positions_the_vault_did_not_know_are_adopted(env):
    world, client, db, start = env
    start()  # the vault is reconciled flat
    _trade(world, client)  # someone traded the sub-account meanwhile
    stack, _ = start()
    assert stack.report.adopted_positions
    chain = _chain(world, client)
    latest = stack.registry.snapshots.latest(stack.registry.get("dn-live").id)
    assert {(p.market_type, p.market_index): p.base_asset_amount for p in latest.positions} == {
        (p.market_type, p.market_index): p.base_asset_amount for p in chain.positions
    }
    assert stack.store.events("dn-live", "start-adopt")


def test_rule6_fills_on_chain_not_booked_are_booked(env):
    world, client, db, start = env
    start()
    _trade(world, client)
    stack, _ = start()
    keys = stack.report.booked_fills
    sim_fills = [r for r in world.sim.records if r.kind == "fill"]
    assert len(keys) == len(sim_fills) >= 2 and all(k.startswith("fill:") for k in keys)
    fills = [e for e in _entries(stack) if e.kind is EntryKind.FILL]
    assert sorted(e.key for e in fills) == sorted(keys)
    keeper = {
        str(sig)
        for sig, rec in world.chain.signatures.items()
        if rec.instructions == ["fill_perp_order"]
    }
    assert all(k[len("fill:") :].split(":")[0] in keeper for k in keys)  # keeper txs' ids
    assert EntryKind.SYNC_ADJUSTMENT not in {e.kind for e in _entries(stack)}
    assert stack.registry.summary("dn-live").balance == chain_cash(world)
    # a second start books nothing more
    again, _ = start()
    assert again.report.booked_fills == []


def test_rule7_booked_fills_not_on_chain_are_reported_and_adjusted(env):
    world, client, db, start = env
    stack, _ = start()
    stack.registry.ledger.book(
        "dn-live",
        "dn-live",
        NewEntry(kind=EntryKind.FILL, amount=-1_234, fee=0, key=fill_key("not-on-chain:0")),
    )
    world.chain.advance(1)  # time passes (a slot already reconciled books nothing)
    stack2, _ = start()
    assert stack2.report.unknown_booked_fills == ["fill:not-on-chain:0"]
    adjustments = [e for e in _entries(stack2) if e.kind is EntryKind.SYNC_ADJUSTMENT]
    assert [e.amount for e in adjustments] == [1_234]
    assert stack2.registry.summary("dn-live").balance == chain_cash(world)
    assert stack2.store.events("dn-live", "start-unknown-fills")


def test_rule8_funding_while_down_is_booked_from_the_counter(env):
    world, client, db, start = env
    start()
    _trade(world, client)
    start()  # books the fills
    before = _chain(world, client).user.cumulative_perp_funding
    with world.chain._lock:
        for _ in range(3):
            world.sim.update_funding("SOL-PERP", ts=world.sim.now + HOUR, funding_rate=RATE)
    client.run(client.settle_pnl(0))  # settled while the engine was down (by hand)
    world.wait(0.4)
    stack, _ = start()
    after = _chain(world, client).user.cumulative_perp_funding
    funding = [e for e in _entries(stack) if e.kind is EntryKind.FUNDING]
    assert after > before and sum(e.amount for e in funding) == after - before
    assert EntryKind.SYNC_ADJUSTMENT not in {e.kind for e in _entries(stack)}


def test_rule9_history_is_not_replayed_to_the_engine(env):
    world, client, db, start = env
    start()
    _trade(world, client)
    with world.chain._lock:
        world.sim.update_funding("SOL-PERP", ts=world.sim.now + HOUR, funding_rate=RATE)
    client.run(client.settle_pnl(0))
    world.wait(0.4)
    stack, engine = start()
    assert stack.venue.cursor is not None
    assert engine.venue.poll_events(world.sim.now) == []  # all of it was accounted for
    with world.chain._lock:
        world.sim.update_funding("SOL-PERP", ts=world.sim.now + HOUR, funding_rate=RATE)
    client.run(client.settle_pnl(0))
    world.wait(0.4)
    events = engine.venue.poll_events(world.sim.now)
    assert [type(e).__name__ for e in events] == ["FundingEvent"]


def test_rule10_fills_before_the_vault_existed_are_in_its_opening_balance(env):
    world, client, db, start = env
    _trade(world, client)  # before the vault is first reconciled
    stack, _ = start()
    entries = _entries(stack)
    assert [e.kind for e in entries] == [EntryKind.DEPOSIT]
    assert entries[0].key.startswith("opening:")
    assert entries[0].amount == chain_cash(world)
    assert stack.report.booked_fills == []


def _die_during_the_send(stack, engine, world, client, *, lands: bool):
    """What the engine writes before a send (its orders INFLIGHT, with where to find them
    on chain), then the process dies: the transaction landed or never left."""
    ts = world.sim.now
    priced = [engine.pricer.price(o, engine._oracle(o), ts) for o in hedge()]
    tracked = stack.orders.create(priced, ts)
    stack.orders.set_send_ref(tracked, engine.venue.order_marks())
    if lands:
        client.run(client.place_orders([t.intent for t in tracked]))
    return sorted(t.user_order_id for t in tracked)


def test_rule3_an_order_whose_process_died_during_the_send_is_found_on_chain(env):
    from drift_engine.engine.orders import OrderStatus

    world, client, db, start = env
    stack, engine = start()
    uids = _die_during_the_send(stack, engine, world, client, lands=True)
    stack2, engine2 = start()  # the restart finds them resting in their auction
    assert sorted(stack2.report.resumed_orders) == uids
    assert set(stack2.report.resumed_orders.values()) == {"open"}
    assert stack2.report.cancelled_orders == [] and not stack2.orders.blocked
    engine2.start(world.sim.now)
    world.wait(30)  # the keeper fills them
    engine2.step(world.sim.now)
    orders = stack2.orders.store.all("dn-live")
    assert {o.user_order_id: o.status for o in orders if o.user_order_id in uids} == {
        uid: OrderStatus.FILLED for uid in uids
    }
    # nothing re-sent: anything the engine sent after the restart only reduces (with no
    # market data on the board the strategy closes what it holds)
    assert all(o.intent.reduce_only for o in orders if o.user_order_id not in uids)
    placed = [o.user_order_id for o in independent.order_records(world.chain, client.user_pubkey)]
    assert len(placed) == len(set(placed)) and set(uids) <= set(placed)


def test_rule3_an_order_whose_send_never_left_is_unknown_then_rejected(env):
    from drift_engine.engine.orders import OrderStatus

    world, client, db, start = env
    stack, engine = start()
    uids = _die_during_the_send(stack, engine, world, client, lands=False)
    stack2, engine2 = start()
    assert set(stack2.report.resumed_orders.values()) == {"unknown"}
    assert stack2.orders.blocked  # no new exposure while the outcome is unknown
    engine2.start(world.sim.now)
    engine2.step(world.sim.now)
    assert stack2.orders.blocked and not independent.order_records(world.chain, client.user_pubkey)
    world.wait(200)  # every blockhash the send could have used has expired (450 slots)
    engine2.step(world.sim.now)
    done = {o.user_order_id: o.status for o in stack2.orders.store.all("dn-live")}
    assert done == {uid: OrderStatus.REJECTED for uid in uids}
    assert not stack2.orders.blocked
