"""A flush's ledger rows sent as INSERTs of many rows each (`vaults.bulk.VALUES_ROWS`,
`_values_rows`: chunks of `_MOST_PARAMETERS // columns` rows, the last one of the rows
left) against the reference (one executemany of the one-row INSERT): the same rows with
the same ids, or the same error (a key booked before, met in the first chunk, a later
one or the last: the batch is then written the reference way; a key twice). Batches
of each length around the chunk's size (none, one, two, a chunk less one, a chunk, a
chunk and one, several chunks and a rest), with the nullable columns left out or bound;
and Hypothesis's drawn batches of tests/vaults/test_bulk_nulls.py with chunks of three
or four rows, so that a drawn batch is cut in chunks and a rest."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_bulk_nulls import _flush, _fresh_ops
from test_bulk_rows_once import HOURS, NOW, _ops
from test_bulk_rows_once import db as db  # a fixture

from drift_engine.storage import Database
from drift_engine.vaults import EntryKind, NewEntry, bulk

#: the ledger INSERT's columns with the nullable ones left out, and all of them
WIDTHS = (8, 10)


def _batch(n: int, *, bound: bool, twice: int | None = None, prefix: str = "v") -> list:
    """One booking of `n` fresh entries (funding and interest in turn, an hour each), the
    counterparty and memo given (`bound`) or None in all; `twice`: the entry at that
    position repeats the first one's key."""
    body = []
    for i in range(n):
        key = f"{prefix}:0" if twice is not None and i == twice else f"{prefix}:{i}"
        body.append(
            NewEntry(
                EntryKind.FUNDING if i % 2 else EntryKind.INTEREST,
                -1_000 - i,
                key,
                0,
                i % 3,
                1 if bound else None,
                f"m{i}" if bound else None,
                HOURS[i % len(HOURS)] + timedelta(hours=i // len(HOURS)),
            )
        )
    return [("book", "e0", "e0-vault", body, NOW)]


def _lengths(width: int) -> list[int]:
    size = bulk._MOST_PARAMETERS // width
    return [0, 1, 2, size - 1, size, size + 1, 3 * size + 7]


def _same(db: Database, ops: list) -> Any:
    on, off = _flush(db, ops, "VALUES_ROWS", True), _flush(db, ops, "VALUES_ROWS", False)
    assert on == off
    return on


@pytest.mark.parametrize("width", WIDTHS)
def test_a_batch_of_each_length_writes_the_same_rows(db: Database, width: int) -> None:
    before = len(_same(db, [])["ledger_entries"])  # (the fixture's allocations)
    for n in _lengths(width):
        rows = _same(db, _batch(n, bound=width == 10))["ledger_entries"]
        assert len(rows) == before + n
        assert all((row[8] is not None) is (width == 10) for row in rows[before:])  # (memo)


@pytest.mark.parametrize("width", WIDTHS)
def test_a_key_twice_is_refused_the_same_way(db: Database, width: int) -> None:
    size = bulk._MOST_PARAMETERS // width
    n = 2 * size + 5
    for twice in (1, size - 1, size + 3, n - 1):  # in the first chunk, the second, the rest
        got = _same(db, _batch(n, bound=width == 10, twice=twice))
        assert isinstance(got, tuple), got  # (the error both ways)


@pytest.mark.parametrize("where", ["first chunk", "second chunk", "rest"])
def test_a_batch_with_a_key_booked_before_writes_the_rest_the_same_way(
    db: Database, where: str
) -> None:
    """The column way's chunk (or rest) meets the key booked before and is rolled back;
    the reference way books the others."""
    size = bulk._MOST_PARAMETERS // 8
    n = 2 * size + 5
    at = {"first chunk": 1, "second chunk": size + 2, "rest": n - 2}[where]  # (its position)
    ops = _batch(n, bound=False, prefix=f"before-{where}")
    with db.write() as s:
        writes = bulk.TickVaultWrites(bulk.BalanceMarks())
        writes.ops = [(*ops[0][:3], [ops[0][3][at]], NOW)]
        writes.flush(s)
    before = len(_same(db, [])["ledger_entries"])
    rows = _same(db, ops)
    assert len(rows["ledger_entries"]) == before + n - 1


def test_the_chunks_are_inserts_of_many_rows(db: Database, monkeypatch) -> None:
    """With the flag a batch of several chunks and a rest sends one statement a chunk and
    one of the rest (nothing left to the executemany); the reference one executemany."""
    sent: list[str] = []
    real = bulk.DriverInsert.run_columns

    def run_columns(self: Any, session: Any, columns: Any) -> None:
        connection = session.connection()
        real_exec = connection.exec_driver_sql

        def exec_driver_sql(sql: str, params: Any = None) -> Any:
            sent.append(f"{sql.count('?')} {type(params).__name__} {len(params)}")
            return real_exec(sql, params)

        monkeypatch.setattr(connection, "exec_driver_sql", exec_driver_sql)
        real(self, session, columns)
        monkeypatch.undo()

    size = bulk._MOST_PARAMETERS // 8
    n = 2 * size + 3
    with monkeypatch.context() as mp:
        mp.setattr(bulk.DriverInsert, "run_columns", run_columns)
        mp.setattr(bulk, "SHARED_COLUMNS", False)  # (its statements: test_bulk_shared_columns)
        _same(db, _batch(n, bound=False))
    chunk, rest = f"{8 * size} tuple {8 * size}", f"{8 * 3} tuple {8 * 3}"
    assert sent == [chunk, chunk, rest, f"8 list {n}"], sent  # (on, then the reference)
    assert bulk._values_rows(None, "", 8, []) == []
    one = [(1,) * 8]
    assert bulk._values_rows(None, "", 8, one) is one  # (a single row: the executemany)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.one_of(_fresh_ops(), _ops()), most=st.sampled_from([24, 30, 35]))
def test_drawn_batches_in_small_chunks_write_the_same_rows_or_errors(
    db: Database, ops: list, most: int
) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bulk, "_MOST_PARAMETERS", most)  # (chunks of 3 or 4 rows)
        _same(db, ops)


class _Sent:
    """A connection that records what `_values_rows` executes."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple]] = []

    def exec_driver_sql(self, sql: str, params: tuple) -> None:
        self.sent.append((sql, params))


@pytest.mark.parametrize("n", [2, 3, 4, 5, 7])
def test_values_rows_cuts_the_rows_in_chunks_in_order(n: int, monkeypatch) -> None:
    monkeypatch.setattr(bulk, "_MOST_PARAMETERS", 5)  # (chunks of two rows of two)
    one = "INSERT INTO t (a, b) VALUES (?, ?)"
    rows = [(i, -i) for i in range(n)]
    connection = _Sent()
    assert bulk._values_rows(connection, one, 2, rows) == []
    sizes = [2] * (n // 2) + [1] * (n % 2)
    assert [sql.count("(?, ?)") for sql, _ in connection.sent] == sizes
    assert [sql for sql, _ in connection.sent if sql.count("?") == 2] in ([], [one])
    assert [v for _, params in connection.sent for v in params] == [v for row in rows for v in row]
    assert connection.sent[0][0] == "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"
