"""Priced orders only: how the engine turns a strategy's intent into an order it may send.

A strategy proposes "sell 12 SOL-PERP" (a market intent, price 0). Sent like that on
mainnet, it has no worst price and no expiry: it fills at whatever the auction reaches,
or rests. Nothing leaves the engine like that (`OrderPricer.check` refuses it):

* A **taker** order becomes a Drift *oracle* order with an auction: it starts at the
  oracle (moved by `auction_start_bps`, positive = better for the taker), ends at the
  worst price `worst_price_bps` from the oracle (or the intent's own price, if tighter),
  over `auction_duration` slots, and expires at `max_ts` = now + `order_ttl_s`. The
  offsets come from driftpy's `derive_oracle_auction_params` (`core.auction`), rounded
  to the market's tick as the program rounds them. Oracle offsets keep the band
  around the oracle while the auction runs.
* With `taker_style = "place_and_take"` a perp taker goes out as an immediate-or-cancel
  limit order at the worst price through `place_and_take_perp_order`: it fills in the
  transaction or not at all.
* **Makers** use post-only limit orders (`OrderPricer.maker`): they rest, or the program
  refuses them (`PlacePostOnlyLimitFailure`) if they would take.
* **Trigger orders** (take-profit / stop-loss) keep their trigger and go through the
  builder as trigger orders (`take_profit`, `stop_loss`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from drift_engine.core.auction import oracle_auction, standardize_price
from drift_engine.core.errors import DriftEngineError
from drift_engine.core.markets import MarketCatalog
from drift_engine.core.types import (
    MarketType,
    OrderIntent,
    OrderType,
    PositionDirection,
    PostOnly,
    TriggerCondition,
)

BPS = 10_000
#: Tag on an intent the live venue sends with `place_and_take_perp_order`.
PLACE_AND_TAKE = "place_and_take"


class UnpricedOrderError(DriftEngineError):
    """An order without a price and an auction would have left the engine."""


class ExecutionConfig(BaseModel):
    """How the engine prices takers.

    Parameters
    ----------
    worst_price_bps: the worst price a taker accepts, in bps of the oracle.
    auction_start_bps: where its auction starts, in bps of the oracle (+ = better than
        the oracle for the taker, - = worse).
    auction_duration: auction length in slots (the program raises it to the State's
        minimum).
    order_ttl_s: a taker order expires this long after it is sent (`max_ts`).
    taker_style: "auction" (oracle order with auction, filled over the following slots)
        or "place_and_take" (perp: filled in the transaction or cancelled).
    settle_every_s: live engines settle every perp position's PnL and funding into USDC
        (`settle_pnl`) this often, whatever the strategy does; 0: never (on chain
        nothing settles by itself). Paper venues settle as the simulator does.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    worst_price_bps: int = Field(50, ge=1, le=2_000)
    auction_start_bps: int = Field(0, ge=-500, le=500)
    auction_duration: int = Field(20, ge=0, le=255)
    order_ttl_s: int = Field(60, ge=5, le=86_400)
    taker_style: Literal["auction", "place_and_take"] = "auction"
    settle_every_s: int = Field(3600, ge=0, le=7 * 86_400)


def _taker(intent: OrderIntent) -> bool:
    if intent.order_type is OrderType.MARKET:
        return True
    return intent.order_type is OrderType.ORACLE and intent.auction_duration is None


