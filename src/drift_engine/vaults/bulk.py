"""A paper tick's ledger bookings and vault snapshots, written as a few Core statements.

A persisting paper stack commits each tick's writes in one transaction (ADR-0011); with
10 engines that was one `Ledger.book_in` per engine and booking (vault lock, key check,
ORM insert) and one `Snapshots.record_in` per snapshot (vault lock, a SUM over the
ledger, ORM insert): 2-3 ms each. `TickVaultWrites` takes the same bookings and snapshots
in the batch's order and writes the same rows with:
- one SELECT of every vault they name (FOR UPDATE, in id order: the lock order of
  `lock_vaults`), checked as `book_in` / `record_in` check them (owner, open, the
  kinds an engine may book, what an ON_CHAIN vault refuses);
- one SELECT of the keys already booked (a replay returns nothing new; a key booked for
  a different event raises `IdempotencyConflictError`, as `insert_entry` does);
- one grouped SUM of the snapshot vaults' balances before the batch; each snapshot's
  cash is that plus the entries ahead of it in the batch (what `balance_of` would read
  at its place in the sequence);
- one executemany INSERT of the entries in batch order (the same ids as one by one;
  on SQLite INSERTs of many rows each, `VALUES_ROWS`, a column equal in every row
  bound once per statement, `SHARED_COLUMNS`), one of the snapshots.
Keys, amounts, times and checks are unchanged; tests/vaults/test_bulk_tick_writes.py
compares every row with the ORM path.

The entries go to the driver as tuples already in its form (`DriverInsert`: each column's
own SQLAlchemy bind processor applied once per distinct value, not once per row; a
backtest's week is ~340 entries sharing a few dozen datetimes): the same values Core's
executemany would send, without its per-row parameter processing (ADR-0020, session 6).
`DRIVER_ROWS = False` is the reference: Core's executemany of dicts (tests compare the
two, row for row).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from dataclasses import fields
from datetime import UTC, datetime
from itertools import chain, repeat
from operator import attrgetter
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Table, bindparam, func, insert, or_, select
from sqlalchemy.orm import Session

from drift_engine.core.types import DriftPosition
from drift_engine.storage.engine import driver_sql
from drift_engine.storage.enums import SnapshotSource
from drift_engine.storage.models import (
    LedgerEntryRow,
    UTCDateTime,
    VaultRow,
    VaultSnapshotRow,
)
from drift_engine.vaults.booking import (
    ENTRY_COLUMNS,
    check_owner,
    entry_of_row,
    entry_row,
    entry_values,
)
from drift_engine.vaults.entries import EntryRow, LedgerEntry, NewEntry
from drift_engine.vaults.errors import (
    InvalidAmountError,
    UnknownVaultError,
)
from drift_engine.vaults.money import check_amount

#: ledger entries are sent to the driver in its form (False: Core's executemany of dicts,
#: the reference the tests compare with)
DRIVER_ROWS = True

#: ("book", engine_id, vault ref, entries, booked_at) or
#: ("snapshot", engine_id, vault ref, point dict, taken_at)
Op = tuple[str, str, Any, Any, datetime]


#: a vault's balance before a flush is read as the balance at a mark plus the entries
#: above it (`BalanceMarks`, SQLite); False: the SUM over the vault's whole ledger
BALANCE_MARKS = True


class BalanceMarks:
    """(database engine, vault id) -> (the highest entry id of the vault, its balance
    then), as read by a flush: the next flush of the same writer sums only the entries
    above it (the engine object is the key: it is held, and another engine, even on
    the same file, starts from no mark).

    Valid on SQLite because the ledger is append-only (no entry is changed or deleted)
    and SQLite writes one transaction at a time and gives a new row the id after the
    table's highest: every entry committed after a mark was read has a higher id. A
    mark is read before the flush's own inserts (`_balances` runs first in its
    transaction, where no ledger entry was written yet), so it describes committed
    entries whether or not that transaction commits. PostgreSQL sums the whole ledger
    as before: ids come from a sequence drawn before commit, so a transaction that
    commits after the mark was read may hold a lower id."""

    def __init__(self) -> None:
        self.marks: dict[tuple[Any, int], tuple[int, int]] = {}


class TickVaultWrites:
    """Bookings and snapshots of one transaction, in order; `flush` writes them.
    `marks`: the writer's `BalanceMarks` (kept between its flushes), or None."""

    def __init__(self, marks: BalanceMarks | None = None) -> None:
        self.ops: list[Op] = []
        self.marks = marks

    def book(
        self, engine_id: str, vault: Any, entries: Sequence[NewEntry], booked_at: datetime
    ) -> None:
        """`Ledger.book_in(session, engine_id, vault, entries)` with the ledger's clock
        read as `booked_at`."""
        self.ops.append(("book", engine_id, vault, entries, booked_at))

    def snapshot(self, engine_id: str, vault: Any, point: dict[str, Any], at: datetime) -> None:
        """`Snapshots.record_in(session, engine_id, vault, **point)` (`at`: the
        snapshots' clock, used when the point has no `taken_at`)."""
        self.ops.append(("snapshot", engine_id, vault, point, at))

    def __len__(self) -> int:
        return len(self.ops)

    def flush(self, session: Session) -> None:
        if not self.ops:
            return
        from drift_engine.vaults.ledger import check_engine_booking

        vaults = _lock_vaults(session, {op[2] for op in self.ops})
        if HELD_TUPLES:  # (the pairs themselves only when the keys are read)
            wanted: set[tuple[int, str]] | None = None
            pairs, held = _pair_count(self.ops, vaults)
        else:
            wanted, held = _wanted(self.ops, vaults)
            pairs = len(wanted)
        snap_ids = {vaults[op[2]].id for op in self.ops if op[0] == "snapshot"}
        balance = _balances(session, snap_ids, self.marks)
        if (
            FRESH_FIRST
            and ROWS_ONCE
            and DRIVER_ROWS
            and held == pairs
            and session.connection().dialect.name == "sqlite"
            and self._fresh_first(session, vaults, dict(balance))
        ):
            return
        if wanted is None:
            wanted, held = _wanted(self.ops, vaults)
        booked = _booked(session, wanted)
        if ROWS_ONCE and DRIVER_ROWS and not booked and held == len(wanted):
            self._flush_fresh(session, vaults, balance)
            return
        entries: list[tuple[Any, ...]] = []
        snapshots: list[dict[str, Any]] = []
        for kind, engine_id, ref, body, at in self.ops:
            row = vaults[ref]
            if kind == "snapshot":
                check_owner(row, engine_id)
                snapshots.append(_snapshot_row(row, body, at, balance.get(row.id, 0)))
                continue
            check_engine_booking(row, engine_id, body)
            vault_id = row.id
            for new in body:
                seen = booked.get((vault_id, new.key))
                if seen is not None:
                    _check_replay(seen, row.name, vault_id, at, new)
                    continue
                entries.append(entry_values(vault_id, new, at))
                booked[(vault_id, new.key)] = new  # booked earlier in this batch
                if vault_id in balance:
                    balance[vault_id] += new.amount - new.fee
        if entries:
            if DRIVER_ROWS:
                _LEDGER_INSERT.run(session, entries)
            else:
                session.execute(
                    insert(LedgerEntryRow.__table__),
                    [dict(zip(ENTRY_COLUMNS, e, strict=True)) for e in entries],
                )
        if snapshots:
            if DRIVER_ROWS:
                _SNAPSHOT_INSERT.run(
                    session, [tuple(r[c] for c in SNAPSHOT_COLUMNS) for r in snapshots]
                )
            else:
                session.execute(insert(VaultSnapshotRow.__table__), snapshots)
        self.ops.clear()

    def _fresh_first(
        self, session: Session, vaults: dict[Any, Any], balance: dict[int, int]
    ) -> bool:
        """`_flush_fresh` tried before the keys are read (`FRESH_FIRST`, SQLite) inside a
        savepoint: True when it wrote the batch. The ledger's unique (vault, key) refuses
        an entry whose key was booked before, so a batch that writes has none (the
        read would have found none and chosen this way). Anything it raises (that
        refusal, or a check the reference may meet after another error) rolls its rows
        back, ids included (SQLite gives the next id after the highest row), and
        returns False: `flush` then reads the keys and goes the reference way, which
        raises its own error or books the replays."""
        connection = session.connection()
        driver_sql(connection, "SAVEPOINT fresh_first")
        try:
            self._flush_fresh(session, vaults, balance)
        except Exception:  # noqa: BLE001 - the reference way decides
            driver_sql(connection, "ROLLBACK TO SAVEPOINT fresh_first")
            driver_sql(connection, "RELEASE SAVEPOINT fresh_first")
            return False
        driver_sql(connection, "RELEASE SAVEPOINT fresh_first")
        return True

    def _flush_fresh(
        self, session: Session, vaults: dict[Any, Any], balance: dict[int, int]
    ) -> None:
        """`flush`'s writes when no key of the batch was booked before it and none twice
        in it (`ROWS_ONCE`; a backtest's every week): then no entry is a replay, so each
        is written, and the entry-by-entry loop's look-ups have nothing to find. The held
        entries are read a booking at a time into the insert's columns (`_EntryColumns`),
        the checks made on one entry per kind (they read only the kind), the balances
        moved by each booking's net sum, in the batch's order as before."""
        from drift_engine.vaults.ledger import check_engine_booking

        columns = _EntryColumns()
        snapshots: list[tuple[Any, ...]] = []
        for kind, engine_id, ref, body, at in self.ops:
            row = vaults[ref]
            if kind == "snapshot":
                check_owner(row, engine_id)
                values = _snapshot_row(row, body, at, balance.get(row.id, 0))
                snapshots.append(tuple(values[c] for c in SNAPSHOT_COLUMNS))
                continue
            if not body:
                check_engine_booking(row, engine_id, body)
                continue
            net, firsts = columns.add(row.id, body, at)
            check_engine_booking(row, engine_id, firsts)
            if row.id in balance:
                balance[row.id] += net
        if columns.vault_id:
            _LEDGER_INSERT.run_columns(session, columns.lists())
        if snapshots:
            _SNAPSHOT_INSERT.run(session, snapshots)
        self.ops.clear()


