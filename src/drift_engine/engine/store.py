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
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from drift_engine.engine.ports import EngineRecord
from drift_engine.storage.models import (
    EngineCommandRow,
    EngineEventRow,
    EngineRow,
    HeartbeatRow,
)

Write = Callable[[Session], Any]


class WriteBatch:
    """Writes held in memory until the next paper checkpoint commits them, in order, in
    one transaction with it. Each write is a function of the session that builds its
    rows itself, so the commit can run again after a retried transaction."""

    def __init__(self) -> None:
        self.writes: list[Write] = []

    def add(self, write: Write) -> None:
        self.writes.append(write)

    def run(self, session: Session) -> None:
        for write in self.writes:
            write(session)

    def clear(self) -> None:
        self.writes.clear()

    def __len__(self) -> int:
        return len(self.writes)


def _put_record(s: Any, record: EngineRecord) -> None:
    """Write an engine record into its row inside session `s`."""
    row = s.get(EngineRow, record.engine_id)
    if row is None:
        row = EngineRow(engine_id=record.engine_id)
        s.add(row)
    row.strategy = record.strategy
    row.config = record.config
    row.mode = record.mode
    row.state = record.state
    row.strategy_state = record.strategy_state
    row.high_water_mark = record.high_water_mark
    row.last_ts = record.last_ts
    row.vault_id = record.vault_id
    row.extra = dict(record.extra)


class SqlEngineStore:
    """EngineStore over the project's Database (`storage.database.Database`)."""

    def __init__(self, db: Any) -> None:
        self.db = db
        #: set by a persisting paper stack: writes wait for its next checkpoint
        self.batch: WriteBatch | None = None
        #: a backtest's batch keeps one write per engine record per commit (the latest)
        self.coalesce_records = False
        self._held_records: dict[str, tuple[int, Any, list[EngineRecord]]] = {}

    def _write(self, write: Write) -> None:
        if self.batch is not None:
            self.batch.add(write)
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
        copy = EngineRecord(**{**record.__dict__, "extra": dict(record.extra)})
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
        if batch is not None and self.coalesce_records:
            self._held_records[record.engine_id] = (len(batch.writes), write, latest)
        self._write(write)

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
        """In ONE transaction: `fence` (the runner's lease check: raising rolls everything
        back), the writes held in `batch` (ledger entries, events, commands, snapshots...),
        the paper stack's state (`paper_checkpoints`, zlib JSON) and the engine records
        that go with it. Returns the ledger mark stored with it (the highest ledger entry
        id, read in the same transaction). The batch is emptied once committed."""
        import zlib

        from sqlalchemy import func

        from drift_engine.storage.models import LedgerEntryRow, PaperCheckpointRow
        from drift_engine.vaults.booking import in_write_transaction

        blob = zlib.compress(json.dumps(state, separators=(",", ":")).encode(), 1)

        def work(s: Session) -> int:
            if fence is not None:
                fence(s)
            if batch is not None:
                batch.run(s)
            mark = s.scalar(select(func.max(LedgerEntryRow.id))) or 0
            row = s.get(PaperCheckpointRow, name)
            if row is None:
                row = PaperCheckpointRow(name=name)
                s.add(row)
            row.ts, row.epoch, row.ledger_mark, row.state = ts, epoch, mark, blob
            row.saved_at = datetime.now(UTC)
            for record in records:
                _put_record(s, record)
            return mark

        mark = in_write_transaction(self.db, work)
        if batch is not None:
            batch.clear()
        return mark

    def save_checkpoints(
        self,
        checkpoints: list[tuple[str, int, str, dict[str, Any]]],
        records: list[EngineRecord],
        *,
        batch: WriteBatch | None = None,
        fence: Write | None = None,
    ) -> int:
        """`save_checkpoint` for several checkpoints — (name, ts, epoch, state) each, the
        paper cells of one runner (ADR-0019) — in ONE transaction with the fence, the
        batch and the engine records. Returns the ledger mark stored with them."""
        import zlib

        from sqlalchemy import func

        from drift_engine.storage.models import LedgerEntryRow, PaperCheckpointRow
        from drift_engine.vaults.booking import in_write_transaction

        blobs = [
            (name, ts, epoch, zlib.compress(json.dumps(state, separators=(",", ":")).encode(), 1))
            for name, ts, epoch, state in checkpoints
        ]

        def work(s: Session) -> int:
            if fence is not None:
                fence(s)
            if batch is not None:
                batch.run(s)
            mark = s.scalar(select(func.max(LedgerEntryRow.id))) or 0
            now = datetime.now(UTC)
            for name, ts, epoch, blob in blobs:
                row = s.get(PaperCheckpointRow, name)
                if row is None:
                    row = PaperCheckpointRow(name=name)
                    s.add(row)
                row.ts, row.epoch, row.ledger_mark, row.state = ts, epoch, mark, blob
                row.saved_at = now
            for record in records:
                _put_record(s, record)
            return mark

        mark = in_write_transaction(self.db, work)
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
        payload = json.loads(json.dumps(data or {}, default=str))
        self._write(
            lambda s: s.add(
                EngineEventRow(engine_id=engine_id, ts=ts, kind=kind, message=message, data=payload)
            )
        )

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

    def command_done(self, command_id: int, status: str, result: str, ts: int) -> None:
        """Record what applying a queued command did (with the tick's other writes)."""
        from drift_engine.engine.commands import finish_command

        self._write(lambda s: finish_command(s, command_id, status, result, ts))

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
        MarketSnapshot fields, see `heartbeat.market_state_json`)."""
        recorded_at = datetime.now(UTC).isoformat()
        errors = [dict(e) for e in errors]
        self._write(
            lambda s: s.add(
                HeartbeatRow(
                    ts=ts,
                    recorded_at=recorded_at,
                    duration_ms=duration_ms,
                    events=events,
                    engines_stepped=stepped,
                    errors=errors,
                    market_state=market_state,
                )
            )
        )

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
