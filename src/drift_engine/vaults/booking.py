"""Session-level building blocks shared by the ledger, the registry and reconciliation.

Every public booking runs `in_write_transaction`, which gives these rules:
- the vaults touched are locked first, in id order (PostgreSQL: SELECT ... FOR UPDATE;
  SQLite: the BEGIN IMMEDIATE write lock already serializes writers), so balance checks
  and "is this key booked?" checks cannot race another process;
- an idempotency key already booked returns the existing entry instead of a new row;
- if a concurrent writer still slips a duplicate past the check, the unique constraint
  raises IntegrityError, the whole transaction rolls back, and it is retried — the retry
  then finds the existing entry. Nothing is ever half-booked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from drift_engine.storage.database import Database
from drift_engine.storage.enums import EntryKind, VaultStatus
from drift_engine.storage.models import LedgerEntryRow, VaultRow, VaultSnapshotRow
from drift_engine.vaults.entries import CAPITAL_KINDS, LedgerEntry, NewEntry
from drift_engine.vaults.errors import (
    UnknownVaultError,
    VaultIsolationError,
    VaultStateError,
)
from drift_engine.vaults.vault import EngineVault, VaultSummary

T = TypeVar("T")
Clock = Callable[[], datetime]
VaultRef = int | str  # a vault id, or its name

INTEGRITY_RETRIES = 3


def utc_now() -> datetime:
    return datetime.now(UTC)


def in_write_transaction(db: Database, work: Callable[[Session], T]) -> T:
    """Run `work` in one write transaction; retry it when a unique constraint fired."""
    for attempt in range(INTEGRITY_RETRIES):
        try:
            with db.write() as session:
                return work(session)
        except IntegrityError:
            if attempt == INTEGRITY_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def find_vault(session: Session, ref: VaultRef, *, lock: bool = False) -> VaultRow:
    column = VaultRow.id if isinstance(ref, int) else VaultRow.name
    query = select(VaultRow).where(column == ref)
    if lock:
        query = query.with_for_update()
    row = session.scalars(query).one_or_none()
    if row is None:
        raise UnknownVaultError(ref)
    return row


def lock_vaults(session: Session, refs: Iterable[VaultRef]) -> list[VaultRow]:
    """Lock vault rows in id order (a fixed order: two transfers cannot deadlock)."""
    rows = [find_vault(session, ref) for ref in refs]
    locked = {
        row.id: find_vault(session, row.id, lock=True) for row in sorted(rows, key=lambda r: r.id)
    }
    return [locked[row.id] for row in rows]


def check_owner(vault: VaultRow, engine_id: str) -> None:
    if vault.engine_id != engine_id:
        raise VaultIsolationError(engine_id, vault.name, vault.engine_id)


def check_open(vault: VaultRow, *, allow_frozen: bool) -> None:
    if vault.status is VaultStatus.CLOSED or (
        vault.status is VaultStatus.FROZEN and not allow_frozen
    ):
        raise VaultStateError(f"vault {vault.name!r} is {vault.status.value}")


def find_entry(session: Session, vault_id: int, key: str) -> LedgerEntryRow | None:
    return session.scalars(
        select(LedgerEntryRow).where(
            LedgerEntryRow.vault_id == vault_id, LedgerEntryRow.idempotency_key == key
        )
    ).one_or_none()


def insert_entry(
    session: Session, vault: VaultRow, new: NewEntry, now: datetime, *, strict: bool = True
) -> tuple[LedgerEntry, bool]:
    """Book `new` into `vault` unless its key is booked; returns (entry, created).

    With `strict`, a key booked for a *different* event raises IdempotencyConflictError;
    without it (reconciliation) the existing entry simply stands.
    """
    existing = find_entry(session, vault.id, new.key)
    if existing is not None:
        entry = LedgerEntry.from_row(existing)
        if strict:
            entry.check_replay(vault.name, new)
        return entry, False
    row = LedgerEntryRow(**entry_row(vault.id, new, now))
    session.add(row)
    session.flush()
    return LedgerEntry.from_row(row), True


#: the ledger row's columns in `entry_values`' order (the bulk insert's parameters)
ENTRY_COLUMNS = (
    "vault_id",
    "kind",
    "amount",
    "fee",
    "idempotency_key",
    "counterparty_vault_id",
    "market_index",
    "memo",
    "occurred_at",
    "booked_at",
)


def entry_values(vault_id: int, new: NewEntry, now: datetime) -> tuple:
    """The ledger row `insert_entry` writes for `new`, as values in `ENTRY_COLUMNS`
    order (the tuple form `bulk.TickVaultWrites` sends to the driver)."""
    return (
        vault_id,
        new.kind,
        new.amount,
        new.fee,
        new.key,
        new.counterparty_vault_id,
        new.market_index,
        new.memo,
        new.occurred_at or now,
        now,
    )


def entry_row(vault_id: int, new: NewEntry, now: datetime) -> dict:
    """`entry_values` as a dict for Core's executemany and the ORM (the bulk paths:
    `ledger.insert_entries`, `bulk.TickVaultWrites`' reference mode)."""
    return dict(zip(ENTRY_COLUMNS, entry_values(vault_id, new, now), strict=True))