#: a flush whose batch books no key booked before it and no key twice (every week of a
#: backtest) reads its held entries into the ledger insert's columns a booking at a
#: time (`TickVaultWrites._flush_fresh`, `_EntryColumns`) and processes each column's
#: values once per object (`DriverInsert.run_columns`); False: the entry-by-entry loop
#: (`entry_values`, a replay look-up per key) and `DriverInsert.run` (the reference)
ROWS_ONCE = True

#: on SQLite a flush whose batch books no key twice writes it the column way first, in a
#: savepoint, before reading which of its keys are booked (`_fresh_first`): the
#: ledger's unique (vault, key) refuses a key booked before, and only then are the keys
#: read and the reference way taken (a backtest's week: ~2.3M instructions of reading
#: 336 keys saved); False: the keys read first (the reference)
FRESH_FIRST = True

#: a held entry's values (a `NewEntry` or an `EntryRow`), in `_EntryColumns`' order
_HELD_VALUES = attrgetter(
    "kind", "amount", "fee", "key", "counterparty_vault_id", "market_index", "memo", "occurred_at"
)
_HELD_COUNT = 8


#: a flush reads its held entries' columns by transposing the tuples of the `EntryRow`s
#: (a backtest's week but its first payment; `zip(*rows)`, `_entry_rows`) instead of
#: reading eight attributes an entry, finds the last entry of each kind by its place,
#: and counts the batch's distinct (vault, key) pairs a vault's set of keys at a time
#: (`_pair_count`; the pairs themselves are made only when the keys are read); False:
#: `_HELD_VALUES` an entry, a pair a row (the reference)
HELD_TUPLES = True


def _entry_rows(body: Sequence[Any]) -> list[tuple[Any, ...]] | None:
    """`body`'s columns in `EntryRow`'s field order: an `EntryRow` (exactly: a subclass
    may read otherwise) as its tuple, any other entry (a `NewEntry`: a week's first
    payment, booked before the sink held rows) read by attribute into one; None when
    the entries are not all of eight fields (the reference reads them, and raises what
    it raises for a tuple made short)."""
    rows = list(body)
    types = list(map(type, rows))
    try:
        if types.count(EntryRow) != len(rows):
            for i, kind in enumerate(types):
                if kind is not EntryRow:
                    rows[i] = _ROW_VALUES(rows[i])
        columns = list(zip(*rows, strict=True))
    except Exception:  # noqa: BLE001 - (entries of different lengths, an attribute missing)
        return None
    return columns if len(columns) == _HELD_COUNT else None


