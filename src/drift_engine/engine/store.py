"""Persistence of engines: their record (state, strategy state, high-water mark), their
event log (transitions, rejections, orders) and the heartbeat rows.

These tables live in the same database as the vaults but in their own metadata
(`engine_*`, `heartbeats`), created on first use; they belong in the Alembic migrations
once the storage owner takes them over (see the report of issue 5).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, Integer, String, Text, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from drift_engine.engine.ports import EngineRecord


class EngineBase(DeclarativeBase):
    pass


class EngineRow(EngineBase):
    __tablename__ = "engine_records"

    engine_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    strategy: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    mode: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    strategy_state: Mapped[str] = mapped_column(Text)
    high_water_mark: Mapped[int] = mapped_column(BigInteger)
    last_ts: Mapped[int] = mapped_column(BigInteger)
    vault_id: Mapped[str] = mapped_column(String(64))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Operator command waiting for the running process (engines start/stop/pause/kill).
    command: Mapped[str | None] = mapped_column(String(16), nullable=True)


class EngineEventRow(EngineBase):
    __tablename__ = "engine_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    engine_id: Mapped[str] = mapped_column(String(64), index=True)
    ts: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class HeartbeatRow(EngineBase):
    __tablename__ = "heartbeats"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[int] = mapped_column(BigInteger, index=True)
    recorded_at: Mapped[str] = mapped_column(String(40))
    duration_ms: Mapped[float] = mapped_column(Float)
    events: Mapped[int] = mapped_column(Integer)
    engines_stepped: Mapped[int] = mapped_column(Integer)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class SqlEngineStore:
    """EngineStore over the project's Database (`storage.database.Database`)."""

    def __init__(self, db: Any) -> None:
        self.db = db
        EngineBase.metadata.create_all(db.engine)

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
        self, ts: int, duration_ms: float, events: int, stepped: int, errors: list[dict]
    ) -> None:
        with self.db.write() as s:
            s.add(
                HeartbeatRow(
                    ts=ts,
                    recorded_at=datetime.now(UTC).isoformat(),
                    duration_ms=duration_ms,
                    events=events,
                    engines_stepped=stepped,
                    errors=errors,
                )
            )

    def heartbeats(self, limit: int = 100) -> list[HeartbeatRow]:
        with self.db.read() as s:
            rows = list(
                s.scalars(select(HeartbeatRow).order_by(HeartbeatRow.id.desc()).limit(limit))
            )
            s.expunge_all()
            return rows[::-1]


__all__ = ["EngineBase", "EngineEventRow", "EngineRow", "HeartbeatRow", "SqlEngineStore"]