def entry_of_row(row: dict) -> LedgerEntry:
    """The `LedgerEntry` of an `entry_row` dict once its "id" is known."""
    return LedgerEntry(
        id=row["id"],
        vault_id=row["vault_id"],
        kind=EntryKind(row["kind"]),
        amount=row["amount"],
        fee=row["fee"],
        key=row["idempotency_key"],
        counterparty_vault_id=row["counterparty_vault_id"],
        market_index=row["market_index"],
        memo=row["memo"],
        occurred_at=row["occurred_at"],
        booked_at=row["booked_at"],
    )


def balance_of(session: Session, vault_id: int) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntryRow.amount - LedgerEntryRow.fee), 0)).where(
            LedgerEntryRow.vault_id == vault_id
        )
    )
    return int(total)  # PostgreSQL sums BIGINT as NUMERIC (Decimal): exact, made int here


def latest_snapshot_row(session: Session, vault_id: int) -> VaultSnapshotRow | None:
    return session.scalars(
        select(VaultSnapshotRow)
        .where(VaultSnapshotRow.vault_id == vault_id)
        .order_by(VaultSnapshotRow.taken_at.desc(), VaultSnapshotRow.id.desc())
        .limit(1)
    ).one_or_none()


def summarize(session: Session, vault: VaultRow) -> VaultSummary:
    rows = session.execute(
        select(
            LedgerEntryRow.kind,
            func.sum(LedgerEntryRow.amount),
            func.sum(LedgerEntryRow.fee),
            func.count(),
        )
        .where(LedgerEntryRow.vault_id == vault.id)
        .group_by(LedgerEntryRow.kind)
    ).all()
    amounts = {kind: int(amount) for kind, amount, _fee, _n in rows}
    fees = sum(int(fee) for _kind, _amount, fee, _n in rows)
    count = sum(int(n) for *_rest, n in rows)
    snapshot = latest_snapshot_row(session, vault.id)
    return VaultSummary(
        vault=EngineVault.from_row(vault),
        balance=sum(amounts.values()) - fees,
        net_deposits=sum(amounts.get(kind, 0) for kind in CAPITAL_KINDS),
        position_value=snapshot.position_value if snapshot else 0,
        unrealized_pnl=snapshot.unrealized_pnl if snapshot else 0,
        funding_earned=amounts.get(EntryKind.FUNDING, 0),
        interest_earned=amounts.get(EntryKind.INTEREST, 0),
        fees_paid=fees,
        sync_adjustments=amounts.get(EntryKind.SYNC_ADJUSTMENT, 0),
        entry_count=count,
        health=snapshot.health if snapshot else None,
        snapshot_at=snapshot.taken_at if snapshot else None,
    )
