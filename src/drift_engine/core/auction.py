"""Drift's order auctions: the price an order offers at a slot, and how takers derive one.

A taker order on Drift does not fill inside the transaction that places it: it rests
with auction parameters (start price, end price, duration in slots) and makers (JIT
makers, the AMM) fill it over the following slots at the auction's price, which moves
from the start price to the end price — the order's worst acceptable price — and then
stays at its limit. Oracle orders express the three prices as offsets from the oracle,
so the auction follows the market.

* `auction_price` follows the program (`programs/drift/src/math/auction.rs::
  calculate_auction_price`). driftpy 0.8.89's `math.auction.get_auction_price_for_*`
  computes `end - start * n / d` where the program computes `(end - start) * n / d`
  (an operator-precedence slip: at slot 0 driftpy's long price is start + end); the
  local chain's keeper uses ours, and a test shows the difference.
* `default_auction_prices` is the program's `calculate_auction_prices` (what it derives
  for a market order placed without auction prices).
* `oracle_auction` derives an oracle order's (start offset, end offset, limit offset)
  with driftpy's own `derive_oracle_auction_params`, from prices the caller chose.

Prices are PRICE 1e6 integers; offsets may be negative.
"""

from __future__ import annotations

from dataclasses import dataclass

from driftpy.math.auction import derive_oracle_auction_params
from driftpy.math.orders import standardize_price as _dp_standardize_price

from drift_engine.core.types import PositionDirection

#: `math/constants.rs::AUCTION_DERIVE_PRICE_FRACTION`: 1/200 = 50 bps.
AUCTION_DERIVE_PRICE_FRACTION = 200


def standardize_price(price: int, tick_size: int, direction: PositionDirection) -> int:
    """`math/orders.rs::standardize_price`: a long's price rounds down to the tick, a
    short's up (driftpy's function agrees; it is called here)."""
    if price == 0 or tick_size <= 1:
        return price
    return _dp_standardize_price(price, tick_size, PositionDirection(direction).to_driftpy())


def standardize_price_i64(price: int, tick_size: int, direction: PositionDirection) -> int:
    """`standardize_price_i64`: the same rounding for signed values (offsets)."""
    if price == 0 or tick_size <= 1:
        return price
    remainder = price % tick_size  # Python's modulo is non-negative, like rem_euclid
    if remainder == 0:
        return price
    if PositionDirection(direction) is PositionDirection.LONG:
        return price - remainder
    return price + tick_size - remainder


@dataclass(frozen=True, slots=True)
class AuctionOrder:
    """What of an order decides its auction price (the program's `Order` fields)."""

    direction: PositionDirection
    slot: int
    auction_duration: int
    auction_start_price: int
    auction_end_price: int
    oracle_offset: bool  # prices are offsets from the oracle (oracle orders)
    price: int = 0
    oracle_price_offset: int = 0

    @classmethod
    def of(cls, order: object) -> AuctionOrder:
        """From a driftpy `Order` account entry."""
        from drift_engine.core.types import OrderType, is_variant

        kind = OrderType.from_driftpy(order.order_type)  # type: ignore[attr-defined]
        oracle = kind is OrderType.ORACLE or (
            kind is OrderType.LIMIT and order.oracle_price_offset != 0  # type: ignore[attr-defined]
        )
        return cls(
            direction=PositionDirection.LONG
            if is_variant(order.direction, "Long")  # type: ignore[attr-defined]
            else PositionDirection.SHORT,
            slot=order.slot,  # type: ignore[attr-defined]
            auction_duration=order.auction_duration,  # type: ignore[attr-defined]
            auction_start_price=order.auction_start_price,  # type: ignore[attr-defined]
            auction_end_price=order.auction_end_price,  # type: ignore[attr-defined]
            oracle_offset=oracle,
            price=order.price,  # type: ignore[attr-defined]
            oracle_price_offset=order.oracle_price_offset,  # type: ignore[attr-defined]
        )


def is_auction_complete(order_slot: int, auction_duration: int, slot: int) -> bool:
    """`math/auction.rs::is_auction_complete`."""
    if auction_duration == 0:
        return True
    return slot - order_slot > auction_duration