class OrderPricer:
    """Prices intents with `ExecutionConfig` and market ticks from a catalog."""

    def __init__(self, config: ExecutionConfig | None = None, catalog: MarketCatalog | None = None):
        self.config = config or ExecutionConfig()
        self.catalog = catalog or MarketCatalog.from_constants()

    def _tick(self, intent: OrderIntent) -> int:
        return max(1, self.catalog.get(intent.market_type, intent.market_index).order_tick_size)

    def worst_price(self, intent: OrderIntent, oracle_price: int) -> int:
        """The band's edge, tightened by the intent's own price or oracle offset."""
        band = oracle_price * self.config.worst_price_bps // BPS
        long = intent.direction is PositionDirection.LONG
        worst = oracle_price + band if long else oracle_price - band
        own = intent.price or (
            oracle_price + intent.oracle_price_offset
            if intent.oracle_price_offset is not None
            else 0
        )
        if own:
            worst = min(worst, own) if long else max(worst, own)
        return standardize_price(max(worst, 1), self._tick(intent), intent.direction)

    def price(self, intent: OrderIntent, oracle_price: int, ts: int) -> OrderIntent:
        """The order to send for `intent` at oracle `oracle_price`, time `ts`."""
        if not _taker(intent):
            self.check(intent)
            return intent
        if oracle_price <= 0:
            raise UnpricedOrderError(
                f"no oracle price for {intent.market_type.value} market {intent.market_index}: "
                "a taker order cannot be priced"
            )
        cfg = self.config
        long = intent.direction is PositionDirection.LONG
        tick = self._tick(intent)
        worst = self.worst_price(intent, oracle_price)
        max_ts = intent.max_ts or ts + cfg.order_ttl_s
        if cfg.taker_style == "place_and_take" and intent.market_type is MarketType.PERP:
            # every field named, as `dataclasses.replace` would pass them (half its cost
            # is its field loop; `__post_init__` validates the same)
            return OrderIntent(
                market_index=intent.market_index,
                market_type=intent.market_type,
                direction=intent.direction,
                base_asset_amount=intent.base_asset_amount,
                order_type=OrderType.LIMIT,
                price=worst,
                reduce_only=intent.reduce_only,
                post_only=intent.post_only,
                immediate_or_cancel=True,
                oracle_price_offset=None,
                user_order_id=intent.user_order_id,
                max_ts=max_ts,
                trigger_price=intent.trigger_price,
                trigger_condition=intent.trigger_condition,
                auction_duration=None,
                auction_start_price=None,
                auction_end_price=None,
                tags=(*intent.tags, PLACE_AND_TAKE),
            )
        shift = oracle_price * cfg.auction_start_bps // BPS
        start = oracle_price - shift if long else oracle_price + shift
        start = min(start, worst) if long else max(start, worst)
        auction = oracle_auction(
            intent.direction, oracle_price, start, worst, cfg.auction_duration, tick
        )
        priced = OrderIntent(
            market_index=intent.market_index,
            market_type=intent.market_type,
            direction=intent.direction,
            base_asset_amount=intent.base_asset_amount,
            order_type=OrderType.ORACLE,
            price=0,
            reduce_only=intent.reduce_only,
            post_only=intent.post_only,
            immediate_or_cancel=intent.immediate_or_cancel,
            oracle_price_offset=auction.limit_offset,
            user_order_id=intent.user_order_id,
            max_ts=max_ts,
            trigger_price=intent.trigger_price,
            trigger_condition=intent.trigger_condition,
            auction_duration=auction.duration,
            auction_start_price=auction.start_offset,
            auction_end_price=auction.end_offset,
            tags=intent.tags,
        )
        self.check(priced)
        return priced

    def maker(
        self,
        market_type: MarketType,
        market_index: int,
        direction: PositionDirection,
        base_asset_amount: int,
        price: int,
        *,
        max_ts: int | None = None,
        reduce_only: bool = False,
        tags: tuple[str, ...] = (),
    ) -> OrderIntent:
        """A post-only limit order at `price` (rounded to the tick in the maker's favour)."""
        intent = OrderIntent(
            market_index=market_index,
            market_type=market_type,
            direction=direction,
            base_asset_amount=base_asset_amount,
            order_type=OrderType.LIMIT,
            price=price,
            post_only=PostOnly.MUST_POST_ONLY,
            reduce_only=reduce_only,
            max_ts=max_ts,
            tags=tags,
        )
        return replace(intent, price=standardize_price(price, self._tick(intent), direction))

    @staticmethod
    def check(intent: OrderIntent) -> None:
        """Refuse an order that has no price or no auction (`UnpricedOrderError`)."""
        kind = intent.order_type
        what = f"{intent.market_type.value} {intent.market_index} {intent.direction.value}"
        if kind in (OrderType.LIMIT, OrderType.TRIGGER_LIMIT):
            if not intent.price and intent.oracle_price_offset is None:
                raise UnpricedOrderError(f"{what}: a limit order needs a price")
            return
        if kind is OrderType.TRIGGER_MARKET:
            if not intent.trigger_price:
                raise UnpricedOrderError(f"{what}: a trigger order needs a trigger price")
            return
        has_auction = (
            intent.auction_duration is not None
            and intent.auction_start_price is not None
            and intent.auction_end_price is not None
        )
        if kind is OrderType.ORACLE:
            if intent.oracle_price_offset is None or not has_auction:
                raise UnpricedOrderError(
                    f"{what}: an oracle order needs a limit offset and auction"
                )
        elif kind is OrderType.MARKET and (not intent.price or not has_auction):
            raise UnpricedOrderError(f"{what}: a market order needs a worst price and an auction")
        if not intent.max_ts:
            raise UnpricedOrderError(f"{what}: a taker order needs a max_ts")


def take_profit(
    market_type: MarketType,
    market_index: int,
    position_base: int,
    trigger_price: int,
    *,
    limit_price: int | None = None,
    tags: tuple[str, ...] = ("take-profit",),
) -> OrderIntent:
    """A reduce-only trigger order closing `position_base` (signed) once the oracle
    passes `trigger_price` in the position's favour (a long: above)."""
    return _trigger(
        market_type, market_index, position_base, trigger_price, limit_price, True, tags
    )


def stop_loss(
    market_type: MarketType,
    market_index: int,
    position_base: int,
    trigger_price: int,
    *,
    limit_price: int | None = None,
    tags: tuple[str, ...] = ("stop-loss",),
) -> OrderIntent:
    """A reduce-only trigger order closing `position_base` (signed) once the oracle
    passes `trigger_price` against the position (a long: below)."""
    return _trigger(
        market_type, market_index, position_base, trigger_price, limit_price, False, tags
    )


def _trigger(market_type, market_index, position_base, trigger_price, limit, profit, tags):
    if position_base == 0:
        raise UnpricedOrderError("a take-profit / stop-loss needs a position to close")
    long_position = position_base > 0
    above = long_position == profit
    return OrderIntent(
        market_index=market_index,
        market_type=market_type,
        direction=PositionDirection.SHORT if long_position else PositionDirection.LONG,
        base_asset_amount=abs(position_base),
        order_type=OrderType.TRIGGER_LIMIT if limit else OrderType.TRIGGER_MARKET,
        price=limit or 0,
        reduce_only=True,
        trigger_price=trigger_price,
        trigger_condition=TriggerCondition.ABOVE if above else TriggerCondition.BELOW,
        tags=tags,
    )


__all__ = [
    "PLACE_AND_TAKE",
    "ExecutionConfig",
    "OrderPricer",
    "UnpricedOrderError",
    "stop_loss",
    "take_profit",
]
