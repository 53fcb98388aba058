"""The history cursor of a live vault: the newest transaction of its sub-account whose
events the engine consumed, kept in the database (`live_cursors`, migration 0007).

Without it every start rescanned the account's whole history (one `getTransaction` per
signature; an account with 10,000 transactions cost minutes and, past the page limit,
silently missed the oldest). With it a start reads only the transactions after the
cursor. The cursor is saved after the engine consumed the events up to it (its step),
never ahead of them: a crash re-reads at most one tick of history, and everything read
twice is deduplicated by its chain id (fills by `fill:<signature>:<index>`, orders by the
order book's fill ids).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from drift_engine.storage.models import LedgerEntryRow, LiveCursorRow


@dataclass(frozen=True, slots=True)
class Cursor:
    signature: str
    slot: int
    ledger_mark: int


class CursorStore:
    """Per ON_CHAIN vault: (account, signature, slot) of the last consumed transaction."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def get(self, vault_id: int, account: str) -> Cursor | None:
        """The cursor of `vault_id` if it belongs to `account` (a cursor of another
        sub-account is never used)."""
        with self.db.read() as s:
            row = s.get(LiveCursorRow, vault_id)
            if row is None or row.account != account:
                return None
            return Cursor(row.signature, row.slot, row.ledger_mark)

    def save(self, vault_id: int, account: str, signature: str, slot: int) -> None:
        """Move the cursor forward (never back) and stamp the vault's ledger mark."""
        now = datetime.now(UTC).isoformat()
        with self.db.write() as s:
            mark = s.scalar(
                select(func.max(LedgerEntryRow.id)).where(LedgerEntryRow.vault_id == vault_id)
            )
            row = s.get(LiveCursorRow, vault_id)
            if row is None:
                s.add(
                    LiveCursorRow(
                        vault_id=vault_id,
                        account=account,
                        signature=signature,
                        slot=slot,
                        ledger_mark=mark or 0,
                        updated_at=now,
                    )
                )
            elif row.slot <= slot or row.account != account:
                row.account, row.signature, row.slot = account, signature, slot
                row.ledger_mark, row.updated_at = mark or 0, now


__all__ = ["Cursor", "CursorStore"]