def _int_div(a: int, b: int) -> int:
    """Rust's integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def auction_price(order: AuctionOrder, slot: int, oracle_price: int, tick_size: int) -> int:
    """The order's price at `slot` (`calculate_auction_price_for_{fixed,oracle_offset}_
    auction`): start + (end - start) x elapsed / duration, elapsed capped at duration."""
    long = order.direction is PositionDirection.LONG
    elapsed = slot - order.slot
    if elapsed < 0:
        raise ValueError(f"slot {slot} is before the order's slot {order.slot}")
    num = min(elapsed, order.auction_duration)
    den = order.auction_duration
    start, end = order.auction_start_price, order.auction_end_price
    if den == 0:
        value = end
    else:
        delta = _int_div((end - start if long else start - end) * num, den)
        value = start + delta if long else start - delta
    if order.oracle_offset:
        value = max(oracle_price + value, tick_size)
    return standardize_price(value, tick_size, order.direction)


def limit_price(order: AuctionOrder, slot: int, oracle_price: int, tick_size: int) -> int | None:
    """The price an order accepts at `slot` (`Order::get_limit_price`): the auction price
    while its auction runs, then the oracle offset or the fixed price; None for a market
    order past its auction with no price."""
    has_auction = order.auction_start_price != 0 or order.auction_end_price != 0
    if has_auction and not is_auction_complete(order.slot, order.auction_duration, slot):
        return auction_price(order, slot, oracle_price, tick_size)
    if order.oracle_price_offset != 0:
        return standardize_price(
            max(oracle_price + order.oracle_price_offset, tick_size), tick_size, order.direction
        )
    if order.price:
        return order.price
    if has_auction:  # a market order keeps its worst price once the auction is over
        return auction_price(order, slot, oracle_price, tick_size)
    return None


def default_auction_prices(
    oracle_price: int, direction: PositionDirection, limit: int
) -> tuple[int, int]:
    """`math/auction.rs::calculate_auction_prices`: (start, end) for a market order placed
    without auction prices, from its limit price (0: none)."""
    frac = AUCTION_DERIVE_PRICE_FRACTION
    long = PositionDirection(direction) is PositionDirection.LONG
    if limit > 0:
        if long and limit < oracle_price:
            return min(limit - limit // frac, oracle_price - oracle_price // frac), limit
        if long:
            return oracle_price, min(limit, oracle_price + oracle_price // frac)
        if limit > oracle_price:
            return max(limit + limit // frac, oracle_price + oracle_price // frac), limit
        return oracle_price, max(limit, oracle_price - oracle_price // frac)
    end = oracle_price + oracle_price // frac if long else oracle_price - oracle_price // frac
    return oracle_price, end


@dataclass(frozen=True, slots=True)
class OracleAuction:
    """An oracle order's auction: offsets from the oracle (PRICE 1e6, signed)."""

    start_offset: int
    end_offset: int
    limit_offset: int
    duration: int


def oracle_auction(
    direction: PositionDirection,
    oracle_price: int,
    start_price: int,
    worst_price: int,
    duration: int,
    tick_size: int,
) -> OracleAuction:
    """Offsets for an oracle order auctioned from `start_price` to `worst_price`, derived
    with driftpy's `derive_oracle_auction_params` and rounded to the tick against the
    taker's favour as the program rounds them (`standardize_price_i64`)."""
    d = PositionDirection(direction)
    start, end, limit = derive_oracle_auction_params(
        d.to_driftpy(), oracle_price, start_price, worst_price, worst_price
    )
    start = standardize_price_i64(start, tick_size, d)
    end = standardize_price_i64(end, tick_size, d)
    limit = standardize_price_i64(limit, tick_size, d)
    end = min(end, limit) if d is PositionDirection.LONG else max(end, limit)
    return OracleAuction(start, end, limit, duration)


__all__ = [
    "AUCTION_DERIVE_PRICE_FRACTION",
    "AuctionOrder",
    "OracleAuction",
    "auction_price",
    "default_auction_prices",
    "is_auction_complete",
    "limit_price",
    "oracle_auction",
    "standardize_price",
    "standardize_price_i64",
]
