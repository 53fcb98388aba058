"""A flush's statements of the column way and a transaction's BEGIN sent to a cursor of
the session's own DBAPI connection (`storage.engine.DRIVER_CURSOR`) and a backtest's
week of `EntryRow`s read by transposing the tuples (`vaults.bulk.HELD_TUPLES`), against
their references (`Connection.exec_driver_sql`; eight attributes an entry, a pair a
key).

A week like a backtest's (two kinds, an hour's datetime shared by its two entries,
chunks of many rows) writes the same rows both ways, in the flush's one transaction:
a failure in the middle of the column way (its second INSERT) rolls back its first
rows and the reference way writes them all, with the same ids; a failure after the
flush (a later write of the same batch) rolls back everything, and the next flush
writes the week as if nothing had been tried. The drawn batches (replays, conflicts,
refused kinds, mixed `NewEntry`s) are in tests/vaults/test_bulk_nulls.py, the whole
backtests in tests/backtest/test_rows_once.py."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from test_bulk_rows_once import NOW
from test_bulk_rows_once import db as db  # a fixture

from drift_engine.storage import Database
from drift_engine.storage import engine as storage_engine
from drift_engine.vaults import EntryKind, NewEntry, bulk
from drift_engine.vaults.entries import EntryRow

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _week(start: int, hours: int = 40) -> list[Any]:
    """`hours` hours of a sink's payments: interest and funding, one datetime an hour."""
    body: list[Any] = []
    for h in range(start, start + hours):
        at = T0 + timedelta(hours=h)
        body.append(
            tuple.__new__(EntryRow, (EntryKind.INTEREST, 7 + h, f"i:{h}", 0, 0, None, None, at))
        )
        body.append(
            tuple.__new__(EntryRow, (EntryKind.FUNDING, -3 - h, f"f:{h}", 0, 0, None, None, at))
        )
    return body


def _ledger(db: Database) -> list[tuple]:
    with db.read() as s:
        return [tuple(r) for r in s.execute(text("SELECT * FROM ledger_entries ORDER BY id"))]


class _Undo(Exception):
    pass


def _written(db: Database, body: list[Any], **flags: bool) -> list[tuple]:
    """The ledger rows a flush of `body` adds with `flags` (then rolled back)."""
    before = len(_ledger(db))
    out: list[tuple] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bulk, "_MOST_PARAMETERS", 60)  # (chunks of a few rows: several INSERTs)
        for flag, on in flags.items():
            mp.setattr(storage_engine if flag == "DRIVER_CURSOR" else bulk, flag, on)
        try:
            with db.write() as s:
                writes = bulk.TickVaultWrites(bulk.BalanceMarks())
                writes.book("e0", "e0-vault", body, NOW)
                writes.flush(s)
                c = s.connection()
                out = [
                    tuple(r) for r in c.execute(text("SELECT * FROM ledger_entries ORDER BY id"))
                ]
                raise _Undo
        except _Undo:
            pass
    assert len(_ledger(db)) == before  # (rolled back)
    return out[before:]


@pytest.mark.parametrize("flag", ["DRIVER_CURSOR", "HELD_TUPLES"])
def test_a_week_writes_the_same_rows_either_way(db: Database, flag: str) -> None:
    body = _week(0)
    on, off = _written(db, body, **{flag: True}), _written(db, body, **{flag: False})
    assert on == off and len(on) == len(body)


def test_the_column_way_sends_its_statements_to_the_driver_cursor(
    db: Database, monkeypatch
) -> None:
    """With `DRIVER_CURSOR` the savepoint, the vaults' read and the INSERTs go to the DBAPI
    cursor, none through `exec_driver_sql`; without it all of them go that way."""
    seen: dict[bool, list[str]] = {True: [], False: []}
    real = bulk.driver_sql

    def spying(connection: Any, sql: str, params: tuple = ()) -> Any:
        execute = connection.exec_driver_sql
        through: list[str] = []

        def counted(s: str, p: Any = ()) -> Any:
            through.append(s)
            return execute(s, p)

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(connection, "exec_driver_sql", counted)
            out = real(connection, sql, params)
        seen[bool(through)].append(sql.split()[0])
        return out

    monkeypatch.setattr(bulk, "driver_sql", spying)
    for on in (True, False):
        _written(db, _week(100, 10), DRIVER_CURSOR=on)
        kinds = seen[not on]
        assert seen[on] == [] and kinds[:2] == ["SELECT", "SAVEPOINT"] and kinds[-1] == "RELEASE"
        assert kinds.count("INSERT") >= 2
        seen[not on].clear()


@pytest.mark.parametrize("on", [True, False])
def test_a_failure_in_the_middle_of_the_column_way_rolls_its_rows_back(
    db: Database, monkeypatch, on: bool
) -> None:
    """The second INSERT of the column way fails once: its first rows go with the
    savepoint, and the way after the keys' read writes every row (the column way
    again: no key was booked), the ids as without the failure."""
    body = _week(200)
    want = _written(db, body, DRIVER_CURSOR=on)
    real = bulk.driver_sql
    inserts = []

    def failing(connection: Any, sql: str, params: tuple = ()) -> Any:
        if sql.startswith("INSERT"):
            inserts.append(sql)
            if len(inserts) == 2:
                raise RuntimeError("the disk is full")
        return real(connection, sql, params)

    monkeypatch.setattr(bulk, "driver_sql", failing)
    assert _written(db, body, DRIVER_CURSOR=on) == want
    assert len(inserts) > 2 and inserts[2] == inserts[0] and len(want) == len(body)


