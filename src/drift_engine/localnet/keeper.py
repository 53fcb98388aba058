"""The local chain's order path: taker orders rest with auctions; a keeper fills them.

On mainnet a taker order does not fill inside the transaction that places it. The
program stores it with auction parameters (`controller/orders.rs::place_perp_order`,
`get_auction_params`), and over the following slots keepers (`fill_perp_order`) and JIT
makers (`place_and_make`) fill it at the auction's price as that price moves from the
start toward the order's worst price — or nobody fills it, when its limit is outside
the market, and it is cancelled as expired once `max_ts` has passed
(`math/orders.rs::should_expire_order`). `Keeper` does that over the `DriftSimulator`:

* `place_taker` writes the order into the User's order slot as the program does: the
  given auction (duration at least the State's minimum), or the program's default
  auction for a market order without one (`math/auction.rs::calculate_auction_prices`),
  an oracle order without one refused (`InvalidOrderAuction`); auction prices checked
  as `validation/order.rs` checks them; `max_ts` defaulting to now + max(30, duration/2
  + 10) for market and oracle orders; open bids/asks counted; the initial margin of the
  resting order checked (`InsufficientCollateral`). An order whose `max_ts` has already
  passed is skipped without error, as the program does.
* `place_trigger` rests a trigger order (take-profit / stop-loss) untriggered.
* `on_slot(slot, ts)` is one slot of keeper work: expire what passed `max_ts`; trigger
  trigger orders the oracle crossed (then they auction like market orders); and fill
  each auctioned order as far as the JIT maker's quote allows at the order's price for
  this slot (`core.auction.limit_price`, the program's formula), at most
  `MakerConfig.notional_per_slot` per order per slot — so a large order fills in parts
  over several slots, and one whose limit never reaches the quote never fills. The
  maker's quote for the order's cumulative notional is the simulator's `PriceModel`
  taker price (half-spread plus impact). During the auction the fill is at the auction
  price (the JIT maker fills at the taker's price); after it, at the maker's quote.
  Fills go through the simulator's own fill (`_execute_fill`: position update, fees,
  the margin check of a risk-increasing fill, records); a fill that would break margin
  cancels the order, as the program does.

The keeper reaches into the simulator's internals (its accounts, fill and order-slot
helpers) the way `localnet.program` already does: it is the program, not a client.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from driftpy.math.margin import MarginCategory
from driftpy.types import MarketType as DpMarketType
from driftpy.types import OrderStatus, OrderTriggerCondition
from driftpy.types import PositionDirection as DpDirection

from drift_engine.core.auction import (
    AuctionOrder,
    default_auction_prices,
    is_auction_complete,
    limit_price,
    standardize_price_i64,
)
from drift_engine.core.errors import OrderValidationError
from drift_engine.core.steps import round_down_to_step
from drift_engine.core.types import (
    MarketType,
    OrderIntent,
    OrderType,
    PositionDirection,
    TriggerCondition,
    is_variant,
)
from drift_engine.core.validation import validate_intent
from drift_engine.localnet.chain import ProgramError
from drift_engine.localnet.config import LocalnetConfig
from drift_engine.sim.simulator import InsufficientCollateralError

PPM = 1_000_000
UserKey = tuple[Any, int]
MarketKey = tuple[MarketType, int]


def _dp_order_type(t: OrderType) -> Any:
    return t.to_driftpy()


class Keeper:
    """Auctioned taker orders and trigger orders of a `DriftSimulator`, filled per slot."""

    def __init__(
        self,
        sim: Any,
        config: LocalnetConfig,
        *,
        on_trigger: Callable[[Any, Any, int], None] | None = None,
    ) -> None:
        self.sim = sim
        self.config = config
        #: (account key, order id) of the orders the keeper works, in placement order
        self.orders: list[tuple[UserKey, int]] = []
        #: called as on_trigger(account, order, ts) when a trigger order triggers
        self.on_trigger = on_trigger
        #: called as before_change(account) before the keeper changes an account (the
        #: chain keeps its state for reads at a commitment not reached yet)
        self.before_change: Callable[[Any], None] | None = None

    def _touch(self, acct: Any) -> None:
        if self.before_change is not None:
            self.before_change(acct)

    # ------------------------------------------------------------------ state
    def busy(self) -> bool:
        """True while some order needs the keeper slot by slot."""
        return bool(self.orders)

    def save(self) -> Any:
        return list(self.orders)

    def load(self, saved: Any) -> None:
        self.orders = list(saved)

    # ------------------------------------------------------------------ placing
    def _min_duration(self, market_type: MarketType) -> int:
        if market_type is MarketType.PERP:
            return self.config.min_perp_auction_duration
        return self.config.default_spot_auction_duration

    def _auction(self, intent: OrderIntent, oracle: int, tick: int) -> tuple[int, int, int]:
        """(start, end, duration) as `controller/orders.rs::get_auction_params` gives them."""
        d = intent.direction
        duration = max(intent.auction_duration or 0, self._min_duration(intent.market_type))
        given = intent.auction_start_price is not None and intent.auction_end_price is not None
        if intent.order_type is OrderType.LIMIT:
            if not given or intent.auction_duration is None:
                return 0, 0, 0
            duration = 0 if intent.auction_duration == 0 else duration
            start, end = intent.auction_start_price, intent.auction_end_price
        elif given:
            start, end = intent.auction_start_price, intent.auction_end_price
        elif intent.order_type is OrderType.ORACLE:
            limit = oracle + (intent.oracle_price_offset or 0)
            s, e = default_auction_prices(oracle, d, limit)
            start, end = s - oracle, e - oracle
        else:
            start, end = default_auction_prices(oracle, d, intent.price)
        return standardize_price_i64(start, tick, d), standardize_price_i64(end, tick, d), duration

    @staticmethod
    def _check_auction(intent: OrderIntent, start: int, end: int, oracle_offsets: bool) -> None:
        """`validation/order.rs::validate_auction_params` / `validate_oracle_auction_params`."""
        long = intent.direction is PositionDirection.LONG
        if not oracle_offsets:
            if start <= 0 or end <= 0:
                raise ProgramError("InvalidOrderAuction", "auction prices must be > 0")
            if (long and start > end) or (not long and start < end):
                raise ProgramError("InvalidOrderAuction", f"auction {start} -> {end} runs back")
            if intent.price and (
                (long and intent.price < end) or (not long and intent.price > end)
            ):
                raise ProgramError(
                    "InvalidOrderAuction", f"price {intent.price} is inside auction end {end}"
                )
            return
        if (long and start > end) or (not long and start < end):
            raise ProgramError("InvalidOrderAuction", f"auction {start} -> {end} runs back")
        offset = intent.oracle_price_offset
        if offset is not None and ((long and end > offset) or (not long and end < offset)):
            raise ProgramError(
                "InvalidOrderAuction", f"auction end offset {end} is beyond the limit {offset}"
            )

    def _free_slot(self, user: Any) -> int:
        for i, o in enumerate(user.orders):
            if not is_variant(o.status, "Open"):
                return i
        raise ProgramError("MaxNumberOfOrders", "no free order slot (max 32 open orders)")

    def place_taker(self, key: UserKey, intent: OrderIntent, slot: int, ts: int) -> Any | None:
        """Rest a taker order with its auction; returns a copy of the placed order, or None
        when its `max_ts` has already passed (the program skips it without error)."""
        sim = self.sim
        acct = sim._account(key)
        mkey = (intent.market_type, intent.market_index)
        if mkey not in sim._symbols:
            raise OrderValidationError(
                "market_index",
                f"{intent.market_type.value} market {intent.market_index} is not simulated",
            )
        intent = validate_intent(sim.catalog, intent, position_base=sim._position_base(acct, mkey))
        if intent.order_type is OrderType.ORACLE and intent.price:
            raise ProgramError("InvalidOrderLimitPrice", "an oracle order cannot have a price")
        oracle = sim.oracle_price(mkey)
        tick = sim._tick(mkey)
        start, end, duration = self._auction(intent, oracle, tick)
        oracle_offsets = intent.order_type is OrderType.ORACLE or (
            intent.order_type is OrderType.LIMIT and intent.oracle_price_offset is not None
        )
        if duration or start or end:
            self._check_auction(intent, start, end, oracle_offsets)
        max_ts = intent.max_ts
        if max_ts is None:
            max_ts = (
                ts + max(30, duration // 2 + 10)
                if intent.order_type in (OrderType.MARKET, OrderType.ORACLE)
                else 0
            )
        if max_ts and max_ts < ts:
            return None
        return self._write(acct, mkey, intent, slot, start, end, duration, max_ts, ts)

    def place_trigger(self, key: UserKey, intent: OrderIntent, slot: int, ts: int) -> Any | None:
        """Rest a trigger order (untriggered: it neither counts in open bids/asks nor fills
        until the oracle crosses its trigger price)."""
        sim = self.sim
        acct = sim._account(key)
        mkey = (intent.market_type, intent.market_index)
        intent = validate_intent(sim.catalog, intent, position_base=sim._position_base(acct, mkey))
        if intent.max_ts and intent.max_ts < ts:
            return None
        return self._write(acct, mkey, intent, slot, 0, 0, 0, intent.max_ts or 0, ts)

    def _write(self, acct, mkey, intent, slot, start, end, duration, max_ts, ts) -> Any:
        """The order slot as `place_perp_order` writes it; margin checked; keeper tracks it."""
        from drift_engine.sim.simulator import _Snapshot

        sim = self.sim
        user = acct.user
        index = self._free_slot(user)
        if intent.user_order_id and any(
            o.user_order_id == intent.user_order_id and is_variant(o.status, "Open")
            for o in user.orders
        ):
            raise ProgramError("UserOrderIdAlreadyInUse", f"user order id {intent.user_order_id}")
        long = intent.direction is PositionDirection.LONG
        trigger = intent.order_type in (OrderType.TRIGGER_MARKET, OrderType.TRIGGER_LIMIT)
        pos = (
            sim._perp_position(acct, mkey[1])
            if mkey[0] is MarketType.PERP
            else sim._spot_position(acct, mkey[1])
        )
        order = user.orders[index]
        snap = _Snapshot()
        snap.keep(order, pos, user)
        order_id = user.next_order_id
        order.status = OrderStatus.Open()
        order.order_type = _dp_order_type(intent.order_type)
        order.market_type = (
            DpMarketType.Perp() if mkey[0] is MarketType.PERP else DpMarketType.Spot()
        )
        order.slot = slot
        order.order_id = order_id
        order.user_order_id = intent.user_order_id
        order.market_index = mkey[1]
        order.price = intent.price
        base_now = sim._position_base(acct, mkey)
        order.existing_position_direction = (
            DpDirection.Short() if base_now < 0 else DpDirection.Long()
        )
        order.base_asset_amount = intent.base_asset_amount
        order.base_asset_amount_filled = 0
        order.quote_asset_amount_filled = 0
        order.direction = DpDirection.Long() if long else DpDirection.Short()
        order.reduce_only = intent.reduce_only
        order.trigger_price = intent.trigger_price or 0
        order.trigger_condition = (
            OrderTriggerCondition.Below()
            if intent.trigger_condition is TriggerCondition.BELOW
            else OrderTriggerCondition.Above()
        )
        order.post_only = False
        order.oracle_price_offset = intent.oracle_price_offset or 0
        order.immediate_or_cancel = intent.immediate_or_cancel
        order.auction_duration = duration
        order.auction_start_price = start
        order.auction_end_price = end
        order.max_ts = max_ts
        order.bit_flags = 0
        pos.open_orders += 1
        if not trigger:
            self._add_open(pos, long, intent.base_asset_amount)
        user.open_orders += 1
        user.has_open_order = True
        if duration:
            user.open_auctions += 1
            user.has_open_auction = True
        user.next_order_id += 1
        acct.safe = None
        if not intent.reduce_only and not trigger:
            tc, req = sim._calc(acct, MarginCategory.INITIAL)
            if tc < req:
                snap.restore()
                raise InsufficientCollateralError(
                    f"order {order_id} would need initial margin {req} > collateral {tc}"
                )
        sim._touch(acct, mkey)
        sim._order_record(acct, mkey, order_id, intent.user_order_id, "place", ts)
        self.orders.append((acct.key, order_id))
        return copy.deepcopy(order)

    @staticmethod
    def _add_open(pos: Any, long: bool, size: int) -> None:
        if long:
            pos.open_bids += size
        else:
            pos.open_asks -= size

    # ------------------------------------------------------------------ one slot
    def _find(self, key: UserKey, order_id: int) -> tuple[Any, int] | None:
        acct = self.sim._accounts.get(key)
        if acct is None:
            return None
        for i, o in enumerate(acct.user.orders):
            if o.order_id == order_id and is_variant(o.status, "Open"):
                return acct, i
        return None

    def on_slot(self, slot: int, ts: int) -> None:
        """One slot of keeper work (see the module docstring)."""
        self._expire_resting(ts)
        for key, order_id in list(self.orders):
            found = self._find(key, order_id)
            if found is None:  # cancelled by its user, or filled
                self.orders.remove((key, order_id))
                continue
            acct, index = found
            if self._work(acct, index, slot, ts):
                self.orders.remove((key, order_id))

    def _expire_resting(self, ts: int) -> None:
        """Resting limit orders past `max_ts` are cancelled as expired by any keeper."""
        sim = self.sim
        for resting in list(sim._resting.values()):
            for acct, index in list(resting):
                order = acct.user.orders[index]
                if is_variant(order.status, "Open") and order.max_ts and ts > order.max_ts:
                    self._touch(acct)
                    sim._close_order(acct, index, ts, "expire", "max_ts passed")

    def _work(self, acct: Any, index: int, slot: int, ts: int) -> bool:
        """Expire, trigger or fill one order; True when the keeper is done with it."""
        sim = self.sim
        order = acct.user.orders[index]
        mkey = sim._order_market_key(order)
        trigger_type = is_variant(order.order_type, "TriggerMarket") or is_variant(
            order.order_type, "TriggerLimit"
        )
        if order.max_ts and ts > order.max_ts and not trigger_type:  # should_expire_order
            self._touch(acct)
            sim._close_order(acct, index, ts, "expire", "max_ts passed")
            return True
        oracle = sim.oracle_price(mkey)
        tick = sim._tick(mkey)
        if self._untriggered(order) and not self._trigger(
            acct, order, mkey, oracle, slot, ts, tick
        ):
            return False
        long = is_variant(order.direction, "Long")
        auction = AuctionOrder.of(order)
        price = limit_price(auction, slot, oracle, tick)
        if price is None:
            return False
        in_auction = (auction.auction_start_price or auction.auction_end_price) and not (
            is_auction_complete(auction.slot, auction.auction_duration, slot)
        )
        remaining = order.base_asset_amount - order.base_asset_amount_filled
        size, quote_price = self._maker_fill(mkey, long, oracle, price, order, remaining)
        if size == 0:
            return False
        self._touch(acct)
        if order.reduce_only:
            size = sim._reduce_only_size(acct, mkey, long, size)
            if size == 0:
                sim._close_order(
                    acct, index, ts, "cancel", "reduce-only order has nothing to reduce"
                )
                return True
        fill_price = price if in_auction else quote_price
        if mkey[0] is MarketType.PERP:
            sim._settle_funding(acct, sim.perp_markets[mkey[1]], ts)
        try:
            sim._execute_fill(
                acct,
                mkey,
                long,
                size,
                fill_price,
                False,
                ts,
                order.order_id,
                order.user_order_id,
                check_margin=not order.reduce_only,
                order=order,
            )
        except InsufficientCollateralError:
            sim._close_order(acct, index, ts, "cancel", "insufficient collateral for the fill")
            return True
        done = order.base_asset_amount_filled >= order.base_asset_amount
        if done:
            sim._close_order(acct, index, ts, "fill", "")
        sim._after_fill(acct, mkey, ts)
        return done

    # ------------------------------------------------------------------ the JIT maker
    def _maker_fill(
        self, mkey: MarketKey, long: bool, oracle: int, price: int, order: Any, remaining: int
    ) -> tuple[int, int]:
        """(base the maker fills now, its quote for that base) at the order's `price`."""
        sim = self.sim
        model = sim._price_model(mkey)
        decimals = sim._decimals(mkey)
        tick = sim._tick(mkey)
        step = sim._step(mkey)
        unit = 10**decimals
        allowed = (price - oracle) * PPM // oracle if long else (oracle - price) * PPM // oracle
        if allowed < model.half_spread_ppm:
            return 0, 0
        already = order.quote_asset_amount_filled
        if model.impact_ppm_at_reference <= 0:
            ceiling = already + self.config.maker.notional_per_slot
        else:
            root = allowed - model.half_spread_ppm
            ceiling = (
                model.reference_notional
                * root
                * root
                // (model.impact_ppm_at_reference * model.impact_ppm_at_reference)
            )
        room = min(ceiling - already, self.config.maker.notional_per_slot)
        if room <= 0:
            return 0, 0
        size = min(remaining, room * unit // oracle)
        size = round_down_to_step(size, step)
        while size > 0:
            notional = already + size * oracle // unit
            quote = model.taker_price(oracle, long, notional, tick)
            if (quote <= price) if long else (quote >= price):
                return size, quote
            size -= step
        return 0, 0

    # ------------------------------------------------------------------ triggers
    @staticmethod
    def _untriggered(order: Any) -> bool:
        """A trigger order whose trigger price the oracle has not crossed yet."""
        trigger_type = is_variant(order.order_type, "TriggerMarket") or is_variant(
            order.order_type, "TriggerLimit"
        )
        waiting = is_variant(order.trigger_condition, "Above") or is_variant(
            order.trigger_condition, "Below"
        )
        return trigger_type and waiting

    def _trigger(self, acct, order, mkey, oracle, slot, ts, tick) -> bool:
        """`controller/orders.rs::trigger_order`: once the oracle crosses the trigger price
        the order auctions from the oracle toward its worst price (a trigger market order
        50 bps away, `calculate_auction_prices`; a trigger limit order to its price)."""
        above = is_variant(order.trigger_condition, "Above")
        if not ((oracle > order.trigger_price) if above else (oracle < order.trigger_price)):
            return False
        self._touch(acct)
        long = is_variant(order.direction, "Long")
        d = PositionDirection.LONG if long else PositionDirection.SHORT
        start, end = default_auction_prices(oracle, d, order.price)
        order.trigger_condition = (
            OrderTriggerCondition.TriggeredAbove()
            if above
            else OrderTriggerCondition.TriggeredBelow()
        )
        order.slot = slot
        order.auction_start_price = standardize_price_i64(start, tick, d)
        order.auction_end_price = standardize_price_i64(end, tick, d)
        order.auction_duration = self._min_duration(mkey[0])
        pos = (
            self.sim._perp_position(acct, mkey[1])
            if mkey[0] is MarketType.PERP
            else self.sim._spot_position(acct, mkey[1])
        )
        self._add_open(pos, long, order.base_asset_amount - order.base_asset_amount_filled)
        if self.on_trigger is not None:
            self.on_trigger(acct, order, ts)
        return True


__all__ = ["Keeper"]
