"""Persistence of engines: their record (state, strategy state, high-water mark), their
event log (transitions, rejections, orders), the heartbeat rows, the paper checkpoints and
the operator commands' outcomes.

The tables (`engine_records`, `engine_events`, `heartbeats`, `paper_checkpoints`,
`engine_commands`) are storage models (`drift_engine.storage.models`) created by the
Alembic migrations: open the database with `Database.open(url)`, which upgrades it,
before building a store.

A store with a `WriteBatch` (`store.batch`, set by a persisting `PaperStack`) does not
write at once: each write is held in the batch and committed with the next paper
checkpoint, in the same transaction (`save_checkpoint`), so a tick's ledger entries,
engine records and events, applied commands and the simulator state are all in the
database or none is (ADR-0011). Without a batch every write is its own transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import compress, count, repeat
from operator import is_not
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from drift_engine.engine.ports import EngineRecord
from drift_engine.storage.models import (
    EngineCommandRow,
    EngineEventRow,
    EngineRow,
    HeartbeatRow,
)

Write = Callable[[Session], Any]


_PLAIN = (str, int, float, bool, type(None))


def _plain_copy(value: Any) -> Any:
    """A copy of `value` when it is made of dicts with str keys, lists and JSON
    scalars only (exact types: an int enum is not plain); else `_NOT_PLAIN`."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                return _NOT_PLAIN
            c = _plain_copy(v)
            if c is _NOT_PLAIN:
                return _NOT_PLAIN
            out[k] = c
        return out
    if kind is list:
        items = []
        for v in value:
            c = _plain_copy(v)
            if c is _NOT_PLAIN:
                return _NOT_PLAIN
            items.append(c)
        return items
    return _NOT_PLAIN


_NOT_PLAIN = object()


def json_payload(data: dict[str, Any]) -> Any:
    """`data` as the JSON column reads it back: `json.loads(json.dumps(data,
    default=str))`, without the round trip when `data` is plain JSON already (an engine
    event's data mostly is: seven of them per entering engine)."""
    plain = _plain_copy(data)
    if plain is not _NOT_PLAIN:
        return plain
    return json.loads(json.dumps(data, default=str))


#: a heartbeat row's JSON columns go to the driver as text built from kept pieces
#: (`JsonPieces`) where the dialect's JSON column stores `json.dumps` text (SQLite);
#: False: Core's executemany of the row dicts, the reference the tests compare with
HEARTBEAT_PIECES = True

#: a list or tuple at least this long keeps the text of its items (`JsonPieces`)
_KEPT_LENGTH = 16

#: `JsonPieces` takes a long list's stretches of items met in the last call (the same
#: objects, in the same order) as one slice of the text kept for them (`_Run`);
#: False: each item's text is found by its own kept tuple (`JsonPieces._item`), the
#: reference the tests compare with (ADR-0020, s14-flush)
HEARTBEAT_RUNS = True


class _Run:
    """The text of a long list's items as one call wrote it: `items` (held: their ids
    are not reused while it is kept), their texts joined by ", " (`text`) and each
    item's text length (`lens`), so the text of items j..j+m-1 is one slice of it."""

    __slots__ = ("items", "lens", "text")

    def __init__(self, items: tuple[Any, ...], text: str, lens: list[int]) -> None:
        self.items = items
        self.text = text
        self.lens = lens


