"""Starting a LIVE engine: the safety gate, the startup reconciliation, the assembly.

* `check_live_allowed(live, keypair_path)` refuses LIVE unless the config says
  `live = true` and the keypair file exists, is a regular file, and grants nothing to
  group or other (0600-style). Errors name the setting and the file; they never contain
  the key's bytes (the file is not even read here).
* `reconcile_on_start(...)` applies the rules of docs/reconciliation.md every time a live
  engine starts, before its first step: read the chain (refuse to start blind), cancel
  orders the engine does not know, book fills the chain shows and the ledger misses,
  reconcile the vault to the sub-account, report booked fills the chain does not know,
  adopt the chain's positions, and point the venue's event cursor past everything
  already accounted for.
* `LiveEngineStack` wires one live engine: `DriftClient` -> `LiveVenue` -> `DriftEngine`
  booking into its ON_CHAIN vault, plus the `OnChainVaultSync` heartbeat hook.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drift_engine.core.errors import DriftEngineError
from drift_engine.core.types import MarketType
from drift_engine.live.runner import LiveRunner
from drift_engine.vaults.entries import fill_key
from drift_engine.vaults.reconcile import OnChainFill, ReconcileOutcome

log = logging.getLogger("drift_engine.live.start")


class LiveNotAllowedError(DriftEngineError):
    """LIVE mode is refused; `key` names the setting or file at fault."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"{key}: {message}")


class LiveStartError(DriftEngineError):
    """A live engine cannot start safely (e.g. the chain cannot be read)."""


# --------------------------------------------------------------------------- safety


def check_live_allowed(live: Any, keypair_path: str | os.PathLike[str] | None) -> Path:
    """Refuse LIVE unless `live` is true and the keypair file is private; return its path.

    `live` is the config's `live` flag (a bool, or any object with a `live` attribute,
    e.g. a settings object). The keypair file must exist, be a regular file owned by this
    user, and have no group/other permission bits (chmod 600 or 400)."""
    flag = getattr(live, "live", live)
    if flag is not True:
        raise LiveNotAllowedError(
            "live", "LIVE mode needs `live = true` in the config (it is not set)"
        )
    if keypair_path is None or str(keypair_path) == "":
        raise LiveNotAllowedError("keypair_path", "LIVE mode needs a keypair file path")
    path = Path(keypair_path).expanduser()
    try:
        st = path.stat()
    except FileNotFoundError:
        raise LiveNotAllowedError("keypair_path", f"keypair file {path} does not exist") from None
    except OSError as exc:
        raise LiveNotAllowedError(
            "keypair_path", f"keypair file {path} cannot be read: {exc.strerror}"
        ) from None
    if not stat.S_ISREG(st.st_mode):
        raise LiveNotAllowedError("keypair_path", f"keypair file {path} is not a regular file")
    if st.st_mode & 0o077:
        raise LiveNotAllowedError(
            "keypair_path",
            f"keypair file {path} is accessible by group/other (mode "
            f"{stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {path}",
        )
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise LiveNotAllowedError(
            "keypair_path", f"keypair file {path} is not owned by the current user"
        )
    return path


# --------------------------------------------------------------------------- startup


@dataclass
class StartReport:
    """What the startup reconciliation found and did (also logged to the engine store)."""

    slot: int = 0
    cancelled_orders: list[int] = field(default_factory=list)  # user order ids
    adopted_orders: list[int] = field(default_factory=list)  # user order ids (EXTERNAL)
    resumed_orders: dict[int, str] = field(default_factory=dict)  # uid -> status now
    booked_fills: list[str] = field(default_factory=list)  # ledger keys booked now
    unknown_booked_fills: list[str] = field(default_factory=list)  # booked, not on chain
    adopted_positions: list[str] = field(default_factory=list)
    outcome: str = ""
    booked_entries: int = 0


def _positions_key(positions: Iterable[Any]) -> dict[tuple[str, int], int]:
    return {
        (p.market_type.value, p.market_index): p.base_asset_amount
        for p in positions
        if p.base_asset_amount != 0
        and not (p.market_type is MarketType.SPOT and p.market_index == 0)
    }