#: an entry's values in `EntryRow`'s field order, read by attribute
_ROW_VALUES = attrgetter(*EntryRow._fields)


def _pair_count(ops: list[Op], vaults: dict[Any, Any]) -> tuple[int, int]:
    """`_wanted`'s (how many pairs, how many entries) without the pairs: a vault's
    distinct keys counted in one set (pairs of different vaults are different)."""
    keys: dict[int, set[str]] = {}
    n = 0
    for op in ops:
        if op[0] == "book":
            vault_id = vaults[op[2]].id
            keys.setdefault(vault_id, set()).update(map(_KEY, op[3]))
            n += len(op[3])
    return sum(map(len, keys.values())), n


_KEY = attrgetter("key")


class _EntryColumns:
    """The ledger insert's columns (`ENTRY_COLUMNS`) of a flush's entries, filled a
    booking at a time: each value what `entry_values` puts in its row."""

    def __init__(self) -> None:
        self.vault_id: list[int] = []
        self.values: list[list[Any]] = [[] for _ in range(_HELD_COUNT)]
        self.booked_at: list[datetime] = []

    def add(self, vault_id: int, body: Sequence[Any], at: datetime) -> tuple[int, list[Any]]:
        """Add `body`'s entries (booked at `at`); returns their net (`amount - fee`
        summed) and an entry of each kind object (its last), in the order the kinds
        first come (what `check_engine_booking` reads of them: its first failing entry
        is of the first failing kind)."""
        rows = HELD_TUPLES and _entry_rows(body)
        if rows:  # (`EntryRow`'s field order)
            kind, amount, key, fee, market, counterparty, memo, at_ = rows
            held = [kind, amount, fee, key, counterparty, market, memo, at_]
        else:
            held = list(zip(*map(_HELD_VALUES, body), strict=True))
        kinds, amounts, fees, occurred = held[0], held[1], held[2], held[7]
        if not all(occurred):  # `new.occurred_at or at`, as `entry_values`
            held[7] = tuple(o or at for o in occurred)
        for column, values in zip(self.values, held, strict=True):
            column.extend(values)
        n = len(kinds)
        self.vault_id.extend(repeat(vault_id, n))
        self.booked_at.extend(repeat(at, n))
        if rows:  # (a kind object's last entry found by its place from the end: no pair a row)
            ids = list(map(id, kinds))
            last = ids[::-1]
            firsts = [body[n - 1 - last.index(k)] for k in dict.fromkeys(ids)]
            return sum(amounts) - sum(fees), firsts
        firsts = dict(zip(map(id, kinds), body, strict=True))
        return sum(amounts) - sum(fees), list(firsts.values())

    def lists(self) -> list[list[Any]]:
        """The columns in `ENTRY_COLUMNS` order."""
        kind, amount, fee, key, counterparty, market, memo, occurred = self.values
        return [
            self.vault_id,
            kind,
            amount,
            fee,
            key,
            counterparty,
            market,
            memo,
            occurred,
            self.booked_at,
        ]


def _check_replay(
    seen: LedgerEntry | NewEntry, vault_name: str, vault_id: int, at: datetime, new: NewEntry
) -> None:
    """`seen.check_replay(vault_name, new)` for an entry booked before this batch or
    earlier in it (a `NewEntry` or a held `EntryRow`: its `LedgerEntry` is built only
    when asked, here)."""
    if not isinstance(seen, LedgerEntry):
        seen = entry_of_row({**entry_row(vault_id, seen, at), "id": 0})
    seen.check_replay(vault_name, new)


