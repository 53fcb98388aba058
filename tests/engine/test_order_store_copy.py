"""`MemoryOrderStore` keeps a copy of each saved order made without `dataclasses.replace`
(`orders._stored`): equal to `replace`'s copy field for field, with its own `send_ref`
and `fill_ids`, so later changes to the live order reach the store only when saved
again; the one-working-order-per-user-order-id rule still raises."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drift_engine.core.types import MarketType, OrderIntent, PositionDirection
from drift_engine.engine import orders as orders_module
from drift_engine.engine.orders import (
    MemoryOrderStore,
    OrderEvent,
    OrderEventKind,
    OrderState,
    OrderStatus,
)

INTENT = OrderIntent(0, MarketType.PERP, PositionDirection.SHORT, 10**9)

EVENTS = st.lists(
    st.tuples(
        st.sampled_from(list(OrderEventKind)),
        st.integers(0, 3),  # which fill id (a repeated one is applied once)
        st.integers(1, 6 * 10**8),
        st.sampled_from(["", "a reason"]),
    ),
    max_size=8,
)


def _replace_copy(order: OrderState) -> OrderState:
    return replace(order, send_ref=dict(order.send_ref), fill_ids=list(order.fill_ids))


def _values(order: OrderState) -> dict:
    return {f.name: getattr(order, f.name) for f in fields(order)}


@settings(max_examples=80, deadline=None)
@given(
    events=EVENTS,
    uid=st.integers(1, 3),
    status=st.sampled_from(list(OrderStatus)),
    ref=st.dictionaries(st.sampled_from(["signature", "slot"]), st.integers(0, 9), max_size=2),
)
def test_the_stored_copy_equals_replace_and_is_its_own(events, uid, status, ref):
    store = MemoryOrderStore()
    order = OrderState("e", 1, uid, INTENT, status=status, send_ref=dict(ref))
    store.save(order)
    for kind, fill, base, reason in events:
        order.apply(
            OrderEvent(kind, 100, f"r{fill}", 7, fill_id=f"f{fill}", base=base, reason=reason)
        )
        expected = _replace_copy(order)
        store.save(order)
        kept = store.rows[("e", 1)]
        assert type(kept) is OrderState and kept is not order
        assert _values(kept) == _values(expected) and kept == expected
        # its own containers: the live order changing later does not reach it
        order.fill_ids.append("later")
        order.send_ref["later"] = 1
        assert kept.fill_ids == expected.fill_ids and kept.send_ref == expected.send_ref
        order.fill_ids.pop()
        del order.send_ref["later"]
        assert [_values(o) for o in store.working("e")] == (
            [_values(expected)] if expected.working else []
        )


def test_a_second_working_order_with_the_same_user_order_id_is_refused():
    store = MemoryOrderStore()
    store.save(OrderState("e", 1, 5, INTENT, status=OrderStatus.OPEN))
    store.save(OrderState("e", 2, 5, INTENT, status=OrderStatus.FILLED))  # not working
    store.save(OrderState("other", 3, 5, INTENT, status=OrderStatus.OPEN))  # other engine
    with pytest.raises(ValueError, match="user order id 5"):
        store.save(OrderState("e", 4, 5, INTENT, status=OrderStatus.INFLIGHT))


def test_a_copy_sharing_the_fill_ids_is_caught(monkeypatch):
    """The check above is not vacuous: a copy that shares the live order's `fill_ids`
    fails it."""

    def shallow(order):
        out = object.__new__(OrderState)
        out.__dict__.update(order.__dict__)
        out.send_ref = dict(order.send_ref)
        return out

    monkeypatch.setattr(orders_module, "_stored", shallow)
    with pytest.raises(AssertionError):
        test_the_stored_copy_equals_replace_and_is_its_own.hypothesis.inner_test(
            events=[(OrderEventKind.FILL, 0, 10**8, "")], uid=1, status=OrderStatus.OPEN, ref={}
        )
