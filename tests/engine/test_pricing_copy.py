"""`OrderPricer.price` builds the priced order field by field instead of with
`dataclasses.replace` (ADR 0020 point 47): the result must equal `replace`'s, every field
(`tags` too, which `==` does not compare), for every taker intent and both taker styles."""

from __future__ import annotations

from dataclasses import fields, replace

from hypothesis import given, settings
from hypothesis import strategies as st

from drift_engine.core.auction import oracle_auction
from drift_engine.core.types import (
    MarketType,
    OrderIntent,
    OrderType,
    PositionDirection,
    TriggerCondition,
)
from drift_engine.engine.execution import BPS, PLACE_AND_TAKE, ExecutionConfig, OrderPricer

#: The fields `price` names; a new field of OrderIntent must be added there (and here).
FIELDS = (
    "market_index",
    "market_type",
    "direction",
    "base_asset_amount",
    "order_type",
    "price",
    "reduce_only",
    "post_only",
    "immediate_or_cancel",
    "oracle_price_offset",
    "user_order_id",
    "max_ts",
    "trigger_price",
    "trigger_condition",
    "auction_duration",
    "auction_start_price",
    "auction_end_price",
    "tags",
)


def reference_price(pricer: OrderPricer, intent: OrderIntent, oracle: int, ts: int):
    """`OrderPricer.price` for a taker as it was: `dataclasses.replace`."""
    cfg = pricer.config
    long = intent.direction is PositionDirection.LONG
    tick = pricer._tick(intent)
    worst = pricer.worst_price(intent, oracle)
    max_ts = intent.max_ts or ts + cfg.order_ttl_s
    if cfg.taker_style == "place_and_take" and intent.market_type is MarketType.PERP:
        return replace(
            intent,
            order_type=OrderType.LIMIT,
            price=worst,
            oracle_price_offset=None,
            immediate_or_cancel=True,
            max_ts=max_ts,
            auction_duration=None,
            auction_start_price=None,
            auction_end_price=None,
            tags=(*intent.tags, PLACE_AND_TAKE),
        )
    shift = oracle * cfg.auction_start_bps // BPS
    start = oracle - shift if long else oracle + shift
    start = min(start, worst) if long else max(start, worst)
    auction = oracle_auction(intent.direction, oracle, start, worst, cfg.auction_duration, tick)
    return replace(
        intent,
        order_type=OrderType.ORACLE,
        price=0,
        oracle_price_offset=auction.limit_offset,
        auction_start_price=auction.start_offset,
        auction_end_price=auction.end_offset,
        auction_duration=auction.duration,
        max_ts=max_ts,
    )


def as_tuple(order: OrderIntent) -> tuple:
    return tuple(getattr(order, f.name) for f in fields(OrderIntent))


def test_the_pricer_names_every_field_of_an_order_intent():
    assert tuple(f.name for f in fields(OrderIntent)) == FIELDS


@st.composite
def taker_intents(draw):
    oracle_order = draw(st.booleans())
    own_price = draw(st.sampled_from([0, 0, 149_000_000, 151_000_000]))
    offset = draw(st.sampled_from([None, -900_000, 300_000]))
    return OrderIntent(
        market_index=draw(st.sampled_from([0, 1, 2])),
        market_type=draw(st.sampled_from([MarketType.PERP, MarketType.SPOT])),
        direction=draw(st.sampled_from([PositionDirection.LONG, PositionDirection.SHORT])),
        base_asset_amount=draw(st.integers(1, 10**12)),
        order_type=OrderType.ORACLE if oracle_order else OrderType.MARKET,
        price=own_price,
        reduce_only=draw(st.booleans()),
        immediate_or_cancel=draw(st.booleans()),
        oracle_price_offset=offset if oracle_order else draw(st.sampled_from([None, -500_000])),
        user_order_id=draw(st.integers(0, 255)),
        max_ts=draw(st.sampled_from([None, 1_700_000_123])),
        trigger_condition=draw(st.sampled_from(list(TriggerCondition))),
        tags=draw(st.sampled_from([(), ("entry",), ("exit", "hedge")])),
    )


@settings(max_examples=300, deadline=None)
@given(
    intent=taker_intents(),
    oracle=st.integers(1_000_000, 300_000_000),
    ts=st.integers(0, 2_000_000_000),
    style=st.sampled_from(["auction", "place_and_take"]),
    start_bps=st.integers(-500, 500),
    duration=st.integers(0, 255),
)
def test_a_priced_taker_equals_replaces_result_field_for_field(
    intent, oracle, ts, style, start_bps, duration
):
    pricer = OrderPricer(
        ExecutionConfig(taker_style=style, auction_start_bps=start_bps, auction_duration=duration)
    )
    try:
        expected = reference_price(pricer, intent, oracle, ts)
    except Exception as exc:  # noqa: BLE001 - the same refusal is expected
        try:
            pricer.price(intent, oracle, ts)
        except type(exc):
            return
        raise AssertionError(f"reference refused ({exc!r}), price did not") from None
    if expected.order_type is OrderType.ORACLE:
        OrderPricer.check(expected)
    got = pricer.price(intent, oracle, ts)
    assert as_tuple(got) == as_tuple(expected)
    assert type(got) is OrderIntent
