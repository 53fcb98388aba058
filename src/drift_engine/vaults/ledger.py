"""The ledger as engines use it: book trading events into their own vault, read it back.

Engines book only what trading produces — fills, funding, interest, liquidations.
Capital moves (deposits, withdrawals, transfers) go through `VaultRegistry`, which checks
balances and pairs transfers; SYNC_ADJUSTMENT is booked only by reconciliation. For
ON_CHAIN vaults funding and interest come from the chain's counters at reconciliation,
so engines may not book them there (it would count them twice).

Each booking is one transaction and is idempotent on its key: booking the same event
again returns the entry already booked.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from drift_engine.storage.database import Database
from drift_engine.storage.enums import EntryKind, VaultType
from drift_engine.storage.models import LedgerEntryRow, VaultRow
from drift_engine.vaults.booking import (
    Clock,
    VaultRef,
    balance_of,
    check_open,
    check_owner,
    entry_of_row,
    entry_row,
    find_vault,
    in_write_transaction,
    insert_entry,
    summarize,
    utc_now,
)
from drift_engine.vaults.entries import (
    LedgerEntry,
    NewEntry,
    fill_key,
    funding_key,
    interest_key,
)
from drift_engine.vaults.errors import IdempotencyConflictError, UnknownVaultError, VaultStateError
from drift_engine.vaults.vault import VaultSummary

ENGINE_KINDS = frozenset(
    {EntryKind.FILL, EntryKind.FUNDING, EntryKind.INTEREST, EntryKind.LIQUIDATION}
)
CHAIN_COUNTED_KINDS = frozenset({EntryKind.FUNDING, EntryKind.INTEREST})


class Ledger:
    """Engine-facing bookings and reads. `engine_id` must own the vault it books into."""

    def __init__(self, db: Database, *, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    # ------------------------------------------------------------------ booking

    def book(self, engine_id: str, vault: VaultRef, entry: NewEntry) -> LedgerEntry:
        """Book one trading event (idempotent on `entry.key`)."""
        return self.book_many(engine_id, vault, [entry])[0]

    def book_many(
        self, engine_id: str, vault: VaultRef, entries: Sequence[NewEntry]
    ) -> list[LedgerEntry]:
        """Book several events in one transaction: all of them or none."""
        _check_engine_kinds(entries)
        return in_write_transaction(
            self._db, lambda session: self.book_in(session, engine_id, vault, entries)
        )

    def book_in(
        self, session: Session, engine_id: str, vault: VaultRef, entries: Sequence[NewEntry]
    ) -> list[LedgerEntry]:
        """`book_many` inside the caller's transaction (a paper tick's commit)."""
        row = _vault_row(session, vault)
        check_engine_booking(row, engine_id, entries)
        now = self._clock()
        if len(entries) > 1:
            return insert_entries(session, row, entries, now)
        return [insert_entry(session, row, entry, now)[0] for entry in entries]

    def book_fill(
        self,
        engine_id: str,
        vault: VaultRef,
        *,
        fill_id: str,
        amount: int,
        fee: int,
        market_index: int | None = None,
        occurred_at: datetime | None = None,
        memo: str | None = None,
    ) -> LedgerEntry:
        """A fill: `amount` is its realized cash effect before fees, `fee` what it cost."""
        return self.book(
            engine_id,
            vault,
            NewEntry(
                kind=EntryKind.FILL,
                amount=amount,
                fee=fee,
                key=fill_key(fill_id),
                market_index=market_index,
                occurred_at=occurred_at,
                memo=memo,
            ),
        )

    def book_funding(
        self,
        engine_id: str,
        vault: VaultRef,
        *,
        market_index: int,
        funding_ts: int,
        amount: int,
        occurred_at: datetime | None = None,
    ) -> LedgerEntry:
        """A perp funding payment (positive: received) of one market at one funding time."""
        return self.book(
            engine_id,
            vault,
            NewEntry(
                kind=EntryKind.FUNDING,
                amount=amount,
                key=funding_key(market_index, funding_ts),
                market_index=market_index,
                occurred_at=occurred_at,
            ),
        )

    def book_interest(
        self,
        engine_id: str,
        vault: VaultRef,
        *,
        spot_market_index: int,
        interest_ts: int,
        amount: int,
        occurred_at: datetime | None = None,
    ) -> LedgerEntry:
        """Spot interest (positive: earned on deposits; negative: paid on borrows)."""
        return self.book(
            engine_id,
            vault,
            NewEntry(
                kind=EntryKind.INTEREST,
                amount=amount,
                key=interest_key(spot_market_index, interest_ts),
                market_index=spot_market_index,
                occurred_at=occurred_at,
            ),
        )

    def book_liquidation(
        self,
        engine_id: str,
        vault: VaultRef,
        *,
        liquidation_id: str,
        amount: int,
        fee: int = 0,
        market_index: int | None = None,
        occurred_at: datetime | None = None,
    ) -> LedgerEntry:
        """A liquidation's cash effect (`fee`: the liquidator and insurance fund fees)."""
        return self.book(
            engine_id,
            vault,
            NewEntry(
                kind=EntryKind.LIQUIDATION,
                amount=amount,
                fee=fee,
                key=f"liquidation:{liquidation_id}",
                market_index=market_index,
                occurred_at=occurred_at,
            ),
        )

    # ------------------------------------------------------------------ reading

    def entries(
        self, vault: VaultRef, *, limit: int | None = None, newest_first: bool = False
    ) -> list[LedgerEntry]:
        with self._db.read() as session:
            vault_id = find_vault(session, vault).id
            order = LedgerEntryRow.id.desc() if newest_first else LedgerEntryRow.id
            query = select(LedgerEntryRow).where(LedgerEntryRow.vault_id == vault_id)
            query = query.order_by(order).limit(limit)
            return [LedgerEntry.from_row(row) for row in session.scalars(query)]

    def entry(self, vault: VaultRef, key: str) -> LedgerEntry | None:
        """The entry booked under `key`, if any."""
        with self._db.read() as session:
            vault_id = find_vault(session, vault).id
            row = session.scalars(
                select(LedgerEntryRow).where(
                    LedgerEntryRow.vault_id == vault_id, LedgerEntryRow.idempotency_key == key
                )
            ).one_or_none()
            return LedgerEntry.from_row(row) if row else None

    def balance(self, vault: VaultRef) -> int:
        """Sum of (amount - fee) over the vault's entries, micro-USDC."""
        with self._db.read() as session:
            return balance_of(session, find_vault(session, vault).id)

    def summary(self, vault: VaultRef) -> VaultSummary:
        with self._db.read() as session:
            return summarize(session, find_vault(session, vault))