class JsonPieces:
    """`json.dumps(value)` (default arguments) of the heartbeat rows' JSON, keeping the
    text of the items of long lists between calls: a heartbeat row holds the board's
    7-day `funding_sides` (168 (ts, long, short) tuples, ~0.5 ms of float formatting),
    and the next row (a day later) shares 144 of those tuples, the same objects.

    The text is composed as the encoder composes it: a dict with str keys is "{" +
    ", ".join(key + ": " + value) + "}", a list or tuple "[" + ", ".join(items) + "]",
    a scalar of exactly `int`, `float`, `str`, `bool` or None the encoder's own text of
    it (`_SCALAR_TEXT`: the functions `json.dumps` calls for them), anything else
    (other keys, subclasses, short lists) is `json.dumps`'s own. A str key's text is
    kept (equal strings, equal text). An item's text is kept only for a tuple of JSON
    scalars (immutable: its text cannot change), found again by identity (the kept
    tuple is held, so its id is not reused); only the items met in the last call that
    had long lists are kept.

    With `HEARTBEAT_RUNS` a long list whose items are all such tuples is kept whole
    (`_Run`) and the next call takes each stretch of its items met there, in the same
    order, as one slice of the kept text (the next row's `funding_sides` is the last
    one's 144 newest tuples and 24 new ones: one slice and 24 tuples' texts), not one
    look-up per item."""

    def __init__(self) -> None:
        self._kept: dict[int, tuple[Any, str]] = {}
        self._used: dict[int, tuple[Any, str]] = {}
        self._keys: dict[str, str] = {}
        #: id(item) -> (the kept run holding it, its index there): the last call's runs
        #: (`HEARTBEAT_RUNS`), and this call's
        self._at: dict[int, tuple[_Run, int]] = {}
        self._next_at: dict[int, tuple[_Run, int]] = {}

    def encode(self, value: Any) -> str:
        self._used = {}
        self._next_at = {}
        try:
            return self._encode(value)
        finally:
            if self._used:  # (a call without long lists keeps the last one's pieces)
                self._kept = self._used
            if self._next_at:
                self._at = self._next_at
            self._used = {}
            self._next_at = {}

    def _encode(self, value: Any) -> str:
        kind = type(value)
        scalar = _SCALAR_TEXT.get(kind)
        if scalar is not None:
            return scalar(value)
        if kind is dict:
            if not value or any(type(k) is not str for k in value):
                return json.dumps(value)
            keys = self._keys
            parts = []
            for k, v in value.items():
                text = keys.get(k)
                if text is None:
                    text = keys[k] = _encode_str(k) + ": "
                parts.append(text + self._encode(v))
            return "{" + ", ".join(parts) + "}"
        if kind is list or kind is tuple:
            if len(value) < _KEPT_LENGTH:
                return json.dumps(value)
            if HEARTBEAT_RUNS:
                return "[" + self._runs(value) + "]"
            return "[" + ", ".join([self._item(v) for v in value]) + "]"
        return json.dumps(value)

    def _runs(self, value: list | tuple) -> str:
        """The items' texts joined by ", ": each stretch met in a kept run (the same
        objects in the same order, found by the first one's identity) as one slice of
        that run's text, the other items as `_encode` writes them (a tuple of JSON
        scalars by `_tuple_text`, as `_item`); kept as a run when every item is such a
        tuple."""
        items = tuple(value)
        n = len(items)
        at = self._at
        pieces: list[str] = []
        lens: list[int] = []
        keep = True
        i = 0
        while i < n:
            item = items[i]
            hit = at.get(id(item))
            if hit is not None and hit[0].items[hit[1]] is item:
                run, j = hit
                size = min(n - i, len(run.items) - j)
                # the first item whose object differs (`size` if none does)
                m = next(
                    compress(count(), map(is_not, items[i : i + size], run.items[j : j + size])),
                    size,
                )
                start = sum(run.lens[:j]) + 2 * j
                taken = run.lens[j : j + m]
                pieces.append(run.text[start : start + sum(taken) + 2 * (m - 1)])
                lens += taken
                i += m
                continue
            text = _tuple_text(item)
            if text is None:
                keep = False
                text = self._encode(item)
            pieces.append(text)
            lens.append(len(text))
            i += 1
        joined = ", ".join(pieces)
        if keep:
            run = _Run(items, joined, lens)
            self._next_at.update(
                zip(map(id, items), zip(repeat(run, n), range(n), strict=True), strict=True)
            )
        return joined

    def _item(self, item: Any) -> str:
        if type(item) is not tuple:
            return self._encode(item)
        key = id(item)
        kept = self._kept.get(key)
        if kept is None or kept[0] is not item:
            text = _tuple_text(item)
            if text is None:
                return self._encode(item)
            kept = (item, text)
        self._used[key] = kept
        return kept[1]


#: in a tuple's text a float equal to the value before it, nonzero (a funding tuple's
#: short rate, equal to its long rate in most hours), takes that value's text (`_tuple_text`): equal
#: nonzero floats are the same double, so the same repr; 0.0 and -0.0 (equal, texts
#: differ) and NaN (unequal to itself) are written each; False: every float formatted,
#: the reference the tests compare with
FLOAT_TWINS = True