def reconcile_on_start(
    *,
    registry: Any,
    venue: Any,
    vault: int | str,
    engine_id: str,
    store: Any = None,
    ts: int,
    cancel_unknown_orders: bool = True,
    orders: Any = None,
    unknown_orders: str | None = None,
    cursor: Any = None,
) -> StartReport:
    """The startup rules of docs/reconciliation.md, applied before a live engine steps.

    `cursor` (live/cursor.py `Cursor`): the history is read from `venue.cursor` (set from
    it), not from the beginning; rule 7 then checks the fills booked after it.

    `orders` is the engine's `OrderBook` (its working orders are resumed from the chain's
    evidence); `unknown_orders` says what to do with chain orders it does not know:
    "cancel" (default) or "adopt" (as EXTERNAL)."""
    policy = unknown_orders or ("cancel" if cancel_unknown_orders else "keep")
    if policy not in ("cancel", "adopt", "keep"):
        raise ValueError(f"unknown_orders must be 'cancel' or 'adopt', not {policy!r}")
    report = StartReport()
    the_vault = registry.get(vault)
    at = datetime.fromtimestamp(ts, UTC)

    def note(kind: str, message: str, data: dict | None = None) -> None:
        log.info("[%s] %s: %s", engine_id, kind, message)
        if store is not None:
            store.log(engine_id, ts, kind, message, data)

    # Rule 1: never start blind.
    try:
        state = venue.refresh()
        # from the persisted cursor (live/cursor.py), not from the beginning
        history = venue.client.run(
            venue.client.history_since(venue.cursor, after_slot=venue.cursor_slot)
        )
    except Exception as exc:  # noqa: BLE001
        registry.sync_status.mark_stale(the_vault.id, f"start: chain read failed: {exc}", at)
        raise LiveStartError(f"cannot read the chain at start: {exc}") from None
    # Rule 2: the sub-account must exist.
    if not state.exists:
        raise LiveStartError(
            f"sub-account {venue.sub_account_id} of {state.authority} does not exist on chain"
        )
    report.slot = state.slot

    from drift_engine.strategies.base import FillEvent

    events: list[tuple[Any, int]] = []

    def read_events(txs: Iterable[tuple[str, int, list[str]]]) -> list[tuple[Any, int]]:
        found = [
            (event, slot)
            for signature, slot, logs in txs
            for event in venue.events_of(signature, slot, logs)
        ]
        events.extend(found)
        return [(e, slot) for e, slot in found if isinstance(e, FillEvent)]

    chain_fills = read_events(history)

    # Rule 3: the engine's own working orders are resumed from the chain, never re-sent:
    # resting -> OPEN (read); fills / cancels / expiries in the history -> applied (each
    # fill once); an order whose send outcome was unknown is looked for (resolve).
    if orders is not None:
        resume_orders(orders, venue, state, events, ts)
        report.resumed_orders = {o.user_order_id: o.status.value for o in orders.working()}

    # Rule 4: open orders on chain the engine does not know -> cancelled, or adopted as
    # EXTERNAL orders (config `unknown_orders`).
    known = {o.user_order_id for o in orders.working()} if orders is not None else set()
    strangers = [o for o in state.open_orders if o.user_order_id not in known]
    if strangers and policy == "adopt" and orders is not None:
        for o in strangers:
            orders.adopt(o, ts, f"resting on chain at start (slot {state.slot})")
        report.adopted_orders = [o.user_order_id for o in strangers]
        note(
            "start-adopt-orders",
            f"adopted {len(strangers)} open orders found on chain as EXTERNAL: "
            f"{report.adopted_orders}",
        )
    elif strangers and policy != "keep":
        uids = [o.user_order_id for o in strangers]
        if orders is None:
            venue.cancel_all(ts)
        else:
            for uid in uids:
                venue.client.run(venue.client.cancel_order_by_user_id(uid))
        report.cancelled_orders = uids
        note("start-cancel", f"cancelled {len(uids)} open orders found on chain: {uids}")
        state = venue.refresh()
        more = venue.client.run(venue.client.history_since(history[-1][0] if history else None))
        chain_fills += read_events(more)
        history += more
        if orders is not None:
            resume_orders(orders, venue, state, events, ts)

    # Rule 6: fills on chain after the last reconciled slot and not booked -> FILL.
    last = registry.snapshots.latest(the_vault.id)
    last_slot = last.slot if last is not None and last.slot is not None else None
    booked = {e.key for e in registry.ledger.entries(the_vault.id)}
    chain_keys: set[str] = set()
    fills: list[OnChainFill] = []
    for event, slot in chain_fills:
        key = fill_key(event.record_id)
        chain_keys.add(key)
        if last_slot is None or slot <= last_slot or key in booked:
            continue  # in the opening balance / an earlier reconciliation, or booked
        fills.append(
            OnChainFill(
                fill_id=event.record_id,
                amount=event.cash,
                fee=event.fee,
                market_index=event.market_index,
                occurred_at=datetime.fromtimestamp(event.ts, UTC),
            )
        )
        report.booked_fills.append(key)
    venue.fills_seen.clear()

    # Rule 7: booked fills the chain does not know -> reported; reconciliation corrects.
    # With a history cursor only the fills booked after it was saved are checked: the
    # history before it was read (and its fills booked) by earlier runs.
    checked = (
        booked
        if cursor is None
        else {e.key for e in registry.ledger.entries(the_vault.id) if e.id > cursor.ledger_mark}
    )
    report.unknown_booked_fills = sorted(
        k for k in checked if k.startswith("fill:") and k not in chain_keys
    )
    if report.unknown_booked_fills:
        note(
            "start-unknown-fills",
            f"{len(report.unknown_booked_fills)} booked fills are not on chain "
            "(the ledger keeps them; a sync adjustment brings the balance to the chain)",
            {"keys": report.unknown_booked_fills},
        )

    # Rule 5: positions the vault did not know -> adopted from the chain.
    known = _positions_key(last.positions) if last is not None else {}
    chain = _positions_key(state.positions)
    if last is not None and known != chain:
        report.adopted_positions = [
            f"{k[0]}-{k[1]}: {known.get(k, 0)} -> {v}" for k, v in chain.items()
        ]
        report.adopted_positions += [
            f"{k[0]}-{k[1]}: {v} -> 0" for k, v in known.items() if k not in chain
        ]
        note(
            "start-adopt",
            "positions differ from the vault's last snapshot; adopting the chain's",
            {"changes": report.adopted_positions},
        )

    # Rules 6-8: one reconciliation books the fills, funding and what remains.
    from drift_engine.vaults.onchain_sync import snapshot_of

    result = registry.reconcile(the_vault.id, snapshot_of(state, at, fills))
    report.outcome = result.outcome.value
    report.booked_entries = len(result.booked)
    if result.outcome is ReconcileOutcome.STALE:
        registry.sync_status.mark_stale(the_vault.id, "start: chain read older than the vault", at)
        raise LiveStartError(f"chain read at slot {state.slot} is older than the vault's")
    registry.sync_status.mark_fresh(the_vault.id, state.slot, at)

    # Rule 9: the venue's events start after what is accounted for.
    if history:
        venue.cursor, venue.cursor_slot = history[-1][0], history[-1][1]
    venue._state = state
    note(
        "start-reconciled",
        f"slot {state.slot}: {report.outcome}, {report.booked_entries} entries booked",
        {
            "slot": state.slot,
            "booked_fills": report.booked_fills,
            "cancelled": report.cancelled_orders,
        },
    )
    return report


