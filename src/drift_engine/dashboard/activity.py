"""An engine's activity as one feed, and what its equity chart marks.

The feed merges what is already persisted — nothing here writes:
- the engine's log (`engine_events`): strategy decisions with their reasons (`orders`),
  fills, risk rejections and the kill switch, state transitions (an operator's among
  them), errors, capital moves;
- its vaults' ledger: funding payments and capital entries (deposits, transfers);
- operator commands and what became of them (`engine_commands`, when the database has
  the command queue).

The chart's markers are the strategy's orders that filled (entries, exits, other trades)
and halts; its shaded spans are the periods whose vault snapshots hold positions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from drift_engine.dashboard.money import money
from drift_engine.dashboard.schemas import ActivityOut
from drift_engine.storage.enums import EntryKind
from drift_engine.storage.models import EngineEventRow, LedgerEntryRow, VaultSnapshotRow

CATEGORIES = ("decision", "fill", "funding", "risk", "operator", "state", "error", "capital")
_CAPITAL_KINDS = {
    EntryKind.DEPOSIT,
    EntryKind.WITHDRAW,
    EntryKind.TRANSFER_IN,
    EntryKind.TRANSFER_OUT,
}
QUOTE_SPOT_INDEX = 0


def _at(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _event_category(row: EngineEventRow) -> str:
    kind, data = row.kind, row.data if isinstance(row.data, dict) else {}
    reason = str(data.get("reason") or row.message or "")
    if kind in ("orders", "cancel"):
        return "decision"
    if kind == "fill":
        return "fill"
    if kind in ("rejection", "deleverage", "flatten"):
        return "risk"
    if kind == "kill":
        return "operator" if reason.startswith("operator") else "risk"
    if kind == "transition":
        if reason.startswith("operator"):
            return "operator"
        return "risk" if data.get("to") == "halted" else "state"
    if kind == "error":
        return "error"
    if kind == "capital":
        return "capital"
    if kind == "command":
        return "operator"
    return "state"


def _event_text(row: EngineEventRow) -> str:
    if row.kind == "rejection":
        return f"risk check refused: {row.message}"
    if row.kind == "orders":
        data = row.data if isinstance(row.data, dict) else {}
        reason = data.get("reason")
        fills = data.get("fills")
        if isinstance(reason, str) and isinstance(fills, int):
            n = len(data.get("orders") or ())
            return f"strategy: {reason} — {n} order{'s' * (n != 1)}, {fills} filled"
        return f"strategy: {row.message}"
    return row.message


def _ledger_text(kind: EntryKind, amount: int, memo: str | None) -> str:
    usd = f"{'+' if amount >= 0 else '-'}${abs(amount) / 1e6:,.2f}"
    names = {
        EntryKind.FUNDING: "funding payment",
        EntryKind.DEPOSIT: "deposit",
        EntryKind.WITHDRAW: "withdrawal",
        EntryKind.TRANSFER_IN: "transfer in",
        EntryKind.TRANSFER_OUT: "transfer out",
    }
    text = f"{names.get(kind, kind.value)} {usd}"
    return f"{text} ({memo})" if memo else text


def activity(
    s: Session,
    engine_id: str,
    vault_ids: Sequence[int],
    *,
    limit: int,
    categories: Iterable[str] | None = None,
    has_commands: bool = False,
    ledger_capital: bool = True,
) -> list[ActivityOut]:
    """The engine's newest `limit` activity entries, newest first. `ledger_capital`:
    include the vaults' capital entries (a paper engine's are booked at wall-clock time,
    not engine time, so they would sort above everything; its runner logs capital moves
    in engine time instead)."""
    wanted = set(categories or CATEGORIES)
    out: list[ActivityOut] = []
    rows = s.scalars(
        select(EngineEventRow)
        .where(EngineEventRow.engine_id == engine_id)
        .order_by(EngineEventRow.id.desc())
        .limit(limit * 4 if wanted != set(CATEGORIES) else limit)
    ).all()
    for r in rows:
        category = _event_category(r)
        if category in wanted:
            out.append(
                ActivityOut(
                    id=f"e{r.id}",
                    at=_at(r.ts),
                    category=category,  # type: ignore[arg-type]
                    kind=r.kind,
                    text=_event_text(r),
                )
            )
    kinds = []
    if "funding" in wanted:
        kinds.append(EntryKind.FUNDING)
    if "capital" in wanted and ledger_capital:
        kinds += sorted(_CAPITAL_KINDS, key=lambda k: k.value)
    if kinds and vault_ids:
        entries = s.execute(
            select(
                LedgerEntryRow.id,
                LedgerEntryRow.kind,
                LedgerEntryRow.amount,
                LedgerEntryRow.fee,
                LedgerEntryRow.memo,
                LedgerEntryRow.occurred_at,
            )
            .where(LedgerEntryRow.vault_id.in_(list(vault_ids)), LedgerEntryRow.kind.in_(kinds))
            .order_by(LedgerEntryRow.occurred_at.desc(), LedgerEntryRow.id.desc())
            .limit(limit)
        ).all()
        for entry_id, kind, amount, fee, memo, at in entries:
            out.append(
                ActivityOut(
                    id=f"l{entry_id}",
                    at=at if at.tzinfo else at.replace(tzinfo=UTC),
                    category="funding" if kind is EntryKind.FUNDING else "capital",
                    kind=kind.value,
                    text=_ledger_text(kind, amount - fee, memo),
                    amount=money(amount - fee),
                )
            )
    if has_commands and "operator" in wanted:
        out += _commands(s, engine_id, limit)
    out.sort(key=lambda a: (a.at, a.id), reverse=True)
    return out[:limit]


def _commands(s: Session, engine_id: str, limit: int) -> list[ActivityOut]:
    """Operator commands still waiting in the queue (migration 0005). Applied and refused
    ones are in the engine's log (`command` events, in engine time)."""
    from drift_engine.storage.models import EngineCommandRow

    rows = s.scalars(
        select(EngineCommandRow)
        .where(EngineCommandRow.engine_id == engine_id, EngineCommandRow.status == "pending")
        .order_by(EngineCommandRow.id.desc())
        .limit(limit)
    ).all()
    out = []
    for r in rows:
        when = _at(r.due_ts) if r.due_ts else r.requested_at
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        out.append(
            ActivityOut(
                id=f"c{r.id}",
                at=when,
                category="operator",
                kind="command-pending",
                text=f"{r.describe() if hasattr(r, 'describe') else r.kind} from {r.source} "
                "— pending: waits for the engine's runner",
            )
        )
    return out