class DriverInsert:
    """An INSERT of `columns` into `table` executed many times with parameter tuples
    turned into the driver's form by the columns' own bind processors (what Core's
    executemany applies per row), each applied once per distinct value of a flush.

    The statement is compiled once per dialect. The values a processed column holds
    (enums, datetimes, None) must be hashable; the others go to the driver as given.
    `encoded` columns are sent as given: the caller put them in the driver's form (a
    heartbeat row's JSON text, `engine.store`); `per_row=True` applies the processors
    to every value without keeping them (values that are not hashable, or equal values
    a processor would tell apart: 0.0 and -0.0)."""

    def __init__(
        self,
        table: Table,
        columns: tuple[str, ...],
        *,
        encoded: frozenset[str] = frozenset(),
        per_row: bool = False,
    ) -> None:
        self.table = table
        self.columns = columns
        self.encoded = encoded
        self.per_row = per_row
        #: dialect name -> (SQL, positional?, processors by position or None)
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, tuple[Any, ...]]] = {}
        #: (dialect name, positions left out) -> `_compile`'s triple of the statement
        #: without those columns, None where it cannot be had (`_compile_without`)
        self._without: dict[tuple[str, tuple[int, ...]], Any] = {}
        #: dialect name -> the positions `run_columns` may leave out (`_nullable`)
        self._null_ok: dict[str, tuple[int, ...]] = {}

    def _compile(self, dialect: Any) -> tuple[str, tuple[str, ...] | None, tuple[Any, ...]]:
        done = self._compiled.get(dialect.name)
        if done is None:
            compiled = insert(self.table).compile(dialect=dialect, column_keys=list(self.columns))
            names = compiled.positiontup if dialect.positional else None
            if names is not None and tuple(names) != self.columns:
                raise AssertionError(f"unexpected parameter order {names!r}")
            # the dialect's own type (SQLite's DATETIME under UTCDateTime): what Core uses
            processors = tuple(
                None if c in self.encoded else _bind_processor(self.table.c[c].type, dialect)
                for c in self.columns
            )
            done = self._compiled[dialect.name] = (compiled.string, names, processors)
        return done

    def run(self, session: Session, rows: list[tuple[Any, ...]]) -> None:
        """Execute the INSERT with `rows` (tuples in `columns`' order): processed a
        column at a time (`zip(*rows)`), each processed column's distinct values once
        (the first of equal values stands for them, as a per-row cache keeps it)."""
        connection = session.connection()
        sql, positional, processors = self._compile(connection.dialect)
        params: list[Any] = []
        if rows:
            cols = list(zip(*rows, strict=True))  # (strict: every row as long)
            if len(cols) != len(self.columns):
                raise ValueError(f"rows of {len(cols)} values for {len(self.columns)} columns")
            for i, process in enumerate(processors):
                if process is None:
                    continue
                if self.per_row:
                    cols[i] = list(map(process, cols[i]))
                else:
                    done = {v: process(v) for v in dict.fromkeys(cols[i])}
                    cols[i] = list(map(done.__getitem__, cols[i]))
            columns = self.columns
            if positional:
                params = list(zip(*cols, strict=True))
            else:
                params = [
                    dict(zip(columns, values, strict=True)) for values in zip(*cols, strict=True)
                ]
        connection.exec_driver_sql(sql, params)

    def run_columns(self, session: Session, columns: list[list[Any]]) -> None:
        """`run` of the rows `zip(*columns)` (one list per column, in `columns`' order),
        each processed column's values processed once per object (the lists hold them,
        so an id is one object through the call): what Core's executemany sends, which
        processes every row's value (`run` processes the first of equal values for
        them all)."""
        connection = session.connection()
        sql, positional, processors = self._compile(connection.dialect)
        if len(columns) != len(self.columns):
            raise ValueError(f"{len(columns)} columns for {len(self.columns)}")
        names = self.columns
        if NULLS_LEFT_OUT and columns[0] and connection.dialect.name == "sqlite":
            out = tuple(
                i
                for i in self._nullable(connection.dialect)
                if columns[i][0] is None and columns[i].count(None) == len(columns[i])
            )
            without = self._compile_without(connection.dialect, out) if out else None
            if without is not None:  # the statement, columns and names without them
                sql, positional, processors = without
                columns = [values for i, values in enumerate(columns) if i not in out]
                names = tuple(c for i, c in enumerate(self.columns) if i not in out)
        if (
            SHARED_COLUMNS
            and VALUES_ROWS
            and positional
            and len(columns[0]) >= 2
            and connection.dialect.name == "sqlite"
            and _values_shared(connection, sql, columns, processors)
        ):
            return
        cols = [
            values if process is None else _per_object(values, process)
            for values, process in zip(columns, processors, strict=True)
        ]
        rows = zip(*cols, strict=True)
        if positional:
            params: list[Any] = list(rows)
        else:
            params = [dict(zip(names, values, strict=True)) for values in rows]
        if VALUES_ROWS and positional and connection.dialect.name == "sqlite":
            params = _values_rows(connection, sql, len(names), params)
            if not params:
                return
        connection.exec_driver_sql(sql, params)

    def _nullable(self, dialect: Any) -> tuple[int, ...]:
        """The positions of the columns whose value None is stored as the column left out
        of the INSERT stores it: NULL. A column that is nullable, with no default of its
        own (`default`, `server_default`: a left-out column takes it) and no bind
        processor on `dialect`, or one that leaves None as it is (what SQLAlchemy's
        types do; a JSON column makes it "null"). Found once per dialect."""
        done = self._null_ok.get(dialect.name)
        if done is None:
            _, _, processors = self._compile(dialect)
            ok = []
            for i, (name, process) in enumerate(zip(self.columns, processors, strict=True)):
                column = self.table.c[name]
                if (
                    column.nullable
                    and column.default is None
                    and column.server_default is None
                    and not column.primary_key
                    and (process is None or process(None) is None)
                ):
                    ok.append(i)
            done = self._null_ok[dialect.name] = tuple(ok)
        return done

    def _compile_without(
        self, dialect: Any, out: tuple[int, ...]
    ) -> tuple[str, tuple[str, ...] | None, tuple[Any, ...]] | None:
        """`_compile`'s triple of the INSERT of the columns but those at `out`, None (the
        whole statement is used) when its compiled parameters are not exactly those
        columns in order (SQLAlchemy would add one: a default)."""
        key = (dialect.name, out)
        if key in self._without:
            return self._without[key]
        _, _, processors = self._compile(dialect)
        kept = [c for i, c in enumerate(self.columns) if i not in out]
        compiled = insert(self.table).compile(dialect=dialect, column_keys=kept)
        names = compiled.positiontup if dialect.positional else None
        done = None
        if set(compiled.binds) == set(kept) and (names is None or tuple(names) == tuple(kept)):
            done = (
                compiled.string,
                names,
                tuple(p for i, p in enumerate(processors) if i not in out),
            )
        self._without[key] = done
        return done


#: on SQLite `DriverInsert.run_columns` sends its rows as INSERTs of many rows each
#: (`_values_rows`: `VALUES (...), (...), ...`, the rows in order, so the same ids):
#: SQLite starts, ends and resets a statement once per chunk instead of once a row, and
#: the driver's executemany loop goes (~4.4k of the ~19k instructions a ledger row
#: cost; the bench's year -1.44 %); False: one executemany of the one-row INSERT (the
#: reference)
VALUES_ROWS = True

#: the most parameters `_values_rows` binds to one statement: SQLite's smallest bound on
#: them (`SQLITE_MAX_VARIABLE_NUMBER` before 3.32)
_MOST_PARAMETERS = 999


def _values_rows(connection: Any, sql: str, width: int, params: list[Any]) -> list[Any]:
    """Insert the rows of `params` (tuples of `width` values for the one-row `INSERT ...
    VALUES (?, ...)` `sql`) as statements of as many rows as `_MOST_PARAMETERS` allows,
    the last one of the rows left, in order; returns the rows left to the one-row
    statement's executemany: `params` itself when it is a single row (or none). The
    statements' texts repeat (a chunk's, a week's rest), so the driver's cache prepares
    each once per connection."""
    if len(params) < 2:
        return params
    size = _MOST_PARAMETERS // width
    for start in range(0, len(params), size):
        chunk = params[start : start + size]
        connection.exec_driver_sql(_many_rows(sql, len(chunk)), tuple(chain.from_iterable(chunk)))
    return []


