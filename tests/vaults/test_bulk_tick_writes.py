"""A paper tick's writes in bulk (`WriteBatch.run`'s Core path, `vaults.bulk`) write the
same rows as the ORM path, one write after another: ledger entries (ids, keys, amounts,
times), vault snapshots (cash as the ledger stood at the snapshot's place), engine
events, heartbeat rows; and refuse what the ORM path refuses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from drift_engine.core.types import DriftPosition, MarketType
from drift_engine.engine.ledger import VaultLedgerSink
from drift_engine.engine.paper import VaultSnapshotter
from drift_engine.engine.ports import Posting
from drift_engine.engine.store import SqlEngineStore, WriteBatch
from drift_engine.storage import Database
from drift_engine.storage.models import (
    EngineEventRow,
    HeartbeatRow,
    LedgerEntryRow,
    VaultSnapshotRow,
)
from drift_engine.storage.testing import throwaway_database_url
from drift_engine.vaults import (
    EntryKind,
    IdempotencyConflictError,
    NewEntry,
    VaultIsolationError,
    VaultRegistry,
    VaultStateError,
    VaultStatus,
)
from drift_engine.vaults.booking import in_write_transaction
from drift_engine.vaults.bulk import TickVaultWrites

NOW = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
T = 1_767_225_600
ENGINES = ("e0", "e1", "e2")


@pytest.fixture
def two_dbs(database_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator:
    """Two empty databases of the fixture's backend, each with three funded vaults."""
    backend = request.node.callspec.params["database_url"]
    (tmp_path / "b").mkdir()
    with throwaway_database_url(backend, tmp_path / "b") as other:
        dbs = [Database.open(database_url), Database.open(other)]
        try:
            for db in dbs:
                registry = VaultRegistry(db, clock=lambda: NOW)
                for e in ENGINES:
                    registry.create_funded_vault(f"{e}-vault", e, 10_000_000_000)
                registry.ledger.book_fill("e2", "e2-vault", fill_id="old", amount=5, fee=1)
            yield dbs
        finally:
            for db in dbs:
                db.dispose()


def _posting(key: str, amount: int, fee: int = 0, kind: str = "fill", ts: int = T) -> Posting:
    return Posting(kind=kind, amount=amount, idempotency_key=key, ts=ts, fee=fee, market_index=0)


class _Venue:
    def __init__(self, equity: int) -> None:
        self._equity = equity

    def equity(self) -> int:
        return self._equity

    def margin(self, ts: int) -> Any:
        return SimpleNamespace(unrealized_pnl=-7_000, health=93)

    def positions(self) -> tuple:
        return (
            DriftPosition(0, MarketType.PERP, -2_000_000_000, 200_000_000, symbol="SOL-PERP"),
            DriftPosition(1, MarketType.SPOT, 2_000_000_000, decimals=9, symbol="SOL"),
        )


def _tick_writes(db: Database, *, force_orm: bool) -> WriteBatch:
    """A busy tick as a paper stack holds it: bookings of three engines (one a replay of
    an entry booked before, one booked in two writes with a snapshot between), vault
    snapshots, engine events and records, a heartbeat row."""
    registry = VaultRegistry(db, clock=lambda: NOW)
    store = SqlEngineStore(db)
    batch = WriteBatch()
    store.batch = batch
    snapper = VaultSnapshotter(registry, batch=batch)
    sinks = {}
    for e in ENGINES:
        sink = VaultLedgerSink(registry.ledger, e, f"{e}-vault")
        sink.batch = batch
        sink.load()
        sinks[e] = sink
    sinks["e0"].book(_posting("f1", 12_000_000, 9_000))
    sinks["e0"].book(_posting("f2", -3_000_000, 4_000))
    store.log("e0", T, "order", "placed 2", {"n": 2})
    snapper.snapshot(_engine("e0", sinks["e0"], 10_000_500_000), T)
    sinks["e0"].book(_posting("f3", 1_000_000, 100))  # after e0's snapshot: not in its cash
    sinks["e1"].book(_posting("", 2_500, kind="funding", ts=T + 3600))
    snapper.snapshot(_engine("e1", sinks["e1"], 10_000_002_500), T)
    sinks["e2"]._keys.discard("fill:old")  # the sink forgot: the ledger still knows it
    sinks["e2"].book(_posting("old", 5, 1))  # a replay: booked once
    sinks["e2"].book(_posting("new", -20, 3))
    snapper.snapshot(_engine("e2", sinks["e2"], 9_999_999_000), T)
    store.record_heartbeat(T, 1.5, 3, 3, [], market_state={"SOL-PERP": {"oracle": 1}})
    if force_orm:
        batch.add(lambda s: None)  # a write with no bulk form: the ORM path, one by one
    return batch


def _engine(engine_id: str, sink: VaultLedgerSink, equity: int) -> Any:
    return SimpleNamespace(engine_id=engine_id, ledger=sink, venue=_Venue(equity))


