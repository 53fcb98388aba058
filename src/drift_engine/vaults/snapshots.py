"""Vault snapshots: the equity / health / positions time series behind the charts.

A snapshot freezes what the ledger cannot know by itself — what open positions are worth
at a moment (`position_value`, `unrealized_pnl`) and the account's health — next to the
cash the ledger held then. The latest one completes a vault's derived equity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from drift_engine.core.types import DriftPosition, MarketType
from drift_engine.storage.database import Database
from drift_engine.storage.enums import SnapshotSource
from drift_engine.storage.models import VaultRow, VaultSnapshotRow
from drift_engine.vaults.booking import (
    Clock,
    VaultRef,
    balance_of,
    check_owner,
    find_vault,
    in_write_transaction,
    latest_snapshot_row,
    utc_now,
)
from drift_engine.vaults.errors import InvalidAmountError
from drift_engine.vaults.money import check_amount


@dataclass(frozen=True, slots=True)
class VaultSnapshot:
    """One point of a vault's time series. Amounts micro-USDC; health 0-100 or None."""

    id: int
    vault_id: int
    source: SnapshotSource
    taken_at: datetime
    slot: int | None
    cash: int
    position_value: int
    equity: int
    unrealized_pnl: int
    health: int | None
    positions: tuple[DriftPosition, ...]
    cumulative_perp_funding: int | None
    settled_perp_pnl: int | None

    @classmethod
    def from_row(cls, row: VaultSnapshotRow) -> VaultSnapshot:
        return cls(
            id=row.id,
            vault_id=row.vault_id,
            source=row.source,
            taken_at=row.taken_at,
            slot=row.slot,
            cash=row.cash,
            position_value=row.position_value,
            equity=row.equity,
            unrealized_pnl=row.unrealized_pnl,
            health=row.health,
            positions=tuple(position_from_json(p) for p in row.positions),
            cumulative_perp_funding=row.cumulative_perp_funding,
            settled_perp_pnl=row.settled_perp_pnl,
        )


def position_to_json(position: DriftPosition) -> dict[str, Any]:
    return {**asdict(position), "market_type": position.market_type.value}


def position_from_json(data: dict[str, Any]) -> DriftPosition:
    return DriftPosition(**{**data, "market_type": MarketType(data["market_type"])})


def insert_snapshot(
    session: Session,
    vault: VaultRow,
    *,
    source: SnapshotSource,
    taken_at: datetime,
    cash: int,
    position_value: int,
    unrealized_pnl: int,
    health: int | None,
    positions: Sequence[DriftPosition],
    slot: int | None = None,
    cumulative_perp_funding: int | None = None,
    settled_perp_pnl: int | None = None,
) -> VaultSnapshot:
    check_amount(position_value, field="position_value", allow_negative=True, allow_zero=True)
    check_amount(unrealized_pnl, field="unrealized_pnl", allow_negative=True, allow_zero=True)
    if health is not None and (isinstance(health, bool) or not 0 <= health <= 100):
        raise InvalidAmountError("health", f"must be an integer 0..100, got {health!r}")
    if taken_at.tzinfo is None:
        raise InvalidAmountError("taken_at", "must be timezone-aware")
    row = VaultSnapshotRow(
        vault_id=vault.id,
        source=source,
        taken_at=taken_at,
        slot=slot,
        cash=cash,
        position_value=position_value,
        equity=cash + position_value,
        unrealized_pnl=unrealized_pnl,
        health=health,
        positions=[position_to_json(p) for p in positions],
        cumulative_perp_funding=cumulative_perp_funding,
        settled_perp_pnl=settled_perp_pnl,
    )
    session.add(row)
    session.flush()
    return VaultSnapshot.from_row(row)


class Snapshots:
    """Records and reads vault snapshots. Engines record for their own vaults only."""

    def __init__(self, db: Database, *, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    def record(
        self,
        engine_id: str,
        vault: VaultRef,
        *,
        position_value: int,
        unrealized_pnl: int,
        health: int | None = None,
        positions: Sequence[DriftPosition] = (),
        taken_at: datetime | None = None,
    ) -> VaultSnapshot:
        """Record a point: cash = the ledger balance now, equity = cash + position_value."""
        return in_write_transaction(
            self._db,
            lambda session: self.record_in(
                session,
                engine_id,
                vault,
                position_value=position_value,
                unrealized_pnl=unrealized_pnl,
                health=health,
                positions=positions,
                taken_at=taken_at,
            ),
        )

    def record_in(
        self,
        session: Session,
        engine_id: str,
        vault: VaultRef,
        *,
        position_value: int,
        unrealized_pnl: int,
        health: int | None = None,
        positions: Sequence[DriftPosition] = (),
        taken_at: datetime | None = None,
    ) -> VaultSnapshot:
        """`record` inside the caller's transaction (a paper tick's commit): the cash is
        the ledger balance as that transaction sees it."""
        row = find_vault(session, vault, lock=True)
        check_owner(row, engine_id)
        return insert_snapshot(
            session,
            row,
            source=SnapshotSource.ENGINE,
            taken_at=taken_at or self._clock(),
            cash=balance_of(session, row.id),
            position_value=position_value,
            unrealized_pnl=unrealized_pnl,
            health=health,
            positions=positions,
        )

    def engine_taken_until(self, vault: VaultRef) -> int | None:
        """The time (unix s) of the vault's newest engine snapshot, None if none. A paper
        engine restored from an older checkpoint replays ticks whose snapshots the run
        a crash interrupted already committed (ADR-0020, session 5): those up to this
        time are not taken again."""
        from sqlalchemy import func

        with self._db.read() as session:
            vault_id = find_vault(session, vault).id
            newest = session.scalar(
                select(func.max(VaultSnapshotRow.taken_at)).where(
                    VaultSnapshotRow.vault_id == vault_id,
                    VaultSnapshotRow.source == SnapshotSource.ENGINE,
                )
            )
        return None if newest is None else int(newest.timestamp())  # MAX keeps UTCDateTime

    def latest(self, vault: VaultRef) -> VaultSnapshot | None:
        with self._db.read() as session:
            row = latest_snapshot_row(session, find_vault(session, vault).id)
            return VaultSnapshot.from_row(row) if row else None

    def series(
        self,
        vault: VaultRef,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[VaultSnapshot]:
        """Snapshots in time order (the newest `limit` of them, if given)."""
        with self._db.read() as session:
            vault_id = find_vault(session, vault).id
            query = select(VaultSnapshotRow).where(VaultSnapshotRow.vault_id == vault_id)
            if since is not None:
                query = query.where(VaultSnapshotRow.taken_at >= since)
            if until is not None:
                query = query.where(VaultSnapshotRow.taken_at <= until)
            query = query.order_by(VaultSnapshotRow.taken_at.desc(), VaultSnapshotRow.id.desc())
            if limit is not None:
                query = query.limit(limit)
            rows = list(session.scalars(query))
        return [VaultSnapshot.from_row(r) for r in reversed(rows)]
