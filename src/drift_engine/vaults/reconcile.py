"""Reconciliation of ON_CHAIN vaults: the chain is the truth, the ledger mirrors it.

Given what the heartbeat read from a Drift sub-account at one slot, book what the ledger
is missing as typed entries and record the snapshot, all in one transaction:

1. fills seen on chain and not yet booked -> FILL, keyed `fill:<fill id>` (the same key
   the engine uses when it books a fill it saw confirmed, so each fill books once);
2. the change of the account's `cumulative_perp_funding` counter since the previous
   reconciled snapshot -> FUNDING (the first snapshot is the baseline: funding earned
   before the vault was attached is not this vault's income);
3. whatever still separates the chain's cash from the ledger balance -> SYNC_ADJUSTMENT
   (on the first reconciliation: the opening balance, as DEPOSIT / WITHDRAW);
4. the snapshot itself, identified by its slot.

A snapshot at a slot already reconciled books nothing; an older one is ignored (stale).
Rules and reasons: docs/adr/0008-hybrid-engine-vaults.md.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from drift_engine.core.types import DriftPosition, MarketType
from drift_engine.storage.database import Database
from drift_engine.storage.enums import EntryKind, SnapshotSource, VaultStatus, VaultType
from drift_engine.storage.models import VaultSnapshotRow
from drift_engine.vaults.booking import (
    Clock,
    VaultRef,
    balance_of,
    find_vault,
    in_write_transaction,
    insert_entry,
    utc_now,
)
from drift_engine.vaults.entries import LedgerEntry, NewEntry, fill_key
from drift_engine.vaults.errors import InvalidAmountError, VaultStateError
from drift_engine.vaults.money import check_amount
from drift_engine.vaults.snapshots import VaultSnapshot, insert_snapshot

QUOTE_SPOT_MARKET_INDEX = 0  # USDC
QUOTE_DECIMALS = 6


@dataclass(frozen=True, slots=True)
class OnChainFill:
    """A fill of this sub-account found on chain. `amount`: realized cash effect before
    fees (realized PnL for perps, -cost / +proceeds for spot), `fee`: fee paid (<0 rebate)."""

    fill_id: str
    amount: int
    fee: int
    market_index: int | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OnChainSnapshot:
    """A Drift sub-account as read at `slot`. Quote amounts micro-USDC (QUOTE 1e6).

    `positions`: perp positions and spot balances (the USDC spot balance included).
    `cumulative_perp_funding`, `settled_perp_pnl`: the User account's counters
    (funding positive = received). `equity`: the account's net value (collateral at
    weight 1 plus unrealized PnL), `unrealized_pnl` and `health` as `core.margin`
    reports them. `fills`: fill records seen since (at least) the previous snapshot.
    """

    slot: int
    taken_at: datetime
    positions: tuple[DriftPosition, ...]
    cumulative_perp_funding: int
    settled_perp_pnl: int
    equity: int
    unrealized_pnl: int
    health: int | None = None
    fills: tuple[OnChainFill, ...] = field(default=())

    def __post_init__(self) -> None:
        if isinstance(self.slot, bool) or not isinstance(self.slot, int) or self.slot < 0:
            raise InvalidAmountError("slot", f"must be a non-negative integer, got {self.slot!r}")
        if self.taken_at.tzinfo is None:
            raise InvalidAmountError("taken_at", "must be timezone-aware")
        for name in ("cumulative_perp_funding", "settled_perp_pnl", "equity", "unrealized_pnl"):
            check_amount(getattr(self, name), field=name, allow_negative=True, allow_zero=True)
        for quote in self._quote_balances():
            if quote.decimals != QUOTE_DECIMALS:
                raise InvalidAmountError("positions", "the USDC spot balance must have 6 decimals")

    def _quote_balances(self) -> list[DriftPosition]:
        return [
            p
            for p in self.positions
            if p.market_type is MarketType.SPOT and p.market_index == QUOTE_SPOT_MARKET_INDEX
        ]

    @property
    def cash(self) -> int:
        """What the ledger balance mirrors: the USDC balance plus, per perp position, the
        quote already realized but not yet settled into USDC (`quote_asset_amount` minus
        `quote_entry_amount`: realized PnL, fees and settled funding since it opened)."""
        usdc = sum(p.base_asset_amount for p in self._quote_balances())
        unsettled = sum(
            p.quote_asset_amount - p.quote_entry_amount
            for p in self.positions
            if p.market_type is MarketType.PERP
        )
        return usdc + unsettled

    @property
    def position_value(self) -> int:
        """What open positions add to cash: equity - cash."""
        return self.equity - self.cash


class ReconcileOutcome(enum.StrEnum):
    RECONCILED = "reconciled"
    ALREADY_RECONCILED = "already_reconciled"  # this slot was reconciled before
    STALE = "stale"  # older than the latest reconciled slot


@dataclass(frozen=True, slots=True)
class ReconciliationResult:
    vault_id: int
    slot: int
    outcome: ReconcileOutcome
    booked: tuple[LedgerEntry, ...] = ()
    snapshot: VaultSnapshot | None = None


class Reconciler:
    """Books the difference between an ON_CHAIN vault's ledger and its chain state."""

    def __init__(self, db: Database, *, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    def reconcile(self, vault: VaultRef, snapshot: OnChainSnapshot) -> ReconciliationResult:
        return in_write_transaction(self._db, lambda session: self._run(session, vault, snapshot))

    def _run(
        self, session: Session, vault: VaultRef, snapshot: OnChainSnapshot
    ) -> ReconciliationResult:
        row = find_vault(session, vault, lock=True)
        if row.vault_type is not VaultType.ON_CHAIN:
            raise VaultStateError(f"vault {row.name!r} is VIRTUAL: there is no chain to reconcile")
        if row.status is VaultStatus.CLOSED:
            raise VaultStateError(f"vault {row.name!r} is closed")
        previous = _latest_chain_snapshot(session, row.id)
        if previous is not None and snapshot.slot <= previous.slot:
            outcome = (
                ReconcileOutcome.ALREADY_RECONCILED
                if snapshot.slot == previous.slot or _has_slot(session, row.id, snapshot.slot)
                else ReconcileOutcome.STALE
            )
            return ReconciliationResult(row.id, snapshot.slot, outcome)

        now = self._clock()
        booked: list[LedgerEntry] = []

        def book(new: NewEntry) -> None:
            entry, created = insert_entry(session, row, new, now, strict=False)
            if created:
                booked.append(entry)

        for fill in snapshot.fills:
            book(
                NewEntry(
                    kind=EntryKind.FILL,
                    amount=fill.amount,
                    fee=fill.fee,
                    key=fill_key(fill.fill_id),
                    market_index=fill.market_index,
                    occurred_at=fill.occurred_at or snapshot.taken_at,
                    memo="seen on chain",
                )
            )
        if previous is not None and previous.cumulative_perp_funding is not None:
            funding = snapshot.cumulative_perp_funding - previous.cumulative_perp_funding
            if funding:
                book(
                    NewEntry(
                        kind=EntryKind.FUNDING,
                        amount=funding,
                        key=f"funding-sync:{snapshot.slot}",
                        occurred_at=snapshot.taken_at,
                        memo=f"cumulative_perp_funding {previous.cumulative_perp_funding}"
                        f" -> {snapshot.cumulative_perp_funding}",
                    )
                )
        difference = snapshot.cash - balance_of(session, row.id)
        if difference:
            book(_difference_entry(difference, snapshot, opening=previous is None))

        recorded = insert_snapshot(
            session,
            row,
            source=SnapshotSource.CHAIN,
            taken_at=snapshot.taken_at,
            slot=snapshot.slot,
            cash=snapshot.cash,
            position_value=snapshot.position_value,
            unrealized_pnl=snapshot.unrealized_pnl,
            health=snapshot.health,
            positions=snapshot.positions,
            cumulative_perp_funding=snapshot.cumulative_perp_funding,
            settled_perp_pnl=snapshot.settled_perp_pnl,
        )
        return ReconciliationResult(
            row.id, snapshot.slot, ReconcileOutcome.RECONCILED, tuple(booked), recorded
        )


def _difference_entry(difference: int, snapshot: OnChainSnapshot, *, opening: bool) -> NewEntry:
    if opening:
        kind = EntryKind.DEPOSIT if difference > 0 else EntryKind.WITHDRAW
        return NewEntry(
            kind=kind,
            amount=difference,
            key=f"opening:{snapshot.slot}",
            occurred_at=snapshot.taken_at,
            memo="opening balance read from chain",
        )
    return NewEntry(
        kind=EntryKind.SYNC_ADJUSTMENT,
        amount=difference,
        key=f"sync:{snapshot.slot}",
        occurred_at=snapshot.taken_at,
        memo="chain cash minus ledger balance",
    )


def _latest_chain_snapshot(session: Session, vault_id: int) -> VaultSnapshotRow | None:
    return session.scalars(
        select(VaultSnapshotRow)
        .where(
            VaultSnapshotRow.vault_id == vault_id,
            VaultSnapshotRow.source == SnapshotSource.CHAIN,
        )
        .order_by(VaultSnapshotRow.slot.desc())
        .limit(1)
    ).one_or_none()


def _has_slot(session: Session, vault_id: int, slot: int) -> bool:
    return (
        session.scalars(
            select(VaultSnapshotRow.id).where(
                VaultSnapshotRow.vault_id == vault_id, VaultSnapshotRow.slot == slot
            )
        ).first()
        is not None
    )


__all__ = [
    "OnChainFill",
    "OnChainSnapshot",
    "ReconcileOutcome",
    "ReconciliationResult",
    "Reconciler",
]