#: on SQLite `DriverInsert.run_columns` binds a column whose values are all equal once
#: per statement, not once a row (`_values_shared`: numbered parameters, `?1` in every
#: row; a backtest's week: the vault, the fee, the market and the booking time), and
#: fills each statement's parameters from the columns by slice (`flat[j::width]`), not
#: by zipping them into a tuple a row and chaining those: the same rows, ~2.5k
#: instructions a ledger row less (three integers and a text bound, a column processed
#: once per object, a row's tuple made); False: every value bound, the rows zipped
#: and chained (`_values_rows`, the reference)
SHARED_COLUMNS = True

#: the exact types of an unprocessed column's values that `_values_shared` binds once
#: when all are equal and of one of them: equal ones bind the same (not so an int and
#: an equal float or bool; 0.0 and -0.0). A processed column's values are shared when
#: equal: the processor of the first stands for equal ones, as in `DriverInsert.run`
_SHARED_TYPES = (int, str)


def _values_shared(
    connection: Any, sql: str, columns: list[list[Any]], processors: tuple[Any, ...]
) -> bool:
    """`run_columns`' rows (`columns`: at least two rows, unprocessed, one list per
    column of the one-row INSERT `sql`) written with each column whose values are all
    equal bound once (its first value, processed), the others a row at a time, in
    statements of as many rows as `_MOST_PARAMETERS` allows, in order (the same ids).
    False (nothing written) when no column or every column is shared."""
    n = len(columns[0])
    if any(len(values) != n for values in columns):
        raise ValueError("columns of different lengths")  # (what zip's strict raises)
    head: list[Any] = []
    shared: list[int] = []
    varying: list[list[Any]] = []
    for j, (values, process) in enumerate(zip(columns, processors, strict=True)):
        first = values[0]
        if process is None:  # (ints, strs: every one of the first's type and equal to it)
            same = (
                type(first) in _SHARED_TYPES
                and values[-1] == first
                and values.count(first) == n
                and len(set(map(type, values))) == 1
            )
        else:  # (its first value processed stands for the equal ones)
            same = values[-1] == first and values.count(first) == n
        if same:
            shared.append(j)
            head.append(first if process is None else process(first))
        else:
            varying.append(values if process is None else _per_object(values, process))
    if not shared or not varying:
        return False
    width = len(varying)
    size = (_MOST_PARAMETERS - len(head)) // width
    for start in range(0, n, size):
        rows = min(size, n - start)
        flat: list[Any] = [None] * (rows * width)
        for k, values in enumerate(varying):
            flat[k::width] = values[start : start + rows]
        driver_sql(connection, _shared_rows(sql, len(columns), tuple(shared), rows), (*head, *flat))
    return True


def _shared_rows(sql: str, columns: int, shared: tuple[int, ...], rows: int) -> str:
    """The one-row INSERT `sql` (`... VALUES (?, ...)` of `columns` columns) of `rows`
    rows with numbered parameters: column `shared[i]` is `?{i + 1}` in every row, the
    others numbered on from there a row at a time, in column order."""
    key = (sql, shared, rows)
    many = _SHARED_ROWS.get(key)
    if many is None:
        head, _, _ = sql.rpartition(" VALUES ")
        width = columns - len(shared)
        texts = []
        for r in range(rows):
            k = len(shared) + r * width
            row = []
            for j in range(columns):
                if j in shared:
                    row.append(f"?{shared.index(j) + 1}")
                else:
                    k += 1
                    row.append(f"?{k}")
            texts.append(f"({', '.join(row)})")
        many = _SHARED_ROWS[key] = f"{head} VALUES {', '.join(texts)}"
    return many


#: (one-row SQL, shared columns, rows) -> `_shared_rows`' INSERT
_SHARED_ROWS: dict[tuple[str, tuple[int, ...], int], str] = {}


def _many_rows(sql: str, rows: int) -> str:
    """The one-row INSERT `sql` (`... VALUES (?, ...)`) of `rows` rows."""
    many = _MANY_ROWS.get((sql, rows))
    if many is None:
        head, _, row = sql.rpartition(" VALUES ")  # (row: "(?, ?, ...)")
        many = _MANY_ROWS[(sql, rows)] = f"{head} VALUES {', '.join([row] * rows)}"
    return many


#: (one-row SQL, rows) -> the INSERT of that many rows (`_many_rows`: at most
#: `_MOST_PARAMETERS` rows for each of a few statements)
_MANY_ROWS: dict[tuple[str, int], str] = {}


def _per_object(values: list[Any], process: Any) -> list[Any]:
    """`[process(v) for v in values]`, `process` called once per distinct object (by
    identity: no value is hashed, a datetime's hash is a Python-level zone call)."""
    ids = list(map(id, values))
    done = {i: process(v) for i, v in dict(zip(ids, values, strict=True)).items()}
    return list(map(done.__getitem__, ids))


#: a flush's ledger INSERT leaves out the columns that are None in every one of its rows
#: (`DriverInsert.run_columns`: nullable, no default, None bound as NULL; a backtest's
#: counterparty and memo): the same rows, NULL there, without the driver's adaptation
#: of a None parameter (not one of the types sqlite3 binds as they are: ~3.3k
#: instructions each, two per entry); on SQLite only (psycopg binds a None as it is, and
#: a PostgreSQL flush keeps the one INSERT `compile_statements` compiled ahead); False:
#: every column bound (the reference)
NULLS_LEFT_OUT = True

#: a UTC datetime bound to a `UTCDateTime` column on SQLite is written as its
#: `isoformat` text (`_utc_text`); False: the column's bind processors (the reference)
UTC_TEXT = True

#: SQLite's DATETIME storage format (SQLAlchemy's default) that `_utc_text`'s text is
SQLITE_DATETIME_FORMAT = (
    "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"
)


#: `_utc_text` writes a UTC datetime's fields into `SQLITE_DATETIME_FORMAT` by position
#: (`_UTC_FIELDS`, the same text: the fields are the UTC ones) instead of `isoformat`'s
#: text cut (a call with keywords and a C `printf` of the fields and the offset: ~13k
#: instructions, one a funding hour); False: `isoformat` (the reference)
UTC_FIELDS = True

#: `SQLITE_DATETIME_FORMAT` with its fields by position (year, month, day, hour, minute,
#: second, microsecond)
_UTC_FIELDS = "%04d-%02d-%02d %02d:%02d:%02d.%06d"

