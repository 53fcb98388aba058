"""The startup reconciliation rules of docs/reconciliation.md, one test per rule, each
against the local RPC over the simulator (the chain) and a real SQLite database."""

from __future__ import annotations

import pytest

from drift_engine.core.types import MarketType, OrderIntent
from drift_engine.heartbeat import HeartbeatDataCollector
from drift_engine.live_start import LiveEngineStack, LiveStartError
from drift_engine.storage.database import Database
from drift_engine.storage.enums import EntryKind
from drift_engine.vaults.entries import NewEntry, fill_key
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

    def start(**kw):
        """A fresh process's view: new client, stack and engine over the same database."""
        c = make_client(world.server, now=lambda: world.sim.now, max_attempts=2)
        stack = LiveEngineStack(db, c, engine_id="dn-live")
        engine = stack.start(dn_strategy(**kw), board_for(world), world.sim.now)
        return stack, engine

    yield world, client, db, start
    client.close_blocking()


def _chain(world, client):
    return client.run(client.refresh())


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


def test_rule3_nothing_is_resent_on_restart(env):
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
    hb.tick(t0 + HOUR)
    sends = world.server.stats.calls["sendTransaction"]
    assert _chain(world, client).position(MarketType.PERP, 0).base_asset_amount < 0
    stack2, engine2 = start()  # the process restarts mid-position
    hb2 = HeartbeatDataCollector(
        hourly_events(t0 + HOUR, 2, [RATE]),
        engine2.board,
        [engine2],
        markets=[feed],
        sync_hooks=[stack2.sync],
    )
    hb2.tick(t0 + 2 * HOUR)
    hb2.tick(t0 + 3 * HOUR)
    assert world.server.stats.calls["sendTransaction"] == sends  # nothing sent again
    assert engine2.state.value == "running"


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


def test_rule5_positions_the_vault_did_not_know_are_adopted(env):
    world, client, db, start = env
    start()  # the vault is reconciled flat
    client.run(client.place_orders(hedge()))  # someone traded the sub-account meanwhile
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
    out = client.run(client.place_orders(hedge()))
    stack, _ = start()
    keys = stack.report.booked_fills
    assert len(keys) == 2 and all(k.startswith("fill:") for k in keys)
    fills = [e for e in _entries(stack) if e.kind is EntryKind.FILL]
    assert sorted(e.key for e in fills) == sorted(keys)
    assert all(out.signature in k for k in keys)  # keyed by the transaction's signature
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
    client.run(client.place_orders(hedge()))
    start()  # books the fills
    before = _chain(world, client).user.cumulative_perp_funding
    with world.chain._lock:
        for _ in range(3):
            world.sim.update_funding("SOL-PERP", ts=world.sim.now + HOUR, funding_rate=RATE)
    stack, _ = start()
    after = _chain(world, client).user.cumulative_perp_funding
    funding = [e for e in _entries(stack) if e.kind is EntryKind.FUNDING]
    assert after > before and sum(e.amount for e in funding) == after - before
    assert EntryKind.SYNC_ADJUSTMENT not in {e.kind for e in _entries(stack)}


def test_rule9_history_is_not_replayed_to_the_engine(env):
    world, client, db, start = env
    start()
    client.run(client.place_orders(hedge()))
    with world.chain._lock:
        world.sim.update_funding("SOL-PERP", ts=world.sim.now + HOUR, funding_rate=RATE)
    stack, engine = start()
    assert stack.venue.cursor is not None
    assert engine.venue.poll_events(world.sim.now) == []  # all of it was accounted for
    with world.chain._lock:
        world.sim.update_funding("SOL-PERP", ts=world.sim.now + HOUR, funding_rate=RATE)
    events = engine.venue.poll_events(world.sim.now)
    assert [type(e).__name__ for e in events] == ["FundingEvent"]


def test_rule10_fills_before_the_vault_existed_are_in_its_opening_balance(env):
    world, client, db, start = env
    client.run(client.place_orders(hedge()))  # before the vault is first reconciled
    stack, _ = start()
    entries = _entries(stack)
    assert [e.kind for e in entries] == [EntryKind.DEPOSIT]
    assert entries[0].key.startswith("opening:")
    assert entries[0].amount == chain_cash(world)
    assert stack.report.booked_fills == []
