"""`bulk.compile_statements` compiles a tick flush's statements before the first tick
that books (a paper stack's `heartbeat()` calls it): that flush then compiles nothing,
and writes what it writes without it (ADR-0020, s8-entry)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.sql import compiler

from drift_engine.storage import Database
from drift_engine.storage.models import LedgerEntryRow
from drift_engine.vaults import EntryKind, NewEntry, VaultRegistry, bulk
from drift_engine.vaults.booking import in_write_transaction
from drift_engine.vaults.bulk import TickVaultWrites, compile_statements

NOW = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)


def _flush_counting_compiles(db: Database, monkeypatch: pytest.MonkeyPatch) -> int:
    compiled: list[str] = []
    init = compiler.SQLCompiler.__init__

    def counting(self, dialect, statement, *a, **kw):  # type: ignore[no-untyped-def]
        compiled.append(type(statement).__name__)
        init(self, dialect, statement, *a, **kw)

    writes = TickVaultWrites()
    entry = NewEntry(EntryKind.FILL, -3, "fill-1", fee=1, occurred_at=NOW)
    writes.book("e0", "e0-vault", [entry], NOW)
    with monkeypatch.context() as m:
        m.setattr(compiler.SQLCompiler, "__init__", counting)
        in_write_transaction(db, writes.flush)
    return len(compiled)


@pytest.mark.parametrize("lock_driver", [True, False])
@pytest.mark.parametrize("ahead", [True, False])
def test_a_flush_after_compile_statements_compiles_nothing(
    database_url: str, monkeypatch: pytest.MonkeyPatch, ahead: bool, lock_driver: bool
) -> None:
    monkeypatch.setattr(bulk, "LOCK_DRIVER", lock_driver)
    db = Database.open(database_url)
    try:
        VaultRegistry(db, clock=lambda: NOW).create_funded_vault("e0-vault", "e0", 1_000_000)
        if ahead:
            with db.read() as session:
                compile_statements(session)
        compiles = _flush_counting_compiles(db, monkeypatch)
        # without it the vault lock compiles in the flush, and the booked-key read
        # where it runs (on SQLite `bulk.BOOKED_PROBE` asks in driver SQL first: no key
        # is booked here, so the entries are not read); on SQLite with
        # `bulk.LOCK_DRIVER` the lock is driver SQL too: nothing is compiled either way
        driver_only = lock_driver and db.engine.dialect.name == "sqlite"
        assert (compiles == 0) if ahead or driver_only else (compiles >= 1)
        with db.read() as session:
            keys = session.scalars(select(LedgerEntryRow.idempotency_key)).all()
        assert keys.count("fill-1") == 1
    finally:
        db.dispose()