def resume_orders(book: Any, venue: Any, state: Any, events: Iterable[tuple[Any, int]], ts: int):
    """Rule 3: move the engine's working orders by what the chain shows (see
    `reconcile_on_start`): the account's open orders, the history's order events and
    fills, then a resolution of those whose send outcome is still unknown."""
    from drift_engine.engine.ports import OrderUpdate
    from drift_engine.strategies.base import FillEvent

    book.on_chain_read(state.open_orders, ts, f"start read at slot {state.slot}")
    for event, _slot in events:
        if isinstance(event, OrderUpdate):
            book.on_update(
                event.record_id,
                event.ts,
                event.user_order_id,
                event.order_id,
                event.action,
                event.reason,
            )
        elif isinstance(event, FillEvent) and not event.liquidation:
            book.on_fill(
                event.record_id,
                event.ts,
                event.user_order_id,
                event.order_id,
                event.base_asset_amount,
                event.quote_asset_amount,
            )
    book.on_chain_read(state.open_orders, ts, f"start read at slot {state.slot}")
    pending = [
        o
        for o in book.working()
        if o.status.value in ("inflight", "unknown") and o.order_id is None
    ]
    if pending:
        for o in pending:
            if not o.send_ref.get("last_valid_block_height") and o.send_ref.get("since_slot"):
                # A crash between the record and the send's answer: the blockhash was taken
                # just after the last read, so it expires within 150 slots of it; allow a
                # margin for the time between the read and the send.
                ref = dict(o.send_ref)
                ref["last_valid_block_height"] = ref["since_slot"] + 150 + START_SEND_MARGIN_SLOTS
                book.set_send_ref([o], ref)
        try:
            updates = venue.resolve_orders(pending, ts)
        except Exception as exc:  # noqa: BLE001 - unresolved: they stay unknown (rule 3)
            log.info("orders with an unknown outcome not resolved at start: %s", exc)
            updates = []
        for update in updates:
            book.on_update(
                update.record_id,
                update.ts,
                update.user_order_id,
                update.order_id,
                update.action,
                update.reason,
            )
    from drift_engine.engine.orders import OrderEvent, OrderEventKind

    for o in book.working():
        if o.status.value == "inflight":  # sent (or about to be) when the process died
            book.apply(
                o,
                OrderEvent(
                    OrderEventKind.UNKNOWN,
                    ts,
                    f"start at slot {state.slot}: no trace on chain yet",
                ),
            )