#: `_utc_text` writes a UTC datetime's date once per day (`_DAY_TEXT`, by its ordinal)
#: and its hour, minute and second from a table of the two-digit texts (`_TWO_DIGITS`):
#: the same text as `_UTC_FIELDS`, without its seven integer conversions (each a
#: `%0Nd` of an int: ~8k instructions a datetime, ~8.8k datetimes a backtest's year,
#: one a funding hour); False: `_UTC_FIELDS` (the reference)
UTC_DAYS = True

#: "00" .. "99": a time field's text in `SQLITE_DATETIME_FORMAT` (`%02d` of 0-99)
_TWO_DIGITS = tuple(f"{i:02d}" for i in range(100))

#: a date's ordinal -> its "YYYY-MM-DD " (`_UTC_FIELDS`' date and the space): a year's
#: hours share 365 of them. Emptied when it holds `_DAYS_KEPT` (a long run's days)
_DAY_TEXT: dict[int, str] = {}
_DAYS_KEPT = 4096


def _bind_processor(type_: Any, dialect: Any) -> Any:
    """The bind processor Core applies for a column of `type_`, a `UTCDateTime` on
    SQLite's DATETIME of the default storage format wrapped by `_utc_text`."""
    process = type_.dialect_impl(dialect).bind_processor(dialect)
    if (
        isinstance(type_, UTCDateTime)
        and dialect.name == "sqlite"
        and process is not None
        and getattr(type_.dialect_impl(dialect).impl_instance, "_storage_format", None)
        == SQLITE_DATETIME_FORMAT
    ):
        return _utc_text(process)
    return process


def _utc_text(process: Any) -> Any:
    """`process` (`UTCDateTime` then SQLite's DATETIME: `astimezone(UTC)`, the zone
    dropped, the fields formatted by `SQLITE_DATETIME_FORMAT`) for a `datetime` whose
    zone is `UTC` itself, in one C call: its fields are then the UTC fields, and
    `isoformat(" ", "microseconds")` writes them in that format (a 4-digit year for
    every year, the microseconds always) followed by "+00:00", cut off. Other values
    (other zones, naive or not datetimes, subclasses) go to `process`. A ledger week
    binds ~350 distinct datetimes, each through two Python layers of processors."""

    def text(value: Any) -> Any:
        if UTC_TEXT and type(value) is datetime and value.tzinfo is UTC:
            if UTC_FIELDS and UTC_DAYS:
                ordinal = value.toordinal()
                day = _DAY_TEXT.get(ordinal)
                if day is None:
                    if len(_DAY_TEXT) >= _DAYS_KEPT:
                        _DAY_TEXT.clear()
                    day = _DAY_TEXT[ordinal] = (
                        f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
                    )
                micro = value.microsecond
                two = _TWO_DIGITS
                return (
                    f"{day}{two[value.hour]}:{two[value.minute]}:{two[value.second]}."
                    f"{f'{micro:06d}' if micro else '000000'}"
                )
            if UTC_FIELDS:
                return _UTC_FIELDS % (
                    value.year,
                    value.month,
                    value.day,
                    value.hour,
                    value.minute,
                    value.second,
                    value.microsecond,
                )
            return value.isoformat(" ", "microseconds")[:26]
        return process(value)

    return text


class DriverStatement(DriverInsert):
    """`DriverInsert` of a statement built beforehand (an UPDATE ... WHERE of named
    bind parameters): `params` are its parameter names in the compiled statement's
    positional order, each processed per row by its parameter's bind processor (the one
    Core's executemany applies: `_statement_processor`). Compiled once per dialect, not per
    database engine (SQLAlchemy's statement cache is one per engine: a new runner's
    first tick that writes engine records compiled the UPDATE, ~1 ms)."""

    def __init__(self, statement: Any, params: tuple[str, ...]) -> None:
        super().__init__(statement.table, params, per_row=True)
        self.statement = statement

    def _compile(self, dialect: Any) -> tuple[str, tuple[str, ...] | None, tuple[Any, ...]]:
        done = self._compiled.get(dialect.name)
        if done is None:
            compiled = self.statement.compile(dialect=dialect)
            names = tuple(compiled.positiontup) if dialect.positional else None
            if names is not None and names != self.columns:
                raise AssertionError(f"unexpected parameter order {names!r}")
            processors = tuple(
                _statement_processor(compiled.binds[p], dialect) for p in self.columns
            )
            done = self._compiled[dialect.name] = (compiled.string, names, processors)
        return done


def _statement_processor(param: Any, dialect: Any) -> Any:
    """The bind processor Core applies to the compiled statement's parameter `param`
    (its `BindParameter`, `compiled.binds`): its type's dialect implementation's
    `bind_processor`, the public form of what the compiled statement keeps per name
    (`SQLCompiler._bind_processors`: the same call, memoized per dialect); None for no
    processing. (That map also leaves out literal-execute parameters and holds a tuple
    for a tuple-typed one: the statements sent this way have neither.)"""
    return param.type.dialect_impl(dialect).bind_processor(dialect)


_LEDGER_INSERT = DriverInsert(LedgerEntryRow.__table__, ENTRY_COLUMNS)
#: a vault snapshot row's columns, in `_snapshot_row`'s order (its positions are JSON:
#: processed per row)
SNAPSHOT_COLUMNS = (
    "vault_id",
    "source",
    "taken_at",
    "slot",
    "cash",
    "position_value",
    "equity",
    "unrealized_pnl",
    "health",
    "positions",
    "cumulative_perp_funding",
    "settled_perp_pnl",
)
_SNAPSHOT_INSERT = DriverInsert(VaultSnapshotRow.__table__, SNAPSHOT_COLUMNS, per_row=True)


#: on SQLite a flush reads its vaults with `_LOCK_VAULTS`'s SQL sent to the driver, the
#: values made by the columns' own result processors (`_vault_rows`); False: the Core
#: statement executed by the session (the reference; PostgreSQL always)
LOCK_DRIVER = True