def _rows(db: Database) -> dict[str, list[tuple]]:
    out = {}
    with db.read() as s:
        for model in (LedgerEntryRow, VaultSnapshotRow, EngineEventRow, HeartbeatRow):
            cols = [c for c in model.__table__.columns if c.name != "recorded_at"]
            out[model.__tablename__] = [
                tuple(r) for r in s.execute(select(*cols).order_by(model.__table__.c.id))
            ]
    return out


def test_bulk_tick_writes_equal_the_orm_path(two_dbs) -> None:
    orm_db, bulk_db = two_dbs
    for db, force in ((orm_db, True), (bulk_db, False)):
        batch = _tick_writes(db, force_orm=force)
        in_write_transaction(db, batch.run)
    orm, bulk = _rows(orm_db), _rows(bulk_db)
    assert bulk == orm
    # what the comparison covers: the replay booked once, e0's snapshot before f3
    keys = [r[5] for r in bulk["ledger_entries"]]
    assert keys.count("fill:old") == 1 and "fill:f3" in keys and "fill:new" in keys
    assert len(bulk["vault_snapshots"]) == 3 and len(bulk["engine_events"]) == 1
    assert all(len(row[10]) == 2 for row in bulk["vault_snapshots"])  # positions


def _sequential(db: Database, ops: list[tuple]) -> None:
    registry = VaultRegistry(db, clock=lambda: NOW)

    def work(s: Any) -> None:
        for kind, engine_id, vault, body in ops:
            if kind == "book":
                registry.ledger.book_in(s, engine_id, vault, body)
            else:
                registry.snapshots.record_in(s, engine_id, vault, **body)

    in_write_transaction(db, work)


def _bulk(db: Database, ops: list[tuple]) -> None:
    def work(s: Any) -> None:
        writes = TickVaultWrites()
        for kind, engine_id, vault, body in ops:
            if kind == "book":
                writes.book(engine_id, vault, body, NOW)
            else:
                writes.snapshot(engine_id, vault, body, NOW)
        writes.flush(s)

    in_write_transaction(db, work)


def _fill(key: str, amount: int, fee: int = 0) -> NewEntry:
    return NewEntry(kind=EntryKind.FILL, amount=amount, fee=fee, key=key, occurred_at=NOW)


POINT = {"position_value": 1_000, "unrealized_pnl": -5, "health": 80, "taken_at": NOW}


@pytest.mark.parametrize(
    ("ops", "error"),
    [
        # a key booked before for a different event
        ([("book", "e2", "e2-vault", [_fill("fill:old", 6, 1)])], IdempotencyConflictError),
        # the same key twice in one tick, different events
        (
            [
                ("book", "e0", "e0-vault", [_fill("fill:x", 1)]),
                ("book", "e0", "e0-vault", [_fill("fill:x", 2)]),
            ],
            IdempotencyConflictError,
        ),
        # another engine's vault, for a booking and for a snapshot
        ([("book", "e1", "e0-vault", [_fill("fill:y", 1)])], VaultIsolationError),
        ([("snapshot", "e1", "e0-vault", POINT)], VaultIsolationError),
        # what engines may not book
        (
            [("book", "e0", "e0-vault", [NewEntry(kind=EntryKind.DEPOSIT, amount=5, key="d")])],
            VaultStateError,
        ),
    ],
)
def test_bulk_refuses_what_the_orm_path_refuses(two_dbs, ops, error) -> None:
    orm_db, bulk_db = two_dbs
    with pytest.raises(error):
        _sequential(orm_db, ops)
    with pytest.raises(error):
        _bulk(bulk_db, ops)
    assert _rows(orm_db) == _rows(bulk_db)  # nothing written by either


def test_bulk_refuses_a_frozen_vault_and_books_a_replay_once(two_dbs) -> None:
    orm_db, bulk_db = two_dbs
    for db in two_dbs:
        VaultRegistry(db, clock=lambda: NOW).set_status("e1-vault", VaultStatus.FROZEN)
    ops = [("book", "e1", "e1-vault", [_fill("fill:z", 1)])]
    with pytest.raises(VaultStateError):
        _sequential(orm_db, ops)
    with pytest.raises(VaultStateError):
        _bulk(bulk_db, ops)
    ops = [
        ("book", "e2", "e2-vault", [_fill("fill:old", 5, 1), _fill("fill:a", 9)]),
        ("snapshot", "e2", "e2-vault", POINT),
        ("book", "e2", "e2-vault", [_fill("fill:a", 9)]),
        # a vault named by id (the same in both databases)
        ("book", "e0", VaultRegistry(orm_db).get("e0-vault").id, [_fill("fill:b", 4, 2)]),
    ]
    _sequential(orm_db, ops)
    _bulk(bulk_db, ops)
    assert _rows(orm_db) == _rows(bulk_db)
