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

from drift_engine.core.client import (
    DriftAccountState,
    DriftClient,
    DriftClientError,
    RpcUnavailableError,
    drift_events,
)
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
from drift_engine.engine.ports import InterestEvent, LiquidationEvent, VenueError, VenueEvent
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
        #: Last transaction of the sub-account whose events were processed (None: none).
        self.cursor = start_after
        self.stale = False
        self.last_error = ""
        self.on_stale = on_stale
        self._state: DriftAccountState | None = None
        self._pending: list[VenueEvent] = []
        self._spot: dict[int, tuple[int, int, int]] = {}  # index -> (scaled, token, cum int)
        self._entry: dict[int, tuple[int, int]] = {}  # perp index -> (base, quote_entry)
        self.fills_seen: list[ChainFill] = []
        self._ts = 0

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

    def refresh(self) -> DriftAccountState:
        """Read the account now; on failure mark the venue stale and raise."""
        try:
            state = self.client.run(self.client.refresh())
        except Exception as exc:
            if not _transient(exc) and not isinstance(exc, DriftClientError):
                raise
            self._mark_stale(f"{type(exc).__name__}: {exc}")
            raise VenueUnavailableError(f"chain read failed: {exc}") from None
        self._accept(state)
        return state

    def _accept(self, state: DriftAccountState) -> None:
        if self.stale:
            log.info("sub-account %s readable again", self.user)
        self.stale = False
        self.last_error = ""
        self._pending.extend(self._interest(state))
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
        self._ts = ts
        if self.stale:
            self.refresh()  # raises VenueUnavailableError while the chain stays unreadable
        self._remember_entries(self.state)
        try:
            outcome = self.client.run(self.client.place_orders(list(orders)))
        except DriftClientError as exc:
            if isinstance(exc, RpcUnavailableError):
                self._mark_stale(str(exc))
            raise VenueError(f"{type(exc).__name__}: {exc}") from None
        log.info(
            "placed %d orders (user order ids %s): %s",
            len(orders),
            outcome.user_order_ids,
            outcome.status,
        )
        try:
            self.refresh()
            events = self._scan()
        except VenueUnavailableError:
            return []  # landed; its fills are found by the next poll
        fills = [e for e in events if isinstance(e, FillEvent)]
        self._pending.extend(e for e in events if not isinstance(e, FillEvent))
        return fills

    def cancel_all(self, ts: int) -> int:
        self._ts = ts
        n = len(self.state.open_orders)
        if n == 0:
            return 0
        try:
            self.client.run(self.client.cancel_orders())
        except DriftClientError as exc:
            raise VenueError(f"{type(exc).__name__}: {exc}") from None
        self._state = self.client.last_state or self._state
        return n

    def poll_events(self, ts: int) -> list[VenueEvent]:
        self._ts = ts
        try:
            self._remember_entries(self.state if self._state is not None else None)
            self.refresh()
            scanned = self._scan()
        except VenueUnavailableError:
            return []
        out, self._pending = self._pending + scanned, []
        return out

    # ------------------------------------------------------------------ events
    def _scan(self) -> list[VenueEvent]:
        """Events of the transactions after the cursor, oldest first; moves the cursor."""
        try:
            history = self.client.run(self.client.history_since(self.cursor))
        except Exception as exc:
            if not _transient(exc) and not isinstance(exc, DriftClientError):
                raise
            self._mark_stale(f"history read failed: {type(exc).__name__}: {exc}")
            raise VenueUnavailableError(str(exc)) from None
        out: list[VenueEvent] = []
        for signature, slot, logs in history:
            out.extend(self.events_of(signature, slot, logs))
            self.cursor = signature
        return out

    def events_of(self, signature: str, slot: int, logs: Sequence[str]) -> list[VenueEvent]:
        """This sub-account's events in one transaction's logs."""
        out: list[VenueEvent] = []
        uids: dict[int, int] = {}
        for index, (name, data) in enumerate(drift_events(logs)):
            rid = f"{signature}:{index}"
            if name == "OrderRecord" and data.user == self.user:
                uids[data.order.order_id] = data.order.user_order_id
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
