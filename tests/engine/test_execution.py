"""Priced orders only: what the engine sends has a worst price, an auction and a max_ts
(engine/execution.py), with the offsets from driftpy's own auction helper."""

from __future__ import annotations

import pytest
from driftpy.math.auction import derive_oracle_auction_params

from drift_engine.core.builder import DriftInstructionBuilder, UserAccountsView
from drift_engine.core.markets import MarketCatalog
from drift_engine.core.types import MarketType, OrderIntent, OrderType, PositionDirection, PostOnly
from drift_engine.engine import DriftEngine, MarketBoard
from drift_engine.engine.execution import (
    PLACE_AND_TAKE,
    ExecutionConfig,
    OrderPricer,
    UnpricedOrderError,
    stop_loss,
    take_profit,
)
from drift_engine.engine.ledger import MemoryLedgerSink
from drift_engine.strategies import DeltaNeutralStrategy

from .fakes import FakeVenue

SOL = 10**9
ORACLE = 150_000_000
USDC = 1_000_000


def test_a_market_intent_becomes_an_oracle_auction_with_a_band_and_max_ts():
    pricer = OrderPricer(ExecutionConfig(worst_price_bps=50, auction_duration=15, order_ttl_s=90))
    sell = pricer.price(OrderIntent(0, MarketType.PERP, "short", SOL), ORACLE, ts=1_000)
    assert sell.order_type is OrderType.ORACLE and sell.price == 0
    assert sell.max_ts == 1_090 and sell.auction_duration == 15
    worst = ORACLE - ORACLE * 50 // 10_000
    start, end, limit = derive_oracle_auction_params(
        PositionDirection.SHORT.to_driftpy(), ORACLE, ORACLE, worst, worst
    )
    assert (sell.auction_start_price, sell.auction_end_price, sell.oracle_price_offset) == (
        start,
        end,
        limit,
    )
    assert sell.oracle_price_offset == -750_000  # the band: 50 bps below the oracle
    buy = pricer.price(OrderIntent(1, MarketType.SPOT, "long", SOL), ORACLE, ts=1_000)
    assert buy.oracle_price_offset == 750_000 and buy.auction_start_price == 0
    OrderPricer.check(sell)
    OrderPricer.check(buy)


def test_the_intents_own_price_tightens_the_band():
    pricer = OrderPricer()
    o = OrderIntent(0, MarketType.PERP, "long", SOL, price=150_200_000)
    assert pricer.price(o, ORACLE, 0).oracle_price_offset == 200_000


def test_auction_start_can_begin_better_than_the_oracle():
    pricer = OrderPricer(ExecutionConfig(auction_start_bps=10))
    o = pricer.price(OrderIntent(0, MarketType.PERP, "long", SOL), ORACLE, 0)
    assert o.auction_start_price == -150_000 and o.auction_end_price == 750_000


def test_place_and_take_style_is_an_immediate_or_cancel_limit_at_the_worst_price():
    pricer = OrderPricer(ExecutionConfig(taker_style="place_and_take"))
    o = pricer.price(OrderIntent(0, MarketType.PERP, "short", SOL), ORACLE, 0)
    assert o.order_type is OrderType.LIMIT and o.immediate_or_cancel
    assert o.price == 149_250_000 and PLACE_AND_TAKE in o.tags
    spot = pricer.price(OrderIntent(1, MarketType.SPOT, "long", SOL), ORACLE, 0)
    assert spot.order_type is OrderType.ORACLE  # place_and_take is a perp instruction


@pytest.mark.parametrize(
    "intent",
    [
        OrderIntent(0, MarketType.PERP, "short", SOL),  # market, price 0, no auction
        OrderIntent(0, MarketType.PERP, "short", SOL, order_type="oracle", oracle_price_offset=0),
        OrderIntent(
            0,
            MarketType.PERP,
            "short",
            SOL,
            order_type="oracle",
            oracle_price_offset=-1,
            auction_duration=10,
            auction_start_price=0,
            auction_end_price=-1,
        ),  # no max_ts
    ],
)
def test_unpriced_orders_are_refused(intent):
    with pytest.raises(UnpricedOrderError):
        OrderPricer.check(intent)


def test_without_an_oracle_price_a_taker_cannot_be_priced():
    with pytest.raises(UnpricedOrderError, match="no oracle price"):
        OrderPricer().price(OrderIntent(0, MarketType.PERP, "short", SOL), 0, 0)


def test_makers_are_post_only_limits_on_the_tick():
    pricer = OrderPricer()
    o = pricer.maker(MarketType.PERP, 0, PositionDirection.LONG, SOL, 149_999_950)
    assert o.post_only is PostOnly.MUST_POST_ONLY and o.order_type is OrderType.LIMIT
    assert o.price == 149_999_900  # a bid rounds down to the tick
    OrderPricer.check(o)


def test_take_profit_and_stop_loss_go_through_the_builder():
    short = -2 * SOL
    tp = take_profit(MarketType.PERP, 0, short, 140_000_000)
    sl = stop_loss(MarketType.PERP, 0, short, 160_000_000, limit_price=161_000_000)
    assert tp.direction is PositionDirection.LONG and tp.reduce_only
    assert tp.order_type is OrderType.TRIGGER_MARKET and tp.trigger_condition.value == "below"
    assert sl.order_type is OrderType.TRIGGER_LIMIT and sl.trigger_condition.value == "above"
    builder = DriftInstructionBuilder(MarketCatalog.from_constants(), _authority())
    view = UserAccountsView(perp_market_indexes=(0,), positions=((MarketType.PERP, 0, short),))
    from drift_engine.core.program import drift_program

    for intent in (tp, sl):
        OrderPricer.check(intent)
        ix = builder.place_perp_order(intent, view)
        params = drift_program().coder.instruction.parse(ix.data).data.params
        assert type(params.order_type).__name__ == intent.order_type.to_driftpy().__class__.__name__
        assert params.trigger_price == intent.trigger_price and params.reduce_only
        assert type(params.trigger_condition).__name__.lower() == intent.trigger_condition.value


def _authority():
    from solders.pubkey import Pubkey

    return Pubkey.from_bytes(bytes([3]) * 32)


def test_no_order_with_price_zero_and_no_auction_leaves_the_engine():
    """The strategy proposes bare market orders; every order the venue receives is priced."""
    board = MarketBoard(["SOL-PERP"])
    board.set_price("SOL-PERP", 100 * USDC)
    for h in range(24):
        board.add_funding("SOL-PERP", h * 3600, 0.2 / 8760)
    venue = FakeVenue(board)
    engine = DriftEngine(
        "e1",
        DeltaNeutralStrategy({"retry_after_s": 0}),
        venue,
        MemoryLedgerSink("v1", 10_000 * USDC),
        board,
    )
    engine.start(24 * 3600)
    engine.step(24 * 3600)
    sent = [o for batch in venue.placed for o in batch]
    assert len(sent) == 2
    for o in sent:
        OrderPricer.check(o)
        assert o.order_type is OrderType.ORACLE and o.oracle_price_offset
        assert o.max_ts == 24 * 3600 + ExecutionConfig().order_ttl_s
        assert o.user_order_id > 0
    assert {o.status for o in engine.orders.store.all("e1")} == {"filled"}
