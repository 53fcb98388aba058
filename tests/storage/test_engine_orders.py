"""The `engine_orders` table (migration 0006) behind `SqlOrderStore`: an order's record is
durable, updated in place, and the database allows one working order per (engine, user
order id) — on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from drift_engine.core.types import MarketType, OrderIntent
from drift_engine.engine.order_store import SqlOrderStore
from drift_engine.engine.orders import (
    OrderBook,
    OrderEvent,
    OrderEventKind,
    OrderState,
    OrderStatus,
)

SOL = 10**9


def _intent(uid: int = 0) -> OrderIntent:
    return OrderIntent(
        0,
        MarketType.PERP,
        "short",
        2 * SOL,
        order_type="oracle",
        oracle_price_offset=-750_000,
        auction_start_price=0,
        auction_end_price=-750_000,
        auction_duration=20,
        max_ts=1_000,
        user_order_id=uid,
        tags=("delta-neutral", "entry", "perp"),
    )


def test_orders_survive_a_restart_with_their_evidence(db):
    book = OrderBook("dn", SqlOrderStore(db))
    (a, b) = book.create([_intent(), _intent()], ts=1)
    book.set_send_ref([a, b], {"since_order_id": 4, "since_slot": 90, "signatures": ["s"]})
    book.apply(a, OrderEvent(OrderEventKind.ACCEPT, 2, "sig", order_id=4))
    book.apply(a, OrderEvent(OrderEventKind.FILL, 3, "f1", fill_id="f1", base=SOL, quote=150))
    book.apply(b, OrderEvent(OrderEventKind.UNKNOWN, 2, "confirmation lost"))
    again = OrderBook("dn", SqlOrderStore(db))
    got = {o.user_order_id: o for o in again.working()}
    assert got[a.user_order_id].status is OrderStatus.PARTIALLY_FILLED
    assert got[a.user_order_id].order_id == 4 and got[a.user_order_id].fill_ids == ["f1"]
    assert got[a.user_order_id].intent == a.intent
    assert got[b.user_order_id].status is OrderStatus.UNKNOWN and again.blocked
    assert got[b.user_order_id].send_ref["since_order_id"] == 4
    assert SqlOrderStore(db).last_seq("dn") == (2, b.user_order_id)
    assert SqlOrderStore(db).last_seq("other") == (0, 0)


def test_one_working_order_per_engine_and_user_order_id(db):
    store = SqlOrderStore(db)
    first = OrderState("dn", 1, 5, _intent(5))
    store.save(first)
    with pytest.raises(IntegrityError):
        store.save(OrderState("dn", 2, 5, _intent(5)))
    store.save(OrderState("other-engine", 1, 5, _intent(5)))  # another engine's id space
    first.status = OrderStatus.CANCELLED
    store.save(first)
    store.save(OrderState("dn", 2, 5, _intent(5)))  # a finished id may be reused
    assert [o.seq for o in store.all("dn")] == [1, 2]
    assert [o.seq for o in store.working("dn")] == [2]
