"""A flush's vault balances from kept marks (`vaults.bulk.BalanceMarks`, SQLite): the
balance at the mark plus the entries above it equals the SUM over the whole ledger,
whatever was booked in between by other writers (the ORM path, other vaults), and after
a flush whose transaction rolled back (its mark describes committed entries only).

Two databases get the same random sequence of bookings, bulk flushes (bookings and
snapshots, whose cash is the balance) and failed flushes; one flushes with marks, the
other sums the whole ledger each time: every row must be the same."""

from __future__ import annotations

import contextlib
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from drift_engine.storage import Database
from drift_engine.storage.models import LedgerEntryRow, VaultSnapshotRow
from drift_engine.storage.testing import throwaway_database_url
from drift_engine.vaults import EntryKind, NewEntry, VaultRegistry
from drift_engine.vaults.booking import in_write_transaction
from drift_engine.vaults.bulk import BalanceMarks, TickVaultWrites

NOW = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
ENGINES = ("e0", "e1")


class _Failed(Exception):
    pass


def _rows(db: Database) -> tuple[list, list]:
    with db.read() as s:
        entries = [
            (r.id, r.vault_id, r.kind, r.amount, r.fee, r.idempotency_key)
            for r in s.scalars(select(LedgerEntryRow).order_by(LedgerEntryRow.id))
        ]
        snaps = [
            (r.id, r.vault_id, r.cash, r.equity)
            for r in s.scalars(select(VaultSnapshotRow).order_by(VaultSnapshotRow.id))
        ]
    return entries, snaps


def _flush(db: Database, marks: BalanceMarks | None, ops: list, fail: bool) -> None:
    def work(s: Any) -> None:
        writes = TickVaultWrites(marks)
        for kind, engine_id, body in ops:
            if kind == "book":
                writes.book(engine_id, f"{engine_id}-vault", body, NOW)
            else:
                writes.snapshot(engine_id, f"{engine_id}-vault", body, NOW)
        writes.flush(s)
        if fail:
            raise _Failed

    with contextlib.suppress(_Failed):
        in_write_transaction(db, work)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_balances_from_marks_equal_the_whole_ledger_sum(tmp_path: Path, seed: int) -> None:
    rnd = random.Random(seed)
    dbs = []
    for name in ("marks", "sum"):
        (tmp_path / name).mkdir()
        ctx = throwaway_database_url("sqlite", tmp_path / name)
        dbs.append((ctx, Database.open(ctx.__enter__())))
    try:
        registries = [VaultRegistry(db, clock=lambda: NOW) for _, db in dbs]
        for registry in registries:
            for e in ENGINES:
                registry.create_funded_vault(f"{e}-vault", e, 10_000_000_000)
        marks = BalanceMarks()
        n = 0
        for _ in range(40):
            step = rnd.choice(["other", "flush", "flush", "failed"])
            engine = rnd.choice(ENGINES)
            if step == "other":  # another writer books through the ORM path
                amount, fee = rnd.randint(-500, 500) or 1, rnd.randint(0, 9)
                for registry in registries:
                    registry.ledger.book_fill(
                        engine, f"{engine}-vault", fill_id=f"o{n}", amount=amount, fee=fee
                    )
                n += 1
                continue
            ops: list = []
            for _ in range(rnd.randint(0, 4)):
                if rnd.random() < 0.6:
                    amount = rnd.randint(-1_000, 1_000) or 7
                    entry = NewEntry(
                        kind=EntryKind.FUNDING, amount=amount, key=f"f{n}", occurred_at=NOW
                    )
                    ops.append(("book", rnd.choice(ENGINES), [entry]))
                    n += 1
                else:
                    point = {"position_value": 10, "unrealized_pnl": 0, "health": 50}
                    ops.append(("snapshot", rnd.choice(ENGINES), point))
            _flush(dbs[0][1], marks, ops, step == "failed")
            _flush(dbs[1][1], None, ops, step == "failed")
        with_marks, summed = _rows(dbs[0][1]), _rows(dbs[1][1])
        assert with_marks == summed
        assert len(summed[1]) > 10  # snapshots (their cash is the balance) were written
        assert marks.marks  # and the marks were used
    finally:
        for ctx, db in dbs:
            db.dispose()
            ctx.__exit__(None, None, None)


def test_the_snapshot_driver_columns_are_the_tables() -> None:
    from drift_engine.vaults.bulk import SNAPSHOT_COLUMNS

    names = tuple(c.name for c in VaultSnapshotRow.__table__.columns if c.name != "id")
    assert names == SNAPSHOT_COLUMNS
