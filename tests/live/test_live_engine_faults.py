"""Issue 7 acceptance, faults: a LIVE engine under each injected RPC fault places every
order exactly once (counted in the program), recovers, and its ON_CHAIN vault is marked
stale while reads fail — never booked from a guess — and reconciles when they work again."""

from __future__ import annotations

from collections import Counter

import pytest

from drift_engine.core.types import MarketType
from drift_engine.engine.engine import EngineState
from drift_engine.heartbeat import HeartbeatDataCollector
from drift_engine.live.start import LiveEngineStack
from drift_engine.storage.database import Database
from drift_engine.storage.enums import EntryKind
from tests.live.live_helpers import (
    HOUR,
    USDC,
    ChainMarketFeed,
    board_for,
    chain_cash,
    dn_strategy,
    hourly_events,
)

RATE = 2_000_000

FAULTS = {
    "send_response_dropped": [("drop_response", "sendTransaction", 1)],
    "confirmation_lost": [("lost_confirmation", None, 1)],
    "lost_and_dropped": [("lost_confirmation", None, 1), ("drop_response", "sendTransaction", 1)],
    "blockhash_expired": [("expired_blockhash", None, 2)],
    "send_429": [("http_429", "sendTransaction", 3)],
    "reads_429": [("http_429", "getMultipleAccounts", 2), ("http_429", "getTransaction", 2)],
    "history_dropped": [("drop_response", "getSignaturesForAddress", 2)],
    "expired_then_lost": [("expired_blockhash", None, 1), ("lost_confirmation", None, 1)],
    "latency": [],  # every response delayed
}


def _stack(world, make_client, tmp_path, hours=6, **kw):
    client = make_client(world.server, now=lambda: world.sim.now, **kw)
    client.run(client.connect())
    client.run(client.initialize_user())
    client.run(client.deposit(5_000 * USDC, 0))
    db = Database.open(f"sqlite:///{tmp_path / 'live.db'}")
    stack = LiveEngineStack(db, client, engine_id="dn-live")
    board = board_for(world)
    t0 = world.sim.now
    engine = stack.start(dn_strategy(), board, t0)
    engine.start(t0)
    hb = HeartbeatDataCollector(
        hourly_events(t0, hours, [RATE]),
        board,
        [engine],
        markets=[ChainMarketFeed(world.chain, world.sim)],
        sync_hooks=[stack.sync],
    )
    return stack, engine, hb, t0


def _placements(world) -> Counter:
    """Program orders placed for this wallet (distinct program order ids), by user order
    id: each user order id once, or an order was placed twice."""
    authority = str(world.keypair.pubkey())
    orders = {
        (r.user_order_id, r.order_id)
        for r in world.sim.records
        if r.kind in ("order", "fill") and getattr(r, "authority", None) == authority
    }
    return Counter(uid for uid, _order_id in orders)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_during_entry_places_each_order_once(world, make_client, tmp_path, fault):
    stack, engine, hb, t0 = _stack(world, make_client, tmp_path)
    for spec in FAULTS[fault]:
        world.server.faults.arm(*spec)
    if fault == "latency":
        world.server.faults.latency_s = 0.02
    for h in range(1, 4):
        hb.tick(t0 + h * HOUR)
    assert world.server.faults.pending == 0, "every armed fault fired"
    assert fault == "latency" or sum(world.server.faults.fired.values()) >= 1
    placed = _placements(world)
    assert sum(placed.values()) == 2 and set(placed.values()) == {1}, placed
    assert engine.state is EngineState.RUNNING
    state = stack.client.run(stack.client.refresh())
    perp = state.position(MarketType.PERP, 0)
    assert perp is not None and perp.base_asset_amount < 0
    assert state.spot_balance(1) == -perp.base_asset_amount
    vault = stack.registry.get("dn-live")
    assert stack.registry.summary(vault.id).balance == chain_cash(world)
    assert not stack.registry.sync_status.is_stale(vault.id)
    # the keeper's fills of the two legs (several slots each) are booked once each, at
    # their chain ids
    fills = [e for e in stack.registry.ledger.entries(vault.id) if e.kind is EntryKind.FILL]
    sim_fills = [r for r in world.sim.records if r.kind == "fill"]
    assert len(fills) == len(sim_fills) >= 2 and len({e.key for e in fills}) == len(fills)


def test_runtime_r3_failed_reads_book_nothing_and_mark_the_vault_stale(
    world, make_client, tmp_path
):
    stack, engine, hb, t0 = _stack(world, make_client, tmp_path, max_attempts=2)
    hb.tick(t0 + HOUR)  # enters
    vault = stack.registry.get("dn-live")
    entries_before = len(stack.registry.ledger.entries(vault.id))
    snapshots_before = len(stack.registry.snapshots.series(vault.id))
    # every account read fails from now on (HTTP 429 beyond the client's retries)
    world.server.faults.arm("http_429", "getMultipleAccounts", 10_000)
    for h in (2, 3):
        result = hb.tick(t0 + h * HOUR)  # funding settles on chain meanwhile
        assert result.errors == []  # the engine is not failed, the hook did not raise
        status = stack.registry.sync_status.get(vault.id)
        assert status.stale and "chain read failed" in status.reason
        assert engine.venue.stale
    assert status.failures == 2
    # nothing was booked from a guess, no snapshot recorded
    assert len(stack.registry.ledger.entries(vault.id)) == entries_before
    assert len(stack.registry.snapshots.series(vault.id)) == snapshots_before
    assert engine.state is EngineState.RUNNING
    # reads work again: the vault reconciles, not stale; the strategy settles the
    # funding (nothing settles by itself) and it is booked from the counter
    world.server.faults.clear()
    hb.tick(t0 + 4 * HOUR)
    status = stack.registry.sync_status.get(vault.id)
    assert not status.stale and status.failures == 0 and status.last_slot is not None
    assert not engine.venue.stale
    hb.tick(t0 + 5 * HOUR)
    state = stack.client.run(stack.client.refresh())
    assert stack.registry.summary(vault.id).balance == chain_cash(world)
    funding = [e for e in stack.registry.ledger.entries(vault.id) if e.kind is EntryKind.FUNDING]
    assert sum(e.amount for e in funding) == state.user.cumulative_perp_funding > 0
    kinds = {e.kind for e in stack.registry.ledger.entries(vault.id)}
    assert EntryKind.SYNC_ADJUSTMENT not in kinds
    assert sum(_placements(world).values()) == 2  # no order was sent while blind


def test_runtime_r4_the_venue_refuses_to_place_while_stale(world, make_client, tmp_path):
    from drift_engine.core.types import OrderIntent
    from drift_engine.venues.live import VenueUnavailableError

    stack, engine, hb, t0 = _stack(world, make_client, tmp_path, max_attempts=2)
    world.server.faults.arm("http_429", "getMultipleAccounts", 10_000)
    assert engine.venue.poll_events(t0) == []
    assert engine.venue.stale
    with pytest.raises(VenueUnavailableError):
        engine.venue.place([OrderIntent(0, MarketType.PERP, "short", 10**9)], t0)
    world.server.faults.clear()
    assert _placements(world) == Counter()
    engine.venue.place([OrderIntent(0, MarketType.PERP, "short", 10**9)], t0)
    assert not engine.venue.stale and sum(_placements(world).values()) == 1