#: Slots allowed between an engine's last read and its send (rule 3).
START_SEND_MARGIN_SLOTS = 300


# --------------------------------------------------------------------------- assembly


class LiveEngineStack:
    """One live engine over a signing DriftClient, booking into its ON_CHAIN vault."""

    def __init__(
        self,
        db: Any,
        client: Any,
        *,
        engine_id: str,
        vault_name: str | None = None,
        network: str = "localnet",
        unknown_orders: str = "cancel",
    ) -> None:
        from drift_engine.engine.store import SqlEngineStore
        from drift_engine.vaults.registry import VaultRegistry
        from drift_engine.venues.live import LiveVenue

        if unknown_orders not in ("cancel", "adopt"):
            raise ValueError(f"unknown_orders must be 'cancel' or 'adopt', not {unknown_orders!r}")
        self.unknown_orders = unknown_orders

        self.db = db
        self.registry = VaultRegistry(db)
        self.store = SqlEngineStore(db)
        self.client = client
        self.engine_id = engine_id
        self.vault_name = vault_name or engine_id
        self.network = network
        self.venue = LiveVenue(client)
        self.orders: Any = None
        self.engine: Any = None
        self.sync: Any = None
        self.report: StartReport | None = None
        #: settle every perp position this often (`ExecutionConfig.settle_every_s`)
        self.settle_every_s = 3600
        self.last_settle_ts: int | None = None

    def settle_if_due(self, ts: int) -> list[int]:
        """`settle_pnl` of every perp position the sub-account holds (an open position, or
        a closed one with PnL not settled yet) when `settle_every_s` has passed since the
        last settlement (at the first tick after a start: the interval is not known to
        have passed). On chain nothing settles by itself: unsettled PnL and funding are not
        withdrawable and are valued only through the perp position. A failure is logged
        and retried at the next tick; it never stops the engine. Returns the markets
        settled."""
        if self.settle_every_s <= 0 or self.engine is None:
            return []
        if self.last_settle_ts is not None and ts - self.last_settle_ts < self.settle_every_s:
            return []
        state = self.venue.state
        user = state.user
        markets = (
            []
            if user is None
            else [
                p.market_index
                for p in user.perp_positions
                if p.base_asset_amount != 0 or p.quote_asset_amount != 0
            ]
        )
        settled: list[int] = []
        for index in markets:
            try:
                self.venue.settle_pnl(index, ts)
            except Exception as exc:  # noqa: BLE001 - retried next tick
                self.store.log(
                    self.engine_id, ts, "settle-failed", f"scheduled settle_pnl perp {index}: {exc}"
                )
                return settled
            settled.append(index)
        self.last_settle_ts = ts
        if settled:
            self.store.log(
                self.engine_id,
                ts,
                "settle",
                f"scheduled settle_pnl (every {self.settle_every_s} s) of perp markets {settled}",
                {"markets": settled, "slot": state.slot},
            )
        return settled

    def save_cursor(self, consumed: tuple[str | None, int | None] | None = None) -> None:
        """Persist the history cursor: `consumed` (signature, slot) the engine consumed
        events up to (default: the venue's cursor now)."""
        signature, slot = consumed or (self.venue.cursor, self.venue.cursor_slot)
        if signature is None or slot is None or getattr(self, "cursors", None) is None:
            return
        self.cursors.save(self.vault_id, str(self.client.user_pubkey), signature, slot)

    def ensure_vault(self) -> Any:
        from drift_engine.storage.enums import VaultType

        try:
            vault = self.registry.get(self.vault_name)
        except LookupError:
            vault = None
        if vault is not None:
            want = (self.network, str(self.client.authority), self.client.sub_account_id)
            have = (vault.network, vault.authority, vault.sub_account_id)
            if not vault.is_on_chain or have != want:
                what = (
                    "a paper vault"
                    if not vault.is_on_chain
                    else f"network {have[0]}, {have[1]}, sub-account {have[2]}"
                )
                raise LiveStartError(
                    f"vault {self.vault_name!r} is bound to {what}; engine {self.engine_id!r} "
                    f"trades network {want[0]}, {want[1]}, sub-account {want[2]} — a vault is "
                    "never reused for another sub-account (name another vault)"
                )
            return vault
        return self.registry.create_vault(
            self.vault_name,
            self.engine_id,
            vault_type=VaultType.ON_CHAIN,
            network=self.network,
            authority=str(self.client.authority),
            sub_account_id=self.client.sub_account_id,
            active=True,
        )

    def start(
        self, strategy: Any, board: Any, ts: int, *, risk: Any = None, execution: Any = None
    ) -> Any:
        """Connect, reconcile on start, build the engine (resumed from the store)."""
        from drift_engine.engine.engine import DriftEngine, EngineMode
        from drift_engine.engine.ledger import VaultLedgerSink
        from drift_engine.engine.order_store import SqlOrderStore
        from drift_engine.engine.orders import OrderBook
        from drift_engine.vaults.onchain_sync import OnChainVaultSync

        def log_order(at: int, kind: str, message: str, data: dict) -> None:
            self.store.log(self.engine_id, at, kind, message, data)

        self.orders = OrderBook(self.engine_id, SqlOrderStore(self.db), log=log_order)

        vault = self.ensure_vault()
        try:
            self.client.run(self.client.connect())
        except Exception as exc:  # noqa: BLE001
            self.registry.sync_status.mark_stale(
                vault.id, f"start: connect failed: {exc}", datetime.fromtimestamp(ts, UTC)
            )
            raise LiveStartError(f"cannot connect to the chain: {exc}") from None
        from drift_engine.live.cursor import CursorStore

        self.cursors = CursorStore(self.db)
        self.vault_id = vault.id
        cursor = self.cursors.get(vault.id, str(self.client.user_pubkey))
        if cursor is not None:
            self.venue.cursor, self.venue.cursor_slot = cursor.signature, cursor.slot
        self.report = reconcile_on_start(
            registry=self.registry,
            venue=self.venue,
            vault=vault.id,
            engine_id=self.engine_id,
            store=self.store,
            ts=ts,
            orders=self.orders,
            unknown_orders=self.unknown_orders,
            cursor=cursor,
        )
        self.save_cursor()
        if execution is not None:
            self.settle_every_s = execution.settle_every_s
        ledger = VaultLedgerSink(self.registry.ledger, self.engine_id, self.vault_name)
        self.engine = DriftEngine(
            self.engine_id,
            strategy,
            self.venue,
            ledger,
            board,
            mode=EngineMode.LIVE,
            risk=risk,
            store=self.store,
            orders=self.orders,
            execution=execution,
        )
        self.sync = OnChainVaultSync(
            self.registry,
            self.client,
            vault.id,
            self.engine_id,
            venue=self.venue,
            read=self.venue.read_for_sync,
        )
        return self.engine


