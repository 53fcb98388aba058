"""The order life cycle (engine/orders.py): one transition table, evidence only."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drift_engine.core.types import MarketType, OpenOrder, OrderIntent, OrderType
from drift_engine.engine.orders import (
    TERMINAL,
    TRANSITIONS,
    MemoryOrderStore,
    OrderBook,
    OrderEvent,
    OrderEventKind,
    OrderState,
    OrderStatus,
    intent_from_json,
    intent_to_json,
)

SOL = 10**9
E = OrderEventKind
S = OrderStatus


def intent(size: int = 2 * SOL, **kw) -> OrderIntent:
    return OrderIntent(0, MarketType.PERP, "short", size, **kw)


def order(status: S = S.INFLIGHT, size: int = 2 * SOL) -> OrderState:
    return OrderState("e", 1, 7, intent(size, user_order_id=7), status=status)


def ev(kind: E, **kw) -> OrderEvent:
    return OrderEvent(kind, kw.pop("ts", 10), kw.pop("evidence", "test"), **kw)


@pytest.mark.parametrize(("start", "kind"), sorted(TRANSITIONS))
def test_every_table_entry_is_the_move_apply_makes(start, kind):
    o = order(start)
    fill = {"base": SOL, "fill_id": "f1"} if kind is E.FILL else {}
    assert o.apply(ev(kind, **fill)) is TRANSITIONS[(start, kind)]
    assert o.status is TRANSITIONS[(start, kind)]


@pytest.mark.parametrize("start", sorted(TERMINAL))
@pytest.mark.parametrize("kind", list(E))
def test_terminal_statuses_are_final(start, kind):
    o = order(start)
    assert o.apply(ev(kind, base=SOL, fill_id="x")) is None and o.status is start


def test_pairs_outside_the_table_change_nothing():
    o = order(S.OPEN)
    assert o.apply(ev(E.UNKNOWN)) is None  # an order seen on chain is no longer unknown
    assert o.apply(ev(E.ACCEPT)) is None and o.status is S.OPEN
    assert o.apply(ev(E.REJECT)) is None and o.status is S.OPEN  # once open, never rejected


def test_fills_accumulate_to_filled_and_count_once():
    o = order(S.OPEN, size=3 * SOL)
    assert o.apply(ev(E.FILL, base=SOL, quote=150, fill_id="a", order_id=5)) is S.PARTIALLY_FILLED
    assert o.order_id == 5
    assert o.apply(ev(E.FILL, base=SOL, fill_id="a")) is None  # the same fill again
    assert o.base_filled == SOL
    o.apply(ev(E.FILL, base=SOL, fill_id="b"))
    assert o.status is S.PARTIALLY_FILLED
    assert o.apply(ev(E.FILL, base=SOL, fill_id="c")) is S.FILLED
    assert (o.base_filled, o.fill_ids) == (3 * SOL, ["a", "b", "c"])


def test_unknown_is_never_a_rejection_and_blocks_the_book():
    book = OrderBook("e")
    (a, b) = book.create([intent(), intent()], ts=1)
    assert not book.blocked
    book.apply(a, ev(E.UNKNOWN))
    assert a.status is S.UNKNOWN and book.blocked
    assert [o.unknown for o in book.views()] == [True, False]
    book.apply(a, ev(E.ACCEPT, order_id=3))  # a chain read found it
    assert a.status is S.OPEN and not book.blocked
    book.apply(b, ev(E.UNKNOWN))
    book.apply(b, ev(E.REJECT, reason="blockhash expired, no trace"))
    assert (
        b.status is S.REJECTED
        and not book.blocked
        and [o.user_order_id for o in book.working()] == [a.user_order_id]
    )


def test_user_order_ids_are_free_and_rotate():
    book = OrderBook("e")
    orders = book.create([intent(), intent()], ts=1, taken={1})
    assert [o.user_order_id for o in orders] == [2, 3]
    assert all(o.intent.user_order_id == o.user_order_id for o in orders)
    with pytest.raises(ValueError, match="held by a working order"):
        book.create([intent(user_order_id=2)], ts=2)


def test_events_of_an_older_order_with_the_same_id_touch_nothing():
    """User order ids are reused: an event about order id 4 (an old order with uid 9)
    must not move the working uid 9 that is known as order id 40."""
    book = OrderBook("e")
    (o,) = book.create([intent(user_order_id=9)], ts=1)
    book.apply(o, ev(E.ACCEPT, order_id=40))
    assert book.on_update("old:1", 5, 9, 4, "cancelled") is None
    assert o.status is S.OPEN
    assert book.on_fill("old:2", 5, 9, 4, SOL, 150) is None and o.base_filled == 0
    assert book.on_update("new:1", 6, 9, 40, "expired") is o and o.status is S.EXPIRED


def test_before_its_program_id_is_known_an_order_ignores_older_order_ids():
    book = OrderBook("e")
    (o,) = book.create([intent(user_order_id=9)], ts=1)
    book.set_send_ref([o], {"since_order_id": 30, "since_slot": 100})
    book.apply(o, ev(E.UNKNOWN))
    assert book.on_update("old", 5, 9, 4, "placed") is None  # order 4 predates the send
    assert book.on_update("new", 5, 9, 31, "placed") is o and o.order_id == 31


def test_chain_read_makes_inflight_and_unknown_orders_open():
    book = OrderBook("e")
    (a, b) = book.create([intent(), intent()], ts=1)
    book.apply(b, ev(E.UNKNOWN))
    chain = [
        OpenOrder(
            11, a.user_order_id, 0, MarketType.PERP, OrderType.ORACLE, "short", SOL, 0, 0, False
        ),
        OpenOrder(
            12, b.user_order_id, 0, MarketType.PERP, OrderType.ORACLE, "short", SOL, 0, 0, False
        ),
    ]
    book.on_chain_read(chain, 2, "read at slot 9")
    assert (a.status, a.order_id, b.status, b.order_id) == (S.OPEN, 11, S.OPEN, 12)


def test_adopted_orders_are_external_and_working():
    book = OrderBook("e")
    chain = OpenOrder(
        5, 77, 0, MarketType.PERP, OrderType.LIMIT, "long", SOL, 0, 140_000_000, False
    )
    o = book.adopt(chain, 3, "resting at start")
    assert o.external and o.status is S.OPEN and o.order_id == 5
    (view,) = book.views()
    assert view.external and view.user_order_id == 77 and view.signed_remaining == SOL


def test_the_book_survives_a_restart_through_its_store():
    store = MemoryOrderStore()
    logged: list[str] = []
    book = OrderBook("e", store, log=lambda ts, kind, msg, data: logged.append(kind))
    (a, b) = book.create([intent(), intent()], ts=1)
    book.apply(a, ev(E.ACCEPT, order_id=1))
    book.apply(b, ev(E.UNKNOWN))
    book.apply(a, ev(E.FILL, base=2 * SOL, fill_id="f"))
    again = OrderBook("e", store)
    assert [(o.user_order_id, o.status) for o in again.working()] == [(b.user_order_id, S.UNKNOWN)]
    assert again.blocked
    (c,) = again.create([intent()], ts=5)
    assert c.seq == 3 and c.user_order_id == b.user_order_id + 1  # rotation continues
    assert logged.count("order") == 3


def test_the_store_holds_one_working_order_per_user_order_id():
    store = MemoryOrderStore()
    first = OrderState("e", 1, 5, intent(user_order_id=5))
    store.save(first)
    with pytest.raises(ValueError, match="already has a working order"):
        store.save(OrderState("e", 2, 5, intent(user_order_id=5)))
    first.status = S.FILLED
    store.save(first)
    store.save(OrderState("e", 2, 5, intent(user_order_id=5)))  # a done id may be reused


def test_intent_json_round_trips():
    i = OrderIntent(
        1,
        MarketType.SPOT,
        "long",
        SOL,
        order_type="oracle",
        oracle_price_offset=750_000,
        auction_start_price=0,
        auction_end_price=750_000,
        auction_duration=20,
        max_ts=99,
        user_order_id=3,
        tags=("delta-neutral", "entry"),
    )
    assert intent_from_json(intent_to_json(i)) == i
    assert intent_from_json(intent_to_json(i)).tags == i.tags


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(list(E)), st.integers(0, 3 * SOL), st.integers(0, 5)),
        max_size=30,
    )
)
def test_any_evidence_sequence_keeps_the_invariants(events):
    """Whatever evidence arrives, in any order: the status is always one the table can
    reach, a terminal status never changes, fills never pass the order's size twice for
    the same fill, and FILLED means the size was reached."""
    size = 3 * SOL
    o = order(size=size)
    reachable = {S.INFLIGHT} | set(TRANSITIONS.values()) | {S.FILLED}
    was_terminal = None
    for kind, base, fid in events:
        o.apply(ev(kind, base=base, fill_id=f"f{fid}"))
        assert o.status in reachable
        if was_terminal is not None:
            assert o.status is was_terminal
        if o.status.terminal:
            was_terminal = o.status
        assert len(o.fill_ids) == len(set(o.fill_ids))
        if o.status is S.FILLED:
            assert o.base_filled >= size
        if o.status is S.PARTIALLY_FILLED:
            assert o.base_filled < size
