"""Properties: the builder is deterministic, and for any valid intent and any user account
its bytes equal driftpy's (remaining accounts included)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drift_engine.core.accounts import make_user
from drift_engine.core.builder import DriftInstructionBuilder, UserAccountsView
from drift_engine.core.errors import OrderValidationError
from drift_engine.core.types import (
    MarketType,
    OrderIntent,
    OrderType,
    PositionDirection,
    PostOnly,
    TriggerCondition,
)

from .conftest import put_perp, put_spot

PERP_INDEXES = [0, 1, 2]
SPOT_INDEXES = [0, 1, 3, 4]
TRADABLE = [(MarketType.PERP, i) for i in PERP_INDEXES] + [
    (MarketType.SPOT, i) for i in SPOT_INDEXES if i != 0
]

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@st.composite
def user_layouts(draw):
    """Which markets a user holds, in which slots, with what (signed) size and open orders."""
    spots = draw(st.lists(st.sampled_from(SPOT_INDEXES), unique=True, max_size=4))
    perps = draw(st.lists(st.sampled_from(PERP_INDEXES), unique=True, max_size=3))
    spot_rows = [
        (
            draw(st.integers(0, 7)),
            i,
            draw(st.integers(-(10**12), 10**12)),
            draw(st.integers(0, 2)),
            draw(st.sampled_from([0, 10**6, -(10**6)])),
        )
        for i in spots
    ]
    perp_rows = [
        (draw(st.integers(0, 7)), i, draw(st.integers(-(10**12), 10**12)), draw(st.integers(0, 2)))
        for i in perps
    ]
    return spot_rows, perp_rows


def build_user(authority, layout):
    spot_rows, perp_rows = layout
    u = make_user(authority, 0)
    used = set()
    for slot, index, amount, open_orders, open_bids in spot_rows:
        while slot in used:
            slot = (slot + 1) % 8
        used.add(slot)
        sp = put_spot(u, slot, index, abs(amount), borrow=amount < 0)
        sp.open_orders = open_orders
        sp.open_bids = open_bids if open_orders else 0
    used = set()
    for slot, index, base, open_orders in perp_rows:
        while slot in used:
            slot = (slot + 1) % 8
        used.add(slot)
        pp = put_perp(u, slot, index, base, -base // 10**3)
        pp.open_orders = open_orders
    return u


@st.composite
def intents(draw, catalog):
    market_type, index = draw(st.sampled_from(TRADABLE))
    spec = catalog.get(market_type, index)
    step, tick = spec.order_step_size, spec.order_tick_size
    min_steps = -(-spec.min_order_size // step)
    base = step * draw(st.integers(min_steps, min_steps + 10**5))
    order_type = draw(st.sampled_from(list(OrderType)))
    kw = {}
    price = lambda: tick * draw(st.integers(1, 10**7))  # noqa: E731
    if order_type in (OrderType.LIMIT, OrderType.TRIGGER_LIMIT):
        kw["price"] = price()
    if order_type is OrderType.LIMIT:
        kw["post_only"] = draw(st.sampled_from(list(PostOnly)))
        kw["immediate_or_cancel"] = draw(st.booleans())
    if order_type in (OrderType.TRIGGER_MARKET, OrderType.TRIGGER_LIMIT):
        kw["trigger_price"] = price()
        kw["trigger_condition"] = draw(st.sampled_from(list(TriggerCondition)))
    if order_type is OrderType.ORACLE:
        kw["oracle_price_offset"] = tick * draw(st.integers(-1000, 1000))
    if order_type in (OrderType.MARKET, OrderType.ORACLE) and draw(st.booleans()):
        kw["auction_duration"] = draw(st.integers(0, 255))
        kw["auction_start_price"] = draw(st.integers(-(10**12), 10**12))
        kw["auction_end_price"] = draw(st.integers(-(10**12), 10**12))
    return OrderIntent(
        market_index=index,
        market_type=market_type,
        direction=draw(st.sampled_from(list(PositionDirection))),
        base_asset_amount=base,
        order_type=order_type,
        reduce_only=draw(st.booleans()),
        user_order_id=draw(st.integers(0, 255)),
        max_ts=draw(st.none() | st.integers(0, 2**40)),
        **kw,
    )


def _driftpy(drift, intent):
    if intent.market_type is MarketType.PERP:
        return drift.client.get_place_perp_order_ix(intent.to_driftpy(), 0)
    return drift.client.get_place_spot_order_ix(intent.to_driftpy(), 0)


@SETTINGS
@given(data=st.data())
def test_any_valid_intent_matches_driftpy_for_any_user(catalog, offline_drift, wallet, data):
    layout = data.draw(user_layouts())
    intent = data.draw(intents(catalog))
    user = build_user(wallet.pubkey(), layout)
    offline_drift.add_user(user)
    view = UserAccountsView.from_user(user)
    builder = DriftInstructionBuilder(catalog, wallet.pubkey(), 0)
    try:
        mine = builder.place_order(intent, view)
    except OrderValidationError as exc:
        # Only the reduce-only rule can refuse these intents: the user's position in the
        # market is flat or on the order's side.
        assert exc.field == "reduce_only"
        held = view.position_base(intent.market_type, intent.market_index)
        assert intent.reduce_only and held * intent.direction.sign >= 0
        unchecked = UserAccountsView(view.spot_market_indexes, view.perp_market_indexes, None)
        mine = builder.place_order(intent, unchecked)
    assert bytes(mine) == bytes(_driftpy(offline_drift, intent))
    assert mine.accounts == _driftpy(offline_drift, intent).accounts


@SETTINGS
@given(data=st.data())
def test_two_leg_place_orders_match_driftpy_for_any_user(catalog, offline_drift, wallet, data):
    user = build_user(wallet.pubkey(), data.draw(user_layouts()))
    offline_drift.add_user(user)
    drawn = data.draw(st.lists(intents(catalog), min_size=1, max_size=4))
    legs = [OrderIntent(**{**_fields(i), "reduce_only": False}) for i in drawn]
    builder = DriftInstructionBuilder(catalog, wallet.pubkey(), 0)
    mine = builder.place_orders(legs, user)
    theirs = offline_drift.client.get_place_orders_ix([leg.to_driftpy() for leg in legs], 0)
    assert bytes(mine) == bytes(theirs)


def _fields(intent: OrderIntent) -> dict:
    return {name: getattr(intent, name) for name in OrderIntent.__dataclass_fields__}


@SETTINGS
@given(data=st.data())
def test_builder_is_deterministic(catalog, wallet, data):
    layout = data.draw(user_layouts())
    intent = data.draw(intents(catalog))
    # Two users built independently from the same layout, two builders: same bytes.
    a = DriftInstructionBuilder(catalog, wallet.pubkey(), 0)
    b = DriftInstructionBuilder(catalog, wallet.pubkey(), 0)
    ua, ub = build_user(wallet.pubkey(), layout), build_user(wallet.pubkey(), layout)
    va = UserAccountsView.from_user(ua)
    vb = UserAccountsView.from_user(ub)
    unchecked_a = UserAccountsView(va.spot_market_indexes, va.perp_market_indexes, None)
    unchecked_b = UserAccountsView(vb.spot_market_indexes, vb.perp_market_indexes, None)
    first = a.place_order(intent, unchecked_a)
    assert bytes(first) == bytes(b.place_order(intent, unchecked_b))
    assert bytes(first) == bytes(a.place_order(intent, unchecked_a))
    assert bytes(a.cancel_order_by_user_id(intent.user_order_id, ua)) == bytes(
        b.cancel_order_by_user_id(intent.user_order_id, ub)
    )