class ChainMarketData:
    """Market data for a live engine's board from the accounts the venue reads, in the
    board fields paper data feeds (live/inputs.py): oracle prices (perp and spot leg),
    each perp market's hourly funding with what longs paid and shorts received
    (`amm.last_funding_rate[_long|_short]` over `last_funding_oracle_twap`, recorded once
    per `last_funding_rate_ts`), the spot leg's deposit and borrow APR from its
    SpotMarket, and whether each oracle is one the program would use for margin (stale or
    too uncertain: new risk in that market is refused, with the reason)."""

    def __init__(self, board: Any) -> None:
        self.board = board
        self._seen: dict[int, int] = {}
        #: symbol -> the last oracle block reasons logged (perp, spot), to log changes once
        self._blocked: dict[str, tuple[str, str]] = {}

    def update(self, state: Any) -> int:
        """Feed the board from one account read; returns the chain's latest funding ts."""
        from drift_engine.live.inputs import amm_funding

        latest = 0
        for symbol in self.board.symbols:
            index = self.board.market_index(symbol)
            market = state.perp_markets.get(index) if index is not None else None
            if market is None:
                continue
            amm = market.amm
            ts = amm.last_funding_rate_ts
            latest = max(latest, ts)
            if index in state.perp_prices:
                self.board.set_price(symbol, state.perp_prices[index], ts)
            funding = amm_funding(amm)
            if funding is not None and self._seen.get(index) != funding.ts:
                self._seen[index] = funding.ts
                self.board.backfill_funding(
                    symbol, [(funding.ts, funding.rate, funding.long, funding.short)]
                )
            spot_index = self.board.market_index(symbol, MarketType.SPOT)
            spot = state.spot_markets.get(spot_index) if spot_index is not None else None
            if spot is not None:
                self._spot(symbol, spot_index, spot, state, ts)
            self._oracles(symbol, index, market, spot_index, spot, state)
        return latest

    def _spot(self, symbol: str, index: int, spot: Any, state: Any, ts: int) -> None:
        from drift_engine.engine.market_board import spot_symbol_for
        from drift_engine.live.inputs import spot_rates

        if index in state.spot_prices:  # the spot leg at its own oracle
            self.board.set_price(spot_symbol_for(symbol), state.spot_prices[index], ts)
        deposit_apr, borrow_apr = spot_rates(spot)
        self.board.set_spot_rates(symbol, deposit_apr, borrow_apr)

    def _oracles(
        self, symbol: str, index: int, market: Any, spot_index: Any, spot: Any, state: Any
    ) -> None:
        from drift_engine.live.inputs import (
            check_perp_oracle,
            check_spot_oracle,
            oracle_block_reason,
        )

        if state.state is None:
            return
        data = getattr(state, "oracle_data", {}) or {}
        perp_reason = spot_reason = ""
        perp_data = data.get((MarketType.PERP, index))
        if perp_data is not None:
            check = check_perp_oracle(market, perp_data, state.slot, state.state)
            perp_reason = oracle_block_reason(symbol, check)
        spot_data = data.get((MarketType.SPOT, spot_index)) if spot is not None else None
        if spot_data is not None:
            check = check_spot_oracle(spot, spot_data, state.slot, state.state)
            spot_reason = oracle_block_reason(f"{symbol} spot leg", check)
        self.board.set_oracle_status(symbol, perp_reason, spot_reason)
        if self._blocked.get(symbol, ("", "")) != (perp_reason, spot_reason):
            for reason in (perp_reason, spot_reason):
                if reason:
                    log.warning("slot %s: %s", state.slot, reason)
            if not perp_reason and not spot_reason:
                log.info("%s: oracles valid again at slot %s", symbol, state.slot)
            self._blocked[symbol] = (perp_reason, spot_reason)


