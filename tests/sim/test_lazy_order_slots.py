"""`place_orders`' undo copy leaves the account's order slots out; the call's one writer
of a slot (`_rest_order`, an order that rests) keeps that slot in the copy before it
writes it. A refused call still leaves every account byte, record and resting order as
before, also after legs that rested; without that keep, the check fails."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from drift_engine.sim import orders as orders_module

from .conftest import BASE, ORDER_LEG, PRICE, SOL, T0, limit, order_leg, perp, spot
from .test_narrow_undo import _refusal_undone, _sim

#: legs that rest first (a bid, an ask), then one refused for margin
REST_THEN_REFUSED = [
    limit("long", 1 * BASE, 95 * PRICE),
    limit("short", 1 * BASE, 105 * PRICE),
    perp("short", 5_000 * BASE),
]


@settings(max_examples=60, deadline=None)
@given(
    legs=st.lists(ORDER_LEG, min_size=1, max_size=4),
    refused=st.sampled_from(["none", "perp_short", "perp_long", "spot_long"]),
)
def test_a_refused_call_restores_the_order_slots_it_wrote(legs, refused):
    """Random legs (resting limits among them), optionally ending with a leg far beyond
    the collateral: whatever is refused leaves the whole state as before."""
    calls = [order_leg(*leg) for leg in legs]
    if refused != "none":
        calls.append(order_leg(refused, 200_000))
    assert _refusal_undone(calls) in (None, True)


def test_the_copy_holds_no_order_slot_and_the_call_keeps_the_one_it_writes():
    sim, k = _sim()
    user = sim._account(k).user
    snap = sim.snapshot([k], [], order_slots=False)
    kept = {id(obj) for obj, _ in snap.saved}
    assert id(user) in kept
    assert not any(id(o) in kept for o in user.orders)
    sim.place_orders(k, [limit("long", 1 * BASE, 90 * PRICE)], T0 + 3601)
    assert sim._undo is None  # only while a call runs


def test_a_copy_without_the_slot_keep_is_caught(monkeypatch):
    """The checks above are not vacuous: if `_rest_order` did not keep the slot it
    writes, a call refused after a resting leg leaves that order behind."""
    assert _refusal_undone(REST_THEN_REFUSED) is True
    assert _refusal_undone([spot("long", 2 * SOL), *REST_THEN_REFUSED]) is True
    # `_undo` reads None whatever `place_orders` sets: `_rest_order` keeps nothing
    monkeypatch.setattr(
        orders_module.OrdersMixin, "_undo", property(lambda self: None, lambda self, v: None)
    )
    assert _refusal_undone(REST_THEN_REFUSED) is False
