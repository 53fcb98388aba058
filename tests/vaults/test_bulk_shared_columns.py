"""A flush's ledger rows with the columns equal in every row bound once per statement
(`vaults.bulk.SHARED_COLUMNS`, `_values_shared`: numbered parameters, the other columns
filled by slice) against the reference (`_values_rows`: every value bound, the rows
zipped and chained), and a UTC datetime's text from its day's text and two-digit
tables (`vaults.bulk.UTC_DAYS`) against `_UTC_FIELDS` (the reference).

Batches of each length around the chunk's size (none, one, two, a chunk less one, a
chunk, a chunk and one, several chunks and a rest) with the vault, fee, market and
booking time shared and the memo and counterparty bound or left out; a column that is
equal in all rows but one (the first, the last); Hypothesis's drawn batches of
tests/vaults/test_bulk_nulls.py in chunks of a few rows. Both ways write the same rows
with the same ids, or refuse with the same error. The statement's text numbers the
shared columns first; a float column is never shared (0.0 and -0.0 are equal); a
batch with no shared column, or only shared ones, goes the reference way. The whole
backtests are in tests/backtest/test_rows_once.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite
from test_bulk_nulls import _flush, _fresh_ops
from test_bulk_rows_once import HOURS, NOW, _ops
from test_bulk_rows_once import db as db  # a fixture

from drift_engine.storage import Database
from drift_engine.storage.models import UTCDateTime
from drift_engine.vaults import EntryKind, NewEntry, bulk


def _batch(n: int, *, bound: bool, odd: int | None = None) -> list:
    """One booking of `n` fresh entries (funding and interest in turn, an hour each; the
    fee and market the same in all), the counterparty and memo given (`bound`) or None
    in all; `odd`: the entry at that position has another market."""
    body = []
    for i in range(n):
        other = i == odd
        body.append(
            NewEntry(
                EntryKind.FUNDING if i % 2 else EntryKind.INTEREST,
                -1_000 - i,
                f"s:{i}",
                0,
                1 if other else 0,
                1 if bound else None,
                "m" if bound else None,
                HOURS[i % len(HOURS)] + timedelta(hours=i // len(HOURS)),
            )
        )
    return [("book", "e0", "e0-vault", body, NOW)]


def _same(db: Database, ops: list) -> Any:
    on = _flush(db, ops, "SHARED_COLUMNS", True)
    off = _flush(db, ops, "SHARED_COLUMNS", False)
    assert on == off
    return on


def _sizes() -> list[int]:
    size = (bulk._MOST_PARAMETERS - 4) // 4  # (vault, fee, market, booked_at shared)
    return [0, 1, 2, size - 1, size, size + 1, 3 * size + 7]


@pytest.mark.parametrize("bound", [False, True])
def test_a_batch_of_each_length_writes_the_same_rows(db: Database, bound: bool) -> None:
    before = len(_same(db, [])["ledger_entries"])  # (the fixture's allocations)
    for n in _sizes():
        rows = _same(db, _batch(n, bound=bound))["ledger_entries"]
        assert len(rows) == before + n
        assert [row[3] for row in rows[before:]] == [-1_000 - i for i in range(n)]  # (amount)


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_a_column_equal_in_all_rows_but_one_is_bound_a_row(db: Database, where: str) -> None:
    n = 2 * ((bulk._MOST_PARAMETERS - 2) // 6) + 3
    odd = {"first": 0, "middle": n // 2, "last": n - 1}[where]
    rows = _same(db, _batch(n, bound=False, odd=odd))["ledger_entries"]
    assert sorted({row[7] for row in rows[-n:]}) == [0, 1]  # (market)


def test_bookings_at_two_times_bind_the_booking_time_a_row(db: Database) -> None:
    n = (bulk._MOST_PARAMETERS - 3) // 5 + 2
    (first,) = _batch(n, bound=False)
    second = (*first[:3], [replace(e, key=f"t:{e.key}") for e in first[3]], NOW + timedelta(1))
    rows = _same(db, [first, second])["ledger_entries"]
    assert len({row[10] for row in rows[-2 * n :]}) == 2  # (booked_at)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.one_of(_fresh_ops(), _ops()), most=st.sampled_from([12, 24, 30, 35]))
def test_drawn_batches_in_small_chunks_write_the_same_rows_or_errors(
    db: Database, ops: list, most: int
) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bulk, "_MOST_PARAMETERS", most)  # (chunks of a few rows)
        _same(db, ops)


class _Sent:
    """A connection that records what `_values_shared` executes."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple]] = []

    def exec_driver_sql(self, sql: str, params: tuple) -> None:
        self.sent.append((sql, params))

    @property
    def connection(self) -> Any:
        """The DBAPI connection `storage.engine.DRIVER_CURSOR` executes on (its cursors record)."""
        cursor = SimpleNamespace(execute=self.exec_driver_sql)
        return SimpleNamespace(dbapi_connection=SimpleNamespace(cursor=lambda: cursor))


ONE = "INSERT INTO t (a, b, c) VALUES (?, ?, ?)"


