"""The engine's order book: every order an engine sends, with a durable life cycle.

An order is created INFLIGHT — written to the store *before* it is sent, with the user
order id it goes out with — and then moves only on evidence, through one transition
table (`TRANSITIONS`, applied by `OrderState.apply`):

    INFLIGHT -> OPEN -> PARTIALLY_FILLED -> FILLED | CANCELLED | EXPIRED
    INFLIGHT -> REJECTED                 (the venue or the program refused it)
    INFLIGHT -> UNKNOWN -> ...           (the send's outcome cannot be known yet)

Evidence is a confirmed transaction (ACCEPT), a chain read (the account shows the order
resting: ACCEPT; a resolution finds no trace and the blockhash expired: REJECT), or one
of the program's events (OrderRecord: ACCEPT; OrderActionRecord fill: FILL; cancel:
CANCEL or EXPIRE). A fill event carries the fill; whether it completes the order is
computed from the order's size, so FILL leads to PARTIALLY_FILLED or FILLED.

UNKNOWN is never a rejection: an order whose send may have landed blocks new exposure
for its engine (`OrderBook.blocked`) until a chain read resolves it; cancels and
reduce-only orders stay allowed. An order found on chain that the engine never sent
(a crash before its record was written cannot happen: records are written first; so:
placed by hand, or by another process) is adopted as EXTERNAL (status OPEN, `external`
set) or cancelled, as startup reconciliation's configuration says.

Stores: `MemoryOrderStore` (tests, paper), `engine.order_store.SqlOrderStore` (the
`engine_orders` table, migration 0006).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from drift_engine.core.types import (
    MarketType,
    OpenOrder,
    OrderIntent,
    OrderType,
    PositionDirection,
    PostOnly,
    TriggerCondition,
)
from drift_engine.strategies.base import OrderView

log = logging.getLogger("drift_engine.engine.orders")

U8_MAX = 255


class OrderStatus(enum.StrEnum):
    INFLIGHT = "inflight"
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REJECTED = "rejected"
    UNKNOWN = "unknown"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    @property
    def working(self) -> bool:
        return not self.terminal


TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.REJECTED}
)


class OrderEventKind(enum.StrEnum):
    ACCEPT = "accept"  # confirmed transaction / chain shows it / OrderRecord
    UNKNOWN = "unknown"  # the send's outcome cannot be known now
    REJECT = "reject"  # refused by venue or program, or proven never to land
    FILL = "fill"  # an OrderActionRecord fill (partial or final)
    CANCEL = "cancel"  # cancelled on chain
    EXPIRE = "expire"  # cancelled by the program as expired (max_ts)


S, E = OrderStatus, OrderEventKind
#: (status, event) -> next status. FILL's target is PARTIALLY_FILLED, raised to FILLED
#: by `OrderState.apply` when the fills reach the order's size. A pair not in the table
#: changes nothing (e.g. a late ACCEPT after a fill; anything after a terminal status).
TRANSITIONS: dict[tuple[OrderStatus, OrderEventKind], OrderStatus] = {
    (S.INFLIGHT, E.ACCEPT): S.OPEN,
    (S.INFLIGHT, E.UNKNOWN): S.UNKNOWN,
    (S.INFLIGHT, E.REJECT): S.REJECTED,
    (S.INFLIGHT, E.FILL): S.PARTIALLY_FILLED,
    (S.INFLIGHT, E.CANCEL): S.CANCELLED,
    (S.INFLIGHT, E.EXPIRE): S.EXPIRED,
    (S.UNKNOWN, E.ACCEPT): S.OPEN,
    (S.UNKNOWN, E.REJECT): S.REJECTED,
    (S.UNKNOWN, E.FILL): S.PARTIALLY_FILLED,
    (S.UNKNOWN, E.CANCEL): S.CANCELLED,
    (S.UNKNOWN, E.EXPIRE): S.EXPIRED,
    (S.OPEN, E.FILL): S.PARTIALLY_FILLED,
    (S.OPEN, E.CANCEL): S.CANCELLED,
    (S.OPEN, E.EXPIRE): S.EXPIRED,
    (S.PARTIALLY_FILLED, E.FILL): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, E.CANCEL): S.CANCELLED,
    (S.PARTIALLY_FILLED, E.EXPIRE): S.EXPIRED,
}
del S, E


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """Evidence about one order. `evidence` says where it came from (a transaction
    signature, "chain read at slot N", an event id); fills carry their own amounts."""

    kind: OrderEventKind
    ts: int
    evidence: str
    order_id: int | None = None
    fill_id: str | None = None
    base: int = 0  # unsigned base of this fill
    quote: int = 0  # unsigned quote of this fill
    reason: str = ""


@dataclass
class OrderState:
    """One order of one engine: what was sent, what is known of it on chain."""

    engine_id: str
    seq: int  # the engine's own order number (1, 2, ...)
    user_order_id: int
    intent: OrderIntent
    status: OrderStatus = OrderStatus.INFLIGHT
    order_id: int | None = None  # the program's order id, once known
    base_filled: int = 0
    quote_filled: int = 0
    created_ts: int = 0
    updated_ts: int = 0
    reason: str = ""
    external: bool = False
    #: how to find the send on chain: signatures, last_valid_block_height,
    #: since_order_id, since_slot (live)
    send_ref: dict[str, Any] = field(default_factory=dict)
    fill_ids: list[str] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        return max(0, self.intent.base_asset_amount - self.base_filled)

    @property
    def working(self) -> bool:
        return self.status.working

    def apply(self, event: OrderEvent) -> OrderStatus | None:
        """Move by the transition table; returns the new status, or None when the event
        changes nothing (not in the table, a fill already applied)."""
        if event.kind is OrderEventKind.FILL and event.fill_id in self.fill_ids:
            return None  # this fill was applied already
        target = TRANSITIONS.get((self.status, event.kind))
        if target is None:
            return None
        if event.order_id is not None and self.order_id is None:
            self.order_id = event.order_id
        if event.kind is OrderEventKind.FILL:
            self.base_filled += event.base
            self.quote_filled += event.quote
            if event.fill_id is not None:
                self.fill_ids.append(event.fill_id)
            if self.base_filled >= self.intent.base_asset_amount:
                target = OrderStatus.FILLED
        if event.reason:
            self.reason = event.reason[:300]
        self.status = target
        self.updated_ts = event.ts
        return target

    def view(self) -> OrderView:
        i = self.intent
        return OrderView(
            user_order_id=self.user_order_id,
            market_type=i.market_type,
            market_index=i.market_index,
            direction=i.direction,
            base_asset_amount=i.base_asset_amount,
            base_filled=self.base_filled,
            status=self.status.value,
            reduce_only=i.reduce_only,
            tags=i.tags,
            external=self.external,
            created_ts=self.created_ts,
        )


# --------------------------------------------------------------------------- intent JSON


def intent_to_json(i: OrderIntent) -> dict[str, Any]:
    return {
        "market_index": i.market_index,
        "market_type": i.market_type.value,
        "direction": i.direction.value,
        "base_asset_amount": i.base_asset_amount,
        "order_type": i.order_type.value,
        "price": i.price,
        "reduce_only": i.reduce_only,
        "post_only": i.post_only.value,
        "immediate_or_cancel": i.immediate_or_cancel,
        "oracle_price_offset": i.oracle_price_offset,
        "user_order_id": i.user_order_id,
        "max_ts": i.max_ts,
        "trigger_price": i.trigger_price,
        "trigger_condition": i.trigger_condition.value,
        "auction_duration": i.auction_duration,
        "auction_start_price": i.auction_start_price,
        "auction_end_price": i.auction_end_price,
        "tags": list(i.tags),
    }


def intent_from_json(d: dict[str, Any]) -> OrderIntent:
    return OrderIntent(
        market_index=d["market_index"],
        market_type=MarketType(d["market_type"]),
        direction=PositionDirection(d["direction"]),
        base_asset_amount=d["base_asset_amount"],
        order_type=OrderType(d["order_type"]),
        price=d.get("price", 0),
        reduce_only=d.get("reduce_only", False),
        post_only=PostOnly(d.get("post_only", "none")),
        immediate_or_cancel=d.get("immediate_or_cancel", False),
        oracle_price_offset=d.get("oracle_price_offset"),
        user_order_id=d.get("user_order_id", 0),
        max_ts=d.get("max_ts"),
        trigger_price=d.get("trigger_price"),
        trigger_condition=TriggerCondition(d.get("trigger_condition", "above")),
        auction_duration=d.get("auction_duration"),
        auction_start_price=d.get("auction_start_price"),
        auction_end_price=d.get("auction_end_price"),
        tags=tuple(d.get("tags", ())),
    )


def intent_of_open_order(o: OpenOrder) -> OrderIntent:
    """What an order found on chain would have been sent as (for adoption)."""
    kind = o.order_type
    price = o.price
    if kind in (OrderType.LIMIT, OrderType.TRIGGER_LIMIT) and not price:
        kind, price = OrderType.ORACLE, 0
    return OrderIntent(
        market_index=o.market_index,
        market_type=o.market_type,
        direction=o.direction,
        base_asset_amount=o.base_asset_amount,
        order_type=kind if kind is not OrderType.TRIGGER_MARKET else OrderType.MARKET,
        price=price,
        reduce_only=o.reduce_only,
        oracle_price_offset=0 if kind is OrderType.ORACLE else None,
        user_order_id=o.user_order_id,
        tags=("external",),
    )


# --------------------------------------------------------------------------- stores


class OrderStore(Protocol):
    """Where an engine's orders are kept (one row per order, updated in place)."""

    def save(self, order: OrderState) -> None: ...

    def working(self, engine_id: str) -> list[OrderState]: ...

    def last_seq(self, engine_id: str) -> tuple[int, int]:
        """(highest seq, its user order id) of the engine's orders; (0, 0) if none."""
        ...

    def all(self, engine_id: str) -> list[OrderState]: ...


