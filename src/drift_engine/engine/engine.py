"""`DriftEngine`: one strategy, one venue, one vault.

Each `step(ts)`:
1. book what happened at the venue since the last step (funding, interest,
   liquidations, fills of resting orders) into the vault ledger, keyed by the record's
   stable id, and tell the strategy (`on_fill`, `on_funding`);
2. build the frozen snapshot (markets, vault, positions, margin);
3. ask the risk plug-ins: a `Halt` (max drawdown) runs the kill switch; a `Deleverage`
   (health below floor) puts the engine in REDUCING and sends reduce-only orders;
4. if RUNNING (or REDUCING), ask the strategy for actions, check each against the risk
   limits (REDUCING lets only reduce-only actions through), price each order
   (`engine.execution`: no order without a worst price and an auction leaves the
   engine), record it INFLIGHT in the order book (`engine.orders`), send it to the
   venue, book the fills;
5. persist the engine record (state, strategy state, high-water mark).

Orders have a life cycle (`engine.orders.OrderBook`): evidence from the venue (the send's
outcome, chain reads, the program's events) moves them; a send whose outcome is unknown
leaves them UNKNOWN — logged as such, never as a rejection — and blocks new exposure
until a chain read resolves them (cancels and reduce-only orders stay allowed). The
strategy's snapshot carries the working orders.

Every state transition and every rejection is logged and persisted through the store.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from drift_engine.core.errors import DriftEngineError
from drift_engine.core.types import DriftMarginMetrics, OrderIntent
from drift_engine.engine.execution import ExecutionConfig, OrderPricer, UnpricedOrderError
from drift_engine.engine.market_board import MarketBoard
from drift_engine.engine.orders import (
    OrderBook,
    OrderEvent,
    OrderEventKind,
    OrderStatus,
    OrderStore,
)
from drift_engine.engine.ports import (
    EngineRecord,
    EngineStore,
    InterestEvent,
    LedgerSink,
    LiquidationEvent,
    OrderOutcomeUnknown,
    OrderUpdate,
    Posting,
    Venue,
    VenueEvent,
)
from drift_engine.risk import Deleverage, Halt, RiskManager, reduce_orders
from drift_engine.strategies.base import (
    Action,
    CancelAllOrders,
    DriftStrategy,
    FillEvent,
    FundingEvent,
    OrderRejected,
    PlaceOrders,
    SettlePnl,
    StrategySnapshot,
    VaultSnapshot,
)

log = logging.getLogger("drift_engine.engine")

QUOTE_SPOT_INDEX = 0


class EngineMode(enum.StrEnum):
    PAPER = "paper"
    LIVE = "live"


class EngineState(enum.StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    REDUCING = "reducing"
    HALTED = "halted"
    STOPPED = "stopped"


class EngineError(DriftEngineError):
    pass


@dataclass
class EngineStats:
    """Running totals of what the engine booked (micro-USDC), for reports and the UI."""

    fills: int = 0
    trades: int = 0  # place actions that produced at least one fill
    fees: int = 0
    slippage: int = 0  # vs oracle, micro-USDC paid (+) or gained (-)
    funding: int = 0
    interest: int = 0
    liquidations: int = 0
    liquidation_fees: int = 0
    rejections: int = 0
    duplicates: int = 0
    volume: int = 0
    steps: int = 0
    errors: int = 0
    last_error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class MemoryEngineStore:
    """An in-process EngineStore (tests, backtests); `SqlEngineStore` persists."""

    def __init__(self) -> None:
        self.records: dict[str, EngineRecord] = {}
        self.events: list[tuple[str, int, str, str, dict]] = []

    def load(self, engine_id: str) -> EngineRecord | None:
        rec = self.records.get(engine_id)
        if rec is None:
            return None
        return EngineRecord(**{**rec.__dict__, "extra": dict(rec.extra)})

    def save(self, record: EngineRecord) -> None:
        self.records[record.engine_id] = EngineRecord(
            **{**record.__dict__, "extra": dict(record.extra)}
        )

    def log(self, engine_id: str, ts: int, kind: str, message: str, data: dict | None = None):
        self.events.append((engine_id, ts, kind, message, data or {}))


class DriftEngine:
    """Runs one `DriftStrategy` against one `Venue`, booking into one vault ledger."""

    def __init__(
        self,
        engine_id: str,
        strategy: DriftStrategy,
        venue: Venue,
        ledger: LedgerSink,
        board: MarketBoard,
        *,
        mode: EngineMode | str = EngineMode.PAPER,
        risk: RiskManager | None = None,
        store: EngineStore | None = None,
        on_event: Callable[[str, int, str, str, dict], None] | None = None,
        persist_every_s: int = 3600,
        name: str | None = None,
        orders: OrderBook | OrderStore | None = None,
        execution: ExecutionConfig | None = None,
    ) -> None:
        self.engine_id = engine_id
        #: Display name (the dashboard's); persisted in the record's `extra["name"]`.
        self.name = name
        self.strategy = strategy
        self.venue = venue
        self.ledger = ledger
        self.board = board
        self.mode = EngineMode(mode)
        self.risk = risk or RiskManager()
        self.store = store if store is not None else MemoryEngineStore()
        self.on_event = on_event
        self.state = EngineState.STOPPED
        self.high_water_mark = 0
        self.last_ts = 0
        self.stats = EngineStats()
        self.started = False
        self.persist_every_s = persist_every_s
        #: False: the record is saved only when `persist` is called (start, an operator
        #: command, a failure, the run's end), not after each step or quiet hour: a
        #: backtest into a scratch database, where nothing reads it before the run ends
        #: (ADR-0027)
        self.saves_records = True
        self._saved: tuple[Any, ...] = ()
        self._saved_ts = 0
        self._margin: DriftMarginMetrics | None = None  # the last snapshot's
        #: the engine's orders and their life cycle (durable with an SQL order store)
        self.orders = (
            orders if isinstance(orders, OrderBook) else OrderBook(engine_id, orders, log=self._log)
        )
        self.pricer = OrderPricer(execution, catalog=board.catalog)
        self._unhedged: Any = None
        #: the last step's snapshot and whether anything happened in it (an action, a
        #: log line): what `engine.quiet.quiet_after_step` reads for fast stepping
        self._last_snap: StrategySnapshot | None = None
        self._acted = True
        #: the last full record and what it was built from (`_persist_quiet`)
        self._basis: tuple[Any, ...] | None = None
        #: the quiet hour's payments `engine.quiet.books_pass` kept for `quiet_step`
        #: (`engine.quiet.keep_payments`)
        self._hour_books: tuple[Any, ...] | None = None
        for symbol in strategy.markets():
            board.add(symbol)
        self._resume()

    # ------------------------------------------------------------------ persistence
    def _record(self) -> EngineRecord:
        return EngineRecord(
            engine_id=self.engine_id,
            strategy=self.strategy.name,
            config=self.strategy.config.model_dump(mode="json"),
            mode=self.mode.value,
            state=self.state.value,
            strategy_state=self.strategy.dump_state(),
            high_water_mark=self.high_water_mark,
            last_ts=self.last_ts,
            vault_id=str(self.ledger.vault_id),
            extra={
                "started": self.started,
                "name": self.name or self.engine_id,
                "risk_limits": self.risk.limits.model_dump(mode="json"),
                "margin": margin_json(self._margin) if self._margin is not None else None,
                "orders": self.orders.summary(),
                "unhedged": _unhedged_json(self._unhedged),
            },
        )

    def _resume(self) -> None:
        rec = self.store.load(self.engine_id)
        if rec is None:
            return
        if rec.strategy != self.strategy.name:
            raise EngineError(
                f"engine {self.engine_id!r} was persisted running {rec.strategy!r}, "
                f"not {self.strategy.name!r}"
            )
        self.strategy.load_state(rec.strategy_state)
        self.state = EngineState(rec.state)
        self.high_water_mark = rec.high_water_mark
        self.last_ts = rec.last_ts
        self.started = bool(rec.extra.get("started", False))
        if self.name is None and isinstance(rec.extra.get("name"), str):
            self.name = rec.extra["name"]
        self._log(rec.last_ts, "resume", f"resumed in state {self.state.value}")

    def persist(self) -> None:
        """Save the engine record now."""
        rec = self._record()
        self._save(rec)
        self._basis = (
            rec,
            self.state,
            self._margin,
            self._unhedged,
            self.risk.limits,
            self._saved[3],  # repr(rec.extra["unhedged"]): `_persist_quiet`'s key
        )

    def _save(self, rec: EngineRecord, unhedged: str | None = None) -> None:
        """Save `rec` and remember its key (`_maybe_persist`); `unhedged`: the repr of its
        unhedged exposure when the caller has it (`_persist_quiet`: the basis's)."""
        self.store.save(rec)
        self._saved = (
            rec.state,
            rec.strategy_state,
            self.stats.fills + self.stats.funding,
            repr(rec.extra.get("unhedged")) if unhedged is None else unhedged,
        )
        self._saved_ts = self.last_ts

    def next_save(self) -> int | None:
        """The engine time by which the record is next saved on time (`_maybe_persist`'s
        `persist_every_s`), a wake for fast stepping; None when it `saves_records` only on
        `persist`."""
        return self._saved_ts + self.persist_every_s if self.saves_records else None

    def _persist_quiet(self) -> None:
        """`_maybe_persist` after a quiet funding hour (`engine.quiet.quiet_step`), at the
        same moments and with the same record, built for less. Since the last full record
        (`persist`) only quiet hours and skipped bars ran: no snapshot (the margin is the
        same object), no order, transition, command or real step (`step` forgets the
        basis), so only the strategy state, the last tick and the high-water mark can
        differ from it; those three are replaced, the rest (config, limits, margin,
        orders, unhedged exposure) is the basis's. Without a valid basis: `_maybe_persist`."""
        if not self.saves_records:
            return
        basis = self._basis
        if (
            basis is None
            or basis[1] is not self.state
            or basis[2] is not self._margin
            or basis[3] is not self._unhedged
            or basis[4] is not self.risk.limits
        ):
            self._maybe_persist()
            return
        dump = self.strategy.dump_state()
        rec: EngineRecord = basis[0]
        # `_save`'s key of the new record: its state and extra are the basis's, so the
        # unhedged exposure's repr is the one `persist` took (`basis[5]`)
        key = (rec.state, dump, self.stats.fills + self.stats.funding, basis[5])
        if key != self._saved or self.last_ts - self._saved_ts >= self.persist_every_s:
            self._save(
                EngineRecord(
                    rec.engine_id,
                    rec.strategy,
                    rec.config,
                    rec.mode,
                    rec.state,
                    dump,
                    self.high_water_mark,
                    self.last_ts,
                    rec.vault_id,
                    rec.extra,
                ),
                basis[5],
            )

    def _maybe_persist(self) -> None:
        """Save when anything a restart needs changed (state, strategy state, bookings),
        else at most every `persist_every_s` of engine time (last tick, high-water mark);
        never when the engine `saves_records` only on `persist`."""
        if not self.saves_records:
            return
        key = (
            self.state.value,
            self.strategy.dump_state(),
            self.stats.fills + self.stats.funding,
            repr(_unhedged_json(self._unhedged)),
        )
        if key != self._saved or self.last_ts - self._saved_ts >= self.persist_every_s:
            self.persist()

    def _log(self, ts: int, kind: str, message: str, data: dict | None = None) -> None:
        self._acted = True
        log.info(
            "[%s] %s: %s",
            self.engine_id,
            kind,
            message,
            extra={"engine": self.engine_id, "vault": str(self.ledger.vault_id), "event": kind},
        )
        self.store.log(self.engine_id, ts, kind, message, data)
        if self.on_event is not None:
            self.on_event(self.engine_id, ts, kind, message, data or {})

    def _transition(self, new: EngineState, ts: int, reason: str) -> None:
        if new is self.state:
            return
        old = self.state
        self.state = new
        self._log(
            ts,
            "transition",
            f"{old.value} -> {new.value}: {reason}",
            {"from": old.value, "to": new.value, "reason": reason},
        )

    def _reject(self, ts: int, check: str, reason: str, action: Action | None = None) -> None:
        self.stats.rejections += 1
        data: dict[str, Any] = {"check": check, "reason": reason}
        if isinstance(action, PlaceOrders):
            data["action"] = action.reason
            data["orders"] = [_order_json(o) for o in action.orders]
        self._log(ts, "rejection", f"{check}: {reason}", data)

    # ------------------------------------------------------------------ controls
    def start(self, ts: int) -> None:
        """Start (or resume) trading: RUNNING; `on_start` runs once per engine lifetime."""
        if self.state in (EngineState.RUNNING, EngineState.REDUCING):
            return
        self._transition(EngineState.RUNNING, ts, "start")
        if not self.started:
            self.started = True
            self._drain(ts)
            snap = self.snapshot(ts)
            self._execute_all(self.strategy.on_start(snap), snap, ts)
        self.persist()

    def pause(self, ts: int, reason: str = "operator pause") -> None:
        if self.state in (EngineState.RUNNING, EngineState.REDUCING):
            self._transition(EngineState.PAUSED, ts, reason)
            self.persist()

    def resume(self, ts: int, reason: str = "operator resume") -> None:
        if self.state in (EngineState.PAUSED, EngineState.HALTED):
            self._transition(EngineState.RUNNING, ts, reason)
            self.persist()

    def stop(self, ts: int, reason: str = "operator stop") -> None:
        """Stop stepping: `on_stop` may send final (e.g. closing) actions; positions stay."""
        if self.state is EngineState.STOPPED:
            return
        self._drain(ts)
        snap = self.snapshot(ts)
        self._execute_all(self.strategy.on_stop(snap), snap, ts)
        self._transition(EngineState.STOPPED, ts, reason)
        self.persist()

    def kill(self, ts: int, reason: str = "kill switch") -> None:
        """Kill switch: cancel every open order, flatten every position, HALT."""
        self._log(ts, "kill", reason)
        try:
            cancelled = self.venue.cancel_all(ts)
        except Exception as exc:  # noqa: BLE001 - still try to flatten
            cancelled = 0
            self._log(ts, "error", f"cancel_all failed: {exc}")
        self._drain(ts)
        snap = self.snapshot(ts)
        orders = reduce_orders(snap.positions, 1.0, snap)
        if orders:
            self._place(PlaceOrders(tuple(orders), reason=f"flatten: {reason}"), ts)
        self._transition(EngineState.HALTED, ts, reason)
        self._log(ts, "flatten", f"cancelled {cancelled} orders, sent {len(orders)} closes")
        self.persist()

    def capital_moved(self, ts: int, equity_before: int, equity_after: int, reason: str) -> None:
        """Capital came into or went out of the sub-account (an operator's deposit,
        withdrawal or transfer): neither profit nor loss. The high-water mark scales with
        the equity, so the drawdown the risk checks see is what it was before the move."""
        hwm = self.high_water_mark
        if equity_before > 0 and hwm > 0:
            self.high_water_mark = max(0, hwm * max(equity_after, 0) // equity_before)
        else:
            self.high_water_mark = max(equity_after, 0)
        self._log(
            ts,
            "capital",
            reason,
            {
                "equity_before": equity_before,
                "equity_after": equity_after,
                "high_water_mark": self.high_water_mark,
            },
        )
        self.persist()

    def mark_failed(self, ts: int, message: str) -> None:
        """The heartbeat isolates an engine that raised: HALTED, error logged."""
        self._log(ts, "error", message)
        self._transition(EngineState.HALTED, ts, f"failed: {message}")
        self.persist()

    # ------------------------------------------------------------------ snapshot
    def snapshot(self, ts: int) -> StrategySnapshot:
        equity = self.venue.equity()
        if equity > self.high_water_mark:
            self.high_water_mark = equity
        vault = VaultSnapshot(
            vault_id=str(self.ledger.vault_id),
            equity=equity,
            balance=self.ledger.balance(),
            high_water_mark=self.high_water_mark,
        )
        margin = self.venue.margin(ts)
        self._margin = margin
        return StrategySnapshot(
            ts=ts,
            markets=MappingProxyType(self.board.snapshots(self.strategy.markets() or None)),
            vault=vault,
            positions=self.venue.positions(),
            margin=margin,
            open_orders=len(self.venue.open_orders()),
            orders=self.orders.views(),
        )

    # ------------------------------------------------------------------ the step
    def step(self, ts: int) -> None:
        """One engine tick at time `ts` (unix seconds)."""
        self.last_ts = ts
        self.stats.steps += 1
        self._acted = False
        self._basis = None  # a real step may change anything in the record
        if self.state is EngineState.STOPPED:
            return
        self._drain(ts)
        self._sync_orders(ts)
        snap = self.snapshot(ts)
        self._last_snap = snap
        self._unhedged = self.strategy.unhedged(snap)
        if self.state is not EngineState.HALTED:
            directive = self.risk.assess(snap)
            if isinstance(directive, Halt):
                self.kill(ts, directive.reason)
                return
            if isinstance(directive, Deleverage):
                if self.state is EngineState.RUNNING:
                    self._transition(EngineState.REDUCING, ts, directive.reason)
                self._log(ts, "deleverage", directive.reason)
                self._place(PlaceOrders(directive.orders, reason=directive.reason), ts)
                snap = self.snapshot(ts)
            elif self.state is EngineState.REDUCING and self.risk.recovered(snap):
                self._transition(EngineState.RUNNING, ts, f"health {snap.margin.health} recovered")
        if self.state in (EngineState.RUNNING, EngineState.REDUCING):
            actions = self.strategy.on_tick(snap)
            if actions:
                self._acted = True
            self._execute_all(actions, snap, ts)
            self._unhedged = self.strategy.unhedged(snap)  # with what it decided to do
        self._maybe_persist()

    def skip(self, last_ts: int, ticks: int, max_equity: int | None) -> None:
        """Account for `ticks` bars the heartbeat skipped (fast stepping: bars on which a
        step provably changes nothing else, `engine.quiet`): the step count, the last tick
        time and the high-water mark come out as if each had been stepped."""
        self.stats.steps += ticks
        self.last_ts = last_ts
        if max_equity is not None and max_equity > self.high_water_mark:
            self.high_water_mark = max_equity

    def _execute_all(self, actions: Sequence[Action], snap: StrategySnapshot, ts: int) -> None:
        for action in actions:
            if isinstance(action, CancelAllOrders):
                n = self.venue.cancel_all(ts)
                self._log(ts, "cancel", f"cancelled {n} orders: {action.reason}")
                continue
            if isinstance(action, SettlePnl):
                self._settle_pnl(action, ts)
                continue
            if not isinstance(action, PlaceOrders):
                self._reject(ts, "engine", f"unknown action {type(action).__name__}")
                continue
            if self.state is EngineState.REDUCING and not action.reduce_only:
                self._reject(ts, "reducing", "engine is REDUCING: only reduce-only orders", action)
                continue
            if self.orders.blocked and not action.reduce_only:
                unknown = [o.user_order_id for o in self.orders.unknown()]
                self._log(
                    ts,
                    "blocked",
                    f"{action.reason}: new orders wait until the chain resolves orders "
                    f"with unknown outcome (user order ids {unknown})",
                    {"unknown": unknown, "orders": [_order_json(o) for o in action.orders]},
                )
                continue
            rejection = self.risk.check(action.orders, snap)
            if rejection is not None:
                self._reject(ts, rejection.check, rejection.reason, action)
                continue
            self._place(action, ts)

    def _settle_pnl(self, action: SettlePnl, ts: int) -> None:
        settle = getattr(self.venue, "settle_pnl", None)
        if settle is None:
            return
        try:
            settle(action.market_index, ts)
        except Exception as exc:  # noqa: BLE001 - a failed settle changes nothing
            self._log(ts, "settle-failed", f"settle_pnl {action.market_index}: {exc}")
            return
        self._log(ts, "settle", f"settle_pnl perp {action.market_index}: {action.reason}")

    def _oracle(self, intent: OrderIntent) -> int:
        """The oracle price a taker order is priced at: the board's, else the venue's."""
        perp = intent.market_type.value == "perp"
        for m in self.board.snapshots().values():
            if perp and m.perp_market_index == intent.market_index and m.oracle_price:
                return m.oracle_price
            price = m.spot_oracle_price or m.oracle_price
            if not perp and m.spot_market_index == intent.market_index and price:
                return price
        read = getattr(self.venue, "oracle_price", None)
        return int(read(intent.market_type, intent.market_index)) if read is not None else 0

    def _place(self, action: PlaceOrders, ts: int) -> list[FillEvent]:
        try:
            priced = [self.pricer.price(o, self._oracle(o), ts) for o in action.orders]
        except UnpricedOrderError as exc:
            self._reject(ts, "pricing", str(exc), action)
            return []
        taken = {o.user_order_id for o in self.venue.open_orders()}
        tracked = self.orders.create(priced, ts, taken=taken)
        marks = getattr(self.venue, "order_marks", None)
        if marks is not None:  # where to look for them on chain should the process die
            self.orders.set_send_ref(tracked, marks())
        sent = [t.intent for t in tracked]
        try:
            fills = self.venue.place(sent, ts)
        except OrderOutcomeUnknown as exc:
            ref = {**tracked[0].send_ref, **{k: v for k, v in exc.ref.items() if v is not None}}
            self.orders.set_send_ref(tracked, ref)
            for order in tracked:
                self.orders.apply(order, OrderEvent(OrderEventKind.UNKNOWN, ts, str(exc)))
            self._log(
                ts,
                "orders-unknown",
                f"{action.reason}: outcome of {len(sent)} orders unknown; new exposure "
                f"blocked until the chain shows them: {exc}",
                {"orders": [_order_json(o) for o in sent], "ref": exc.ref},
            )
            return []
        except Exception as exc:  # noqa: BLE001 - venue refusals are rejections, not crashes
            partial = list(getattr(exc, "fills", ()) or ())
            for fill in partial:  # orders before the refused one did fill: book them
                self._handle(fill)
            reason = f"{type(exc).__name__}: {exc}"
            for order in tracked:
                self.orders.apply(
                    order, OrderEvent(OrderEventKind.REJECT, ts, "venue", reason=reason)
                )
            self._reject(ts, "venue", reason, action)
            self.strategy.on_rejected(
                OrderRejected(ts, reason, tuple(sent), tuple(t.user_order_id for t in tracked))
            )
            return partial
        ref = dict(getattr(self.venue, "last_send", None) or {})
        evidence = ref.get("signature") or "venue accepted"
        for order in tracked:
            self.orders.apply(order, OrderEvent(OrderEventKind.ACCEPT, ts, str(evidence)))
        self._log(
            ts,
            "orders",
            f"{action.reason}: {len(sent)} orders, {len(fills)} fills",
            {
                "reason": action.reason,
                "fills": len(fills),
                "orders": [_order_json(o) for o in sent],
            },
        )
        if fills:
            self.stats.trades += 1
        for fill in fills:
            self._handle(fill)
        return fills

    # ------------------------------------------------------------------ orders
    def _sync_orders(self, ts: int) -> None:
        """Chain reads as evidence: orders resting on the account are OPEN; orders with an
        unknown outcome are looked for on chain (venue.resolve_orders)."""
        try:
            self.orders.on_chain_read(self.venue.open_orders(), ts, "account read")
        except Exception as exc:  # noqa: BLE001 - no read, no evidence
            log.info("[%s] open orders unreadable: %s", self.engine_id, exc)
            return
        unknown = self.orders.unknown()
        resolve = getattr(self.venue, "resolve_orders", None)
        if not unknown or resolve is None:
            return
        try:
            updates = resolve(unknown, ts)
        except Exception as exc:  # noqa: BLE001 - still unknown; try again next step
            log.info("[%s] unknown orders not resolved yet: %s", self.engine_id, exc)
            return
        for update in updates:
            self._handle(update)

    def _order_update(self, u: OrderUpdate) -> None:
        self.orders.on_update(u.record_id, u.ts, u.user_order_id, u.order_id, u.action, u.reason)

    # ------------------------------------------------------------------ booking
    def _drain(self, ts: int) -> None:
        for event in self.venue.poll_events(ts):
            self._handle(event)

    def _handle(self, event: VenueEvent) -> None:
        """Book one venue event (once) and pass it to the strategy."""
        if isinstance(event, FillEvent | LiquidationEvent | OrderUpdate):
            self._acted = True  # the position or an order changed: step the next bar too
        if isinstance(event, OrderUpdate):
            self._order_update(event)
            return
        if isinstance(event, FillEvent) and not event.liquidation:
            self.orders.on_fill(
                event.record_id,
                event.ts,
                event.user_order_id,
                event.order_id,
                event.base_asset_amount,
                event.quote_asset_amount,
            )
        if isinstance(event, FillEvent):
            kind = "liquidation" if event.liquidation else "fill"
            posting = Posting(
                kind,
                event.cash,
                event.record_id,
                event.ts,
                fee=event.fee,
                market_index=event.market_index,
            )
        elif isinstance(event, FundingEvent):
            if self.mode is EngineMode.LIVE:
                # ON_CHAIN vaults book funding from the chain's counters at reconciliation
                # (vaults.ledger refuses it from engines): count it, tell the strategy.
                self.stats.funding += event.amount
                self.strategy.on_funding(event)
                return
            posting = Posting(
                "funding", event.amount, event.record_id, event.ts, market_index=event.market_index
            )
        elif isinstance(event, InterestEvent):
            if event.market_index != QUOTE_SPOT_INDEX or self.mode is EngineMode.LIVE:
                # Token interest grows the token balance and reaches cash when the tokens
                # are sold (booking it now would count it twice); live interest comes from
                # reconciliation. Counted in the stats, valued at the oracle.
                self.stats.interest += event.amount
                return
            posting = Posting(
                "interest", event.amount, event.record_id, event.ts, market_index=event.market_index
            )
        elif isinstance(event, LiquidationEvent):
            posting = Posting(
                "liquidation",
                event.amount,
                event.record_id,
                event.ts,
                fee=event.fee,
                market_index=event.market_index,
                memo=event.detail[:200] or None,
            )
        else:  # pragma: no cover - protocol violation
            raise EngineError(f"unknown venue event {event!r}")
        if not self.ledger.book(posting):
            self.stats.duplicates += 1
            return
        s = self.stats
        if isinstance(event, FillEvent):
            s.fills += 1
            s.fees += event.fee
            s.volume += abs(event.quote_asset_amount)
            if event.liquidation:
                s.liquidations += 1
            s.slippage += event.slippage
            self._log_fill(event)
            self.strategy.on_fill(event)
        elif isinstance(event, FundingEvent):
            s.funding += event.amount
            self.strategy.on_funding(event)
        elif isinstance(event, InterestEvent):
            s.interest += event.amount
        elif isinstance(event, LiquidationEvent):
            s.liquidations += 1
            s.liquidation_fees += event.fee
        if posting.kind == "liquidation":  # told once, when booked (notify: liquidation)
            self._log(
                event.ts,
                "liquidation",
                f"market {posting.market_index}: cash {posting.amount / 1e6:+,.2f} USDC, "
                f"fee {posting.fee / 1e6:,.2f} USDC",
                {
                    "market_index": posting.market_index,
                    "amount": posting.amount,
                    "fee": posting.fee,
                },
            )

    def _log_fill(self, fill: FillEvent) -> None:
        """A fill in the engine's log: the activity feed shows it, and the dashboard
        derives a spot leg's entry price from these (Drift keeps none for spot)."""
        kind = fill.market_type.value
        name = next(
            (
                symbol if kind == "perp" else symbol.removesuffix("-PERP")
                for symbol, m in self.board.snapshots().items()
                if (m.perp_market_index if kind == "perp" else m.spot_market_index)
                == fill.market_index
            ),
            f"{kind}-{fill.market_index}",
        )
        size = abs(fill.base_asset_amount) / 10**fill.decimals
        verb = "bought" if fill.base_asset_amount > 0 else "sold"
        what = "liquidated: " if fill.liquidation else ""
        self._log(
            fill.ts,
            "fill",
            f"{what}{verb} {size:,.6g} {name} @ {fill.price / 1e6:,.4f} "
            f"(fee {fill.fee / 1e6:,.4f} USDC)",
            {
                "market_type": kind,
                "market_index": fill.market_index,
                "base": fill.base_asset_amount,
                "quote": fill.quote_asset_amount,
                "price": fill.price,
                "fee": fill.fee,
                "decimals": fill.decimals,
                "liquidation": fill.liquidation,
            },
        )


def _order_json(o: OrderIntent) -> dict[str, Any]:
    out: dict[str, Any] = {
        "market_type": o.market_type.value,
        "market_index": o.market_index,
        "direction": o.direction.value,
        "base_asset_amount": o.base_asset_amount,
        "order_type": o.order_type.value,
        "reduce_only": o.reduce_only,
    }
    for name in (
        "user_order_id",
        "price",
        "oracle_price_offset",
        "auction_start_price",
        "auction_end_price",
        "auction_duration",
        "max_ts",
    ):
        value = getattr(o, name)
        if value:
            out[name] = value
    return out


def _unhedged_json(u: Any) -> dict[str, Any] | None:
    """A strategy's `UnhedgedExposure` as the engine record keeps it (dashboard, API)."""
    if u is None:
        return None
    return {
        "market": u.market,
        "base": u.base,
        "notional": u.notional,
        "since": u.since,
        "action": u.action,
    }


__all__ = [
    "DriftEngine",
    "EngineError",
    "EngineMode",
    "EngineState",
    "EngineStats",
    "MemoryEngineStore",
    "OrderStatus",
    "margin_json",
]


def margin_json(m: DriftMarginMetrics) -> dict[str, Any]:
    """DriftMarginMetrics as persisted in the engine record (`extra["margin"]`): integers
    at Drift precision (QUOTE 1e6, leverage and margin ratio 1e4, PRICE 1e6), the field
    names the dashboard reads."""
    return {
        "total_collateral": m.total_collateral,
        "maintenance_total_collateral": m.maintenance_total_collateral,
        "initial_margin_requirement": m.initial_margin_requirement,
        "maintenance_margin_requirement": m.maintenance_margin_requirement,
        "free_collateral": m.free_collateral,
        "health": m.health,
        "leverage": m.leverage,
        "margin_ratio": m.margin_ratio,
        "unrealized_pnl": m.unrealized_pnl,
        "risk_level": getattr(m.risk_level, "value", str(m.risk_level)),
        "timestamp": m.timestamp,
        "position_risks": [
            {
                "market_index": r.market_index,
                "market_type": getattr(r.market_type, "value", str(r.market_type)),
                "oracle_price": r.oracle_price,
                "liquidation_price": r.liquidation_price,
            }
            for r in m.position_risks
        ],
    }
