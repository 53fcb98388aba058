"""Auction prices follow the program (`math/auction.rs`); driftpy 0.8.89 differs there."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from driftpy.math import auction as dp_auction
from driftpy.types import MarketType as DpMarketType
from driftpy.types import OrderType as DpOrderType
from driftpy.types import PositionDirection as DpDirection
from hypothesis import given
from hypothesis import strategies as st

from drift_engine.core.auction import (
    AuctionOrder,
    auction_price,
    default_auction_prices,
    is_auction_complete,
    limit_price,
    oracle_auction,
)
from drift_engine.core.types import PositionDirection

ORACLE = 150_000_000
TICK = 100


def order(direction="long", start=150_000_000, end=151_000_000, duration=10, slot=100, **kw):
    return AuctionOrder(
        direction=PositionDirection(direction),
        slot=slot,
        auction_duration=duration,
        auction_start_price=start,
        auction_end_price=end,
        oracle_offset=kw.pop("oracle_offset", False),
        **kw,
    )


def test_fixed_auction_moves_linearly_from_start_to_end_then_stays():
    o = order()
    prices = [auction_price(o, 100 + k, ORACLE, TICK) for k in range(0, 13)]
    assert prices[0] == 150_000_000 and prices[10] == prices[12] == 151_000_000
    assert prices == sorted(prices)  # a long's auction only rises
    assert prices[5] == 150_500_000  # start + (end - start) x 5 / 10
    short = order("short", start=150_000_000, end=149_000_000)
    assert auction_price(short, 105, ORACLE, TICK) == 149_500_000


def test_oracle_offset_auction_follows_the_oracle():
    o = order(start=0, end=750_000, oracle_offset=True, oracle_price_offset=750_000)
    assert auction_price(o, 105, ORACLE, TICK) == ORACLE + 375_000
    assert auction_price(o, 105, ORACLE + 1_000_000, TICK) == ORACLE + 1_375_000


def test_driftpy_auction_price_differs_from_the_program():
    """driftpy computes `end - start * n / d` (operator precedence) where the program
    computes `start + (end - start) * n / d`: at slot 0 driftpy's long price is
    start + end, twice the price. We follow the program (math/auction.rs)."""
    dp_order = SimpleNamespace(
        order_type=DpOrderType.Market(),
        market_type=DpMarketType.Perp(),
        direction=DpDirection.Long(),
        slot=100,
        auction_duration=10,
        auction_start_price=150_000_000,
        auction_end_price=151_000_000,
        oracle_price_offset=0,
        bit_flags=0,
    )
    ours = auction_price(order(), 100, ORACLE, 1)
    theirs = dp_auction.get_auction_price(dp_order, 100, ORACLE)
    assert ours == 150_000_000
    assert theirs == 301_000_000 != ours
    # once the auction is over both agree on the end price
    assert auction_price(order(), 110, ORACLE, 1) == 151_000_000
    assert dp_auction.get_auction_price(dp_order, 110, ORACLE) == 151_000_000


@given(
    start=st.integers(100_000_000, 200_000_000),
    width=st.integers(0, 5_000_000),
    duration=st.integers(1, 60),
    elapsed=st.integers(0, 100),
)
def test_auction_price_stays_between_start_and_end(start, width, duration, elapsed):
    long = order(start=start, end=start + width, duration=duration)
    p = auction_price(long, 100 + elapsed, ORACLE, 1)
    assert start <= p <= start + width
    short = order("short", start=start, end=start - width, duration=duration)
    q = auction_price(short, 100 + elapsed, ORACLE, 1)
    assert start - width <= q <= start


def test_completion_and_limit_price():
    assert not is_auction_complete(100, 10, 110) and is_auction_complete(100, 10, 111)
    assert is_auction_complete(100, 0, 100)
    fixed = order(price=151_000_000)
    assert limit_price(fixed, 105, ORACLE, TICK) == 150_500_000  # in auction
    assert limit_price(fixed, 200, ORACLE, TICK) == 151_000_000  # then its price
    oracle = order(start=0, end=500_000, oracle_offset=True, oracle_price_offset=600_000)
    assert limit_price(oracle, 200, ORACLE, TICK) == ORACLE + 600_000
    bare = order(start=0, end=0, duration=0)
    assert limit_price(bare, 200, ORACLE, TICK) is None


def test_default_auction_prices_as_the_program_derives_them():
    # no limit: from the oracle to 50 bps worse
    assert default_auction_prices(ORACLE, PositionDirection.LONG, 0) == (ORACLE, 150_750_000)
    assert default_auction_prices(ORACLE, PositionDirection.SHORT, 0) == (ORACLE, 149_250_000)
    # a limit worse than the oracle caps the end
    assert default_auction_prices(ORACLE, PositionDirection.LONG, 150_300_000) == (
        ORACLE,
        150_300_000,
    )


@pytest.mark.parametrize("direction", ["long", "short"])
def test_oracle_auction_uses_driftpys_derivation(direction):
    d = PositionDirection(direction)
    worst = ORACLE + (750_000 if d is PositionDirection.LONG else -750_000)
    a = oracle_auction(d, ORACLE, ORACLE, worst, 20, TICK)
    start, end, limit = dp_auction.derive_oracle_auction_params(
        d.to_driftpy(), ORACLE, ORACLE, worst, worst
    )
    assert (a.start_offset, a.end_offset, a.limit_offset) == (start, end, limit)
    assert a.duration == 20
