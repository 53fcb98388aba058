"""Whether an ON_CHAIN vault's mirror of the chain is current: the *stale* flag.

The on-chain sync (`vaults.onchain_sync`) reads the sub-account every heartbeat. When a
read fails or returns something older than what was already reconciled, nothing is
booked (no guesses) and the vault is marked stale, with the reason and since when; the
next successful reconciliation clears it. The dashboard shows the flag next to the
vault's figures, which are then as of `last_ok_at`.

The flag is not money and not history, so it is one row per vault, updated in place, in
its own table (`vault_sync_status`, migration 0004) rather
than a ledger entry or a `VaultStatus` (FROZEN would also stop engines from booking the
fills they see confirmed, which must go on while a read fails).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from drift_engine.storage.models import VaultSyncStatusRow


@dataclass(frozen=True, slots=True)
class VaultSyncStatus:
    vault_id: int
    stale: bool
    reason: str | None
    stale_since: datetime | None
    failures: int  # consecutive failed syncs
    last_ok_at: datetime | None
    last_slot: int | None

    @classmethod
    def from_row(cls, row: VaultSyncStatusRow) -> VaultSyncStatus:
        return cls(
            row.vault_id,
            bool(row.stale),
            row.reason,
            row.stale_since,
            row.failures or 0,
            row.last_ok_at,
            row.last_slot,
        )


class SyncStatusStore:
    """Reads and sets the stale flag of ON_CHAIN vaults (`VaultRegistry.sync_status`)."""

    def __init__(self, db: object) -> None:
        self.db = db

    def get(self, vault_id: int) -> VaultSyncStatus | None:
        with self.db.read() as s:  # type: ignore[attr-defined]
            row = s.get(VaultSyncStatusRow, vault_id)
            return None if row is None else VaultSyncStatus.from_row(row)

    def is_stale(self, vault_id: int) -> bool:
        status = self.get(vault_id)
        return status is not None and status.stale

    def _row(self, s: object, vault_id: int) -> VaultSyncStatusRow:
        row = s.get(VaultSyncStatusRow, vault_id)  # type: ignore[attr-defined]
        if row is None:
            row = VaultSyncStatusRow(vault_id=vault_id, stale=False, failures=0)
            s.add(row)  # type: ignore[attr-defined]
        return row

    def mark_stale(self, vault_id: int, reason: str, at: datetime) -> VaultSyncStatus:
        """The chain could not be read (or the read was stale): flag, keep the reason."""
        with self.db.write() as s:  # type: ignore[attr-defined]
            row = self._row(s, vault_id)
            if not row.stale:
                row.stale_since = at
            row.stale = True
            row.reason = reason[:300]
            row.failures = (row.failures or 0) + 1
            s.flush()
            return VaultSyncStatus.from_row(row)

    def mark_fresh(self, vault_id: int, slot: int, at: datetime) -> VaultSyncStatus:
        """A reconciliation succeeded at `slot`: clear the flag."""
        with self.db.write() as s:  # type: ignore[attr-defined]
            row = self._row(s, vault_id)
            row.stale = False
            row.reason = None
            row.stale_since = None
            row.failures = 0
            row.last_ok_at = at
            row.last_slot = slot
            s.flush()
            return VaultSyncStatus.from_row(row)


__all__ = ["SyncStatusStore", "VaultSyncStatus", "VaultSyncStatusRow"]