def _stored(order: OrderState) -> OrderState:
    """`replace(order, send_ref=dict(...), fill_ids=list(...))` without `replace`'s
    field-by-field `__init__` (an order is saved at each change, ~6 times per order
    placed): the same field values, its own `send_ref` and `fill_ids` (the intent is
    frozen, the rest immutable values); tests/engine/test_order_store_copy.py."""
    out = object.__new__(OrderState)
    out.__dict__.update(order.__dict__)
    out.send_ref = dict(order.send_ref)
    out.fill_ids = list(order.fill_ids)
    return out


class MemoryOrderStore:
    """In-process order store (tests, paper engines, backtests)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, int], OrderState] = {}

    def save(self, order: OrderState) -> None:
        if order.working and any(  # the table's partial unique index, in Python
            e == order.engine_id
            and s != order.seq
            and o.working
            and o.user_order_id == order.user_order_id
            for (e, s), o in self.rows.items()
        ):
            raise ValueError(
                f"engine {order.engine_id!r} already has a working order with user order id "
                f"{order.user_order_id}"
            )
        self.rows[(order.engine_id, order.seq)] = _stored(order)

    def working(self, engine_id: str) -> list[OrderState]:
        return [
            _stored(o) for (e, _s), o in sorted(self.rows.items()) if e == engine_id and o.working
        ]

    def last_seq(self, engine_id: str) -> tuple[int, int]:
        mine = [(s, o.user_order_id) for (e, s), o in self.rows.items() if e == engine_id]
        return max(mine) if mine else (0, 0)

    def all(self, engine_id: str) -> list[OrderState]:
        return [o for (e, _s), o in sorted(self.rows.items()) if e == engine_id]


# --------------------------------------------------------------------------- the book


class OrderBook:
    """One engine's working orders, persisted on every change.

    `log(ts, kind, message, data)` receives every transition (the engine's event log).
    """

    def __init__(
        self,
        engine_id: str,
        store: OrderStore | None = None,
        *,
        log: Callable[[int, str, str, dict], None] | None = None,
    ) -> None:
        self.engine_id = engine_id
        self.store: OrderStore = store if store is not None else MemoryOrderStore()
        self._log = log
        self._orders: dict[int, OrderState] = {o.seq: o for o in self.store.working(engine_id)}
        self._seq, self._uid_cursor = self.store.last_seq(engine_id)

    # ------------------------------------------------------------------ reads
    def working(self) -> list[OrderState]:
        return [o for o in self._orders.values() if o.working]

    def views(self) -> tuple[OrderView, ...]:
        return tuple(o.view() for o in self.working())

    def unknown(self) -> list[OrderState]:
        return [o for o in self._orders.values() if o.status is OrderStatus.UNKNOWN]

    @property
    def blocked(self) -> bool:
        """New exposure is blocked while any order's outcome is UNKNOWN."""
        return any(o.status is OrderStatus.UNKNOWN for o in self._orders.values())

    def by_uid(self, uid: int) -> OrderState | None:
        for o in self._orders.values():
            if o.user_order_id == uid and o.working:
                return o
        return None

    def find(self, uid: int, order_id: int | None) -> OrderState | None:
        """The working order evidence about (user order id, program order id) is about.

        User order ids are reused, so an event of an older order with the same id must
        not touch a newer one: once an order's program id is known it must match; before
        that, the event's order id must not predate the send (`since_order_id`)."""
        if uid:
            o = self.by_uid(uid)
            if o is not None:
                if not order_id:
                    return o
                if o.order_id is not None:
                    return o if o.order_id == order_id else None
                since = o.send_ref.get("since_order_id")
                return o if since is None or order_id >= since else None
        if order_id:
            o = self.by_order_id(order_id)
            if o is not None and o.working:
                return o
        return None

    def by_order_id(self, order_id: int) -> OrderState | None:
        for o in self._orders.values():
            if o.order_id == order_id:
                return o
        return None

    def summary(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for o in self._orders.values():
            counts[o.status.value] = counts.get(o.status.value, 0) + 1
        return {"working": len(self.working()), "by_status": counts, "blocked": self.blocked}

    # ------------------------------------------------------------------ writes
    def _next_uid(self, taken: set[int]) -> int:
        for _ in range(U8_MAX):
            self._uid_cursor = self._uid_cursor % U8_MAX + 1
            if self._uid_cursor not in taken:
                return self._uid_cursor
        raise RuntimeError("every user order id 1..255 is held by a working order")

    def create(
        self, intents: Sequence[OrderIntent], ts: int, *, taken: Iterable[int] = ()
    ) -> list[OrderState]:
        """Record `intents` INFLIGHT, each with a free user order id (not held by a working
        order of this book nor by `taken`, e.g. the chain's open orders); persisted
        before anything is sent. Returns them, intents stamped with their ids."""
        used = {o.user_order_id for o in self.working()} | set(taken)
        out: list[OrderState] = []
        for intent in intents:
            uid = intent.user_order_id or self._next_uid(used)
            if uid in used:
                raise ValueError(f"user order id {uid} is held by a working order")
            used.add(uid)
            self._seq += 1
            order = OrderState(
                engine_id=self.engine_id,
                seq=self._seq,
                user_order_id=uid,
                intent=replace(intent, user_order_id=uid),
                created_ts=ts,
                updated_ts=ts,
            )
            self.store.save(order)
            self._orders[order.seq] = order
            out.append(order)
        return out

    def adopt(self, open_order: OpenOrder, ts: int, evidence: str) -> OrderState:
        """Take a chain order the engine never sent as EXTERNAL (status OPEN)."""
        self._seq += 1
        order = OrderState(
            engine_id=self.engine_id,
            seq=self._seq,
            user_order_id=open_order.user_order_id,
            intent=intent_of_open_order(open_order),
            status=OrderStatus.OPEN,
            order_id=open_order.order_id,
            base_filled=open_order.base_asset_amount_filled,
            created_ts=ts,
            updated_ts=ts,
            reason=f"adopted: {evidence}",
            external=True,
        )
        self.store.save(order)
        self._orders[order.seq] = order
        self._note(ts, "order-adopted", order, f"adopted as EXTERNAL ({evidence})")
        return order

    def apply(self, order: OrderState, event: OrderEvent) -> OrderStatus | None:
        """Apply evidence to one order; persist and log a change. Evidence that moves
        nothing may still name the order's program id (kept: it identifies the order)."""
        before = order.status
        after = order.apply(event)
        if after is None:
            if event.order_id is not None and order.order_id is None and order.working:
                order.order_id = event.order_id
                self.store.save(order)
            return None
        self.store.save(order)
        if after is not before or event.kind is OrderEventKind.FILL:
            self._note(
                event.ts,
                "order",
                order,
                f"{before.value} -> {after.value}: {event.kind.value} ({event.evidence})",
                {"from": before.value, "to": after.value, "evidence": event.evidence},
            )
        if after.terminal:
            self._orders.pop(order.seq, None)
        return after

    def set_send_ref(self, orders: Iterable[OrderState], ref: dict[str, Any]) -> None:
        for o in orders:
            o.send_ref = dict(ref)
            self.store.save(o)

    def _note(
        self, ts: int, kind: str, order: OrderState, message: str, data: dict | None = None
    ) -> None:
        payload = {
            "seq": order.seq,
            "user_order_id": order.user_order_id,
            "order_id": order.order_id,
            "status": order.status.value,
            "market": f"{order.intent.market_type.value}-{order.intent.market_index}",
            "base_filled": order.base_filled,
            "external": order.external,
            **(data or {}),
        }
        text = f"order #{order.seq} (uid {order.user_order_id}): {message}"
        log.info("[%s] %s", self.engine_id, text)
        if self._log is not None:
            self._log(ts, kind, text, payload)

    # ------------------------------------------------------------------ evidence helpers
    def on_chain_read(self, open_orders: Sequence[OpenOrder], ts: int, evidence: str) -> None:
        """The account's open orders: a working order resting there is OPEN (with the
        program's order id). An order missing from the read is left alone: its fills or
        cancel arrive as events (history can lag the account)."""
        for chain_order in open_orders:
            mine = self.find(chain_order.user_order_id, chain_order.order_id)
            if mine is None:
                continue
            self.apply(mine, OrderEvent(OrderEventKind.ACCEPT, ts, evidence, chain_order.order_id))

    #: `OrderUpdate.action` -> the evidence it is
    UPDATE_KINDS = {
        "placed": OrderEventKind.ACCEPT,
        "triggered": OrderEventKind.ACCEPT,
        "cancelled": OrderEventKind.CANCEL,
        "expired": OrderEventKind.EXPIRE,
        "rejected": OrderEventKind.REJECT,
        # the venue closed the order after its fills: a rest it did not fill is cancelled
        # (a FILLED order is terminal and ignores it)
        "closed": OrderEventKind.CANCEL,
    }

    def on_update(
        self,
        record_id: str,
        ts: int,
        user_order_id: int,
        order_id: int,
        action: str,
        reason: str = "",
    ) -> OrderState | None:
        """A venue `OrderUpdate` (placed / cancelled / expired / triggered / rejected)."""
        kind = self.UPDATE_KINDS.get(action)
        order = self.find(user_order_id, order_id or None)
        if kind is None or order is None:
            return None
        self.apply(order, OrderEvent(kind, ts, record_id, order_id or None, reason=reason))
        return order

    def on_fill(
        self,
        fill_id: str,
        ts: int,
        user_order_id: int,
        order_id: int,
        base: int,
        quote: int,
    ) -> OrderState | None:
        """A fill event of one of this engine's orders (found by user order id, else by
        the program's order id)."""
        order = self.find(user_order_id, order_id or None)
        if order is None:
            return None
        self.apply(
            order,
            OrderEvent(
                OrderEventKind.FILL,
                ts,
                fill_id,
                order_id or None,
                fill_id=fill_id,
                base=abs(base),
                quote=abs(quote),
            ),
        )
        return order


__all__ = [
    "TERMINAL",
    "TRANSITIONS",
    "MemoryOrderStore",
    "OrderBook",
    "OrderEvent",
    "OrderEventKind",
    "OrderState",
    "OrderStatus",
    "OrderStore",
    "OrderView",
    "intent_from_json",
    "intent_to_json",
]