def test_the_shared_columns_are_numbered_first_in_every_row() -> None:
    assert (
        bulk._shared_rows(ONE, 3, (0, 2), 2)
        == "INSERT INTO t (a, b, c) VALUES (?1, ?3, ?2), (?1, ?4, ?2)"
    )
    assert (
        bulk._shared_rows(ONE, 3, (1,), 2)
        == "INSERT INTO t (a, b, c) VALUES (?2, ?1, ?3), (?4, ?1, ?5)"
    )
    assert bulk._shared_rows(ONE, 3, (1,), 2) is bulk._shared_rows(ONE, 3, (1,), 2)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 7])
def test_values_shared_cuts_the_rows_in_chunks_in_order(n: int, monkeypatch) -> None:
    monkeypatch.setattr(bulk, "_MOST_PARAMETERS", 6)  # (one shared, chunks of two rows of two)
    columns = [list(range(n)), ["x"] * n, [-i for i in range(n)]]
    connection = _Sent()
    assert bulk._values_shared(connection, ONE, columns, (None, None, None))
    sizes = [2] * (n // 2) + [1] * (n % 2)
    assert [sql.count("(") - 1 for sql, _ in connection.sent] == sizes
    for (sql, params), rows in zip(connection.sent, sizes, strict=True):
        assert sql == bulk._shared_rows(ONE, 3, (1,), rows)
        assert params[0] == "x" and len(params) == 1 + 2 * rows
    varying = [v for _, params in connection.sent for v in params[1:]]
    assert varying == [v for i in range(n) for v in (i, -i)]


def test_only_equal_ints_and_strs_or_processed_values_are_shared() -> None:
    def shared(columns: list[list[Any]], processors: tuple) -> Any:
        connection = _Sent()
        if not bulk._values_shared(connection, ONE, columns, processors):
            return None
        return connection.sent[0]

    # floats: 0.0 and -0.0 are equal and bind differently; a tuple is no value
    assert shared([[0.0, -0.0], [(1,), (1,)], [1, 2]], (None, None, None)) is None
    # every column shared (two equal rows): the reference way
    assert shared([[1, 1], ["a", "a"], [2, 2]], (None, None, None)) is None
    # an int and an equal bool or float, a str and an equal subclass: a row at a time
    assert shared([[1, True], [1, 1.0], [3, 4]], (None, None, None)) is None
    assert shared([["a", type("S", (str,), {})("a")], [1, 2], [3, 4]], (None,) * 3) is None
    # equal ints: bound once, as the first
    sql, params = shared([[1, 1], ["a", "b"], [3, 4]], (None, None, None))
    assert sql.startswith("INSERT INTO t (a, b, c) VALUES (?1, ?2, ?3)") and params == (
        1,
        "a",
        3,
        "b",
        4,
    )
    # equal in all rows but the last, or all but the first: a row at a time
    assert shared([[1, 1, 2], [1, 2, 3], [4, 5, 6]], (None,) * 3) is None
    assert shared([[2, 1, 1], [1, 2, 3], [4, 5, 6]], (None,) * 3) is None
    assert (
        shared(
            [
                [at0 := datetime(2026, 1, 1, tzinfo=UTC), at0, at0.replace(hour=1)],
                [1, 2, 3],
                [4, 5, 6],
            ],
            (str, None, None),
        )
        is None
    )
    # a processed column: its first value processed once for all
    seen: list[Any] = []

    def process(v: Any) -> Any:
        seen.append(v)
        return f"<{v}>"

    at = datetime(2026, 1, 2, tzinfo=UTC)
    sql, params = shared([[at, at.replace()], [1, 2], ["x", "y"]], (process, None, None))
    assert params == (f"<{at}>", 1, "x", 2, "y") and seen == [at]
    with pytest.raises(ValueError, match="lengths"):
        bulk._values_shared(_Sent(), ONE, [[1, 1], [2], [3, 3]], (None, None, None))


_PROCESS = bulk._bind_processor(UTCDateTime(), sqlite.dialect())


def _fields(at: datetime) -> str:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bulk, "UTC_DAYS", False)
        return _PROCESS(at)


@settings(max_examples=500, deadline=None)
@given(st.datetimes(timezones=st.just(UTC)))
@example(datetime(1, 1, 1, tzinfo=UTC))
@example(datetime(999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC))
@example(datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC))
@example(datetime(2024, 2, 29, 7, 8, 9, 1, tzinfo=UTC))
@example(datetime(2026, 1, 1, 10, 20, 30, 100_000, tzinfo=UTC))
def test_a_utc_datetime_from_its_days_text_is_its_fields_text(at: datetime) -> None:
    assert _PROCESS(at) == _fields(at)
    assert _PROCESS(at) == _fields(at)  # (its day's text kept)


def test_the_days_texts_are_kept_up_to_a_bound(monkeypatch) -> None:
    monkeypatch.setattr(bulk, "_DAY_TEXT", {})
    monkeypatch.setattr(bulk, "_DAYS_KEPT", 2)
    days = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=d, hours=d) for d in range(5)]
    for at in days:
        assert _PROCESS(at) == _fields(at)
        assert 1 <= len(bulk._DAY_TEXT) <= 2
    assert bulk._DAY_TEXT[days[-1].toordinal()] == "2026-01-05 "
    assert _PROCESS(days[-1] + timedelta(hours=1)) == "2026-01-05 05:00:00.000000"
    assert len(bulk._DAY_TEXT) == 1  # (the same day: kept, not made again)
