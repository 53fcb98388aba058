"""Orders and fills: placing (validation, taker fills at the price model's price, resting
limit orders), cancelling, matching resting orders when the oracle crosses them, fees
and the fill itself (`controller/position.rs::update_position_and_market`, the
initial-margin check that undoes a risk-increasing fill).

`OrdersMixin` is one of the mixins `simulator.DriftSimulator` is composed of (see there
for why mixins).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from driftpy.math.margin import MarginCategory
from driftpy.types import MarketType as DpMarketType
from driftpy.types import OrderStatus, OrderType, PositionDirection

from drift_engine.core import fees
from drift_engine.core.errors import OrderValidationError
from drift_engine.core.program_math import is_high_leverage_mode
from drift_engine.core.steps import round_down_to_step
from drift_engine.core.types import MarketType, OrderIntent, PostOnly
from drift_engine.core.types import OrderType as IntentOrderType
from drift_engine.core.types import PositionDirection as Direction
from drift_engine.core.validation import validate_intent
from drift_engine.sim import rules
from drift_engine.sim.persistence import _Snapshot
from drift_engine.sim.pricing import PriceModel
from drift_engine.sim.records import FillRecord, OrderRecord, OrderResult
from drift_engine.sim.state import (
    QUOTE_SPOT_MARKET_INDEX,
    InsufficientCollateralError,
    MarketKey,
    SimulationError,
    UserKey,
    _Account,
)

#: fee structure values -> `FeeStructure.from_account` of them, shared by simulators
_FEE_STRUCTURES: dict[tuple[Any, ...], fees.FeeStructure] = {}


class OrdersMixin:
    """Orders, matching, fees and fills of `DriftSimulator`."""

    #: the undo copy of the `place_orders` call running (None outside one): it holds
    #: no order slot, `_rest_order` keeps the one it writes there first
    _undo: _Snapshot | None = None

    def _price_model(self, key: MarketKey) -> PriceModel:
        return self._price_models.get(key, self._default_price_model)

    def _decimals(self, key: MarketKey) -> int:
        return 9 if key[0] is MarketType.PERP else self.spot_markets[key[1]].decimals

    def _tick(self, key: MarketKey) -> int:
        m = self._market(key)
        return m.amm.order_tick_size if key[0] is MarketType.PERP else m.order_tick_size

    def _step(self, key: MarketKey) -> int:
        m = self._market(key)
        return m.amm.order_step_size if key[0] is MarketType.PERP else m.order_step_size

    def _limit_price(self, order: Any, key: MarketKey) -> int:
        if order.oracle_price_offset:
            return max(self._prices[key] + order.oracle_price_offset, self._tick(key))
        return order.price

    def _reduce_only_size(self, acct: _Account, key: MarketKey, long: bool, size: int) -> int:
        """`math/orders.rs::calculate_base_asset_amount_for_reduce_only_order`."""
        position = self._position_base(acct, key)
        if (long and position >= 0) or (not long and position <= 0):
            return 0
        return round_down_to_step(min(size, abs(position)), self._step(key))

    def place_order(self, key: UserKey | None, intent: OrderIntent, ts: int) -> OrderResult:
        """Validate and place an order; takers fill now, limit orders may rest.

        Raises `OrderValidationError` (naming the field) for an intent the builder would
        refuse and `InsufficientCollateralError` when a risk-increasing fill or a resting
        order would break initial margin (nothing changes then).
        """
        self._advance(ts)
        acct = self._account(key)
        self._changed(acct)
        mkey = (intent.market_type, intent.market_index)
        if mkey not in self._symbols:
            raise OrderValidationError(
                "market_index",
                f"{intent.market_type.value} market {intent.market_index} is not simulated",
            )
        intent = validate_intent(
            self.catalog, intent, position_base=self._position_base(acct, mkey)
        )
        if intent.order_type in (IntentOrderType.TRIGGER_MARKET, IntentOrderType.TRIGGER_LIMIT):
            raise OrderValidationError("order_type", "trigger orders are not simulated")
        if intent.max_ts is not None and intent.max_ts and ts > intent.max_ts:
            raise OrderValidationError("max_ts", f"order expired at {intent.max_ts} (now {ts})")
        long = intent.direction is Direction.LONG
        is_limit = intent.order_type in (IntentOrderType.LIMIT, IntentOrderType.ORACLE)
        if mkey[0] is MarketType.PERP:
            self._settle_funding(acct, self.perp_markets[mkey[1]], ts)

        # the id is taken only when the order is placed (a refused order reverts on chain)
        order_id = acct.user.next_order_id
        size = intent.base_asset_amount
        if intent.reduce_only:
            size = self._reduce_only_size(acct, mkey, long, size)
            if size == 0:
                return self._order_end(
                    acct,
                    mkey,
                    intent,
                    order_id,
                    ts,
                    "canceled",
                    "reduce-only order cannot reduce the position",
                )

        oracle = self._prices[mkey]
        tick = self._tick(mkey)
        limit: int | None = None
        if is_limit or intent.price:
            if intent.oracle_price_offset is not None:
                limit = max(oracle + intent.oracle_price_offset, tick)
            else:
                limit = intent.price
        model = self._price_model(mkey)
        notional = size * oracle // 10 ** self._decimals(mkey)
        taker_price = model.taker_price(oracle, long, notional, tick)
        crosses = limit is None or (taker_price <= limit if long else taker_price >= limit)

        post_only = intent.post_only
        if post_only is not PostOnly.NONE:
            bid, ask = model.best_bid_ask(oracle, tick)
            would_take = limit >= ask if long else limit <= bid
            if would_take:
                if post_only is PostOnly.MUST_POST_ONLY:
                    raise OrderValidationError(
                        "post_only",
                        f"a must-post-only {intent.direction.value} at {limit} would take "
                        f"(model {'ask' if long else 'bid'} {ask if long else bid})",
                    )
                if post_only is PostOnly.TRY_POST_ONLY:
                    return self._order_end(
                        acct,
                        mkey,
                        intent,
                        order_id,
                        ts,
                        "canceled",
                        "try-post-only order would take",
                    )
                limit = ask - tick if long else bid + tick  # SLIDE
            crosses = False

        fills: tuple[FillRecord, ...] = ()
        if crosses:
            fill = self._execute_fill(
                acct,
                mkey,
                long,
                size,
                taker_price,
                False,
                ts,
                order_id,
                intent.user_order_id,
                check_margin=True,
            )
            fills = (fill,)
            acct.user.next_order_id += 1
            self._order_record(acct, mkey, order_id, intent.user_order_id, "fill", ts)
            self._after_fill(acct, mkey, ts)
            return OrderResult(order_id, "filled", fills)
        if not is_limit or intent.immediate_or_cancel:
            return self._order_end(
                acct,
                mkey,
                intent,
                order_id,
                ts,
                "canceled",
                f"no fill within the limit price {limit}",
            )
        self._rest_order(acct, mkey, intent, order_id, size, limit, ts)
        acct.user.next_order_id += 1
        return OrderResult(order_id, "open", fills)

    def place_orders(
        self, key: UserKey | None, intents: Iterable[OrderIntent], ts: int
    ) -> list[OrderResult]:
        """Drift's `place_orders`: place every order (in order, as `place_order` does) or
        none. A refusal of any of them (`OrderValidationError`, `InsufficientCollateralError`
        after any leg, any `SimulationError`) restores the state before the call (fills,
        fees, funding settled, order ids, records) and re-raises; an order that ends
        cancelled (e.g. a reduce-only with nothing to reduce) is not a refusal.
        """
        acct = self._account(key)
        self._changed(acct)
        intents = list(intents)
        snap = self.snapshot(
            [acct.key], [(i.market_type, i.market_index) for i in intents], order_slots=False
        )
        results: list[OrderResult] = []
        self._undo = snap
        try:
            for intent in intents:
                results.append(self.place_order(acct.key, intent, ts))
        except BaseException:
            self.restore(snap)
            raise
        finally:
            self._undo = None
        return results

    def _order_record(
        self,
        acct: _Account,
        mkey: MarketKey,
        order_id: int,
        user_order_id: int,
        action: str,
        ts: int,
        reason: str = "",
    ) -> None:
        """Emit the `OrderRecord` of an order of `acct` in market `mkey` placed or ended
        (`action`: "place", "cancel", "fill", "expire"); the local keeper's resting
        orders too."""
        self._emit(
            OrderRecord(
                self._next_seq(),
                ts,
                acct.authority,
                acct.key[1],
                mkey[0],
                mkey[1],
                order_id,
                user_order_id,
                action,
                reason,
            )
        )

    def _order_end(self, acct, mkey, intent, order_id, ts, status, reason) -> OrderResult:
        self._changed(acct)
        acct.user.next_order_id += 1
        self._order_record(acct, mkey, order_id, intent.user_order_id, "cancel", ts, reason)
        return OrderResult(order_id, status, (), reason)

    def _rest_order(self, acct, mkey, intent, order_id, size, limit, ts) -> None:
        self._changed(acct)
        user = acct.user
        slot_index = next(
            (i for i, o in enumerate(user.orders) if rules.variant(o.status) != "Open"), None
        )
        if slot_index is None:
            raise SimulationError("no free order slot (max 32 open orders)")
        long = intent.direction is Direction.LONG
        snap = _Snapshot()
        order = user.orders[slot_index]
        if self._undo is not None:  # `place_orders`' copy holds no order slot: this one
            self._undo.keep_deep(order)
        pos = (
            self._perp_position(acct, mkey[1], snap)
            if mkey[0] is MarketType.PERP
            else self._spot_position(acct, mkey[1], snap)
        )
        snap.keep(order, pos, user)
        order.slot = 0
        order.price = 0 if intent.oracle_price_offset is not None else limit
        order.oracle_price_offset = intent.oracle_price_offset or 0
        order.base_asset_amount = size
        order.base_asset_amount_filled = 0
        order.quote_asset_amount_filled = 0
        order.trigger_price = 0
        order.auction_start_price = order.auction_end_price = 0
        order.auction_duration = 0
        order.max_ts = intent.max_ts or 0
        order.order_id = order_id
        order.user_order_id = intent.user_order_id
        order.market_index = mkey[1]
        order.status = OrderStatus.Open()
        order.order_type = (
            OrderType.Oracle() if intent.oracle_price_offset is not None else OrderType.Limit()
        )
        order.market_type = (
            DpMarketType.Perp() if mkey[0] is MarketType.PERP else DpMarketType.Spot()
        )
        base_now = self._position_base(acct, mkey)
        order.existing_position_direction = (
            PositionDirection.Short() if base_now < 0 else PositionDirection.Long()
        )
        order.direction = PositionDirection.Long() if long else PositionDirection.Short()
        order.reduce_only = intent.reduce_only
        order.post_only = intent.post_only is not PostOnly.NONE
        order.immediate_or_cancel = False
        pos.open_orders += 1
        if long:
            pos.open_bids += size
        else:
            pos.open_asks -= size
        user.open_orders += 1
        user.has_open_order = True
        acct.safe = None
        if not intent.reduce_only:
            tc, req = self._calc(acct, MarginCategory.INITIAL)
            if tc < req:
                snap.restore()
                raise InsufficientCollateralError(
                    f"resting order {order_id} would need initial margin {req} > collateral {tc}"
                )
        self._resting.setdefault(mkey, []).append((acct, slot_index))
        self._touch(acct, mkey)
        self._order_record(acct, mkey, order_id, intent.user_order_id, "place", ts)

    def cancel_order(self, key: UserKey | None, order_id: int, ts: int) -> bool:
        """Cancel a resting order by id; False if no such open order."""
        self._advance(ts)
        acct = self._account(key)
        self._changed(acct)
        for i, order in enumerate(acct.user.orders):
            if order.order_id == order_id and rules.variant(order.status) == "Open":
                self._close_order(acct, i, ts, "cancel", "canceled by user")
                return True
        return False

    def _order_market_key(self, order: Any) -> MarketKey:
        kind = MarketType.PERP if rules.variant(order.market_type) == "Perp" else MarketType.SPOT
        return (kind, order.market_index)

    def _close_order(self, acct: _Account, index: int, ts: int, action: str, reason: str) -> None:
        self._changed(acct)
        order = acct.user.orders[index]
        mkey = self._order_market_key(order)
        remaining = order.base_asset_amount - order.base_asset_amount_filled
        pos = (
            self._perp_position(acct, mkey[1])
            if mkey[0] is MarketType.PERP
            else self._spot_position(acct, mkey[1])
        )
        if rules.variant(order.direction) == "Long":
            pos.open_bids = max(0, pos.open_bids - remaining)
        else:
            pos.open_asks = min(0, pos.open_asks + remaining)
        pos.open_orders = max(0, pos.open_orders - 1)
        acct.user.open_orders = max(0, acct.user.open_orders - 1)
        acct.user.has_open_order = acct.user.open_orders > 0
        self._order_record(acct, mkey, order.order_id, order.user_order_id, action, ts, reason)
        # the program resets a finished order slot to Order::default()
        order.status = OrderStatus.Init()
        order.base_asset_amount = order.base_asset_amount_filled = 0
        order.quote_asset_amount_filled = 0
        order.price = order.oracle_price_offset = order.max_ts = 0
        order.order_id = order.user_order_id = order.market_index = 0
        order.reduce_only = order.post_only = False
        order.order_type = OrderType.Market()
        order.market_type = DpMarketType.Spot()
        order.direction = PositionDirection.Long()
        order.existing_position_direction = PositionDirection.Long()
        resting = self._resting.get(mkey, [])
        self._resting[mkey] = [(a, i) for a, i in resting if not (a is acct and i == index)]
        acct.safe = None

    def _match_resting(self, key: MarketKey, ts: int) -> list[FillRecord]:
        """Resting orders the oracle price crosses fill at their limit (maker, rebate)."""
        oracle = self._prices[key]
        cap = self._volume_caps.get(key)
        step = self._step(key)
        fills: list[FillRecord] = []
        for acct, index in list(self._resting.get(key, [])):
            order = acct.user.orders[index]
            if rules.variant(order.status) != "Open":
                continue
            if order.max_ts and ts > order.max_ts:
                self._close_order(acct, index, ts, "expire", "max_ts passed")
                continue
            long = rules.variant(order.direction) == "Long"
            limit = self._limit_price(order, key)
            if not (oracle < limit if long else oracle > limit):
                continue
            size = order.base_asset_amount - order.base_asset_amount_filled
            if order.reduce_only:
                size = self._reduce_only_size(acct, key, long, size)
                if size == 0:
                    self._close_order(
                        acct, index, ts, "cancel", "reduce-only order has nothing to reduce"
                    )
                    continue
            if cap is not None:
                size = round_down_to_step(min(size, cap), step)
                if size == 0:
                    break
                cap -= size
            if key[0] is MarketType.PERP:
                self._settle_funding(acct, self.perp_markets[key[1]], ts)
            try:
                fill = self._execute_fill(
                    acct,
                    key,
                    long,
                    size,
                    limit,
                    True,
                    ts,
                    order.order_id,
                    order.user_order_id,
                    check_margin=not order.reduce_only,
                    order=order,
                )
            except InsufficientCollateralError:
                self._close_order(acct, index, ts, "cancel", "insufficient collateral for the fill")
                continue
            fills.append(fill)
            if order.base_asset_amount_filled >= order.base_asset_amount:
                self._close_order(acct, index, ts, "fill", "")
            self._after_fill(acct, key, ts)
        return fills

    # ------------------------------------------------------------------ fills

    def _fee_tier(self, acct: _Account, spot: bool, high_leverage: bool) -> fees.FeeTier:
        """`math/fees.rs::determine_user_fee_tier` over the State's fee structure: 30-day
        volume and staked DRIFT pick the perp tier; spot and high leverage mode: tier 0."""
        structure = self.state.spot_fee_structure if spot else self.state.perp_fee_structure
        return fees.determine_user_fee_tier(
            acct.stats, self._fee_structure(structure, spot), spot, high_leverage
        )

    def _fee_structure(self, structure: Any, spot: bool) -> fees.FeeStructure:
        """`FeeStructure.from_account(structure)`, kept while the values it reads (the
        tiers, the filler reward, two integers: all integers) are unchanged."""
        key = (
            tuple(tuple(t.__dict__.values()) for t in structure.fee_tiers),
            tuple(structure.filler_reward_structure.__dict__.values()),
            structure.flat_filler_fee,
            structure.referrer_reward_epoch_upper_bound,
        )
        cache = self.__dict__.setdefault("_fee_structures", {})
        hit = cache.get(spot)
        if hit is not None and hit[0] == key:
            return hit[1]
        # every paper cell's simulator starts from the same State: the (frozen)
        # structure built for those values by one is the others' too (ADR-0020, s6)
        out = _FEE_STRUCTURES.get(key)
        if out is None:
            out = fees.FeeStructure.from_account(structure)
            if len(_FEE_STRUCTURES) < 64:
                _FEE_STRUCTURES[key] = out
        cache[spot] = (key, out)
        return out

    def _execute_fill(
        self,
        acct: _Account,
        key: MarketKey,
        long: bool,
        size: int,
        price: int,
        is_maker: bool,
        ts: int,
        order_id: int,
        user_order_id: int,
        *,
        check_margin: bool,
        order: Any = None,
    ) -> FillRecord:
        self._changed(acct)
        user, stats = acct.user, acct.stats
        snap = _Snapshot()
        snap.keep(user, stats, stats.fees)
        if order is not None:
            snap.keep(order)
        if key[0] is MarketType.PERP:
            market = self.perp_markets[key[1]]
            pos = self._perp_position(acct, key[1], snap)
            snap.keep(pos, market, market.amm)
            base_before = pos.base_asset_amount
            # math/matching.rs calculate_fill_for_matched_orders: one quote per match,
            # rounded by the maker's direction (a taker's counterparty is the maker)
            maker_long = long if is_maker else not long
            quote = rules.quote_for_fill(size, price, 9, maker_long)
            pnl = rules.update_position_and_market(
                pos, market, size if long else -size, -quote if long else quote
            )
            # math/fees.rs: the market's fee_adjustment scales both; a taker in high
            # leverage mode takes tier 0 and pays twice its fee (controller/orders.rs reads
            # the mode for the Initial requirement); a maker's tier ignores the mode.
            hlm = is_high_leverage_mode(user, MarginCategory.INITIAL)
            if is_maker:
                tier = self._fee_tier(acct, spot=False, high_leverage=False)
                rebate = fees.maker_rebate(quote, tier, market.fee_adjustment)
                rules.update_quote_asset_and_break_even_amount(pos, market, rebate)
                stats.fees.total_fee_rebate += rebate
                fee = -rebate
            else:
                tier = self._fee_tier(acct, spot=False, high_leverage=hlm)
                fee = fees.taker_fee(quote, tier, market.fee_adjustment) * (2 if hlm else 1)
                rules.update_quote_asset_and_break_even_amount(pos, market, -fee)
                stats.fees.total_fee_paid += fee
            market.amm.total_fee += fee
            market.amm.total_fee_minus_distributions += fee
            base_after = pos.base_asset_amount
            risk_up = abs(base_after) > abs(base_before) or (base_after * base_before < 0)
            fill_id = market.next_fill_record_id
            market.next_fill_record_id += 1
            market.last_fill_price = price
            if order is not None:
                self._reduce_open(pos, long, size)
        else:
            market = self.spot_markets[key[1]]
            usdc = self.spot_markets[QUOTE_SPOT_MARKET_INDEX]
            bpos = self._spot_position(acct, key[1], snap)
            qpos = self._spot_position(acct, QUOTE_SPOT_MARKET_INDEX, snap)
            snap.keep(bpos, qpos, market, usdc)
            base_before = rules.signed_token_amount(bpos, market)
            maker_long = long if is_maker else not long  # math/matching.rs, as for perps
            quote = rules.quote_for_fill(size, price, market.decimals, maker_long)
            rules.update_spot_balances(size, long, market, bpos)
            rules.update_spot_balances(quote, not long, usdc, qpos)
            tier = self._fee_tier(acct, spot=True, high_leverage=False)
            if is_maker:
                rebate = fees.maker_rebate(quote, tier, market.fee_adjustment)
                if rebate:
                    rules.update_spot_balances(rebate, True, usdc, qpos)
                user.cumulative_spot_fees += rebate
                stats.fees.total_fee_rebate += rebate
                fee = -rebate
            else:
                fee = fees.taker_fee(quote, tier, market.fee_adjustment)
                if fee:
                    rules.update_spot_balances(fee, False, usdc, qpos)
                user.cumulative_spot_fees -= fee
                stats.fees.total_fee_paid += fee
            market.total_spot_fee += max(fee, 0)
            pnl = 0
            base_after = rules.signed_token_amount(bpos, market)
            risk_up = (
                abs(base_after) > abs(base_before)
                or base_after * base_before < 0
                or (rules.signed_token_amount(qpos, usdc) < 0)
            )
            fill_id = market.next_fill_record_id
            market.next_fill_record_id += 1
            if order is not None:
                self._reduce_open(bpos, long, size)
        if order is not None:
            order.base_asset_amount_filled += size
            order.quote_asset_amount_filled += quote
        if is_maker:
            stats.maker_volume30d = rules.rolling_30d(
                stats.maker_volume30d, ts - stats.last_maker_volume30d_ts, quote
            )
            stats.last_maker_volume30d_ts = ts
        else:
            stats.taker_volume30d = rules.rolling_30d(
                stats.taker_volume30d, ts - stats.last_taker_volume30d_ts, quote
            )
            stats.last_taker_volume30d_ts = ts
        acct.safe = None
        if check_margin and risk_up:
            tc, req = self._calc(acct, MarginCategory.INITIAL)
            if tc < req:
                snap.restore()
                raise InsufficientCollateralError(
                    f"filling {size} of {self._symbols[key]} would leave total collateral {tc} "
                    f"below the initial margin requirement {req}"
                )
        self._touch(acct, key)
        return self._emit(
            FillRecord(
                self._next_seq(),
                ts,
                acct.authority,
                acct.key[1],
                key[0],
                key[1],
                order_id,
                user_order_id,
                Direction.LONG if long else Direction.SHORT,
                size,
                quote,
                price,
                self._prices[key],
                is_maker,
                fee,
                pnl,
                base_after,
                fill_id,
            )
        )

    @staticmethod
    def _reduce_open(pos: Any, long: bool, size: int) -> None:
        if long:
            pos.open_bids = max(0, pos.open_bids - size)
        else:
            pos.open_asks = min(0, pos.open_asks + size)

    def _after_fill(self, acct: _Account, key: MarketKey, ts: int) -> None:
        self._changed(acct)
        if key[0] is MarketType.PERP and self.auto_settle_pnl:
            self._settle_pnl(acct, key[1], ts)

    # ------------------------------------------------------------------ funding


__all__ = ["OrdersMixin"]
