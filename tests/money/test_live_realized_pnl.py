"""Live realized PnL from the program's fill records, including a sell that closes a long.

The program's `OrderActionRecord` carries `existing_quote_entry_amount` /
`existing_base_asset_amount` for the side that reduced (`math/orders.rs::
calculate_existing_position_fields_for_order_action`, `state/user.rs::
get_existing_position_params_for_order_action`):
- open / increase: (None, None);
- reduce or close (fill <= position): (|entry| x fill / |base| floored, None);
- flip (fill > position): (|entry|, |base|).
An indexer's realized PnL: the closed part's quote against the entry it removes.
"""

from __future__ import annotations

from drift_engine.core.types import MarketType, OrderIntent
from drift_engine.strategies.base import FillEvent
from drift_engine.venues.live import LiveVenue, realized_pnl_of
from tests.live.conftest import USDC

SOL = 10**9


def test_a_sell_that_reduces_a_long_realizes_against_the_removed_entry():
    # long 3 SOL for 450_000_001 (entry -450_000_001); sell 2 SOL for 280_000_000.
    # record: existing entry floor(450_000_001 x 2 / 3) = 300_000_000, existing base None
    assert 450_000_001 * 2 // 3 == 300_000_000
    pnl = realized_pnl_of(False, 2 * SOL, 280_000_000, 300_000_000, None)
    assert pnl == 280_000_000 - 300_000_000  # -20_000_000
    # the same sell at a profit: 2 SOL for 310_000_007
    assert realized_pnl_of(False, 2 * SOL, 310_000_007, 300_000_000, None) == 10_000_007


def test_a_sell_that_closes_a_long_whole():
    # long 1.23 SOL, entry -151_851_741; sell all of it for 153_750_000
    assert realized_pnl_of(False, 1_230_000_000, 153_750_000, 151_851_741, None) == 1_898_259


def test_a_buy_that_reduces_a_short():
    # short 3 SOL for +450_000_000; buy back 1 SOL for 140_000_001: entry removed 150_000_000
    assert realized_pnl_of(True, SOL, 140_000_001, 150_000_000, None) == 9_999_999


def test_a_flip_realizes_only_the_closed_part():
    # long 1 SOL, entry -100_000_000; sell 3 SOL for 270_000_001: the record carries the
    # whole entry and base; the closed third is floor(270_000_001 x 1 / 3) = 90_000_000
    assert realized_pnl_of(False, 3 * SOL, 270_000_001, 100_000_000, SOL) == -10_000_000
    # short 2 SOL, entry +300_000_000; buy 5 SOL for 700_000_004: closed 2/5 = 280_000_001
    assert realized_pnl_of(True, 5 * SOL, 700_000_004, 300_000_000, 2 * SOL) == 19_999_999


def test_opening_and_increasing_realize_nothing():
    assert realized_pnl_of(True, SOL, 150_000_000, None, None) == 0
    assert realized_pnl_of(False, SOL, 150_000_000, None, None) == 0


def test_live_venue_books_the_realized_pnl_of_a_long_closed_by_a_sell(world, make_client):
    client = make_client(world.server, now=lambda: world.sim.now)
    client.run(client.connect())
    client.run(client.initialize_user())
    client.run(client.deposit(5_000 * USDC, 0))
    venue = LiveVenue(client)
    venue.connect()
    venue.poll_events(world.sim.now)

    def filled(order: OrderIntent) -> FillEvent:
        """Place; the local chain's keeper fills the auction over the next slots."""
        assert venue.place([order], world.sim.now) == []  # auctions: nothing fills at once
        world.wait(8.0)
        (fill,) = [e for e in venue.poll_events(world.sim.now) if isinstance(e, FillEvent)]
        return fill

    opened = filled(OrderIntent(0, MarketType.PERP, "long", 3 * SOL))
    world.clock.advance(60)
    with world.chain._lock:
        world.chain.sync()
        world.sim.set_oracle_price("SOL-PERP", 161_234_500, world.sim.now)
    reduced = filled(OrderIntent(0, MarketType.PERP, "short", 2 * SOL, reduce_only=True))
    closed = filled(OrderIntent(0, MarketType.PERP, "short", SOL, reduce_only=True))
    assert all(isinstance(f, FillEvent) for f in (opened, reduced, closed))
    entry = -opened.quote_asset_amount  # what the long paid (> 0)
    assert opened.cash == 0
    # the program truncates the removed entry: floor(entry x 2 / 3), the rest on the close
    removed = entry * 2 // 3
    assert reduced.cash == reduced.quote_asset_amount - removed
    assert closed.cash == closed.quote_asset_amount - (entry - removed)
    assert reduced.cash > 0 and closed.cash > 0  # bought at ~150, sold at ~161
    client.close_blocking()
