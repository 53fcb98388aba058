"""`LiveVenue`: an engine's Drift sub-account on chain, through `core.client.DriftClient`.

Same interface as `PaperVenue` (the engine's `Venue` protocol), synchronous, over the
client's private event loop (`DriftClient.run`):

* `place(orders)` sends every order in ONE transaction (`place_orders`: both legs of a
  hedge land together or not at all), with the client's no-duplicate resend by user
  order id, and returns the fills the program logged for them.
* Reads (`positions`, `open_orders`, `margin`, `equity`) come from the last batched
  `refresh()` (one `getMultipleAccounts`), taken at each `poll_events` and after writes.
* Events come from the program's event logs in the sub-account's transaction history
  (`getSignaturesForAddress` + `getTransaction`, as an indexer reads them), each with a
  stable id `<transaction signature>:<event index>` that the ledger keys on:
  `OrderActionRecord` fills (taker or maker) -> `FillEvent`, `FundingPaymentRecord` ->
  `FundingEvent`, `LiquidationRecord` (perp) -> `LiquidationEvent`. Spot interest has
  no event on Drift: it is derived from account changes (a spot position whose scaled
  balance did not move while the market's cumulative interest did) -> `InterestEvent`
  keyed by market and slot.
* A failed read does not crash the engine: the venue keeps its last state, reports no
  new events, flags itself `stale` and refuses to place orders until a read succeeds
  (trading blind is how duplicates and bad hedges happen); it recovers by itself.
* Orders have evidence, not assumptions: `place` returns once the transaction is
  confirmed (the orders then rest with their auctions; their fills come later, from the
  keeper's transactions); a send whose outcome cannot be known raises
  `OrderOutcomeUnknown` (never a plain rejection) with what is needed to find it;
  `resolve_orders` looks for such orders on chain. The program's `OrderRecord` and
  `OrderActionRecord` cancel/expire/trigger events become `OrderUpdate`s; each fill
  carries its order's user order id.

Cash effects follow `vaults.entries` as PaperVenue's do: a perp fill's cash is its
realized PnL, computed as an indexer does from the record's `existing_quote_entry_amount`
/ `existing_base_asset_amount` (the entry removed and the base closed when the fill
reduces); a spot fill's is -cost / +proceeds; fees separately.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from drift_engine.core.margin import snapshot_of
from drift_engine.core.program_math import user_equity
from drift_engine.core.types import (
    DriftMarginMetrics,
    DriftPosition,
    MarketType,
    OpenOrder,
    OrderIntent,
    is_variant,
)
from drift_engine.engine.execution import PLACE_AND_TAKE
from drift_engine.engine.ports import (
    InterestEvent,
    LiquidationEvent,
    OrderOutcomeUnknown,
    OrderUpdate,
    VenueError,
    VenueEvent,
)
from drift_engine.live.client import (
    DriftAccountState,
    DriftClient,
    DriftClientError,
    RpcUnavailableError,
    TransactionUnconfirmedError,
    drift_events,
)
from drift_engine.strategies.base import FillEvent, FundingEvent

log = logging.getLogger("drift_engine.venues.live")

QUOTE_INDEX = 0
BASE_PRECISION = 10**9
#: Fills kept for the vault sync between reconciliations (it clears them).
MAX_FILLS_SEEN = 10_000


class VenueUnavailableError(VenueError):
    """The chain cannot be read right now: the venue is stale and places nothing."""


@dataclass(frozen=True, slots=True)
class ChainFill:
    """A fill found in the event logs, with what the ledger and reconciliation need."""

    event: FillEvent
    signature: str
    slot: int
    user_order_id: int | None = None


def realized_pnl_of(
    buying: bool,
    base_filled: int,
    quote_filled: int,
    existing_entry: int | None,
    existing_base: int | None,
) -> int:
    """Realized PnL of a perp fill from an `OrderActionRecord` (before fees): the quote
    of the closed part against the entry it removes (`controller/position.rs`).

    The program sets `existing_quote_entry_amount` only when the fill reduces: on a reduce
    or close it is the entry removed and `existing_base_asset_amount` is None (the whole
    fill closes); on a flip both are the old position's (`math/orders.rs::
    calculate_existing_position_fields_for_order_action`)."""
    if existing_entry is None:
        return 0  # opened or increased: nothing realized
    closed_quote = quote_filled * existing_base // base_filled if existing_base else quote_filled
    if buying:  # buying back a short: pays the quote, releases a positive entry
        return existing_entry - closed_quote
    return closed_quote - existing_entry


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, RpcUnavailableError | OSError | TimeoutError) or (
        type(exc).__module__.startswith(("httpx", "solana"))
    )


class LiveVenue:
    """One Drift sub-account, traded through a signing `DriftClient`."""

    def __init__(
        self,
        client: DriftClient,
        *,
        start_after: str | None = None,
        on_stale: Callable[[str], None] | None = None,
    ) -> None:
        self.client = client
        self.sub_account_id = client.sub_account_id
        self.user = client.user_pubkey
        #: Last transaction of the sub-account whose events were processed (None: none),
        #: and its slot (live/cursor.py keeps it across restarts).
        self.cursor = start_after
        self.cursor_slot: int | None = None
        self.stale = False
        self.last_error = ""
        self.on_stale = on_stale
        self._state: DriftAccountState | None = None
        self._pending: list[VenueEvent] = []
        self._spot: dict[int, tuple[int, int, int]] = {}  # index -> (scaled, token, cum int)
        self._entry: dict[int, tuple[int, int]] = {}  # perp index -> (base, quote_entry)
        self.fills_seen: list[ChainFill] = []
        self._ts = 0
        #: program order id -> user order id, from OrderRecords and account reads
        self._uids: dict[int, int] = {}
        #: the last confirmed send: {"signature", "slot"}
        self.last_send: dict[str, Any] = {}
        self._scanned: list[str] = []  # signatures whose logs were read (recent)
        #: a read made for this venue by the runner's batched read (used once)
        self._preloaded: DriftAccountState | None = None
        #: the User digest a history scan found explained (`_after_scan`; scans are
        #: asked with `minContextSlot` = the read's slot). While the User's bytes stay
        #: equal to it no transaction touched the account: its history is not read again
        self._scanned_digest: str | None = None
        #: the User digest of the last read and the slot it was first read at
        self._digest_since: tuple[str, int] | None = None
        #: something was sent since the last read (the account may have changed)
        self._dirty = False
        #: RPC round trips saved (reads reused, scans skipped): for the bench and logs
        self.reads_saved = 0
        #: history scans skipped because the User account did not change
        self.history_skipped = 0
        #: the slot of the read whose events are all consumed (scanned up to it)
        self._explained_slot: int | None = None

    # ------------------------------------------------------------------ reading
    def connect(self) -> DriftAccountState:
        state = self.client.run(self.client.connect())
        self._accept(state)
        return state

    @property
    def state(self) -> DriftAccountState:
        if self._state is None:
            self.refresh()
        assert self._state is not None
        return self._state

    def preload(self, state: DriftAccountState) -> None:
        """A read of this sub-account made by the runner's batched read this tick: the
        next `refresh` uses it instead of reading (`live.reads`)."""
        self._preloaded = state

    def refresh(self) -> DriftAccountState:
        """Read the account now (or take this tick's batched read); on failure mark the
        venue stale and raise."""
        if self._preloaded is not None and not self._dirty:
            state, self._preloaded = self._preloaded, None
            self.reads_saved += 1
            self._accept(state)
            return state
        self._preloaded = None
        try:
            state = self.client.run(self.client.refresh())
        except Exception as exc:
            if not _transient(exc) and not isinstance(exc, DriftClientError):
                raise
            self._mark_stale(f"{type(exc).__name__}: {exc}")
            raise VenueUnavailableError(f"chain read failed: {exc}") from None
        self._dirty = False
        self._accept(state)
        return state

    def _accept(self, state: DriftAccountState) -> None:
        if self.stale:
            log.info("sub-account %s readable again", self.user)
        self.stale = False
        self.last_error = ""
        self._pending.extend(self._interest(state))
        for o in state.open_orders:
            self._uids[o.order_id] = o.user_order_id
        self._state = state

    def _mark_stale(self, reason: str) -> None:
        self.stale = True
        self.last_error = reason
        log.warning("sub-account %s: %s", self.user, reason)
        if self.on_stale is not None:
            self.on_stale(reason)

    # ------------------------------------------------------------------ Venue protocol
    def positions(self) -> tuple[DriftPosition, ...]:
        return self.state.positions

    def open_orders(self) -> list[OpenOrder]:
        return list(self.state.open_orders)

    def margin(self, ts: int) -> DriftMarginMetrics:
        margin = self.state.margin
        if margin is None:
            raise VenueError(f"sub-account {self.sub_account_id} does not exist on chain")
        return margin

    def equity(self) -> int:
        """Net account value, micro-USDC, as the program computes it (math/margin.rs
        `calculate_user_equity`, core/program_math.user_equity) over the last read: spot
        balances at the oracle, perp pnl with its unsettled funding (on chain funding
        settles only when the position is touched), a short's value divided toward zero.
        The same rule as PaperVenue.equity."""
        state = self.state
        if state.user is None:
            return 0
        prices = {(MarketType.PERP, i): p for i, p in state.perp_prices.items()}
        prices.update({(MarketType.SPOT, i): p for i, p in state.spot_prices.items()})
        markets = snapshot_of(state.perp_markets, state.spot_markets, prices)
        return user_equity(state.user, markets)

    def place(self, orders: Sequence[OrderIntent], ts: int) -> list[FillEvent]:
        """Send the orders in one transaction (a single `place_and_take`-tagged perp
        order: `place_and_take_perp_order`). Returns once it is confirmed, with the fills
        it already shows; raises `OrderOutcomeUnknown` when its outcome cannot be known,
        `VenueError` when it was refused (or never sent)."""
        self._ts = ts
        self._dirty = True
        self.last_send = {}
        if self.stale:
            self.refresh()  # raises VenueUnavailableError while the chain stays unreadable
        self._remember_entries(self.state)
        try:
            if len(orders) == 1 and PLACE_AND_TAKE in orders[0].tags:
                outcome = self.client.run(self.client.place_and_take(orders[0]))
            else:
                outcome = self.client.run(self.client.place_orders(list(orders)))
        except TransactionUnconfirmedError as exc:
            ref = {
                "signatures": list(exc.signatures),
                "last_valid_block_height": exc.last_valid_block_height,
                "since_order_id": exc.since_order_id,
                "since_slot": exc.since_slot,
            }
            raise OrderOutcomeUnknown(f"{type(exc).__name__}: {exc}", ref) from None
        except DriftClientError as exc:
            if isinstance(exc, RpcUnavailableError):
                self._mark_stale(str(exc))  # nothing was sent
            raise VenueError(f"{type(exc).__name__}: {exc}") from None
        self.last_send = {"signature": outcome.signature, "slot": outcome.slot}
        log.info(
            "placed %d orders (user order ids %s): %s",
            len(orders),
            outcome.user_order_ids,
            outcome.status,
        )
        try:
            state = self.refresh()
            events = self._scan(state.slot)
        except VenueUnavailableError:
            return []  # landed; its fills are found by the next poll
        fills = [e for e in events if isinstance(e, FillEvent)]
        self._pending.extend(e for e in events if not isinstance(e, FillEvent))
        self._pending.extend(self._skipped(outcome.signature, orders, events, ts))
        return fills

    def _skipped(
        self,
        signature: str | None,
        orders: Sequence[OrderIntent],
        events: Sequence[VenueEvent],
        ts: int,
    ) -> list[OrderUpdate]:
        """Orders the confirmed transaction did not place (the program skips an order
        whose max_ts has passed, without an error): no OrderRecord of theirs in its logs."""
        if not signature or signature not in self._scanned:
            return []  # the transaction's logs were not read: no evidence either way
        placed = {
            e.user_order_id
            for e in events
            if isinstance(e, OrderUpdate)
            and e.action == "placed"
            and e.record_id.startswith(f"{signature}:")
        }
        return [
            OrderUpdate(
                f"{signature}:skipped:{o.user_order_id}",
                ts,
                o.user_order_id,
                0,
                "cancelled",
                "the program did not place it (no OrderRecord in its transaction)",
            )
            for o in orders
            if o.user_order_id not in placed
        ]

    def cancel_all(self, ts: int) -> int:
        self._ts = ts
        self._dirty = True
        n = len(self.state.open_orders)
        if n == 0:
            return 0
        try:
            self.client.run(self.client.cancel_orders())
        except DriftClientError as exc:
            raise VenueError(f"{type(exc).__name__}: {exc}") from None
        self._state = self.client.last_state or self._state
        return n

    def order_marks(self) -> dict[str, Any]:
        """Where orders sent now will be found on chain: the User's next order id and the
        slot of the last read (they come after both)."""
        state = self._state
        if state is None:
            return {}
        return {"since_order_id": state.next_order_id, "since_slot": state.slot}

    def settle_pnl(self, market_index: int, ts: int) -> None:
        """Settle the perp position's funding and PnL into USDC (`settle_pnl`)."""
        self._ts = ts
        self._dirty = True
        try:
            self.client.run(self.client.settle_pnl(market_index))
        except DriftClientError as exc:
            raise VenueError(f"{type(exc).__name__}: {exc}") from None

    def oracle_price(self, market_type: MarketType, market_index: int) -> int:
        state = self.state
        prices = state.perp_prices if market_type is MarketType.PERP else state.spot_prices
        return prices.get(market_index, 0)

    def resolve_orders(self, orders: Sequence[Any], ts: int) -> list[OrderUpdate]:
        """Look on chain for orders whose send outcome was unknown (engine `OrderState`s
        with a `send_ref`): placed (resting, or logged by the program) -> "placed"; its
        transaction failed, or its blockhash expired with no trace -> "rejected"; else
        nothing yet. Raises while the chain cannot be read (they stay unknown)."""
        groups: dict[tuple, list[Any]] = {}
        for o in orders:
            ref = o.send_ref or {}
            key = (
                tuple(ref.get("signatures") or ()),
                ref.get("last_valid_block_height"),
                ref.get("since_order_id"),
                ref.get("since_slot"),
            )
            groups.setdefault(key, []).append(o)
        out: list[OrderUpdate] = []
        for (sigs, last_valid, since_order_id, since_slot), group in groups.items():
            found = self.client.run(
                self.client.resolve_orders(
                    [o.user_order_id for o in group],
                    since_order_id=since_order_id or 0,
                    since_slot=since_slot or 0,
                    last_valid_block_height=last_valid,
                    signatures=sigs,
                )
            )
            for o in group:
                r = found.get(o.user_order_id)
                if r is None or r.status == "unknown":
                    continue
                rid = f"resolve:{o.user_order_id}:{ts}"
                if r.status in ("open", "placed"):
                    if r.order_id is not None:
                        self._uids[r.order_id] = o.user_order_id
                    out.append(OrderUpdate(rid, ts, o.user_order_id, r.order_id or 0, "placed"))
                else:
                    out.append(OrderUpdate(rid, ts, o.user_order_id, 0, "rejected", r.reason))
        return out

    def poll_events(self, ts: int) -> list[VenueEvent]:
        self._ts = ts
        try:
            self._remember_entries(self.state if self._state is not None else None)
            state = self.refresh()
            if state.user_digest and state.user_digest == self._scanned_digest:
                # the User's bytes are those a scan already found complete: no
                # transaction touched it since, so its history has nothing new
                self.history_skipped += 1
                scanned = []
            else:
                before = self.cursor
                scanned = self._scan(state.slot)
                self._after_scan(state, found=self.cursor != before)
            self._explained_slot = state.slot
        except VenueUnavailableError:
            return []
        out, self._pending = self._pending + scanned, []
        return out

    def read_for_sync(self) -> DriftAccountState:
        """A read for the vault sync: the account at slot S and every event up to S (kept
        for the engine's next poll), so the fills the sync books are exactly those in the
        balance it reads — never one more, never one less."""
        if (
            not self._dirty
            and not self.stale
            and self._state is not None
            and self._explained_slot == self._state.slot
        ):
            # nothing was sent since the engine's read this tick: its read, and the events
            # up to its slot (scanned with that slot as the history's floor, or skipped
            # because the User did not change), are the sync's — no second round trip
            self.reads_saved += 1
            return self._state
        self._remember_entries(self.state if self._state is not None else None)
        state = self.refresh()
        before = self.cursor
        self._pending.extend(self._scan(state.slot))
        self._after_scan(state, found=self.cursor != before)
        self._explained_slot = state.slot
        return state

    def _after_scan(self, state: DriftAccountState, *, found: bool) -> None:
        """After a history scan up to `state.slot`: the User's bytes count as explained
        (later scans skipped while they stay the same) only when the scan found nothing
        new and the same bytes were already read at an earlier slot — a change is scanned
        on the tick it shows and again on a later one, so a transaction whose history
        entry lagged the account read by up to a tick is still found."""
        digest = state.user_digest
        if self._digest_since is None or self._digest_since[0] != digest:
            self._digest_since = (digest, state.slot)
        settled = not found and self._digest_since[1] < state.slot
        self._scanned_digest = digest if settled else None

    # ------------------------------------------------------------------ events
    def _scan(self, until_slot: int | None = None) -> list[VenueEvent]:
        """Events of the transactions after the cursor up to `until_slot` (the slot of the
        account read they go with), oldest first; moves the cursor past them."""
        try:
            history = self.client.run(
                self.client.history_since(
                    self.cursor, after_slot=self.cursor_slot, min_context_slot=until_slot
                )
            )
        except Exception as exc:
            if not _transient(exc) and not isinstance(exc, DriftClientError):
                raise
            self._mark_stale(f"history read failed: {type(exc).__name__}: {exc}")
            raise VenueUnavailableError(str(exc)) from None
        out: list[VenueEvent] = []
        for signature, slot, logs in history:
            if until_slot is not None and slot > until_slot:
                break  # newer than the account read: the next read takes it
            out.extend(self.events_of(signature, slot, logs))
            self.cursor, self.cursor_slot = signature, slot
            self._scanned.append(signature)
        del self._scanned[:-100]
        return out

    def events_of(self, signature: str, slot: int, logs: Sequence[str]) -> list[VenueEvent]:
        """This sub-account's events in one transaction's logs."""
        out: list[VenueEvent] = []
        uids: dict[int, int] = {}
        for index, (name, data) in enumerate(drift_events(logs)):
            rid = f"{signature}:{index}"
            if name == "OrderRecord" and data.user == self.user:
                uids[data.order.order_id] = data.order.user_order_id
                self._uids[data.order.order_id] = data.order.user_order_id
                out.append(
                    OrderUpdate(
                        rid,
                        data.ts,
                        data.order.user_order_id,
                        data.order.order_id,
                        "placed",
                    )
                )
            elif name == "OrderActionRecord" and not is_variant(data.action, "Fill"):
                update = self._order_action(rid, data)
                if update is not None:
                    out.append(update)
            elif name == "OrderActionRecord" and is_variant(data.action, "Fill"):
                fill = self._fill(rid, data)
                if fill is not None:
                    out.append(fill)
                    self.fills_seen.append(
                        ChainFill(fill, signature, slot, uids.get(fill.order_id))
                    )
                    if len(self.fills_seen) > MAX_FILLS_SEEN:  # no sync hook draining them
                        del self.fills_seen[:-MAX_FILLS_SEEN]
            elif name == "FundingPaymentRecord" and data.user == self.user:
                out.append(FundingEvent(rid, data.ts, data.market_index, data.funding_payment))
            elif name == "LiquidationRecord" and data.user == self.user:
                liq = self._liquidation(rid, data)
                if liq is not None:
                    out.append(liq)
        return out

    def _order_action(self, rid: str, d: Any) -> OrderUpdate | None:
        """A cancel (expired or not) or trigger of one of this sub-account's orders."""
        if d.taker == self.user:
            order_id = d.taker_order_id
        elif d.maker == self.user:
            order_id = d.maker_order_id
        else:
            return None
        if is_variant(d.action, "Cancel") or is_variant(d.action, "Expire"):
            expired = is_variant(d.action, "Expire") or is_variant(
                d.action_explanation, "OrderExpired"
            )
            action = "expired" if expired else "cancelled"
        elif is_variant(d.action, "Trigger"):
            action = "triggered"
        else:
            return None
        uid = self._uids.get(order_id or 0, 0)
        reason = type(d.action_explanation).__name__
        return OrderUpdate(rid, d.ts, uid, order_id or 0, action, reason)

    def _fill(self, rid: str, d: Any) -> FillEvent | None:
        if d.taker == self.user:
            role = "taker"
            fee = d.taker_fee or 0
        elif d.maker == self.user:
            role = "maker"
            fee = d.maker_fee or 0
        else:
            return None
        buying = is_variant(getattr(d, f"{role}_order_direction"), "Long")
        base, quote = d.base_asset_amount_filled or 0, d.quote_asset_amount_filled or 0
        perp = is_variant(d.market_type, "Perp")
        if perp:
            market_type, decimals = MarketType.PERP, 9
            cash = realized_pnl_of(
                buying,
                base,
                quote,
                getattr(d, f"{role}_existing_quote_entry_amount"),
                getattr(d, f"{role}_existing_base_asset_amount"),
            )
        else:
            market_type = MarketType.SPOT
            market = self.state.spot_markets.get(d.market_index)
            decimals = market.decimals if market is not None else 9
            cash = -quote if buying else quote
        return FillEvent(
            record_id=rid,
            ts=d.ts,
            market_type=market_type,
            market_index=d.market_index,
            base_asset_amount=base if buying else -base,
            quote_asset_amount=-quote if buying else quote,
            fee=fee,
            price=quote * 10**decimals // base if base else 0,
            cash=cash,
            oracle_price=d.oracle_price,
            decimals=decimals,
            order_id=getattr(d, f"{role}_order_id") or 0,
            user_order_id=self._uids.get(getattr(d, f"{role}_order_id") or 0, 0),
        )

    def _liquidation(self, rid: str, d: Any) -> LiquidationEvent | None:
        if not is_variant(d.liquidation_type, "LiquidatePerp"):
            return None
        rec = d.liquidate_perp
        base0, entry0 = self._entry.get(rec.market_index, (0, 0))
        closed_entry = 0
        if base0:  # the entry it removes, truncating like the program (math/position.rs)
            closed_entry = abs(entry0) * abs(rec.base_asset_amount) // abs(base0)
            closed_entry = closed_entry if entry0 >= 0 else -closed_entry
        # several partial liquidations in one poll: each starts from the previous one's
        self._entry[rec.market_index] = (base0 + rec.base_asset_amount, entry0 - closed_entry)
        return LiquidationEvent(
            record_id=rid,
            ts=d.ts,
            market_index=rec.market_index,
            amount=rec.quote_asset_amount + closed_entry,
            fee=rec.liquidator_fee + rec.if_fee,
            base_asset_amount=rec.base_asset_amount,
            detail=f"liquidation {d.liquidation_id} at {rec.oracle_price}",
        )

    def _remember_entries(self, state: DriftAccountState | None) -> None:
        if state is None:
            return
        for p in state.perp_positions:
            self._entry[p.market_index] = (p.base_asset_amount, p.quote_entry_amount)

    def _interest(self, state: DriftAccountState) -> list[InterestEvent]:
        """Interest from account changes: a spot position whose scaled balance is as
        before while the market's cumulative interest moved has earned (or paid) the
        change of its token amount."""
        out: list[InterestEvent] = []
        if state.user is None:
            return out
        seen: dict[int, tuple[int, int, int]] = {}
        for sp in state.user.spot_positions:
            if sp.scaled_balance == 0:
                continue
            market = state.spot_markets.get(sp.market_index)
            if market is None:
                continue
            deposit = is_variant(sp.balance_type, "Deposit")
            cum = (
                market.cumulative_deposit_interest if deposit else market.cumulative_borrow_interest
            )
            token = state.spot_balance(sp.market_index)
            signed_scaled = sp.scaled_balance if deposit else -sp.scaled_balance
            seen[sp.market_index] = (signed_scaled, token, cum)
            before = self._spot.get(sp.market_index)
            if before is None or before[0] != signed_scaled or before[2] == cum:
                continue
            delta = token - before[1]
            if not delta:
                continue
            if sp.market_index == QUOTE_INDEX:
                value = delta
            else:
                price = state.spot_prices.get(sp.market_index, 0)
                value = delta * price // 10**market.decimals
            out.append(
                InterestEvent(
                    f"interest:{sp.market_index}:{state.slot}",
                    self._ts,
                    sp.market_index,
                    value,
                    delta,
                )
            )
        self._spot = seen
        return out

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        self.client.close_blocking()


__all__ = ["ChainFill", "LiveVenue", "VenueUnavailableError", "realized_pnl_of"]