# the statements of a booking, built once (a statement object costs more to build than
# SQLite takes to run it; the keys are an expanding parameter)
_VAULTS = VaultRow.__table__
_VAULT_BY_ID = select(_VAULTS).where(_VAULTS.c.id == bindparam("ref")).with_for_update()
_VAULT_BY_NAME = select(_VAULTS).where(_VAULTS.c.name == bindparam("ref")).with_for_update()
_ENTRIES = LedgerEntryRow.__table__
_IN_VAULT = (_ENTRIES.c.vault_id == bindparam("vault")) & _ENTRIES.c.idempotency_key.in_(
    bindparam("keys", expanding=True)
)
_BOOKED = select(_ENTRIES).where(_IN_VAULT)
_IDS = select(_ENTRIES.c.idempotency_key, _ENTRIES.c.id).where(_IN_VAULT)
_INSERT = insert(_ENTRIES)


def _vault_row(session: Session, ref: VaultRef) -> Any:
    """`booking.find_vault(lock=True)` as a Core row (the columns, no ORM object: a
    paper tick or a backtest day books through here)."""
    session.flush()  # as the ORM query's autoflush
    query = _VAULT_BY_ID if isinstance(ref, int) else _VAULT_BY_NAME
    row = session.execute(query, {"ref": ref}).one_or_none()
    if row is None:
        raise UnknownVaultError(ref)
    return row


def insert_entries(
    session: Session, vault: Any, entries: Sequence[NewEntry], now: datetime
) -> list[LedgerEntry]:
    """`booking.insert_entry` (strict) for many entries, in Core: one read of the keys
    already booked (rows, no ORM objects), the new rows in one executemany INSERT, their
    ids read back in one SELECT (SQLite runs an INSERT .. RETURNING that must keep the
    parameters' order as one statement per row). A day of a backtest's bookings is
    three statements; the rows, keys and ids (in booking order) are what
    `insert_entry` one by one would write."""
    keys = [e.key for e in entries]
    booked: dict[str, LedgerEntry] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        for existing in session.execute(_BOOKED, {"vault": vault.id, "keys": chunk}):
            booked[existing.idempotency_key] = LedgerEntry.from_row(existing)
    out: list[LedgerEntry | dict] = []
    rows: list[dict] = []
    fresh: dict[str, tuple[NewEntry, dict]] = {}
    for new in entries:
        entry = booked.get(new.key)
        if entry is None and new.key in fresh:
            first, row = fresh[new.key]
            if (first.kind, first.amount, first.fee) != (new.kind, new.amount, new.fee):
                raise IdempotencyConflictError(vault.name, new.key, "twice in one batch")
            out.append(row)
            continue
        if entry is not None:
            entry.check_replay(vault.name, new)
            out.append(entry)
            continue
        row = entry_row(vault.id, new, now)
        fresh[new.key] = (new, row)
        rows.append(row)
        out.append(row)
    if rows:
        session.flush()  # the session's pending ORM writes go first, as with an ORM insert
        session.execute(_INSERT, rows)
        new_keys = list(fresh)
        for start in range(0, len(new_keys), 500):
            chunk = new_keys[start : start + 500]
            for key, id_ in session.execute(_IDS, {"vault": vault.id, "keys": chunk}):
                fresh[key][1]["id"] = id_
    return [entry_of_row(e) if isinstance(e, dict) else e for e in out]


def check_engine_booking(row: Any, engine_id: str, entries: Sequence[NewEntry]) -> None:
    """What an engine's booking into vault `row` must pass (`book_in` and the bulk tick
    writes): kinds an engine books, its own vault, open and not frozen, and on an ON_CHAIN
    vault none of the kinds reconciliation books from the chain's counters."""
    _check_engine_kinds(entries)
    check_owner(row, engine_id)
    check_open(row, allow_frozen=False)
    if row.vault_type is VaultType.ON_CHAIN:
        for entry in entries:
            if entry.kind in CHAIN_COUNTED_KINDS:
                raise VaultStateError(
                    f"vault {row.name!r} is ON_CHAIN: {entry.kind.value} is booked "
                    "from the chain's counters by reconciliation"
                )


def _check_engine_kinds(entries: Sequence[NewEntry]) -> None:
    for entry in entries:
        if entry.kind not in ENGINE_KINDS:
            raise VaultStateError(
                f"{entry.kind.value} entries are not booked by engines "
                "(capital moves go through VaultRegistry, adjustments through reconcile)"
            )