def _tuple_text(item: Any) -> str | None:
    """`json.dumps(item)` of a tuple of JSON scalars (`_SCALAR_TEXT`), else None."""
    if type(item) is not tuple:
        return None
    texts = []
    last: Any = None
    text = ""
    for v in item:
        scalar = _SCALAR_TEXT.get(type(v))
        if scalar is None:
            return None
        if scalar is _float_text and FLOAT_TWINS and type(last) is float and v == last and v:
            pass  # the same double as `last`: its text
        else:
            text = scalar(v)
        texts.append(text)
        last = v
    return "[" + ", ".join(texts) + "]"


def _float_text(value: float) -> str:
    """`json.dumps(value)` of a float (`allow_nan`: the encoder's names for NaN and the
    infinities, else `float.__repr__`)."""
    if value != value:
        return "NaN"
    if value == _INFINITY:
        return "Infinity"
    if value == -_INFINITY:
        return "-Infinity"
    return float.__repr__(value)


_INFINITY = float("inf")
#: `json.dumps` of a str (ensure_ascii: the encoder's own function)
_encode_str = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]
#: type (exactly) -> `json.dumps` of a value of it, as the encoder makes it
_SCALAR_TEXT: dict[type, Callable[[Any], str]] = {
    str: _encode_str,
    int: int.__repr__,
    float: _float_text,
    bool: lambda value: "true" if value else "false",
    type(None): lambda value: "null",
}


_HEARTBEAT_COLUMNS = (
    "ts",
    "recorded_at",
    "duration_ms",
    "events",
    "engines_stepped",
    "errors",
    "market_state",
)


def _heartbeat_insert() -> Any:
    from drift_engine.vaults.bulk import DriverInsert

    return DriverInsert(
        HeartbeatRow.__table__,
        _HEARTBEAT_COLUMNS,
        encoded=frozenset({"errors", "market_state"}),
        per_row=True,
    )


_HEARTBEAT_JSON = JsonPieces()


def _json_is_text(dialect: Any) -> bool:
    """The dialect's JSON column binds `json.dumps(value)` as a string (SQLite with the
    default serializer: `sqltypes.JSON`'s processor; PostgreSQL's psycopg wraps the
    value for the driver instead)."""
    return dialect.name == "sqlite" and getattr(dialect, "_json_serializer", None) is None


def _insert_heartbeats(session: Session, beats: list[dict[str, Any]]) -> None:
    """`session.execute(insert(heartbeats), beats)`: the same rows, the JSON columns as
    text built by `JsonPieces` where the dialect stores JSON as `json.dumps` text."""
    global _HEARTBEAT_INSERT
    if not HEARTBEAT_PIECES or not _json_is_text(session.connection().dialect):
        session.execute(insert(HeartbeatRow.__table__), beats)
        return
    if _HEARTBEAT_INSERT is None:
        _HEARTBEAT_INSERT = _heartbeat_insert()
    encode = _HEARTBEAT_JSON.encode
    rows = [
        (
            b["ts"],
            b["recorded_at"],
            b["duration_ms"],
            b["events"],
            b["engines_stepped"],
            json.dumps(b["errors"]),
            encode(b["market_state"]),
        )
        for b in beats
    ]
    _HEARTBEAT_INSERT.run(session, rows)


_HEARTBEAT_INSERT: Any = None

#: a batch's engine events and engine record updates go to the driver as parameter
#: tuples processed by the statements' own bind processors (`vaults.bulk.DriverInsert`,
#: `DriverStatement`; compiled once per process), where the dialect stores JSON as
#: `json.dumps` text (SQLite); False: Core's executemany of the row dicts, the
#: reference the tests compare with (ADR-0020, s12-hb)
TICK_DRIVER_ROWS = True

_EVENT_COLUMNS = ("engine_id", "ts", "kind", "message", "data")
_EVENT_INSERT: Any = None


def _insert_events(session: Session, events: list[dict[str, Any]]) -> None:
    """`session.execute(insert(engine_events), events)`: the same rows, sent as driver
    tuples (`TICK_DRIVER_ROWS`)."""
    global _EVENT_INSERT
    if not TICK_DRIVER_ROWS or not _json_is_text(session.connection().dialect):
        session.execute(insert(EngineEventRow.__table__), events)
        return
    if _EVENT_INSERT is None:
        from drift_engine.vaults.bulk import DriverInsert

        _EVENT_INSERT = DriverInsert(EngineEventRow.__table__, _EVENT_COLUMNS, per_row=True)
    _EVENT_INSERT.run(session, [tuple(e[c] for c in _EVENT_COLUMNS) for e in events])


