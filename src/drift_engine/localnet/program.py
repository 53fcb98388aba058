"""`SimulatorProgram`: the `DriftProgram` the local chain runs — the `DriftSimulator`.

The chain decodes instructions and checks accounts and signers; this adapter turns each
Drift instruction into the simulator's entry points and its refusals into Drift error
names. Served accounts are the simulator's own objects (State, markets, Users,
UserStats), so every RPC read encodes the simulator's current state.

Program rules applied here because they are about instructions, not about the
simulated market (protocol-v2, `controller/orders.rs`):
* a user order id (> 0) held by an open order cannot be used again
  (`UserOrderIdAlreadyInUse`);
* cancelling an order id that is not open is a no-op (`cancel_order_by_order_id` logs
  "could not find order" and returns Ok), as is cancel by a user order id not open;
* `modify_order` cancels the order and places its replacement with the same user
  order id and order type (`modify_order`: cancel + place of the merged params); a
  missing order is a no-op unless the policy says MustModify (`OrderDoesNotExist`);
* `place_and_take` never rests: the unfilled rest is cancelled (immediate-or-cancel).

The unkind parts (`LocalnetConfig`, all on by default): taker orders rest with auctions
and the keeper (`localnet.keeper.Keeper`) fills them over the following slots, trigger
orders wait for their trigger price, `place_and_take` fills at once or not at all; PnL
and funding are not settled by themselves (`settle_pnl` is an instruction); cancels and
expiries are logged as the program logs them (`OrderActionRecord` Cancel, with
`OrderExpired` for an order past its `max_ts`). `begin(slot, ts)` tells the program the
Clock sysvar of the next instruction; `on_slot(slot, ts)` runs one slot of keeper work.

Atomicity: `snapshot()` deep-copies the fields of every account object and the
simulator's bookkeeping; `restore()` writes them back *into the same objects* (the
simulator's driftpy DriftClients keep referencing them).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from driftpy.addresses import get_state_public_key
from driftpy.constants.config import DRIFT_PROGRAM_ID
from driftpy.types import OrderStatus
from solders.pubkey import Pubkey

from drift_engine.core.accounts import make_user_stats
from drift_engine.core.errors import OrderValidationError
from drift_engine.core.program import new_account
from drift_engine.core.types import (
    MarketType,
    ModifyOrderPolicy,
    OrderIntent,
    OrderType,
    PositionDirection,
    PostOnly,
    is_variant,
)
from drift_engine.localnet.chain import ProgramError
from drift_engine.localnet.config import LocalnetConfig
from drift_engine.localnet.keeper import Keeper
from drift_engine.sim.simulator import DriftSimulator, InsufficientCollateralError, SimulationError

_VALIDATION_ERRORS = {
    "base_asset_amount": "InvalidOrderSizeTooSmall",
    "price": "InvalidOrder",
    "market_index": "MarketDelisted",
    "reduce_only": "InvalidOrderNotRiskReducing",
    "post_only": "PlacePostOnlyLimitFailure",
    "max_ts": "InvalidOrderMaxTs",
}


def _program_error(exc: Exception) -> ProgramError:
    if isinstance(exc, ProgramError):
        return exc
    if isinstance(exc, InsufficientCollateralError):
        return ProgramError("InsufficientCollateral", str(exc))
    if isinstance(exc, OrderValidationError):
        return ProgramError(_VALIDATION_ERRORS.get(exc.field, "InvalidOrder"), str(exc))
    if isinstance(exc, SimulationError):
        return ProgramError("InvalidOrder", str(exc))
    return ProgramError("InvalidOrder", f"{type(exc).__name__}: {exc}")


class SimulatorProgram:
    """Adapts a `DriftSimulator` to the local chain's `DriftProgram` protocol.

    `clock()` gives the timestamp of each instruction: the chain's time (`begin`), never
    before the simulator's own `now` (market data may have moved it on).
    """

    def __init__(
        self,
        sim: DriftSimulator,
        clock: Callable[[], int] | None = None,
        config: LocalnetConfig | None = None,
    ) -> None:
        self.sim = sim
        self.config = config or LocalnetConfig()
        self._fixed_clock = clock
        self.slot = 0
        self._ts: int | None = None
        self.state_pubkey = get_state_public_key(DRIFT_PROGRAM_ID)
        self._pending_stats: dict[Pubkey, Any] = {}  # initialize_user_stats before a User
        self.keeper = Keeper(sim, self.config, on_trigger=self._triggered)
        self._before_change: Callable[[list[Pubkey]], None] | None = None
        #: order details by (user account, order id), kept while orders are open, for the
        #: cancel records the program logs with the order's fields
        self._shadow: dict[tuple[Pubkey, int], Any] = {}
        #: oracle faults: posted slot of a frozen oracle, confidence (PRICE 1e6)
        self._frozen_oracles: dict[Pubkey, int] = {}
        self._oracle_confidence: dict[Pubkey, int] = {}
        if not self.config.settle_automatically:
            sim.auto_settle_pnl = False
            sim.settle_funding_on_update = False

    @property
    def before_change(self) -> Callable[[list[Pubkey]], None] | None:
        """Set by the chain: called with the User accounts the keeper is about to change."""
        return self._before_change

    @before_change.setter
    def before_change(self, hook: Callable[[list[Pubkey]], None] | None) -> None:
        from drift_engine.core.accounts import user_pubkey

        self._before_change = hook
        if hook is None:
            self.keeper.before_change = None
        else:
            self.keeper.before_change = lambda acct: hook([user_pubkey(*acct.key)])

    def clock(self) -> int:
        if self._fixed_clock is not None:
            return self._fixed_clock()
        if self._ts is None:
            return self.sim.now
        return max(self.sim.now, self._ts)

    # ------------------------------------------------------------------ chain time

    def begin(self, slot: int, ts: int) -> None:
        """The Clock sysvar (slot, unix timestamp) of what runs next."""
        self.slot = slot
        self._ts = ts
        self._remember_orders()

    def busy(self) -> bool:
        """True while the keeper has work in every slot (auctions, triggers)."""
        return self.keeper.busy()

    def on_slot(self, slot: int, ts: int) -> None:
        """One slot of keeper work (fills, triggers, expiries) at the chain's time."""
        self.begin(slot, ts)
        now = self.clock()
        if now > self.sim.now:
            self.sim.now = now
        self.keeper.on_slot(slot, now)

    def _remember_orders(self) -> None:
        from drift_engine.core.accounts import user_pubkey

        for authority, sub in self.sim.accounts:
            user = user_pubkey(authority, sub)
            for o in self.sim.user((authority, sub)).orders:
                if is_variant(o.status, "Open"):
                    self._shadow[(user, o.order_id)] = copy.copy(o)

    def _triggered(self, acct: Any, order: Any, ts: int) -> None:
        from drift_engine.localnet.events import TriggerRecord

        self.sim._emit(
            TriggerRecord(
                self.sim._next_seq(),
                ts,
                acct.authority,
                acct.key[1],
                copy.copy(order),
                self.sim.oracle_price(self.sim._order_market_key(order)),
            )
        )

    # ------------------------------------------------------------------ served state

    def _stats(self) -> dict[Pubkey, Any]:
        out = dict(self._pending_stats)
        for authority, _sub in self.sim.accounts:
            out[authority] = self.sim.user_stats(authority)
        return out

    def accounts(self) -> Iterable[tuple[Pubkey, str, Any]]:
        from drift_engine.core.accounts import user_pubkey, user_stats_pubkey

        yield self.state_pubkey, "State", self.sim.state
        for m in self.sim.perp_markets.values():
            yield m.pubkey, "PerpMarket", m
        for m in self.sim.spot_markets.values():
            yield m.pubkey, "SpotMarket", m
        for authority, sub in self.sim.accounts:
            yield user_pubkey(authority, sub), "User", self.sim.user((authority, sub))
        for authority, stats in self._stats().items():
            yield user_stats_pubkey(authority), "UserStats", stats

    def oracles(self) -> Iterable[tuple[Pubkey, Any, int, int, int]]:
        """(address, source, price, posted slot, confidence) of every market's oracle.

        Pyth Lazer posts every slot, so an oracle is as fresh as the current slot unless
        a test froze it (`freeze_oracle`: its posted slot stays, its delay grows as slots
        pass) or widened its confidence (`set_oracle_confidence`, PRICE 1e6)."""
        for i, m in self.sim.perp_markets.items():
            yield self._oracle(m.amm.oracle, m.amm.oracle_source, (MarketType.PERP, i))
        for i, m in self.sim.spot_markets.items():
            yield self._oracle(m.oracle, m.oracle_source, (MarketType.SPOT, i))

    def _oracle(self, address: Pubkey, source: Any, market: tuple[MarketType, int]):
        posted = self._frozen_oracles.get(address, self.slot)
        conf = self._oracle_confidence.get(address, 0)
        return address, source, self.sim.oracle_price(market), posted, conf

    def _oracle_address(self, market: Any) -> Pubkey:
        key = self.sim._key(market)
        if key[0] is MarketType.PERP:
            return self.sim.perp_markets[key[1]].amm.oracle
        return self.sim.spot_markets[key[1]].oracle

    def freeze_oracle(self, market: Any, posted_slot: int | None = None) -> None:
        """The market's oracle stops posting: its posted slot stays `posted_slot`
        (default: the current slot) while the chain moves on (a stale oracle)."""
        address = self._oracle_address(market)
        self._frozen_oracles[address] = self.slot if posted_slot is None else posted_slot

    def unfreeze_oracle(self, market: Any) -> None:
        self._frozen_oracles.pop(self._oracle_address(market), None)

    def set_oracle_confidence(self, market: Any, confidence: int) -> None:
        """The oracle's confidence interval (PRICE 1e6) from now on."""
        self._oracle_confidence[self._oracle_address(market)] = confidence

    # ------------------------------------------------------------------ events

    def record_mark(self) -> int:
        """A position in the simulator's record stream (see `events_since`)."""
        return len(self.sim.records)

    def events_since(self, mark: int) -> list[tuple[Any, str, dict[str, Any]]]:
        """Drift events (user account, event name, fields) for the records after `mark`:
        fills, funding payments and PnL settlements of users (localnet/events.py)."""
        from drift_engine.localnet import events as ev

        out: list[tuple[Any, str, dict[str, Any]]] = []
        records = self.sim.records[mark:]
        for i, rec in enumerate(records):
            if rec.kind == "funding_rate":
                out.append(self._funding_rate_event(rec, records[i + 1 :]))
                continue
            authority = getattr(rec, "authority", None)
            if authority is None:
                continue
            user = ev.user_pubkey_of(authority, rec.sub_account_id)
            if rec.kind == "fill":
                out.append((user, "OrderActionRecord", ev.fill_event(rec, user)))
            elif rec.kind == "funding":
                out.append((user, "FundingPaymentRecord", ev.funding_payment_event(rec, user)))
            elif rec.kind == "liquidation":
                out.append((user, "LiquidationRecord", ev.liquidation_event(rec, user)))
            elif rec.kind == "settle_pnl":
                out.append((user, "SettlePnlRecord", ev.settle_pnl_event(rec, user)))
            elif rec.kind == "order" and rec.action in ("cancel", "expire"):
                order = self._shadow.pop((user, rec.order_id), None)
                market = (rec.market_type, rec.market_index)
                oracle = self.sim.oracle_price(market) if market in self.sim._symbols else 0
                values = ev.cancel_event(rec, user, order, oracle)
                out.append((user, "OrderActionRecord", values))
            elif rec.kind == "trigger":
                out.append((user, "OrderActionRecord", ev.trigger_event(rec, user)))
        return out

    def _funding_rate_event(self, rec: Any, later: Sequence[Any]) -> tuple[Any, str, dict]:
        """(the PerpMarket account, "FundingRateRecord", fields): the program logs it in
        the `update_funding_rate` transaction, which writes the market account, so the
        market's transaction history holds every funding update. Its record id is the
        market's `next_funding_rate_record_id` before the update (`get_then_update_id!`)."""
        from drift_engine.localnet import events as ev

        market = self.sim.perp_markets[rec.market_index]
        after = sum(
            1 for r in later if r.kind == "funding_rate" and r.market_index == rec.market_index
        )
        record_id = market.next_funding_rate_record_id - 1 - after
        return market.pubkey, "FundingRateRecord", ev.funding_rate_event(rec, record_id)

    # ------------------------------------------------------------------ atomicity

    def _objects(self) -> list[Any]:
        sim = self.sim
        objs = [sim.state, *sim.perp_markets.values(), *sim.spot_markets.values()]
        objs += [sim.user(k) for k in sim.accounts]
        objs += list(self._stats().values())
        return objs

    def snapshot(self) -> Any:
        sim = self.sim
        return {
            "objects": [(obj, copy.deepcopy(obj.__dict__)) for obj in self._objects()],
            "accounts": dict(sim._accounts),
            "stats": dict(sim._stats),
            "drifts": dict(sim._drifts),
            "pending": dict(self._pending_stats),
            "records": len(sim.records),
            "seq": sim._seq,
            "now": sim.now,
            "resting": {k: list(v) for k, v in sim._resting.items()},
            "exposed": {k: dict(v) for k, v in sim._exposed.items()},
            "keeper": self.keeper.save(),
        }

    def restore(self, snap: Any) -> None:
        sim = self.sim
        for obj, values in snap["objects"]:
            obj.__dict__.clear()
            obj.__dict__.update(values)
        for name in ("accounts", "stats", "drifts"):
            target = getattr(sim, f"_{name}")
            target.clear()
            target.update(snap[name])
        self._pending_stats = dict(snap["pending"])
        del sim.records[snap["records"] :]
        sim._seq = snap["seq"]
        sim.now = snap["now"]
        sim._resting = {k: list(v) for k, v in snap["resting"].items()}
        sim._exposed = {k: dict(v) for k, v in snap["exposed"].items()}
        self.keeper.load(snap["keeper"])
        for acct in sim._accounts.values():
            acct.safe = None

    # ------------------------------------------------------------------ helpers

    def _call(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        try:
            return fn(*args, **kw)
        except Exception as exc:  # noqa: BLE001 - every refusal becomes a program error
            raise _program_error(exc) from None

    def _key(self, authority: Pubkey, sub: int) -> tuple[Pubkey, int]:
        key = (authority, sub)
        if key not in self.sim._accounts:
            raise ProgramError("UserNotFound", f"sub-account {sub} of {authority}")
        return key

    def _open_orders(self, key: tuple[Pubkey, int]) -> list[Any]:
        return [o for o in self.sim.user(key).orders if is_variant(o.status, "Open")]

    # ------------------------------------------------------------------ instructions

    def initialize_user_stats(self, authority: Pubkey) -> None:
        if authority in self._stats():
            raise ProgramError("AccountAlreadyInUse", "user stats exist", code=0)
        self._pending_stats[authority] = make_user_stats(authority)

    def initialize_user(self, authority: Pubkey, sub_account_id: int, name: list[int]) -> None:
        stats = self._stats().get(authority)
        if stats is None:
            raise ProgramError("AccountNotInitialized", "initialize user stats first")
        if (
            self.config.sequential_sub_accounts
            and sub_account_id != stats.number_of_sub_accounts_created
        ):
            # instructions/user.rs::handle_initialize_user
            raise ProgramError(
                "InvalidUserSubAccountId",
                f"sub-account id {sub_account_id} is not the next one "
                f"({stats.number_of_sub_accounts_created})",
            )
        self._call(self.sim.open_account, authority, sub_account_id)
        self._pending_stats.pop(authority, None)
        self.sim.user((authority, sub_account_id)).name = list(name)

    def deposit(self, authority, sub_account_id, market_index, amount, reduce_only) -> None:
        key = self._key(authority, sub_account_id)
        market = (MarketType.SPOT, market_index)
        if reduce_only:
            owed = -min(0, self.sim.token_amount(key, market))
            amount = min(amount, owed)
            if amount == 0:
                return
        self._call(self.sim.deposit, key, market, amount, self.clock())

    def withdraw(self, authority, sub_account_id, market_index, amount, reduce_only) -> int:
        key = self._key(authority, sub_account_id)
        market = (MarketType.SPOT, market_index)
        if reduce_only:
            amount = min(amount, max(0, self.sim.token_amount(key, market)))
            if amount == 0:
                return 0
        self._call(self.sim.withdraw, key, market, amount, self.clock())
        return amount

    def transfer_deposit(
        self, authority, from_sub_account_id, to_sub_account_id, market_index, amount
    ):
        from_key = self._key(authority, from_sub_account_id)
        to_key = self._key(authority, to_sub_account_id)
        self._call(
            self.sim.transfer_deposit,
            from_key,
            to_key,
            (MarketType.SPOT, market_index),
            amount,
            self.clock(),
        )

    def place_orders(
        self, authority: Pubkey, sub_account_id: int, intents: Sequence[OrderIntent]
    ) -> list[Any]:
        """Place each order; returns driftpy `Order`s as the program's OrderRecords hold them."""
        key = self._key(authority, sub_account_id)
        placed = []
        for intent in intents:
            if intent.user_order_id and any(
                o.user_order_id == intent.user_order_id for o in self._open_orders(key)
            ):
                raise ProgramError(
                    "UserOrderIdAlreadyInUse", f"user order id {intent.user_order_id} is open"
                )
            if self.config.auctions and self._trigger(intent):
                order = self._call(self.keeper.place_trigger, key, intent, self.slot, self.clock())
            elif self.config.auctions and self._auctioned(intent):
                order = self._call(self.keeper.place_taker, key, intent, self.slot, self.clock())
            else:
                result = self._call(self.sim.place_order, key, intent, self.clock())
                order = self._order_of(key, intent, result)
            if order is not None:
                placed.append(order)
        return placed

    @staticmethod
    def _trigger(intent: OrderIntent) -> bool:
        return intent.order_type in (OrderType.TRIGGER_MARKET, OrderType.TRIGGER_LIMIT)

    def _auctioned(self, intent: OrderIntent) -> bool:
        """Orders that take liquidity: market and oracle orders, limit orders with an
        auction, and limit orders (not post-only) that cross the market when placed
        (the program gives those an auction: `update_perp_auction_params_limit_orders`)."""
        if intent.order_type in (OrderType.MARKET, OrderType.ORACLE):
            return not intent.immediate_or_cancel
        if intent.order_type is not OrderType.LIMIT or intent.post_only is not PostOnly.NONE:
            return False
        if intent.immediate_or_cancel:
            return False
        if intent.auction_duration and intent.auction_start_price is not None:
            return True
        market = (intent.market_type, intent.market_index)
        if market not in self.sim._symbols:
            return False
        oracle = self.sim.oracle_price(market)
        limit = (
            oracle + intent.oracle_price_offset
            if intent.oracle_price_offset is not None
            else intent.price
        )
        bid, ask = self.sim._price_model(market).best_bid_ask(oracle, self.sim._tick(market))
        return limit >= ask if intent.direction is PositionDirection.LONG else limit <= bid

    def _order_of(self, key: tuple[Pubkey, int], intent: OrderIntent, result: Any) -> Any:
        """The placed order: its slot if it rests, else rebuilt from the intent and fills."""
        for o in self.sim.user(key).orders:
            if o.order_id == result.order_id and is_variant(o.status, "Open"):
                return copy.deepcopy(o)
        order = copy.deepcopy(new_account("User").orders[0])
        order.order_id = result.order_id
        order.user_order_id = intent.user_order_id
        order.market_index = intent.market_index
        order.market_type = intent.market_type.to_driftpy()
        order.order_type = intent.order_type.to_driftpy()
        order.direction = intent.direction.to_driftpy()
        order.base_asset_amount = intent.base_asset_amount
        order.base_asset_amount_filled = sum(f.base_asset_amount for f in result.fills)
        order.quote_asset_amount_filled = sum(f.quote_asset_amount for f in result.fills)
        order.price = intent.price
        order.reduce_only = intent.reduce_only
        order.max_ts = intent.max_ts or 0
        order.status = OrderStatus.Filled() if result.fills else OrderStatus.Canceled()
        return order

    def place_and_take(self, authority: Pubkey, sub_account_id: int, intent: OrderIntent) -> list:
        """Place and fill in the same instruction against the market (the AMM / resting
        makers) up to the order's limit; the rest is cancelled, nothing rests."""
        key = self._key(authority, sub_account_id)
        if intent.user_order_id and any(
            o.user_order_id == intent.user_order_id for o in self._open_orders(key)
        ):
            raise ProgramError(
                "UserOrderIdAlreadyInUse", f"user order id {intent.user_order_id} is open"
            )
        ioc = replace(intent, immediate_or_cancel=True)
        if intent.order_type is OrderType.MARKET:
            ioc = intent  # a market order without a limit never rests in the simulator
        result = self._call(self.sim.place_order, key, ioc, self.clock())
        return [self._order_of(key, intent, result)]

    def settle_pnl(self, authority: Pubkey, sub_account_id: int, market_index: int) -> None:
        """`controller/pnl.rs::settle_pnl`: funding first, then the PnL the pool allows."""
        key = self._key(authority, sub_account_id)
        market = (MarketType.PERP, market_index)
        if self.sim.perp_position(key, market) is None:
            raise ProgramError("UserHasNoPositionInMarket", f"no position in perp {market_index}")
        self._call(self.sim.settle_pnl, key, market, self.clock())

    def cancel_order(self, authority: Pubkey, sub_account_id: int, order_id: int | None) -> None:
        key = self._key(authority, sub_account_id)
        if order_id is None:
            order_id = self.sim.user(key).next_order_id - 1  # the most recent order
        self._call(self.sim.cancel_order, key, order_id, self.clock())

    def cancel_order_by_user_id(self, authority, sub_account_id, user_order_id) -> None:
        key = self._key(authority, sub_account_id)
        for o in self._open_orders(key):
            if o.user_order_id == user_order_id:
                self._call(self.sim.cancel_order, key, o.order_id, self.clock())

    def cancel_orders(
        self, authority, sub_account_id, market_type, market_index, direction
    ) -> None:
        key = self._key(authority, sub_account_id)
        for o in self._open_orders(key):
            if (
                market_type is not None
                and MarketType.from_driftpy(o.market_type) is not market_type
            ):
                continue
            if market_index is not None and o.market_index != market_index:
                continue
            if (
                direction is not None
                and PositionDirection.from_driftpy(o.direction) is not direction
            ):
                continue
            self._call(self.sim.cancel_order, key, o.order_id, self.clock())

    def modify_order(self, authority, sub_account_id, order_id, user_order_id, params) -> None:
        """`controller/orders.rs::modify_order`: cancel, then place the merged params."""
        key = self._key(authority, sub_account_id)
        target = None
        for o in self._open_orders(key):
            if (order_id is not None and o.order_id == order_id) or (
                user_order_id is not None and o.user_order_id == user_order_id
            ):
                target = copy.deepcopy(o)  # the slot is reset when cancelled below
                break
        policy = params.policy or 0
        if target is None:
            if policy & ModifyOrderPolicy.MUST_MODIFY:
                raise ProgramError("OrderDoesNotExist", "no open order to modify")
            return  # the program logs "order id not found" and succeeds
        filled = target.base_asset_amount_filled

        def pick(name: str, current: Any) -> Any:
            value = getattr(params, name, None)
            return current if value is None else value

        size = params.base_asset_amount
        if size is None:
            size = target.base_asset_amount - filled
        elif policy & ModifyOrderPolicy.EXCLUDE_PREVIOUS_FILL:
            size = max(0, size - filled)
        ts = self.clock()
        self._call(self.sim.cancel_order, key, target.order_id, ts)
        if size == 0:
            return
        if params.post_only is not None:
            post_only = _POST_ONLY[type(params.post_only).__name__]
        else:
            post_only = PostOnly.MUST_POST_ONLY if target.post_only else PostOnly.NONE
        order_type = OrderType.from_driftpy(target.order_type)
        offset = pick("oracle_price_offset", target.oracle_price_offset)
        direction = params.direction if params.direction is not None else target.direction
        new = OrderIntent(
            market_index=target.market_index,
            market_type=MarketType.from_driftpy(target.market_type),
            direction=PositionDirection.from_driftpy(direction),
            base_asset_amount=size,
            order_type=order_type,
            price=pick("price", target.price),
            reduce_only=bool(pick("reduce_only", target.reduce_only)),
            post_only=post_only,
            oracle_price_offset=offset if order_type is OrderType.ORACLE else None,
            user_order_id=target.user_order_id,
            max_ts=pick("max_ts", target.max_ts) or None,
        )
        self._call(self.sim.place_order, key, new, ts)


_POST_ONLY = {
    "None": PostOnly.NONE,
    "NONE": PostOnly.NONE,
    "MustPostOnly": PostOnly.MUST_POST_ONLY,
    "TryPostOnly": PostOnly.TRY_POST_ONLY,
    "Slide": PostOnly.SLIDE,
}