def _lock_vaults(session: Session, refs: set[Any]) -> dict[Any, Any]:
    """ref (id or name) -> its row, all read with one SELECT ... FOR UPDATE in id order."""
    ids = [r for r in refs if isinstance(r, int)]
    names = [r for r in refs if not isinstance(r, int)]
    connection = session.connection() if LOCK_DRIVER else None
    if connection is not None and connection.dialect.name == "sqlite":
        rows: Any = _vault_rows(connection, ids, names)
    else:
        # Core rows: the checks read the same attributes (a statement built once, the
        # lists bound as expanding parameters)
        rows = session.execute(_LOCK_VAULTS, {"ids": ids, "names": names}).all()
    out: dict[Any, Any] = {}
    for row in rows:
        out[row.id] = row
        out[row.name] = row
    for ref in refs:
        if ref not in out:
            raise UnknownVaultError(ref)
    return out


#: a vault row as `_vault_rows` reads it: the attributes of `_LOCK_VAULTS`'s Core row
_VaultRow = namedtuple("_VaultRow", [c.key for c in VaultRow.__table__.c])  # type: ignore[misc]
_VAULT_SELECT = "SELECT {} FROM vaults WHERE {} ORDER BY vaults.id".format(
    ", ".join(f"vaults.{c.name}" for c in VaultRow.__table__.c), "{}"
)


def _vault_rows(connection: Any, ids: list[int], names: list[str]) -> list[Any]:
    """`_LOCK_VAULTS`'s rows on SQLite, without the session's execution and the
    expanding lists' rendering (~1 ms a flush): the statement Core sends there (its
    SQLite compiler writes no FOR UPDATE) over the same lists (an empty list's IN
    matches no row, as Core's empty IN; ids and names go to SQLite as they are: their
    columns have no bind processor there), each value as its column's result processor
    makes it, what the Core row holds (enum members, booleans, aware datetimes)."""
    where = []
    if ids:
        where.append(f"vaults.id IN ({', '.join('?' * len(ids))})")
    if names:
        where.append(f"vaults.name IN ({', '.join('?' * len(names))})")
    if not where:
        return []
    processors = _vault_processors(connection.dialect)
    sql = _VAULT_SELECT.format(" OR ".join(where))
    out = []
    for raw in driver_sql(connection, sql, (*ids, *names)):
        values = list(raw)
        for i, process in processors:
            values[i] = process(values[i])
        out.append(_VaultRow._make(values))
    return out


def _vault_processors(dialect: Any) -> list[tuple[int, Any]]:
    """(position, result processor) of each column of `vaults` that has one on `dialect`:
    its type's dialect implementation's `result_processor` for no DBAPI type code
    (SQLite's cursor gives none), what Core applies to the column's values. Made once
    per dialect object (Core memoizes the same call on the dialect, privately)."""
    done = _VAULT_PROCESSORS.get(dialect)
    if done is None:
        done = _VAULT_PROCESSORS[dialect] = [
            (i, p)
            for i, c in enumerate(VaultRow.__table__.c)
            if (p := c.type.dialect_impl(dialect).result_processor(dialect, None)) is not None
        ]
    return done


#: dialect -> `_vault_processors` (weak: a dialect goes with its database engine)
_VAULT_PROCESSORS: WeakKeyDictionary[Any, list[tuple[int, Any]]] = WeakKeyDictionary()


def _lock_statement() -> Any:
    table = VaultRow.__table__
    return (
        select(table)
        .where(
            or_(
                table.c.id.in_(bindparam("ids", expanding=True)),
                table.c.name.in_(bindparam("names", expanding=True)),
            )
        )
        .order_by(table.c.id)
        .with_for_update()
    )


def _booked_statement() -> Any:
    table = LedgerEntryRow.__table__
    return select(table).where(
        table.c.vault_id.in_(bindparam("ids", expanding=True)),
        table.c.idempotency_key.in_(bindparam("keys", expanding=True)),
    )


_LOCK_VAULTS = _lock_statement()
_BOOKED = _booked_statement()


def compile_statements(session: Session) -> None:
    """Have the database's engine compile `flush`'s two reads now, with empty lists
    (they match no row and lock none): SQLAlchemy compiles a statement the first time
    an engine executes it (~0.5-1 ms each), which would otherwise be inside the first
    tick that books (a paper runner's entry tick; ADR-0020, s8-entry). The inserts
    `flush` sends to the driver are compiled here too."""
    session.execute(_LOCK_VAULTS, {"ids": [], "names": []}).all()
    session.execute(_BOOKED, {"ids": [], "keys": []}).all()
    dialect = session.connection().dialect
    _LEDGER_INSERT._compile(dialect)  # compiled once per process and dialect
    _SNAPSHOT_INSERT._compile(dialect)


#: on SQLite a flush first asks which of its keys are booked (`_booked_keys`: driver
#: rows of two columns, the statement written once per length) and reads the entries of
#: those only; False: the entries of all its keys are read (the reference)
BOOKED_PROBE = True


def _wanted(ops: list[Op], vaults: dict[Any, Any]) -> tuple[set[tuple[int, str]], int]:
    """The batch's (vault id, key) pairs, and how many entries it books (more than
    pairs: a key booked twice in it)."""
    wanted: set[tuple[int, str]] = set()
    n = 0
    for op in ops:
        if op[0] == "book":
            vault_id = vaults[op[2]].id
            wanted.update([(vault_id, e.key) for e in op[3]])
            n += len(op[3])
    return wanted, n


def _booked(
    session: Session, wanted: set[tuple[int, str]]
) -> dict[tuple[int, str], LedgerEntry | NewEntry]:
    """(vault id, key) -> the entry booked before this batch, for the batch's (vault id,
    key) pairs (`_wanted`)."""
    out: dict[tuple[int, str], LedgerEntry | NewEntry] = {}
    keys = sorted({k for _, k in wanted})
    ids = sorted({v for v, _ in wanted})
    if BOOKED_PROBE and keys:
        connection = session.connection()
        if connection.dialect.name == "sqlite":
            keys = _booked_keys(connection, ids, keys, wanted)
    for start in range(0, len(keys), 500):
        for row in session.execute(  # Core rows: `from_row` reads the same attributes
            _BOOKED, {"ids": ids, "keys": keys[start : start + 500]}
        ):
            if (row.vault_id, row.idempotency_key) in wanted:
                out[(row.vault_id, row.idempotency_key)] = LedgerEntry.from_row(row)
    return out