class WriteBatch:
    """Writes held in memory until the next paper checkpoint commits them, in order, in
    one transaction with it. Each write is a function of the session that builds its
    rows itself, so the commit can run again after a retried transaction."""

    def __init__(self) -> None:
        self.writes: list[Write] = []
        #: engines a held write is about that a replay from an older checkpoint would
        #: not write again exactly (command outcomes, capital moves): their paper cells
        #: checkpoint with it. Bookings (keyed), engine records (the latest wins; a
        #: restore puts the checkpoint's back), vault snapshots (not taken again up to
        #: the newest committed one), heartbeat rows (`heartbeats_until`) and engine
        #: events (`SqlEngineStore.events_until`) are replayed exactly, so they are added
        #: without an engine (ADR-0020, sessions 5 and 6)
        self.touched: set[str] = set()
        #: the vault balances read by this batch's flushes (`vaults.bulk.BalanceMarks`):
        #: the next flush sums only the entries booked since
        self.balance_marks: Any = None

    def add(self, write: Write, engine_id: str | None = None) -> None:
        self.writes.append(write)
        if engine_id is not None:
            self.touched.add(engine_id)

    def run(self, session: Session, *, records_written: Any = ()) -> None:
        """Run the held writes in order. When every one is of a kind with a bulk form
        (ledger bookings, vault snapshots, engine events and records, heartbeat rows:
        each write says so with an attribute) the same rows are written with a few
        executemany statements instead (`vaults.bulk.TickVaultWrites` for the vault
        side; ADR-0020). Engine records of `records_written` (the checkpoint in this
        transaction writes their latest value after the batch) are not written twice."""
        writes = self.writes
        kinds = [_bulk_kind(w) for w in writes]
        if not all(kinds):
            for write in writes:
                write(session)
            return
        from drift_engine.vaults.booking import utc_now
        from drift_engine.vaults.bulk import BalanceMarks, TickVaultWrites

        if self.balance_marks is None:
            self.balance_marks = BalanceMarks()
        vault = TickVaultWrites(self.balance_marks)
        events: list[dict[str, Any]] = []
        beats: list[dict[str, Any]] = []
        records: dict[str, EngineRecord] = {}
        for write, kind in zip(writes, kinds, strict=True):
            if kind == "booking":
                ledger, engine_id, ref, entries = write.booking  # type: ignore[attr-defined]
                vault.book(engine_id, ref, entries, getattr(ledger, "_clock", utc_now)())
            elif kind == "snapshot":
                snaps, engine_id, ref, point = write.snapshot  # type: ignore[attr-defined]
                vault.snapshot(engine_id, ref, point, getattr(snaps, "_clock", utc_now)())
            elif kind == "event":
                events.append(write.event)  # type: ignore[attr-defined]
            elif kind == "heartbeat":
                beats.append(write.heartbeat)  # type: ignore[attr-defined]
            else:
                record = write.record[0]  # type: ignore[attr-defined]
                records[record.engine_id] = record
        vault.flush(session)
        if events:
            _insert_events(session, events)
        if beats:
            _insert_heartbeats(session, beats)
        for engine_id, record in records.items():
            if engine_id not in records_written:
                _put_record(session, record)

    def held_records(self) -> dict[str, EngineRecord] | None:
        """engine id -> the latest engine record held, when `run` would write the batch
        in bulk (None otherwise: the writes run one after another, records in their
        place). A checkpoint writes these with its own records in one executemany."""
        writes = self.writes
        kinds = [_bulk_kind(w) for w in writes]
        if not all(kinds):
            return None
        out: dict[str, EngineRecord] = {}
        for write, kind in zip(writes, kinds, strict=True):
            if kind == "record":
                record = write.record[0]  # type: ignore[attr-defined]
                out[record.engine_id] = record
        return out

    def clear(self) -> None:
        self.writes.clear()
        self.touched.clear()

    def __len__(self) -> int:
        return len(self.writes)


_BULK_KINDS = ("booking", "snapshot", "event", "heartbeat", "record")