def has_table(s: Session, name: str) -> bool:
    return name in inspect(s.connection()).get_table_names()


# --------------------------------------------------------------------------- chart
def markers(s: Session, engine_id: str, limit: int = 500) -> list[dict[str, Any]]:
    """Entries, exits and other filled trades, and halts, oldest first."""
    rows = s.scalars(
        select(EngineEventRow)
        .where(
            EngineEventRow.engine_id == engine_id,
            EngineEventRow.kind.in_(("orders", "transition")),
        )
        .order_by(EngineEventRow.id.desc())
        .limit(limit)
    ).all()
    out = []
    for r in reversed(rows):
        data = r.data if isinstance(r.data, dict) else {}
        if r.kind == "transition":
            if data.get("to") == "halted":
                out.append({"at": _at(r.ts), "kind": "halt", "text": r.message})
            continue
        fills = data.get("fills")
        if fills is None:  # logged before the fill count was: "..., N fills"
            tail = r.message.rsplit(", ", 1)[-1]
            fills = int(tail.split()[0]) if tail.endswith("fills") and tail[0].isdigit() else 1
        if not fills:
            continue
        reason = str(data.get("reason") or r.message.rsplit(":", 1)[0])
        low = reason.lower()
        if low.startswith("enter"):
            kind = "entry"
        elif low.startswith(("exit", "flatten", "close")):
            kind = "exit"
        else:
            kind = "trade"
        out.append({"at": _at(r.ts), "kind": kind, "text": reason})
    return out


def holds_positions(positions: Any) -> bool:
    """Whether a snapshot's positions hold anything but USDC."""
    for p in positions if isinstance(positions, list) else ():
        if not isinstance(p, dict) or not p.get("base_asset_amount"):
            continue
        if p.get("market_type") == "spot" and p.get("market_index") == QUOTE_SPOT_INDEX:
            continue
        return True
    return False


def market_spans(s: Session, vault_id: int) -> tuple[list[dict[str, Any]], float | None]:
    """(periods in the market [{start, end}], share of snapshots in the market %) from the
    vault's snapshots; a span ends at the first snapshot found flat."""
    rows = s.execute(
        select(VaultSnapshotRow.taken_at, VaultSnapshotRow.positions)
        .where(VaultSnapshotRow.vault_id == vault_id)
        .order_by(VaultSnapshotRow.taken_at, VaultSnapshotRow.id)
    ).all()
    spans: list[dict[str, Any]] = []
    start = None
    inside = 0
    last = None
    for at, positions in rows:
        held = holds_positions(positions)
        inside += held
        if held and start is None:
            start = at
        elif not held and start is not None:
            spans.append({"start": start, "end": at})
            start = None
        last = at
    if start is not None:
        spans.append({"start": start, "end": last})
    share = round(inside / len(rows) * 100, 2) if rows else None
    return spans, share


__all__ = ["CATEGORIES", "activity", "has_table", "holds_positions", "market_spans", "markers"]