def funding_lookback_hours(strategies: Iterable[Any]) -> int:
    """The longest funding lookback of `strategies` (their `lookback_hours`, default 24),
    at most the board's history (7 days)."""
    from drift_engine.engine.market_board import FUNDING_HISTORY_HOURS

    hours = [int(getattr(s.config, "lookback_hours", 24) or 24) for s in strategies]
    return min(max(hours, default=24), FUNDING_HISTORY_HOURS)


def build_live_engines(
    db: Any,
    specs: Iterable[Any],
    *,
    rpc_url: str,
    keypair_path: str | os.PathLike[str],
    start_ts: int,
    client_options: dict[str, Any] | None = None,
    network: str = "mainnet",
    clock: Any = None,
    unknown_orders: str | None = None,
) -> LiveRunner:
    """Live engines for config `specs` (`engine.config_file.EngineSpec` with mode "live"):
    one signing client per engine on its strategy's `sub_account_id`, startup
    reconciliation, a board fed from the chain, and the runner that ticks them.

    The caller has already passed `check_live_allowed`; the key is loaded once per client
    from `keypair_path` and held only by the client's signer. `clock` is how the clients
    wait (default: real time; tests pass the local chain's clock); `unknown_orders` what
    startup reconciliation does with chain orders the engines do not know ("cancel" or
    "adopt", docs/reconciliation.md rule 4; default: each spec's `unknown_orders`). Each
    engine prices its takers with its spec's `execution`."""
    from drift_engine.engine.market_board import MarketBoard
    from drift_engine.live.client import DriftClient, DriftClientConfig
    from drift_engine.live.inputs import backfill_funding
    from drift_engine.risk import RiskManager
    from drift_engine.strategies import strategy_class

    specs = list(specs)
    strategies = [strategy_class(s.strategy)(s.strategy_config()) for s in specs]
    perps = list(dict.fromkeys(m for st in strategies for m in st.markets()))
    board = MarketBoard(perps)
    market_data = ChainMarketData(board)
    stacks: list[LiveEngineStack] = []
    for spec, strategy in zip(specs, strategies, strict=True):
        sub = getattr(strategy.config, "sub_account_id", 0)
        # `[rpc] network` selects driftpy's constants (devnet indexes and mints on devnet;
        # the local chain serves mainnet's); the markets themselves come from the chain
        options = {"env": "devnet" if network == "devnet" else "mainnet", **(client_options or {})}
        config = DriftClientConfig(rpc_url=rpc_url, sub_account_id=sub, **options)
        client = DriftClient.from_keypair_file(config, keypair_path, clock=clock)
        stack = LiveEngineStack(
            db,
            client,
            engine_id=spec.id,
            vault_name=spec.vault_name,
            unknown_orders=unknown_orders or getattr(spec, "unknown_orders", "cancel"),
        )
        stack.network = network
        if not stacks:
            first = client.run(client.connect())
            # the funding history the strategies look back over, from the chain's
            # FundingRateRecords: a restarted engine can enter at once (ADR 0022)
            try:
                backfill_funding(
                    client, board, funding_lookback_hours(strategies), start_ts, state=first
                )
            except DriftEngineError as exc:  # the strategy then waits for new records
                log.warning("funding history not backfilled from the chain: %s", exc)
            market_data.update(first)
        stack.start(
            strategy,
            board,
            start_ts,
            risk=RiskManager(spec.risk),
            execution=getattr(spec, "execution", None),
        )
        if not stack.engine.started:  # an operator's stop survives a restart
            stack.engine.start(start_ts)
        stacks.append(stack)
    controls = {s.engine_id: s.client.twin() for s in stacks}
    return LiveRunner(
        stacks, board, store=stacks[0].store, market_data=market_data, controls=controls
    )


__all__ = [
    "ChainMarketData",
    "LiveEngineStack",
    "LiveNotAllowedError",
    "LiveRunner",
    "LiveStartError",
    "StartReport",
    "build_live_engines",
    "check_live_allowed",
    "funding_lookback_hours",
    "reconcile_on_start",
    "resume_orders",
]
