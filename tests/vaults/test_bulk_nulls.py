"""A flush's ledger INSERT without the columns that are None in all its entries
(`vaults.bulk.NULLS_LEFT_OUT`) and a UTC datetime's text written from its fields
(`vaults.bulk.UTC_FIELDS`) against their references (every column bound; `isoformat`'s
text cut), and a batch written the column way before its keys are read, in a savepoint
(`vaults.bulk.FRESH_FIRST`; reference: the keys read first).

Hypothesis draws batches of fresh bookings (the column way, `_flush_fresh`: a backtest's
every week) whose counterparty, market and memo are None in all, some or none of the
entries, with snapshots between them, and the batches of
tests/vaults/test_bulk_rows_once.py (replays, conflicts, refused kinds): both ways write
the same rows (every column as the driver reads it back) or refuse with the same error.
With `FRESH_FIRST` a fresh batch is written without the keys' read, and one with a
key booked before (or refused) is rolled back and written (or refused) the reference
way. The statement without columns is the table's INSERT of the others (no parameter
added), and only nullable columns without a default are left out. A UTC datetime's
text is the column's own bind processor's for drawn times (years 1 to 9999,
microseconds); other values go to that processor. The whole backtests are in
tests/backtest/test_rows_once.py and test_bookkeeping_rows.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.dialects import sqlite
from test_bulk_rows_once import HOURS, NOW, _ops, _point
from test_bulk_rows_once import db as db  # a fixture

from drift_engine.storage import Database
from drift_engine.storage import engine as storage_engine
from drift_engine.storage.models import LedgerEntryRow, UTCDateTime
from drift_engine.vaults import EntryKind, NewEntry, bulk
from drift_engine.vaults.entries import EntryRow

KINDS = [EntryKind.FUNDING, EntryKind.INTEREST, EntryKind.FILL]


@st.composite
def _fresh_ops(draw: Any) -> list[tuple]:
    """Bookings of fresh keys (none booked before, none twice) for the engine's own
    vault, snapshots between them; each nullable column None in every entry, in some
    or in none, as drawn for the batch."""
    forms = {c: draw(st.sampled_from(["all", "some", "none"])) for c in ("cp", "market", "memo")}

    def value(column: str, present: Any) -> Any:
        form = forms[column]
        if form == "all":
            return None
        if form == "none":
            return present
        return draw(st.sampled_from([None, present]))

    ops: list[tuple] = []
    n = 0
    for _ in range(draw(st.integers(1, 5))):
        at = draw(st.sampled_from([NOW, NOW + timedelta(seconds=1)]))
        if draw(st.integers(0, 4)) == 0:
            ops.append(("snapshot", "e0", "e0-vault", _point(draw(st.integers(0, 10**6))), at))
            continue
        body = []
        for _ in range(draw(st.integers(0, 6))):
            n += 1
            kind = draw(st.sampled_from(KINDS))
            fee = draw(st.integers(-100, 100)) if kind is EntryKind.FILL else 0
            values = (
                kind,
                draw(st.integers(-(10**9), 10**9).filter(bool)),
                f"fresh:{n}",
                fee,
                value("market", draw(st.integers(0, 3))),
                value("cp", 1),
                value("memo", draw(st.sampled_from(["m", ""]))),
                draw(st.sampled_from([*HOURS, None])),
            )
            body.append(
                tuple.__new__(EntryRow, values) if draw(st.booleans()) else NewEntry(*values)
            )
        ops.append(("book", "e0", "e0-vault", body, at))
    return ops


class _Undo(Exception):
    pass


def _flush(db: Database, ops: list[tuple], flag: str, on: bool) -> Any:
    """The batch flushed with `bulk.<flag>` as given: the rows it added to the ledger and
    the snapshots (then rolled back), or the error it raised."""
    out: Any = None
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(storage_engine if flag == "DRIVER_CURSOR" else bulk, flag, on)
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
    return out


@pytest.mark.parametrize(
    "flag",
    [
        "NULLS_LEFT_OUT",
        "UTC_FIELDS",
        "FRESH_FIRST",
        "UTC_DAYS",
        "SHARED_COLUMNS",
        "DRIVER_CURSOR",
        "HELD_TUPLES",
    ],
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.one_of(_fresh_ops(), _ops()))
def test_a_flush_writes_the_same_rows_or_errors(db: Database, flag: str, ops) -> None:
    assert _flush(db, ops, flag, True) == _flush(db, ops, flag, False)


def test_the_columns_none_in_every_entry_are_left_out(db: Database, monkeypatch) -> None:
    """A week of payments (counterparty and memo None in all) goes without those two
    columns, the market kept; the rows are those of the whole statement."""
    sent: list[str] = []
    real = bulk.DriverInsert.run_columns

    def spying(self: Any, session: Any, columns: Any) -> None:
        connection = session.connection()
        execute = connection.exec_driver_sql

        def seen(sql: str, params: Any) -> Any:
            sent.append(sql)
            return execute(sql, params)

        monkeypatch.setattr(connection, "exec_driver_sql", seen)
        try:
            real(self, session, columns)
        finally:
            monkeypatch.undo()
            monkeypatch.setattr(bulk.DriverInsert, "run_columns", spying)

    monkeypatch.setattr(bulk.DriverInsert, "run_columns", spying)
    body = [
        tuple.__new__(EntryRow, (k, 5, f"{k.value}:0:{i}", 0, 0, None, None, HOURS[i % 3]))
        for i, k in enumerate([EntryKind.INTEREST, EntryKind.FUNDING] * 3)
    ]
    ops = [("book", "e0", "e0-vault", body, NOW)]
    with pytest.MonkeyPatch.context() as mp:  # (the statements seen on the connection)
        mp.setattr(storage_engine, "DRIVER_CURSOR", False)
        on = _flush(db, ops, "NULLS_LEFT_OUT", True)
        off = _flush(db, ops, "NULLS_LEFT_OUT", False)
    assert on == off and len(on["ledger_entries"]) >= 6
    left, whole = sent[0], sent[1]
    assert "memo" not in left and "counterparty_vault_id" not in left
    assert "market_index" in left and "memo" in whole and "counterparty_vault_id" in whole


def test_only_nullable_columns_without_a_default_may_be_left_out() -> None:
    dialect = sqlite.dialect()
    insert = bulk._LEDGER_INSERT
    names = {insert.columns[i] for i in insert._nullable(dialect)}
    assert names == {"counterparty_vault_id", "market_index", "memo"}
    for name in names:
        column = LedgerEntryRow.__table__.c[name]
        assert column.nullable and column.default is None and column.server_default is None
    sql, positional, processors = insert._compile_without(dialect, (5, 7))
    assert positional == [c for c in insert.columns if c not in ("counterparty_vault_id", "memo")]
    assert len(processors) == len(insert.columns) - 2


_PROCESS = bulk._bind_processor(UTCDateTime(), sqlite.dialect())


@settings(max_examples=500, deadline=None)
@given(st.datetimes(timezones=st.just(UTC)))
@example(datetime(1, 1, 1, tzinfo=UTC))
@example(datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC))
@example(datetime(2026, 1, 1, 7, tzinfo=UTC))
def test_a_utc_datetime_is_written_as_its_column_writes_it(at: datetime) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bulk, "UTC_TEXT", False)
        want = _PROCESS(at)  # the column's own processors
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bulk, "UTC_FIELDS", False)
        cut = _PROCESS(at)  # `isoformat`'s text cut
    assert _PROCESS(at) == cut == want


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 1, 1, 7, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 1, 1, 7, tzinfo=timezone.utc),  # noqa: UP017 - the same object
        None,
    ],
)
def test_other_values_go_to_the_column_processor(value: Any) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bulk, "UTC_TEXT", False)
        want = _PROCESS(value)
    assert _PROCESS(value) == want


def test_a_fresh_batch_is_written_before_its_keys_are_read(db: Database, monkeypatch) -> None:
    """Fresh keys: written at the first try, no keys read. A key booked before: the try
    is rolled back (no row of it left, the ids the same) and the keys are read; a replay
    of the same event is skipped, another event under that key refused, as the
    reference does."""
    reads = []
    real = bulk._booked

    def counted(session: Any, wanted: Any) -> Any:
        reads.append(len(wanted))
        return real(session, wanted)

    monkeypatch.setattr(bulk, "_booked", counted)
    fresh = [
        tuple.__new__(EntryRow, (EntryKind.FUNDING, 5, f"funding:0:{i}", 0, 0, None, None, NOW))
        for i in range(4)
    ]
    ops = [("book", "e0", "e0-vault", fresh, NOW)]
    assert _flush(db, ops, "FRESH_FIRST", True) == _flush(db, ops, "FRESH_FIRST", False)
    assert reads == [4]  # (the reference's read only)
    # the fill booked before the batch, again (a replay) and as another event
    for amount, fee in ((5, 1), (6, 1)):
        again = NewEntry(EntryKind.FILL, amount, "fill:old", fee=fee)
        ops = [("book", "e1", "e1-vault", [*fresh, again], NOW)]
        reads.clear()
        on, off = _flush(db, ops, "FRESH_FIRST", True), _flush(db, ops, "FRESH_FIRST", False)
        assert on == off and reads == [5, 5]
        if amount == 5:
            keys = [str(r) for r in on["ledger_entries"]]
            assert sum("'fill:old'" in k for k in keys) == 1  # the replay skipped
            assert sum("'funding:0:" in k for k in keys) == 4
        else:
            assert on[0].__name__ == "IdempotencyConflictError"