def _bulk_kind(write: Write) -> str | None:
    """The bulk form a held write says it has (an attribute of the function), if any:
    read from its `__dict__` (a missed `hasattr` costs an exception; a busy tick holds
    a hundred writes, each asked several times)."""
    attrs = getattr(write, "__dict__", None)
    if attrs:
        for kind in _BULK_KINDS:
            if kind in attrs:
                return kind
    elif attrs is None:
        for kind in _BULK_KINDS:
            if hasattr(write, kind):
                return kind
    return None


def _record_values(record: EngineRecord) -> dict[str, Any]:
    return {
        "strategy": record.strategy,
        "config": record.config,
        "mode": record.mode,
        "state": record.state,
        "strategy_state": record.strategy_state,
        "high_water_mark": record.high_water_mark,
        "last_ts": record.last_ts,
        "vault_id": record.vault_id,
        "extra": dict(record.extra),
    }


def _put_record(s: Any, record: EngineRecord) -> None:
    """Write an engine record into its row inside session `s`: one Core UPDATE (an INSERT
    when the row does not exist yet), after the session's pending ORM changes, so the
    latest write wins whichever way an earlier one was made."""
    from sqlalchemy import insert

    s.flush()
    table = EngineRow.__table__
    values = _record_values(record)
    # the statement built once (`_UPDATE_RECORD`, as `_update_records`' executemany)
    params = {"v_" + k: v for k, v in values.items()}
    params["id"] = record.engine_id
    done = s.execute(_UPDATE_RECORD, params).rowcount
    if not done:
        s.execute(insert(table).values(engine_id=record.engine_id, **values))
    loaded = s.identity_map.get(s.identity_key(EngineRow, record.engine_id))
    if loaded is not None:
        s.expire(loaded)


def _update(table: Any, key: str, columns: tuple[str, ...]) -> Any:
    """UPDATE `table` SET columns WHERE key = :<key param>, for an executemany (the
    parameters are named `v_<column>`: SQLAlchemy reserves the columns' own names)."""
    from sqlalchemy import bindparam, update

    param = "id" if key == "engine_id" else "n"
    return (
        update(table)
        .where(table.c[key] == bindparam(param))
        .values({c: bindparam("v_" + c) for c in columns})
    )


def _checkpoint_update() -> Any:
    from drift_engine.storage.models import PaperCheckpointRow

    return _update(
        PaperCheckpointRow.__table__, "name", ("ts", "epoch", "ledger_mark", "state", "saved_at")
    )


_RECORD_COLUMNS = (
    "strategy",
    "config",
    "mode",
    "state",
    "strategy_state",
    "high_water_mark",
    "last_ts",
    "vault_id",
    "extra",
)
_UPDATE_RECORD = _update(EngineRow.__table__, "engine_id", _RECORD_COLUMNS)
_UPDATE_CHECKPOINT = _checkpoint_update()


def _update_record_rows() -> Any:
    from drift_engine.vaults.bulk import DriverStatement

    return DriverStatement(_UPDATE_RECORD, (*("v_" + c for c in _RECORD_COLUMNS), "id"))


#: `_UPDATE_RECORD` as driver rows (`TICK_DRIVER_ROWS`): (the record's values in
#: `_RECORD_COLUMNS` order, engine id)
_UPDATE_RECORD_ROWS = _update_record_rows()


def _update_records(s: Any, records: list[EngineRecord]) -> None:
    """Write engine records whose rows exist with one executemany UPDATE in session `s`."""
    if not records:
        return
    for r in records:
        loaded = s.identity_map.get(s.identity_key(EngineRow, r.engine_id))
        if loaded is not None:
            s.expire(loaded)
    if TICK_DRIVER_ROWS and _json_is_text(s.connection().dialect):
        rows = []
        for r in records:
            values = _record_values(r)
            rows.append((*(values[c] for c in _RECORD_COLUMNS), r.engine_id))
        _UPDATE_RECORD_ROWS.run(s, rows)
        return
    s.execute(
        _UPDATE_RECORD,
        [
            {"id": r.engine_id, **{"v_" + k: v for k, v in _record_values(r).items()}}
            for r in records
        ],
    )


def _put_checkpoint(s: Any, name: str, ts: int, epoch: str, mark: int, blob: bytes) -> None:
    """Write one paper checkpoint row (Core UPDATE, INSERT when new) inside session `s`."""
    from sqlalchemy import insert, update

    from drift_engine.storage.models import PaperCheckpointRow

    table = PaperCheckpointRow.__table__
    values = {
        "ts": ts,
        "epoch": epoch,
        "ledger_mark": mark,
        "state": blob,
        "saved_at": datetime.now(UTC),
    }
    done = s.execute(update(table).where(table.c.name == name).values(**values)).rowcount
    if not done:
        s.execute(insert(table).values(name=name, **values))


