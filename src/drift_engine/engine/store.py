"""Persistence of engines: their record (state, strategy state, high-water mark), their
event log (transitions, rejections, orders) and the heartbeat rows.

The tables (`engine_records`, `engine_events`, `heartbeats`) are storage models
(`drift_engine.storage.models`) created by the Alembic migrations (0002): open the
database with `Database.open(url)`, which upgrades it, before building a store.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from drift_engine.engine.ports import EngineRecord
from drift_engine.storage.models import EngineEventRow, EngineRow, HeartbeatRow


def _put_record(s: Any, record: EngineRecord) -> None:
    """Write an engine record into its row inside session `s` (the operator command stays)."""
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
        with self.db.write() as s:
            _put_record(s, record)

    # paper checkpoints -----------------------------------------------------------
    def save_checkpoint(
        self,
        name: str,
        ts: int,
        epoch: str,
        state: dict[str, Any],
        records: list[EngineRecord],
    ) -> int:
        """In ONE transaction: the paper stack's state (`paper_checkpoints`, zlib JSON) and
        the engine records that go with it. Returns the ledger mark stored with it (the
        highest ledger entry id, read in the same transaction)."""
        import zlib

        from sqlalchemy import func

        from drift_engine.storage.models import LedgerEntryRow, PaperCheckpointRow

        blob = zlib.compress(json.dumps(state, separators=(",", ":")).encode(), 1)
        with self.db.write() as s:
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
        with self.db.write() as s:
            s.add(
                EngineEventRow(
                    engine_id=engine_id,
                    ts=ts,
                    kind=kind,
                    message=message,
                    data=json.loads(json.dumps(data or {}, default=str)),
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
    def request(self, engine_id: str, command: str) -> bool:
        with self.db.write() as s:
            row = s.get(EngineRow, engine_id)
            if row is None:
                return False
            row.command = command
            return True

    def take_command(self, engine_id: str) -> str | None:
        with self.db.write() as s:
            row = s.get(EngineRow, engine_id)
            if row is None or row.command is None:
                return None
            cmd, row.command = row.command, None
            return cmd

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
        with self.db.write() as s:
            s.add(
                HeartbeatRow(
                    ts=ts,
                    recorded_at=datetime.now(UTC).isoformat(),
                    duration_ms=duration_ms,
                    events=events,
                    engines_stepped=stepped,
                    errors=errors,
                    market_state=market_state,
                )
            )

    def heartbeats(self, limit: int = 100) -> list[HeartbeatRow]:
        with self.db.read() as s:
            rows = list(
                s.scalars(select(HeartbeatRow).order_by(HeartbeatRow.id.desc()).limit(limit))
            )
            s.expunge_all()
            return rows[::-1]


__all__ = ["EngineEventRow", "EngineRow", "HeartbeatRow", "SqlEngineStore"]
