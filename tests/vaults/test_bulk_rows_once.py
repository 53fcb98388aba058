"""A flush's ledger entries read into the insert's columns a booking at a time
(`vaults.bulk.ROWS_ONCE`, `TickVaultWrites._flush_fresh`) against the reference, the
entry-by-entry loop (`entry_values`, a replay look-up per key) and `DriverInsert.run`:
Hypothesis draws batches of bookings (entries held as `NewEntry` or `EntryRow`, kinds
an engine may and may not book, keys fresh, repeated in the batch or booked before,
occurred times shared, equal but not the same object, in another zone or missing) and
vault snapshots between them, for the engines' own vaults and another's. Both ways
write the same rows (every column as the driver reads it back) or refuse with the same
error. The whole-backtest comparison is in tests/backtest/test_rows_once.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from drift_engine.core.types import DriftPosition, MarketType
from drift_engine.storage import Database
from drift_engine.storage.testing import throwaway_database_url
from drift_engine.vaults import EntryKind, NewEntry, VaultRegistry, bulk
from drift_engine.vaults.entries import EntryRow

NOW = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
ENGINES = ("e0", "e1")
#: one datetime object per hour, shared by the entries that draw it (a sink's hour)
HOURS = [datetime(2026, 1, 1, h, tzinfo=UTC) for h in range(3)]
KINDS = [EntryKind.FUNDING, EntryKind.INTEREST, EntryKind.FILL, EntryKind.DEPOSIT]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A database with two funded vaults, one entry booked before any batch."""
    where: Path = tmp_path_factory.mktemp("rows-once")
    with throwaway_database_url("sqlite", where) as url:
        database = Database.open(url)
        registry = VaultRegistry(database, clock=lambda: NOW)
        for e in ENGINES:
            registry.create_funded_vault(f"{e}-vault", e, 10_000_000_000)
        registry.ledger.book_fill("e1", "e1-vault", fill_id="old", amount=5, fee=1)
        yield database
        database.dispose()


@st.composite
def _occurred(draw: Any) -> datetime | None:
    at = draw(st.sampled_from(HOURS))
    form = draw(st.sampled_from(["shared", "shared", "equal", "zone", "none"]))
    if form == "equal":  # an equal datetime, another object
        return at.replace(tzinfo=UTC)
    if form == "zone":
        return at.astimezone(timezone(timedelta(hours=2)))
    return None if form == "none" else at


@st.composite
def _entry(draw: Any) -> Any:
    kind = draw(st.sampled_from(KINDS))
    key = draw(st.sampled_from(["fill:old", "k1"]) | st.text("abc:0123", min_size=3, max_size=8))
    amount = draw(st.integers(-(10**9), 10**9).filter(bool))
    if kind is EntryKind.DEPOSIT:  # (a deposit is positive; an engine may not book it)
        amount = abs(amount)
    fee = draw(st.integers(-100, 100)) if kind is EntryKind.FILL else 0
    memo = draw(st.none() | st.just("m"))
    market = draw(st.none() | st.integers(0, 3))
    occurred = draw(_occurred())
    values = (kind, amount, key, fee, market, None, memo, occurred)
    if draw(st.booleans()):
        return tuple.__new__(EntryRow, values)
    return NewEntry(*values)


@st.composite
def _ops(draw: Any) -> list[tuple]:
    ops = []
    for _ in range(draw(st.integers(1, 6))):
        engine = draw(st.sampled_from(ENGINES))
        vault = f"{engine}-vault" if draw(st.integers(0, 9)) else "e0-vault"
        at = draw(st.sampled_from([NOW, NOW + timedelta(seconds=1)]))
        if draw(st.integers(0, 3)) == 0:
            ops.append(("snapshot", engine, vault, _point(draw(st.integers(0, 10**6))), at))
        else:
            ops.append(("book", engine, vault, draw(st.lists(_entry(), max_size=8)), at))
    return ops


def _point(value: int) -> dict[str, Any]:
    position = DriftPosition(0, MarketType.PERP, -2_000_000_000, 200_000_000, symbol="SOL-PERP")
    return dict(position_value=value, unrealized_pnl=-7, health=93, positions=(position,))


class _Undo(Exception):
    pass


def _flush(db: Database, ops: list[tuple], rows_once: bool) -> Any:
    """The batch flushed with `ROWS_ONCE` as given: the rows it added to the ledger and
    the snapshots (then rolled back), or the error it raised."""
    bulk.ROWS_ONCE = rows_once
    out: Any = None
    try:
        with db.write() as s:
            writes = bulk.TickVaultWrites(bulk.BalanceMarks())
            writes.ops = list(ops)
            try:
                writes.flush(s)
            except Exception as exc:  # noqa: BLE001 - compared with the other side's
                out = (type(exc), str(exc))
                raise _Undo from exc
            c = s.connection()
            out = {
                table: [tuple(r) for r in c.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
                for table in ("ledger_entries", "vault_snapshots")
            }
            raise _Undo
    except _Undo:
        pass
    finally:
        bulk.ROWS_ONCE = True
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_ops())
def test_a_flush_writes_the_same_rows_or_errors_with_rows_once(db: Database, ops) -> None:
    assert _flush(db, ops, True) == _flush(db, ops, False)


def test_the_fresh_path_is_taken_and_writes_what_the_loop_writes(db, monkeypatch) -> None:
    """A batch of fresh keys goes the column way (and one with a key booked before does
    not), with the same rows."""
    taken = []
    real = bulk.TickVaultWrites._flush_fresh

    def counting(self: Any, *a: Any) -> None:
        taken.append(len(self.ops))
        real(self, *a)

    monkeypatch.setattr(bulk.TickVaultWrites, "_flush_fresh", counting)
    # the keys read first (a try before the read: tests/vaults/test_bulk_nulls.py)
    monkeypatch.setattr(bulk, "FRESH_FIRST", False)
    funding = NewEntry(EntryKind.FUNDING, -5, "f:1", occurred_at=HOURS[1])
    interest = (EntryKind.INTEREST, 7, "i:1", 0, 1, None, None, HOURS[1])
    fresh = [
        ("book", "e0", "e0-vault", [funding], NOW),
        ("snapshot", "e0", "e0-vault", _point(3), NOW),
        ("book", "e0", "e0-vault", [tuple.__new__(EntryRow, interest)], NOW),
    ]
    assert _flush(db, fresh, True) == _flush(db, fresh, False)
    assert taken == [3]
    replay = [("book", "e1", "e1-vault", [NewEntry(EntryKind.FILL, 5, "fill:old", fee=1)], NOW)]
    assert _flush(db, replay, True) == _flush(db, replay, False)
    assert taken == [3]