@pytest.mark.parametrize("on", [True, False])
def test_a_failure_after_the_flush_rolls_back_everything(db: Database, on: bool) -> None:
    """A later write of the transaction fails: none of the week's rows stay, and the
    next flush writes them with the ids they would have had."""
    body = _week(300)
    want = _written(db, body, DRIVER_CURSOR=on, HELD_TUPLES=on)
    before = _ledger(db)
    marks = bulk.BalanceMarks()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(storage_engine, "DRIVER_CURSOR", on)
        mp.setattr(bulk, "HELD_TUPLES", on)
        with pytest.raises(RuntimeError, match="later write"), db.write() as s:
            writes = bulk.TickVaultWrites(marks)
            writes.book("e0", "e0-vault", body, NOW)
            writes.flush(s)
            assert len(s.execute(text("SELECT id FROM ledger_entries")).all()) > len(before)
            raise RuntimeError("a later write of the batch failed")
    assert _ledger(db) == before
    assert _written(db, body, DRIVER_CURSOR=on, HELD_TUPLES=on) == want


def test_entry_rows_are_read_by_transposing_only_when_all_are_entry_rows() -> None:
    body = _week(0, 2)
    columns = bulk._entry_rows(body)
    assert columns is not None and columns[2] == ("i:0", "f:0", "i:1", "f:1")
    assert columns[0] == (EntryKind.INTEREST, EntryKind.FUNDING) * 2
    new = NewEntry(EntryKind.INTEREST, 5, "n:0", occurred_at=T0)
    mixed = bulk._entry_rows([new, *body, new])
    read = list(zip(*map(attrgetter(*EntryRow._fields), [new, *body, new]), strict=True))
    assert mixed == read and mixed[2] == ("n:0", "i:0", "f:0", "i:1", "f:1", "n:0")
    assert bulk._entry_rows([new, object()]) is None
    sub = type("Sub", (EntryRow,), {})
    subs = [tuple.__new__(sub, tuple(body[0]))]  # (read by attribute, as the reference)
    assert bulk._entry_rows(subs) == list(
        zip(*map(attrgetter(*EntryRow._fields), subs), strict=True)
    )
    short = tuple.__new__(EntryRow, tuple(body[0])[:7])
    assert bulk._entry_rows([short]) is None and bulk._entry_rows([*body, short]) is None
    assert bulk._entry_rows([]) is None


def test_the_held_columns_and_firsts_are_the_references() -> None:
    """`_EntryColumns.add` of `EntryRow`s: the same columns, net and entry of each kind
    (its last, in the order the kinds first come) as read by attribute."""
    fill = tuple.__new__(EntryRow, (EntryKind.FILL, 9, "x", 2, 1, 3, "m", None))
    new = NewEntry(EntryKind.INTEREST, 5, "n:0", occurred_at=T0)
    body = [fill, *_week(0, 3), new, fill._replace(key="y")]
    got: dict[bool, Any] = {}
    for on in (True, False):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(bulk, "HELD_TUPLES", on)
            columns = bulk._EntryColumns()
            result = columns.add(4, body, NOW)
            got[on] = (result, columns.lists())
    assert got[True] == got[False]
    (net, firsts), lists = got[True]
    assert [f.kind for f in firsts] == [EntryKind.FILL, EntryKind.INTEREST, EntryKind.FUNDING]
    assert firsts[0] is body[-1] and firsts[1] is new and firsts[2] is body[-3]
    assert net == sum(e.amount - e.fee for e in body) and lists[-2][0] is NOW


def test_the_pairs_are_counted_as_the_references() -> None:
    vaults = {"a": type("V", (), {"id": 1})(), "b": type("V", (), {"id": 2})()}
    body = _week(0, 2)
    ops = [
        ("book", "e0", "a", body, NOW),
        ("snapshot", "e0", "a", {}, NOW),
        ("book", "e0", "b", body[:3], NOW),
        ("book", "e0", "a", body[1:2], NOW),
        ("book", "e0", "b", [], NOW),
    ]
    wanted, held = bulk._wanted(ops, vaults)
    assert bulk._pair_count(ops, vaults) == (len(wanted), held) == (7, 8)


def test_a_driver_error_is_raised_as_sqlalchemy_raises_it(db: Database) -> None:
    """A statement the database refuses raises SQLAlchemy's error either way (the driver's
    as `orig`), and the transaction goes on: the statement alone is undone."""
    got = {}
    for on in (True, False):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(storage_engine, "DRIVER_CURSOR", on)
            try:
                with db.write() as s:
                    c = s.connection()
                    with pytest.raises(IntegrityError) as refused:
                        bulk.driver_sql(
                            c, "INSERT INTO ledger_entries SELECT * FROM ledger_entries"
                        )
                    rows = bulk.driver_sql(c, "SELECT COUNT(*) FROM ledger_entries")
                    got[on] = (
                        type(refused.value),
                        type(refused.value.orig),
                        list(map(tuple, rows)),
                    )
                    raise _Undo
            except _Undo:
                pass
    assert got[True] == got[False] and got[True][0] is IntegrityError
    assert got[True][1] is sqlite3.IntegrityError and got[True][2] == [(len(_ledger(db)),)]
