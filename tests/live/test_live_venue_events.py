"""LiveVenue's events from the chain: each kind against the simulator's own records."""

from __future__ import annotations

from decimal import Decimal

from drift_engine.core.types import MarketType, OrderIntent
from drift_engine.engine.ports import InterestEvent, LiquidationEvent, Venue
from drift_engine.strategies.base import FillEvent, FundingEvent
from drift_engine.venues.live import LiveVenue
from tests.live.live_helpers import HOUR, USDC

SOL = 10**9


def _venue(world, make_client, deposit):
    client = make_client(world.server, now=lambda: world.sim.now)
    client.run(client.connect())
    client.run(client.initialize_user())
    client.run(client.deposit(deposit, 0))
    venue = LiveVenue(client)
    venue.connect()
    venue.poll_events(world.sim.now)  # past the setup transactions
    return venue


def _fills_after(world, venue, orders, wait_s=8.0) -> list[FillEvent]:
    """Place, let the keeper fill over the next slots, and read the fills."""
    placed = venue.place(orders, world.sim.now)
    assert placed == []  # nothing fills inside the placing transaction: auctions
    world.wait(wait_s)
    return [e for e in venue.poll_events(world.sim.now) if isinstance(e, FillEvent)]


def _move_oracle(world, price: int, after_s: int = 60) -> None:
    world.clock.advance(after_s)
    with world.chain._lock:
        world.chain.sync()
        world.sim.set_oracle_price("SOL-PERP", price, world.sim.now)


def test_fills_carry_the_programs_realized_pnl_and_fees(world, make_client):
    venue = _venue(world, make_client, 5_000 * USDC)
    assert isinstance(venue, Venue)  # the engine's port, as PaperVenue
    opened = _fills_after(world, venue, [OrderIntent(0, MarketType.PERP, "short", 3 * SOL)])
    _move_oracle(world, 140_000_000)
    closed = _fills_after(
        world, venue, [OrderIntent(0, MarketType.PERP, "long", 2 * SOL, reduce_only=True)]
    )
    flipped = _fills_after(world, venue, [OrderIntent(0, MarketType.PERP, "long", 3 * SOL)])
    sim_fills = [r for r in world.sim.records if r.kind == "fill"]
    got = opened + closed + flipped
    assert len(got) == len(sim_fills) == 3
    for mine, theirs in zip(got, sim_fills, strict=True):
        assert mine.cash == theirs.realized_pnl
        assert mine.fee == theirs.fee
        assert abs(mine.base_asset_amount) == theirs.base_asset_amount
        assert mine.order_id == theirs.order_id
        assert mine.user_order_id == theirs.user_order_id != 0
    assert closed[0].cash > 0  # shorted at 150, bought back at ~140
    assert len({f.record_id for f in got}) == 3
    assert venue.poll_events(world.sim.now) == []  # each event once


def test_funding_and_maker_fills_outside_our_transactions(world, make_client):
    venue = _venue(world, make_client, 5_000 * USDC)
    _fills_after(world, venue, [OrderIntent(0, MarketType.PERP, "short", 2 * SOL)])
    t = world.sim.now
    rest = OrderIntent(
        0, MarketType.PERP, "long", SOL, order_type="limit", price=145_000_000, user_order_id=9
    )
    assert venue.place([rest], t) == []
    with world.chain._lock:
        # funding accrues to the position; it settles when the position next changes
        world.sim.update_funding("SOL-PERP", ts=t + HOUR, funding_rate=2_000_000)
        assert [r for r in world.sim.records if r.kind == "funding"] == []
        world.sim.set_oracle_price("SOL-PERP", 144_000_000, t + HOUR + 60)  # fills the bid
    world.chain.sync()  # the keeper's transaction lands now ...
    early = venue.poll_events(t + HOUR + 60)  # ... and is not confirmed yet
    assert not [e for e in early if isinstance(e, FillEvent | FundingEvent)]
    world.wait(0.4)
    events = venue.poll_events(t + HOUR + 60)
    funding = [e for e in events if isinstance(e, FundingEvent)]
    fills = [e for e in events if isinstance(e, FillEvent)]
    sim_funding = [r for r in world.sim.records if r.kind == "funding"]
    maker = [r for r in world.sim.records if r.kind == "fill" and r.is_maker]
    assert [e.amount for e in funding] == [r.funding_payment for r in sim_funding] != []
    assert len(fills) == len(maker) == 1
    assert fills[0].fee == maker[0].fee and fills[0].cash == maker[0].realized_pnl
    assert fills[0].base_asset_amount == SOL


def test_usdc_interest_from_account_changes(world, make_client):
    venue = _venue(world, make_client, 5_000 * USDC)
    t = world.sim.now
    with world.chain._lock:
        world.sim.set_interest_rates("USDC", Decimal("0.05"), Decimal("0.08"), t)
        world.sim.accrue_interest(t + 24 * HOUR)
    world.chain.advance(1)
    events = venue.poll_events(t + 24 * HOUR)
    interest = [e for e in events if isinstance(e, InterestEvent)]
    sim_interest = [r for r in world.sim.records if r.kind == "interest"]
    assert len(interest) == 1 and interest[0].market_index == 0
    assert interest[0].amount == interest[0].token_amount == sum(r.amount for r in sim_interest)
    assert interest[0].amount > 0


def test_liquidation_from_the_program_log(world, make_client):
    venue = _venue(world, make_client, 200 * USDC)
    _fills_after(world, venue, [OrderIntent(0, MarketType.PERP, "short", 10 * SOL)])
    t = world.sim.now
    with world.chain._lock:
        world.sim.set_oracle_price("SOL-PERP", 165_000_000, t + 60)
        world.sim.liquidate_if_needed(t + 60)
    world.wait(0.4)  # its keeper transaction confirmed
    events = venue.poll_events(t + 60)
    liqs = [e for e in events if isinstance(e, LiquidationEvent)]
    sim_liqs = [r for r in world.sim.records if r.kind == "liquidation"]
    assert sim_liqs and len(liqs) == len(sim_liqs)
    for mine, theirs in zip(liqs, sim_liqs, strict=True):
        assert mine.amount == theirs.realized_pnl
        assert mine.fee == theirs.liquidator_fee + theirs.if_fee
        assert mine.base_asset_amount == theirs.base_asset_amount


def test_runtime_r6_an_order_the_program_skipped_is_cancelled(world, make_client):
    """A confirmed transaction whose order the program did not place (its max_ts had
    passed: `place_perp_order` skips it without an error) is evidence: CANCELLED."""
    from drift_engine.engine.ports import OrderUpdate

    venue = _venue(world, make_client, 5_000 * USDC)
    late = OrderIntent(
        0,
        MarketType.PERP,
        "short",
        SOL,
        order_type="oracle",
        oracle_price_offset=-750_000,
        auction_start_price=0,
        auction_end_price=-750_000,
        auction_duration=10,
        max_ts=world.sim.now - 1,
        user_order_id=12,
    )
    assert venue.place([late], world.sim.now) == []
    assert venue.client.last_state.open_orders == ()
    updates = [e for e in venue.poll_events(world.sim.now) if isinstance(e, OrderUpdate)]
    assert [(u.user_order_id, u.action) for u in updates] == [(12, "cancelled")]
    assert "did not place" in updates[0].reason