def _booked_keys(
    connection: Any, ids: list[int], keys: list[str], wanted: set[tuple[int, str]]
) -> list[str]:
    """The keys of `keys` booked already for a wanted (vault id, key), sorted: the same
    WHERE as `_BOOKED` over the same chunks of keys, two columns read as the driver
    gives them (an integer and a text: no type processing on SQLite)."""
    found: set[str] = set()
    marks = ", ".join("?" * len(ids))
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        sql = (
            "SELECT vault_id, idempotency_key FROM ledger_entries "
            f"WHERE vault_id IN ({marks}) AND idempotency_key IN ({', '.join('?' * len(chunk))})"
        )
        for vault_id, key in connection.exec_driver_sql(sql, (*ids, *chunk)):
            if (vault_id, key) in wanted:
                found.add(key)
    return sorted(found)


def _balances(
    session: Session, vault_ids: set[int], marks: BalanceMarks | None = None
) -> dict[int, int]:
    """Each vault's ledger balance (`balance_of`) as the transaction sees it now: with
    `marks` on SQLite, the balance at the vault's mark plus the entries above it (and
    the mark moved to the highest entry now), else the SUM over its whole ledger."""
    if not vault_ids:
        return {}
    if marks is not None and BALANCE_MARKS:
        connection = session.connection()
        if connection.dialect.name == "sqlite":
            return _balances_from_marks(connection, vault_ids, marks)
    out = {v: 0 for v in vault_ids}
    for vault_id, total in session.execute(
        select(LedgerEntryRow.vault_id, func.sum(LedgerEntryRow.amount - LedgerEntryRow.fee))
        .where(LedgerEntryRow.vault_id.in_(sorted(vault_ids)))
        .group_by(LedgerEntryRow.vault_id)
    ):
        out[vault_id] = int(total)  # PostgreSQL sums BIGINT as NUMERIC: exact, made int
    return out


#: the entries of one vault above a mark: their net sum and the highest id
_SINCE_MARK = (
    "SELECT COALESCE(SUM(amount - fee), 0), MAX(id) FROM ledger_entries "
    "WHERE vault_id = ? AND id > ?"
)


#: `_SINCE_MARK` read over the table's ids (`NOT INDEXED`: the entries above the mark,
#: the same sum and highest id) in a database made without the ledger's `vault_id`
#: index (a scratch database, `storage.scratch.LEAN_SCRATCH_INDEXES`), where SQLite
#: would otherwise read the vault's entries through the unique (vault_id, key) index:
#: every entry of the vault, a flush after flush longer scan
_SINCE_MARK_BY_ID = (
    "SELECT COALESCE(SUM(amount - fee), 0), MAX(id) FROM ledger_entries NOT INDEXED "
    "WHERE vault_id = ? AND id > ?"
)

#: the index on the ledger's `vault_id` that `_SINCE_MARK` is read through
_VAULT_INDEX = "ix_ledger_entries_vault_id"

#: engine -> the SQL `_balances_from_marks` reads with (`_since_mark`)
_SINCE_SQL: WeakKeyDictionary[Any, str] = WeakKeyDictionary()


def _since_mark(connection: Any) -> str:
    """`_SINCE_MARK`, or `_SINCE_MARK_BY_ID` when the database has no `_VAULT_INDEX`
    (asked once per engine)."""
    db = connection.engine
    sql = _SINCE_SQL.get(db)
    if sql is None:
        has = connection.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (_VAULT_INDEX,)
        ).first()
        sql = _SINCE_SQL[db] = _SINCE_MARK if has is not None else _SINCE_MARK_BY_ID
    return sql


def _balances_from_marks(
    connection: Any, vault_ids: set[int], marks: BalanceMarks
) -> dict[int, int]:
    """`_balances` on SQLite from the kept marks (see `BalanceMarks`)."""
    db = connection.engine
    kept = marks.marks
    out: dict[int, int] = {}
    since = _since_mark(connection)
    for vault_id in sorted(vault_ids):
        at, balance = kept.get((db, vault_id), (0, 0))
        total, top = connection.exec_driver_sql(since, (vault_id, at)).one()
        balance += int(total)
        out[vault_id] = balance
        if top is not None:
            kept[(db, vault_id)] = (int(top), balance)
    return out


def _snapshot_row(row: Any, point: dict[str, Any], at: datetime, cash: int) -> dict:
    """The row `insert_snapshot` builds for `Snapshots.record_in`, with its checks."""
    position_value = point["position_value"]
    unrealized_pnl = point["unrealized_pnl"]
    health = point.get("health")
    taken_at = point.get("taken_at") or at
    check_amount(position_value, field="position_value", allow_negative=True, allow_zero=True)
    check_amount(unrealized_pnl, field="unrealized_pnl", allow_negative=True, allow_zero=True)
    if health is not None and (isinstance(health, bool) or not 0 <= health <= 100):
        raise InvalidAmountError("health", f"must be an integer 0..100, got {health!r}")
    if taken_at.tzinfo is None:
        raise InvalidAmountError("taken_at", "must be timezone-aware")
    return {
        "vault_id": row.id,
        "source": SnapshotSource.ENGINE,
        "taken_at": taken_at,
        "slot": None,
        "cash": cash,
        "position_value": position_value,
        "equity": cash + position_value,
        "unrealized_pnl": unrealized_pnl,
        "health": health,
        "positions": [_position_json(p) for p in point.get("positions", ())],
        "cumulative_perp_funding": None,
        "settled_perp_pnl": None,
    }


def _position_json(position: Any) -> dict[str, Any]:
    """`snapshots.position_to_json` without `asdict`'s deep copy: a `DriftPosition` holds
    only integers, a string and an enum (the same dict, key for key)."""
    from drift_engine.vaults.snapshots import position_to_json

    if type(position) is not DriftPosition:
        return position_to_json(position)
    out = {name: getattr(position, name) for name in _POSITION_FIELDS}
    out["market_type"] = position.market_type.value
    return out


_POSITION_FIELDS = tuple(f.name for f in fields(DriftPosition))

__all__ = ["BalanceMarks", "DriverInsert", "TickVaultWrites"]