class SqlEngineStore:
    """EngineStore over the project's Database (`storage.database.Database`)."""

    def __init__(self, db: Any) -> None:
        self.db = db
        #: set by a persisting paper stack: writes wait for its next checkpoint
        self.batch: WriteBatch | None = None
        #: a backtest's batch keeps one write per engine record per commit (the latest)
        self.coalesce_records = False
        self._held_records: dict[str, tuple[int, Any, list[EngineRecord]]] = {}
        #: what each engine's row holds as this store last committed it: a checkpoint
        #: writes only the records that differ (forgotten whenever another write of the
        #: row is pending or a transaction failed, so a doubt always writes)
        self._rows: dict[str, EngineRecord] = {}
        #: heartbeat rows up to this time are in the database already (a restarted paper
        #: stack replays ticks its cells' checkpoints are older than: not recorded twice)
        self.heartbeats_until: int | None = None
        #: engine id -> an engine's events up to this tick time are in the database
        #: already (`note_events_committed`): a restored engine replaying those ticks
        #: does not log them again
        self.events_until: dict[str, int] = {}
        #: checkpoint names and ("record", engine id) whose rows this store committed
        self._exists: set[Any] = set()

    def forget(self, engine_id: str | None = None) -> None:
        """Stop trusting what this store last wrote to an engine's row (all: None)."""
        if engine_id is None:
            self._rows.clear()
        else:
            self._rows.pop(engine_id, None)

    def _write(self, write: Write, engine_id: str | None = None) -> None:
        if self.batch is not None:
            self.batch.add(write, engine_id)
            return
        with self.db.write() as s:
            write(s)

    def load(self, engine_id: str) -> EngineRecord | None:
        with self.db.read() as s:
            row = s.get(EngineRow, engine_id)
            if row is None:
                return None
            return EngineRecord(
                engine_id=row.engine_id,
                strategy=row.strategy,
                config=dict(row.config),
                mode=row.mode,
                state=row.state,
                strategy_state=row.strategy_state,
                high_water_mark=row.high_water_mark,
                last_ts=row.last_ts,
                vault_id=row.vault_id,
                extra=dict(row.extra or {}),
            )

    def save(self, record: EngineRecord) -> None:
        self._rows.pop(record.engine_id, None)
        # `EngineRecord(**{**record.__dict__, "extra": dict(record.extra)})`, without the
        # keyword call (a quiet funding hour saves one: the fields, the extra copied)
        copy = EngineRecord.__new__(EngineRecord)
        copy.__dict__.update(record.__dict__)
        copy.extra = dict(record.extra)
        held = self._held_records.get(record.engine_id)
        batch = self.batch
        if (
            self.coalesce_records
            and batch is not None
            and held is not None
            and held[0] < len(batch.writes)
            and batch.writes[held[0]] is held[1]
        ):
            held[2][0] = copy  # the row is put once per commit, with the latest record
            return
        latest = [copy]

        def write(s: Any) -> None:
            _put_record(s, latest[0])

        write.ledger_free = True  # type: ignore[attr-defined] - held ledger entries may pass it
        write.record = latest  # type: ignore[attr-defined] - `WriteBatch.run`'s bulk form
        if batch is not None and self.coalesce_records:
            self._held_records[record.engine_id] = (len(batch.writes), write, latest)
        self._write(write)  # replayed exactly (`WriteBatch.touched`): no checkpoint forced

    # paper checkpoints -----------------------------------------------------------
    def save_checkpoint(
        self,
        name: str,
        ts: int,
        epoch: str,
        state: dict[str, Any],
        records: list[EngineRecord],
        *,
        batch: WriteBatch | None = None,
        fence: Write | None = None,
    ) -> int:
        """`save_checkpoints` of one checkpoint (see there)."""
        return self.save_checkpoints([(name, ts, epoch, state)], records, batch=batch, fence=fence)

    def save_checkpoints(
        self,
        checkpoints: list[tuple[str, int, str, dict[str, Any]]],
        records: list[EngineRecord],
        *,
        batch: WriteBatch | None = None,
        fence: Write | None = None,
    ) -> int:
        """In ONE transaction: `fence` (the runner's lease check: raising rolls everything
        back), the writes held in `batch` (ledger entries, events, commands, snapshots...),
        the checkpoints — (name, ts, epoch, state) each, the paper cells of one runner
        (ADR-0019), state as zlib JSON — and the engine records that go with them, of
        which only those that differ from what this store last committed to their row
        are written (ADR-0020). Returns the ledger mark stored with them (the highest
        ledger entry id, read in the same transaction; 0 with no checkpoint). The batch
        is emptied once committed."""
        import zlib

        from sqlalchemy import func

        from drift_engine.storage.models import LedgerEntryRow
        from drift_engine.vaults.booking import in_write_transaction

        blobs = [
            (name, ts, epoch, zlib.compress(json.dumps(state, separators=(",", ":")).encode(), 1))
            for name, ts, epoch, state in checkpoints
        ]
        known = self._rows
        held = batch.held_records() if batch is not None else None
        if held:  # the batch's engine records go with the checkpoint's (theirs are newer)
            records = list({**held, **{r.engine_id: r for r in records}}.values())
        changed = [r for r in records if known.get(r.engine_id) != r]
        written = {r.engine_id for r in records}

        exists = self._exists

        def work(s: Session) -> int:
            if fence is not None:
                fence(s)
            if batch is not None:
                batch.run(s, records_written=written)
            s.flush()
            # a tick's writes with no checkpoint due have no mark to store: not read
            mark = (s.scalar(select(func.max(LedgerEntryRow.id))) or 0) if blobs else 0
            # rows this store wrote before: one UPDATE executed for all of them
            saved_at = datetime.now(UTC)
            old = [b for b in blobs if b[0] in exists]
            if old:
                s.execute(
                    _UPDATE_CHECKPOINT,
                    [
                        {
                            "n": n,
                            "v_ts": t,
                            "v_epoch": e,
                            "v_ledger_mark": mark,
                            "v_state": b,
                            "v_saved_at": saved_at,
                        }
                        for n, t, e, b in old
                    ],
                )
            for name, ts, epoch, blob in blobs:
                if name not in exists:
                    _put_checkpoint(s, name, ts, epoch, mark, blob)
            _update_records(s, [r for r in changed if ("record", r.engine_id) in exists])
            for record in changed:
                if ("record", record.engine_id) not in exists:
                    _put_record(s, record)
            return mark

        try:
            mark = in_write_transaction(self.db, work)
        except BaseException:
            self.forget()
            raise
        for record in changed:
            known[record.engine_id] = record
            exists.add(("record", record.engine_id))
        exists.update(name for name, *_ in blobs)
        if batch is not None:
            batch.clear()
        return mark

    def checkpoint_ts(self, name: str) -> int | None:
        """The heartbeat time of the last checkpoint of stack `name` (None: none yet)."""
        from drift_engine.storage.models import PaperCheckpointRow

        with self.db.read() as s:
            return s.scalar(select(PaperCheckpointRow.ts).where(PaperCheckpointRow.name == name))

    def load_checkpoint(self, name: str) -> dict[str, Any] | None:
        """{"ts", "epoch", "ledger_mark", "state"} of the last checkpoint, or None."""
        import zlib

        from drift_engine.storage.models import PaperCheckpointRow

        with self.db.read() as s:
            row = s.get(PaperCheckpointRow, name)
            if row is None:
                return None
            return {
                "ts": row.ts,
                "epoch": row.epoch,
                "ledger_mark": row.ledger_mark,
                "state": json.loads(zlib.decompress(row.state)),
            }

    def log(self, engine_id: str, ts: int, kind: str, message: str, data: dict | None = None):
        """Hold (or write) one engine event. An event of a tick up to `events_until`
        (a restored engine replaying ticks a crashed run committed) is not logged
        again; the restart's own `resume` always is."""
        until = self.events_until.get(engine_id)
        if until is not None and ts <= until and kind != "resume":
            return
        payload = json_payload(data or {})
        row = {"engine_id": engine_id, "ts": ts, "kind": kind, "message": message, "data": payload}

        def write(s: Session) -> None:
            s.add(EngineEventRow(**row))

        write.event = row  # type: ignore[attr-defined] - `WriteBatch.run`'s bulk form
        self._write(write)  # replayed exactly (`events_until`): no checkpoint forced

    def note_events_committed(self, engine_id: str) -> None:
        """A restored engine's events up to its newest committed one (a restart's
        `resume` aside) were written by the run a crash interrupted: a replay of those
        ticks logs them not again. A tick's events commit together in its transaction
        and a replay from the engine's checkpoint logs the same events at the same
        ticks (the simulator and the strategy are deterministic), so the committed
        events are exactly those of the ticks up to the newest one (ADR-0020,
        session 6)."""
        from sqlalchemy import func

        with self.db.read() as s:
            ts = s.scalar(
                select(func.max(EngineEventRow.ts)).where(
                    EngineEventRow.engine_id == engine_id, EngineEventRow.kind != "resume"
                )
            )
        if ts is None:
            self.events_until.pop(engine_id, None)
        else:
            self.events_until[engine_id] = ts

    def events(self, engine_id: str | None = None, kind: str | None = None) -> list[EngineEventRow]:
        with self.db.read() as s:
            q = select(EngineEventRow).order_by(EngineEventRow.id)
            if engine_id:
                q = q.where(EngineEventRow.engine_id == engine_id)
            if kind:
                q = q.where(EngineEventRow.kind == kind)
            rows = list(s.scalars(q))
            s.expunge_all()
            return rows

    def records(self) -> list[EngineRecord]:
        with self.db.read() as s:
            ids = list(s.scalars(select(EngineRow.engine_id).order_by(EngineRow.engine_id)))
        return [r for r in (self.load(i) for i in ids) if r is not None]

    # operator commands ---------------------------------------------------------
    def request(self, engine_id: str, command: str, *, source: str = "cli") -> bool:
        """Queue an operator command (start, stop, pause, kill) for a known engine; False
        when no engine has that id. Commands are never overwritten (`engine.commands`)."""
        from drift_engine.engine.commands import CommandQueue

        if self.load(engine_id) is None:
            return False
        CommandQueue(self.db).enqueue(engine_id, command, source=source)
        return True

    def command_done(
        self, command_id: int, status: str, result: str, ts: int, engine_id: str | None = None
    ) -> None:
        """Record what applying a queued command did (with the tick's other writes). A
        replay would not apply it again (it is no longer pending): the engine's paper
        cell checkpoints with it (`WriteBatch.touched`), and so do the cells of a
        capital move (its engines' events are logged with it)."""
        from drift_engine.engine.commands import finish_command

        self._write(lambda s: finish_command(s, command_id, status, result, ts), engine_id)

    # heartbeats ------------------------------------------------------------------
    def record_heartbeat(
        self,
        ts: int,
        duration_ms: float,
        events: int,
        stepped: int,
        errors: list[dict],
        *,
        market_state: dict[str, Any] | None = None,
    ) -> None:
        """One heartbeat row; `market_state` is the market board at that tick (symbol ->
        MarketSnapshot fields, see `heartbeat.market_state_json`). A tick at or before
        `heartbeats_until` (replayed after a restart) is not recorded again."""
        if self.heartbeats_until is not None and ts <= self.heartbeats_until:
            return
        recorded_at = datetime.now(UTC).isoformat()
        row = {
            "ts": ts,
            "recorded_at": recorded_at,
            "duration_ms": duration_ms,
            "events": events,
            "engines_stepped": stepped,
            "errors": [dict(e) for e in errors],
            "market_state": market_state,
        }

        def write(s: Session) -> None:
            s.add(HeartbeatRow(**row))

        write.heartbeat = row  # type: ignore[attr-defined] - `WriteBatch.run`'s bulk form
        self._write(write)

    def last_heartbeat_ts(self) -> int | None:
        """The newest heartbeat row's tick time (None: none yet)."""
        from sqlalchemy import func

        with self.db.read() as s:
            return s.scalar(select(func.max(HeartbeatRow.ts)))

    def heartbeats(self, limit: int = 100) -> list[HeartbeatRow]:
        with self.db.read() as s:
            rows = list(
                s.scalars(select(HeartbeatRow).order_by(HeartbeatRow.id.desc()).limit(limit))
            )
            s.expunge_all()
            return rows[::-1]


__all__ = [
    "EngineCommandRow",
    "EngineEventRow",
    "EngineRow",
    "HeartbeatRow",
    "SqlEngineStore",
    "WriteBatch",
]
