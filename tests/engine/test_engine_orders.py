"""The engine and its order book: an unknown send outcome is not a rejection; it blocks
new exposure (reduce-only orders and cancels still go) until evidence resolves it."""

from __future__ import annotations

from drift_engine.core.types import MarketType, OrderIntent
from drift_engine.engine import DriftEngine, MarketBoard, MemoryEngineStore
from drift_engine.engine.ledger import MemoryLedgerSink
from drift_engine.engine.orders import OrderStatus
from drift_engine.engine.ports import OrderOutcomeUnknown, OrderUpdate
from drift_engine.strategies import DeltaNeutralStrategy
from drift_engine.strategies.base import CancelAllOrders, PlaceOrders

from .fakes import FakeVenue

USDC = 1_000_000
SOL = 10**9


class UnknownOnce(FakeVenue):
    """Its next place raises OrderOutcomeUnknown (nothing filled yet)."""

    def __init__(self, board):
        super().__init__(board)
        self.unknown_next = False
        self.cancels = 0

    def place(self, orders, ts):
        if self.unknown_next:
            self.unknown_next = False
            self.placed.append(tuple(orders))
            raise OrderOutcomeUnknown("confirmation lost", {"since_order_id": 1, "since_slot": 9})
        return super().place(orders, ts)

    def cancel_all(self, ts):
        self.cancels += 1
        return 0


def setup():
    board = MarketBoard(["SOL-PERP"])
    board.set_price("SOL-PERP", 100 * USDC)
    venue = UnknownOnce(board)
    store = MemoryEngineStore()
    engine = DriftEngine(
        "e1",
        DeltaNeutralStrategy({}),
        venue,
        MemoryLedgerSink("v1", 10_000 * USDC),
        board,
        store=store,
    )
    engine.start(0)
    return engine, venue, store


def place(engine, *orders, reason="test"):
    engine._execute_all([PlaceOrders(tuple(orders), reason=reason)], engine.snapshot(1), 1)


def test_an_unknown_outcome_blocks_new_exposure_but_not_exits_or_cancels():
    engine, venue, store = setup()
    venue.holdings[(MarketType.PERP, 0)] = -2 * SOL  # a position to reduce
    venue.unknown_next = True
    place(engine, OrderIntent(0, MarketType.PERP, "short", SOL))
    (order,) = engine.orders.working()
    assert order.status is OrderStatus.UNKNOWN and engine.orders.blocked
    kinds = [e[2] for e in store.events]
    assert "orders-unknown" in kinds and "rejection" not in kinds
    assert order.send_ref["since_slot"] == 9  # where to look for it on chain
    sent = len(venue.placed)
    place(engine, OrderIntent(0, MarketType.PERP, "short", SOL))  # new exposure: waits
    assert len(venue.placed) == sent and [e for e in store.events if e[2] == "blocked"]
    place(engine, OrderIntent(0, MarketType.PERP, "long", SOL, reduce_only=True))  # exit: goes
    assert len(venue.placed) == sent + 1
    engine._execute_all([CancelAllOrders("flatten")], engine.snapshot(1), 1)
    assert venue.cancels == 1
    # evidence resolves it: the chain shows it placed, then filled
    engine._handle(OrderUpdate("resolve:1", 2, order.user_order_id, 4, "placed"))
    assert order.status is OrderStatus.OPEN and not engine.orders.blocked
    place(engine, OrderIntent(0, MarketType.PERP, "short", SOL))
    assert len(venue.placed) == sent + 2


def test_proven_never_landed_becomes_rejected():
    engine, venue, store = setup()
    venue.unknown_next = True
    place(engine, OrderIntent(0, MarketType.PERP, "short", SOL))
    (order,) = engine.orders.working()
    engine._handle(OrderUpdate("resolve:1", 2, order.user_order_id, 0, "rejected", "expired"))
    assert order.status is OrderStatus.REJECTED and not engine.orders.blocked


def test_the_engine_record_shows_the_order_summary():
    engine, venue, store = setup()
    venue.unknown_next = True
    place(engine, OrderIntent(0, MarketType.PERP, "short", SOL))
    engine.persist()
    summary = engine.store.load("e1").extra["orders"]
    assert summary["blocked"] is True and summary["by_status"] == {"unknown": 1}


def test_a_paper_order_closed_short_of_its_size_is_not_left_working():
    """A reduce-only exit larger than the position fills up to the position; the
    simulator closes it, and the rest is cancelled — never a phantom working order that
    would keep the strategy from acting."""
    from drift_engine.engine.orders import OrderBook
    from drift_engine.sim.simulator import DriftSimulator
    from drift_engine.venues.paper import PaperVenue

    sim = DriftSimulator({"SOL-PERP": 150 * USDC, "SOL": 150 * USDC}, ts=0)
    venue = PaperVenue(sim)
    venue.fund(10_000 * USDC, 0)
    venue.place([OrderIntent(0, MarketType.PERP, "short", 2 * SOL)], 1)
    book = OrderBook("p")
    (exit_,) = book.create([OrderIntent(0, MarketType.PERP, "long", 3 * SOL, reduce_only=True)], 2)
    fills = venue.place([exit_.intent], 2)
    for f in fills:
        book.on_fill(f.record_id, f.ts, f.user_order_id, f.order_id, f.base_asset_amount, 0)
    assert exit_.status is OrderStatus.PARTIALLY_FILLED and exit_.base_filled == 2 * SOL
    for u in venue.poll_events(3):
        if isinstance(u, OrderUpdate):
            book.on_update(u.record_id, u.ts, u.user_order_id, u.order_id, u.action, u.reason)
    assert exit_.status is OrderStatus.CANCELLED and book.working() == []
