"""The dashboard's read side: everything it shows, read from the database.

The dashboard process need not be the one running the engines (`run_dashboard.py` over
a database that `drift-engine run` writes), so nothing here holds engine objects: vaults,
ledger and snapshots come through the vault package's storage models and its `summarize`;
engines, heartbeats and markets through the engine package's persisted records.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, defer

from drift_engine.dashboard.actions import allowed_actions
from drift_engine.dashboard.activity import activity as activity_feed
from drift_engine.dashboard.activity import holds_positions, markers, market_spans
from drift_engine.dashboard.kpis import kpis, limits
from drift_engine.dashboard.money import Money, money
from drift_engine.dashboard.positions import decimal_str, hedge_pairs, positions_of
from drift_engine.dashboard.schemas import (
    ActivityPageOut,
    EngineDetailOut,
    EngineSummaryOut,
    HealthOut,
    LedgerEntryOut,
    LedgerPageOut,
    MarginOut,
    MarketOut,
    PortfolioOut,
    PortfolioRowOut,
    PositionOut,
    RunnerOut,
    RunOut,
    SnapshotOut,
    SnapshotSeriesOut,
    TimelineOut,
    VaultOut,
)
from drift_engine.sessions import (
    Liveness,
    SessionInfo,
    banner_text,
    engine_liveness,
    engine_status,
    liveness_at,
    read_sessions,
    recheck_alive,
    source_kinds,
)
from drift_engine.storage import Database
from drift_engine.storage.enums import EntryKind, VaultType
from drift_engine.storage.models import (
    EngineCommandRow,
    EngineEventRow,
    EngineRow,
    HeartbeatRow,
    LedgerEntryRow,
    VaultRow,
    VaultSnapshotRow,
    VaultSyncStatusRow,
)
from drift_engine.strategies.base import MarketSnapshot
from drift_engine.vaults.booking import latest_snapshot_row, summarize
from drift_engine.vaults.vault import TREASURY_ENGINE_ID

Clock = Callable[[], datetime]
#: Where live market state comes from when the engines run in this process: e.g. the
#: heartbeat's `MarketBoard.snapshots` (symbol -> MarketSnapshot).
MarketFeed = Callable[[], Mapping[str, MarketSnapshot]]

#: A heartbeat older than this many seconds is shown as stale.
DEFAULT_STALE_AFTER = 30.0

_VAULT_TYPE_NAMES = {VaultType.VIRTUAL: "VIRTUAL", VaultType.ON_CHAIN: "ON_CHAIN"}


class LatestMarkets:
    """The latest market snapshots, published by the thread that runs the heartbeat and
    read by the dashboard's threads (a `MarketFeed`). The dashboard never reads the
    `MarketBoard` itself: the board is not thread-safe and belongs to the heartbeat.

        holder = LatestMarkets()
        heartbeat = stack.heartbeat(events, on_tick=lambda _r: holder.publish(board.snapshots()))
        DashboardReader(db, markets=holder)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: dict[str, MarketSnapshot] = {}

    def publish(self, snapshots: Mapping[str, MarketSnapshot]) -> None:
        value = dict(snapshots)  # MarketSnapshot is frozen: a shallow copy is a snapshot
        with self._lock:
            self._value = value

    def __call__(self) -> Mapping[str, MarketSnapshot]:
        with self._lock:
            return self._value


def _utc_now() -> datetime:
    return datetime.now(UTC)


def parse_vault_id(value: str) -> int | None:
    """Vault ids are positive integers; anything else is simply not a vault (404)."""
    if not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if 0 < number < 2**63 else None


@dataclasses.dataclass(frozen=True)
class EnginesRead:
    """What the engine list and health read from the database at one moment (detached
    rows): kept by the dashboard while the database has not changed; the wall clock's
    part is added per request (`DashboardReader.engines_at`)."""

    rows: tuple[EngineRow, ...]
    vaults: dict[str, list[VaultRow]]
    pending: dict[str, str]
    leases: list[tuple[str, int, RunnerOut]]
    sessions: list[SessionInfo] | None
    #: (id, recorded_at, ts, duration_ms, error count) of the newest heartbeat row
    beat: tuple[int, str, int, float, int] | None
    snapshots: dict[str, VaultSnapshotRow | None]
    #: what is derived from the read once (the clock-free part of the summaries)
    memo: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)


class DashboardReader:
    """Read-only queries behind the API. Each method opens one read transaction."""

    def __init__(
        self,
        database: Database,
        *,
        stale_after: float = DEFAULT_STALE_AFTER,
        clock: Clock = _utc_now,
        markets: MarketFeed | None = None,
    ) -> None:
        self.db = database
        self.stale_after = stale_after
        self._clock = clock
        self._markets = markets
        self._engine_tables = False
        self._sessions_table = False
        self._commands_table = False
        self._leases_table: bool | None = None
        self._spans_cache: dict[int, tuple[Any, Any]] = {}
        self._compute_lock = threading.Lock()
        self._vault_cache: tuple[Any, list[VaultOut]] | None = None  # swapped atomically
        #: vault id -> (its own marker, its figures): recomputed only when it moved
        self._vault_outs: dict[int, tuple[Any, VaultOut]] = {}

    # ---------------------------------------------------------------- vaults
    def _vault_out(self, session: Session, row: VaultRow, engine_names: dict[str, str]) -> VaultOut:
        s = summarize(session, row)
        sync = session.get(VaultSyncStatusRow, row.id)
        stale = sync is not None and bool(sync.stale)
        if row.engine_id == TREASURY_ENGINE_ID:
            role = "treasury"
        elif row.engine_id in engine_names:
            role = "engine"
        else:
            role = "unassigned"
        return VaultOut(
            id=str(row.id),
            name=row.name,
            engine_id=row.engine_id,
            engine_name=engine_names.get(row.engine_id),
            type=_VAULT_TYPE_NAMES[row.vault_type],  # type: ignore[arg-type]
            status=row.status.value,
            active=row.is_active,
            role=role,  # type: ignore[arg-type]
            cash=money(s.balance),
            balance=money(s.balance),
            equity=money(s.equity),
            pnl=money(s.total_pnl),
            realized_pnl=money(s.realized_pnl),
            unrealized_pnl=money(s.unrealized_pnl),
            funding=money(s.funding_earned),
            interest=money(s.interest_earned),
            fees=money(s.fees_paid),
            health=s.health,
            snapshot_at=s.snapshot_at,
            authority=row.authority,
            sub_account_id=row.sub_account_id,
            stale=stale,
            stale_reason=sync.reason if stale else None,
            stale_since=sync.stale_since if stale else None,
        )

    def _vault_rows(self, session: Session, engine_id: str | None = None) -> Sequence[VaultRow]:
        query = select(VaultRow).order_by(VaultRow.engine_id, VaultRow.id)
        if engine_id is not None:
            query = query.where(VaultRow.engine_id == engine_id)
        return session.scalars(query).all()

    def list_vaults(self) -> list[VaultOut]:
        """Every vault's derived figures (the vault package's `summarize`, one per vault).

        Summaries cost two queries per vault, and every open page asks on each heartbeat,
        so the list is cached under a marker read in the same transaction as the data:
        the newest ledger entry and snapshot ids and the vault rows. Anything booked,
        snapshotted, activated or renamed changes the marker, so a hit is never stale;
        on a miss one request recomputes while concurrent ones wait for its result.
        """
        hit = self._cached_vaults()
        if hit is not None:
            return hit
        with self._compute_lock:
            hit = self._cached_vaults()
            if hit is not None:
                return hit
            with self.db.read() as session:
                _one_snapshot(session)
                names = self._engine_names(session)
                marker = self._vault_marker(session, names)
                rows = self._vault_rows(session)
                touched = self._touched_vaults(session, marker)
                sync = {r[0]: tuple(r) for r in marker[4]}
                vaults = []
                for row in rows:  # a vault nothing touched keeps its figures
                    key = (
                        tuple(getattr(row, a.key) for a in inspect(VaultRow).column_attrs),
                        names.get(row.engine_id),
                        row.engine_id in names,
                        sync.get(row.id),
                    )
                    kept = self._vault_outs.get(row.id)
                    if touched is None or row.id in touched or kept is None or kept[0] != key:
                        kept = self._vault_outs[row.id] = (
                            key,
                            self._vault_out(session, row, names),
                        )
                    vaults.append(kept[1])
            self._vault_cache = (marker, vaults)
            return list(vaults)

    def _touched_vaults(self, session: Session, marker: tuple[Any, ...]) -> set[int] | None:
        """The vaults with a ledger entry or a snapshot newer than those the kept list
        was computed with (the ledger is append-only: its sums change only with a new
        entry); None: no kept list, every vault is computed. A changed row, engine name
        or sync status is caught by each vault's own key (`list_vaults`)."""
        cached = self._vault_cache
        if cached is None:
            return None
        last_entry, last_snapshot = cached[0][0] or 0, cached[0][1] or 0
        if (marker[0] or 0) < last_entry or (marker[1] or 0) < last_snapshot:
            return None  # ids went back (a restored database): compute everything
        touched = set(
            session.scalars(
                select(LedgerEntryRow.vault_id).where(LedgerEntryRow.id > last_entry).distinct()
            )
        )
        touched.update(
            session.scalars(
                select(VaultSnapshotRow.vault_id)
                .where(VaultSnapshotRow.id > last_snapshot)
                .distinct()
            )
        )
        return touched

    def _cached_vaults(self) -> list[VaultOut] | None:
        cached = self._vault_cache
        if cached is None:
            return None
        with self.db.read() as session:
            marker = self._vault_marker(session, self._engine_names(session))
        return list(cached[1]) if cached[0] == marker else None

    @staticmethod
    def _vault_marker(session: Session, names: dict[str, str]) -> tuple[Any, ...]:
        return (
            session.scalar(select(func.max(LedgerEntryRow.id))),
            session.scalar(select(func.max(VaultSnapshotRow.id))),
            tuple(
                session.execute(
                    select(
                        VaultRow.id,
                        VaultRow.name,
                        VaultRow.engine_id,
                        VaultRow.is_active,
                        VaultRow.status,
                        VaultRow.updated_at,
                    ).order_by(VaultRow.id)
                ).all()
            ),
            tuple(sorted(names.items())),
            tuple(
                session.execute(
                    select(
                        VaultSyncStatusRow.vault_id,
                        VaultSyncStatusRow.stale,
                        VaultSyncStatusRow.reason,
                        VaultSyncStatusRow.stale_since,
                    ).order_by(VaultSyncStatusRow.vault_id)
                ).all()
            ),
        )

    def ledger(self, vault_id: str, *, limit: int, before: int | None) -> LedgerPageOut | None:
        vid = parse_vault_id(vault_id)
        with self.db.read() as session:
            if vid is None or session.get(VaultRow, vid) is None:
                return None
            query = select(LedgerEntryRow).where(LedgerEntryRow.vault_id == vid)
            if before is not None:
                query = query.where(LedgerEntryRow.id < before)
            rows = session.scalars(query.order_by(LedgerEntryRow.id.desc()).limit(limit + 1)).all()
        page, more = rows[:limit], len(rows) > limit
        return LedgerPageOut(
            vault_id=str(vid),
            entries=[
                LedgerEntryOut(
                    id=r.id,
                    kind=r.kind.value,
                    amount=money(r.amount),
                    fee=money(r.fee),
                    net=money(r.amount - r.fee),
                    idempotency_key=r.idempotency_key,
                    market_index=r.market_index,
                    memo=r.memo,
                    occurred_at=r.occurred_at,
                    booked_at=r.booked_at,
                )
                for r in page
            ],
            next_before=page[-1].id if more and page else None,
        )

    def snapshots(
        self, vault_id: str, *, since: datetime | None, limit: int
    ) -> SnapshotSeriesOut | None:
        vid = parse_vault_id(vault_id)
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        with self.db.read() as session:
            if vid is None or session.get(VaultRow, vid) is None:
                return None
            query = select(VaultSnapshotRow).where(VaultSnapshotRow.vault_id == vid)
            if since is not None:
                query = query.where(VaultSnapshotRow.taken_at >= since)
            query = query.order_by(VaultSnapshotRow.taken_at.desc(), VaultSnapshotRow.id.desc())
            rows = list(reversed(session.scalars(query.limit(limit)).all()))
            funding = session.execute(
                select(LedgerEntryRow.occurred_at, LedgerEntryRow.amount)
                .where(
                    LedgerEntryRow.vault_id == vid,
                    LedgerEntryRow.kind == EntryKind.FUNDING,
                )
                .order_by(LedgerEntryRow.occurred_at, LedgerEntryRow.id)
            ).all()
        # cumulative funding booked up to each snapshot, from the ledger (the truth)
        times = [t for t, _ in funding]
        running: list[int] = []
        total = 0
        for _, amount in funding:
            total += amount
            running.append(total)
        points = []
        for r in rows:
            n = bisect.bisect_right(times, r.taken_at)
            points.append(
                SnapshotOut(
                    at=r.taken_at,
                    equity=money(r.equity),
                    balance=money(r.cash),
                    unrealized_pnl=money(r.unrealized_pnl),
                    funding_cumulative=money(running[n - 1] if n else 0),
                    health=r.health,
                )
            )
        return SnapshotSeriesOut(vault_id=str(vid), snapshots=points)

    # ---------------------------------------------------------------- positions
    @staticmethod
    def positions_of(
        snapshot: VaultSnapshotRow | None,
        markets: dict[str, MarketSnapshot] | None = None,
        *,
        margin: Any = None,
        fills: Sequence[dict[str, Any]] = (),
    ) -> list[PositionOut]:
        """Open positions of the latest snapshot (dashboard/positions.py)."""
        return positions_of(snapshot, markets, margin=margin, fills=fills)

    # ---------------------------------------------------------------- engines
    def _has_engine_tables(self) -> bool:
        """Migration 0002 creates the engine tables; a database not yet upgraded (opened
        without `Database.open`) may lack them, which reads as "no engines", not as an
        error."""
        if not self._engine_tables:
            names = set(inspect(self.db.engine).get_table_names())
            self._engine_tables = {"engine_records", "heartbeats"} <= names
            self._sessions_table = "run_sessions" in names
            self._commands_table = "engine_commands" in names
        return self._engine_tables

    def _engine_rows(self, session: Session) -> list[EngineRow]:
        if not self._has_engine_tables():
            return []
        return list(session.scalars(select(EngineRow).order_by(EngineRow.engine_id)))

    def _engine_names(self, session: Session) -> dict[str, str]:
        if not self._has_engine_tables():
            return {}
        rows = session.execute(select(EngineRow.engine_id, EngineRow.extra)).all()
        return {engine_id: _display_name(engine_id, extra) for engine_id, extra in rows}

    def _sessions(self, session: Session) -> list[SessionInfo] | None:
        if not self._has_engine_tables() or not self._sessions_table:
            return None
        return read_sessions(session)

    def _liveness(self, session: Session, ids: Sequence[str]) -> dict[str, Liveness]:
        return engine_liveness(
            session,
            ids,
            sessions=self._sessions(session),
            now=self._clock(),
            stale_after=self.stale_after,
        )

    @staticmethod
    def _vault_rows_by_engine(session: Session) -> dict[str, list[VaultRow]]:
        out: dict[str, list[VaultRow]] = {}
        for row in session.scalars(select(VaultRow).order_by(VaultRow.id)):
            out.setdefault(row.engine_id, []).append(row)
        return out

    @staticmethod
    def _booking_vault(row: EngineRow, vaults: list[VaultRow]) -> VaultRow | None:
        """The vault the engine books into: its record's `vault_id` (an id or a name)."""
        ref = str(row.vault_id or "")
        for v in vaults:
            if str(v.id) == ref or v.name == ref:
                return v
        return next((v for v in vaults if v.is_active), None)

    def _booking_snapshot(
        self, session: Session, row: EngineRow, vaults: list[VaultRow]
    ) -> VaultSnapshotRow | None:
        """The latest snapshot of the vault the engine books into (None: none)."""
        booking = self._booking_vault(row, vaults)
        return latest_snapshot_row(session, booking.id) if booking is not None else None

    def _summary(
        self,
        row: EngineRow,
        vaults: list[VaultRow],
        live: Liveness,
        pending: dict[str, str],
        runners: dict[str, RunnerOut] | None,
        snapshot: VaultSnapshotRow | None,
    ) -> tuple[EngineSummaryOut, VaultRow | None, VaultSnapshotRow | None]:
        state = row.state.upper()
        active = next((v for v in vaults if v.is_active), None)
        booking = self._booking_vault(row, vaults)
        holds = holds_positions(snapshot.positions) if snapshot is not None else False
        status = engine_status(state, live)
        summary = EngineSummaryOut(
            id=row.engine_id,
            name=_engine_name(row),
            state=state,
            mode=row.mode.upper(),
            strategy=row.strategy,
            market=_config_market(row.config),
            active=state != "STOPPED",
            visible=state != "STOPPED" or holds,
            holds_positions=holds,
            process=live.process,
            status=status,
            liveness=live.describe(),
            last_tick_at=live.last_tick_at,
            last_tick_age_seconds=live.last_tick_age_s,
            active_vault_id=(str(active.id) if active is not None else (str(row.vault_id) or None)),
            active_vault_name=active.name if active is not None else None,
            booking_vault=booking.name if booking is not None else (row.vault_id or None),
            pending_command=pending.get(row.engine_id),
            actions=allowed_actions(state, holds),
            sim_time=datetime.fromtimestamp(row.last_ts, UTC) if row.last_ts else None,
            runner=(runners or {}).get(row.engine_id),
        )
        return summary, booking, snapshot

    def _pending_commands(self, session: Session) -> dict[str, str]:
        """Engine id -> its oldest operator command still waiting for a runner
        (`engine_commands`, migration 0005; none on an older database)."""
        if not self._commands_table:
            return {}
        rows = session.execute(
            select(EngineCommandRow.engine_id, EngineCommandRow.kind)
            .where(EngineCommandRow.status == "pending")
            .order_by(EngineCommandRow.id.desc())
        ).all()
        return {engine_id: kind for engine_id, kind in rows}  # the oldest wins

    def _leases(self, session: Session) -> list[tuple[str, int, RunnerOut]]:
        """(engine id, lease expiry in ms, its runner) of every engine lease
        (`leases`, migration 0005; none on an older database)."""
        from drift_engine.storage.models import LeaseRow

        if self._leases_table is None:
            self._leases_table = "leases" in inspect(self.db.engine).get_table_names()
        if not self._leases_table:
            return []
        return [
            (
                row.name.removeprefix("engine:"),
                row.expires_at_ms,
                RunnerOut(
                    id=f"{row.host}:{row.pid}",
                    host=row.host,
                    pid=row.pid,
                    started_at=datetime.fromtimestamp(row.holder_started_ms / 1000, UTC),
                    lease_expires_at=datetime.fromtimestamp(row.expires_at_ms / 1000, UTC),
                ),
            )
            for row in session.scalars(select(LeaseRow).where(LeaseRow.name.like("engine:%")))
        ]

    @staticmethod
    def _runners_at(
        leases: list[tuple[str, int, RunnerOut]], now: datetime
    ) -> dict[str, RunnerOut]:
        """Engine id -> the runner holding its lease at `now`; an expired lease is no
        runner (its engines wait to be picked up)."""
        now_ms = int(now.timestamp() * 1000)
        return {engine_id: r for engine_id, expires, r in leases if expires >= now_ms}

    def _runners(self, session: Session) -> dict[str, RunnerOut]:
        return self._runners_at(self._leases(session), self._clock())

    def engines_read(self) -> EnginesRead:
        """Everything `/api/engines` and `/api/health` read from the database, in one read
        transaction; `engines_at` / `health_at` add the wall clock's part (liveness ages,
        processes alive, lease expiry). The dashboard keeps it while the database has
        not changed (ADR-0020)."""
        with self.db.read() as session:
            _one_snapshot(session)
            session.execute(select(1))
            if not self._has_engine_tables():
                beat = None
                rows: list[EngineRow] = []
            else:
                beat = session.scalars(
                    select(HeartbeatRow)
                    .options(defer(HeartbeatRow.market_state))  # the board: not needed here
                    .order_by(HeartbeatRow.id.desc())
                    .limit(1)
                ).first()
                rows = self._engine_rows(session)
            vaults = self._vault_rows_by_engine(session)
            read = EnginesRead(
                rows=tuple(rows),
                vaults=vaults,
                pending=self._pending_commands(session),
                leases=self._leases(session),
                sessions=self._sessions(session),
                beat=(
                    (beat.id, beat.recorded_at, beat.ts, beat.duration_ms, len(beat.errors or []))
                    if beat is not None
                    else None
                ),
                snapshots={
                    r.engine_id: self._booking_snapshot(session, r, vaults.get(r.engine_id, []))
                    for r in rows
                },
            )
            session.expunge_all()  # plain objects from now on: the read can be kept
            return read

    def engines_at(self, read: EnginesRead, now: datetime) -> list[EngineSummaryOut]:
        """`list_engines` from a kept `engines_read` at wall time `now`."""
        sessions = recheck_alive(read.sessions)
        beat_at = _parse_time(read.beat[1]) if read.beat is not None else None
        live = liveness_at(
            beat_at,
            [r.engine_id for r in read.rows],
            sessions=sessions,
            now=now,
            stale_after=self.stale_after,
        )
        runners = self._runners_at(read.leases, now)
        static = read.memo.get("summaries")
        if static is None:  # what does not depend on the clock: built once per read
            static = read.memo["summaries"] = [
                self._summary(
                    r,
                    read.vaults.get(r.engine_id, []),
                    live[r.engine_id],
                    read.pending,
                    runners,
                    read.snapshots.get(r.engine_id),
                )[0]
                for r in read.rows
            ]
        out = []
        for summary in static:  # the fields `_summary` takes from liveness and leases
            lv = live[summary.id]
            out.append(
                summary.model_copy(
                    update={
                        "process": lv.process,
                        "status": engine_status(summary.state, lv),
                        "liveness": lv.describe(),
                        "last_tick_at": lv.last_tick_at,
                        "last_tick_age_seconds": lv.last_tick_age_s,
                        "runner": runners.get(summary.id),
                    }
                )
            )
        return out

    def list_engines(self) -> list[EngineSummaryOut]:
        """Every engine, in a stable order (by id), with its liveness and exposure."""
        return self.engines_at(self.engines_read(), self._clock())

    def engine_summary(self, engine_id: str) -> EngineSummaryOut | None:
        return next((e for e in self.list_engines() if e.id == engine_id), None)

    def get_engine(self, engine_id: str) -> EngineDetailOut | None:
        if not self._has_engine_tables():
            return None
        with self.db.read() as session:
            row = session.get(EngineRow, engine_id)
            if row is None:
                return None
            own = self._vault_rows_by_engine(session).get(engine_id, [])
            live = self._liveness(session, [engine_id])[engine_id]
            summary, booking, snapshot = self._summary(
                row,
                own,
                live,
                self._pending_commands(session),
                self._runners(session),
                self._booking_snapshot(session, row, own),
            )
            names = {row.engine_id: summary.name}
            vaults = [self._vault_out(session, v, names) for v in own]
            config = dict(row.config or {})
            extra = dict(row.extra or {})
            fills = [
                e.data
                for e in session.scalars(
                    select(EngineEventRow)
                    .where(EngineEventRow.engine_id == engine_id, EngineEventRow.kind == "fill")
                    .order_by(EngineEventRow.id)
                )
                if isinstance(e.data, dict)
            ]
            booked = summarize(session, booking) if booking is not None else None
            first_at = (
                session.scalar(
                    select(func.min(VaultSnapshotRow.taken_at)).where(
                        VaultSnapshotRow.vault_id == booking.id
                    )
                )
                if booking is not None
                else None
            )
            in_market = self._market_spans(session, booking.id)[1] if booking else None
        markets = self._market_snapshots()
        margin_json = extra.get("margin")
        positions = self.positions_of(snapshot, markets, margin=margin_json, fills=fills)
        equity = booked.equity if booked is not None else None
        margin = _margin(margin_json, snapshot, positions, equity, markets)
        risk = config.pop("risk", None) or extra.get("risk_limits") or {}
        risk = dict(risk) if isinstance(risk, dict) else {}
        return EngineDetailOut(
            **summary.model_dump(),
            strategy_config=config,
            risk_limits=risk,
            high_water_mark=money(row.high_water_mark),
            positions=positions,
            pairs=hedge_pairs(positions, markets=markets, strategy_config=config),
            margin=margin,
            vaults=vaults,
            kpis=(
                kpis(
                    booked,
                    high_water_mark=row.high_water_mark,
                    first_at=_aware(first_at),
                    last_ts=row.last_ts,
                    time_in_market_pct=in_market,
                )
                if booked is not None
                else None
            ),
            limits=limits(
                risk,
                equity=equity,
                high_water_mark=row.high_water_mark,
                margin=margin,
                positions=positions,
            ),
            unhedged=_unhedged(extra.get("unhedged")),
            orders=dict(extra.get("orders") or {}),
        )

    def _market_spans(self, session: Session, vault_id: int) -> tuple[list[Any], float | None]:
        """`activity.market_spans`, cached per vault under its newest snapshot id."""
        marker = session.scalar(
            select(func.max(VaultSnapshotRow.id)).where(VaultSnapshotRow.vault_id == vault_id)
        )
        cached = self._spans_cache.get(vault_id)
        if cached is not None and cached[0] == marker:
            return cached[1]
        value = market_spans(session, vault_id)
        self._spans_cache[vault_id] = (marker, value)
        return value

    # ---------------------------------------------------------------- activity
    def activity(
        self, engine_id: str, *, limit: int, categories: Sequence[str] | None = None
    ) -> ActivityPageOut | None:
        if not self._has_engine_tables():
            return None
        with self.db.read() as session:
            row = session.get(EngineRow, engine_id)
            if row is None:
                return None
            vault_ids = list(
                session.scalars(select(VaultRow.id).where(VaultRow.engine_id == engine_id))
            )
            entries = activity_feed(
                session,
                engine_id,
                vault_ids,
                limit=limit,
                categories=categories,
                has_commands=bool(self._commands_table),
                ledger_capital=row.mode != "paper",
            )
        return ActivityPageOut(engine_id=engine_id, entries=entries)

    def timeline(self, engine_id: str) -> TimelineOut | None:
        if not self._has_engine_tables():
            return None
        with self.db.read() as session:
            row = session.get(EngineRow, engine_id)
            if row is None:
                return None
            booking = self._booking_vault(
                row, self._vault_rows_by_engine(session).get(engine_id, [])
            )
            spans = self._market_spans(session, booking.id)[0] if booking else []
            marks = markers(session, engine_id)
        return TimelineOut(
            vault_id=str(booking.id) if booking is not None else None,
            markers=marks,
            in_market=spans,
        )

    # ---------------------------------------------------------------- portfolio
    def portfolio(self) -> PortfolioOut:
        """Every engine's booking vault, a total row, the treasury and unassigned vaults."""
        vaults = self.list_vaults()
        engines = {e.id: e for e in self.list_engines()}
        by_name = {(v.engine_id, v.name): v for v in vaults}
        by_id = {v.id: v for v in vaults}
        rows = []
        used: set[str] = set()
        for engine in engines.values():
            v = by_id.get(engine.booking_vault or "") or by_name.get(
                (engine.id, engine.booking_vault)
            )
            if v is None:
                continue
            used.add(v.id)
            rows.append(_portfolio_row(engine.id, engine.name, engine.status, [v]))
        total = _portfolio_row(None, "Total", None, [by_id[i] for i in used])
        treasury = sum(v.cash.micro for v in vaults if v.role == "treasury")
        unassigned = sum(
            v.equity.micro for v in vaults if v.role != "treasury" and v.id not in used
        )
        return PortfolioOut(
            rows=rows, total=total, treasury=money(treasury), unassigned=money(unassigned)
        )

    # ---------------------------------------------------------------- run banner
    def run_info(self) -> RunOut:
        """The newest run session with the newest heartbeat: the page's banner."""
        now = self._clock()
        with self.db.read() as session:
            if not self._has_engine_tables():
                return RunOut(banner="no engine has run on this database yet")
            sessions = self._sessions(session) or []
            beat = session.execute(
                select(HeartbeatRow.ts, HeartbeatRow.recorded_at)
                .order_by(HeartbeatRow.id.desc())
                .limit(1)
            ).first()
            state = session.scalars(
                select(HeartbeatRow.market_state)
                .where(HeartbeatRow.market_state.is_not(None))
                .order_by(HeartbeatRow.id.desc())
                .limit(1)
            ).first()
            modes = set(session.scalars(select(EngineRow.mode)))
        current = sessions[0] if sessions else None
        sim_time = datetime.fromtimestamp(beat[0], UTC) if beat and beat[0] else None
        at = _parse_time(beat[1]) if beat else None
        age = max(0.0, (now - at).total_seconds()) if at else None
        by_market = {
            symbol: fields.get("data_sources")
            for symbol, fields in (state or {}).items()
            if isinstance(fields, dict) and isinstance(fields.get("data_sources"), dict)
        }
        kinds = source_kinds(current.data.get("sources") if current else None, by_market)
        if current is None:
            fresh = age is not None and age <= self.stale_after
            replay = "none" if beat is None else ("running" if fresh else "not_running")
        elif current.status == "running" and current.alive is False:
            replay = "not_running"
        elif current.status == "running" and current.alive is None:
            fresh = age is not None and age <= self.stale_after
            replay = "running" if fresh else "not_running"
        else:
            replay = current.status
        live = modes == {"live"}
        return RunOut(
            banner=banner_text(
                sim_time,
                current.speed if current else None,
                kinds,
                mode="Live" if live else "Sim",
                replay=replay,
                age_s=age,
            ),
            sim_time=sim_time,
            speed=current.speed if current else None,
            data_sources=kinds,
            replay=replay,  # type: ignore[arg-type]
            replay_end=(
                datetime.fromtimestamp(current.sim_end, UTC)
                if current and current.sim_end
                else None
            ),
            process=current.describe() if current else None,
        )

    # ---------------------------------------------------------------- markets
    def _market_snapshots(self) -> dict[str, MarketSnapshot]:
        """The in-process feed's markets when one is attached and has data; otherwise the
        market state the latest heartbeat row recorded (a dashboard over a database that
        another process writes)."""
        if self._markets is not None:
            try:
                live = dict(self._markets())
            except Exception:  # noqa: BLE001 - a market feed hiccup must not break the page
                live = {}
            if live:
                return live
        return self._persisted_markets()

    def _persisted_markets(self) -> dict[str, MarketSnapshot]:
        if not self._has_engine_tables():
            return {}
        try:
            with self.db.read() as session:
                state = session.scalars(
                    select(HeartbeatRow.market_state)
                    .where(HeartbeatRow.market_state.is_not(None))
                    .order_by(HeartbeatRow.id.desc())
                    .limit(1)
                ).first()
        except SQLAlchemyError:
            return {}
        return _markets_from_state(state)

    def markets(self) -> list[MarketOut]:
        out = []
        for snap in self._market_snapshots().values():
            has_price = bool(snap.oracle_price)
            funded = bool(snap.last_funding_ts)
            out.append(
                MarketOut(
                    symbol=snap.symbol,
                    market_index=snap.perp_market_index,
                    market_type="perp",
                    oracle_price=decimal_str(snap.oracle_price, 6) if has_price else None,
                    funding_rate_hourly=_rate_str(snap.funding_rate) if funded else None,
                    funding_apr=_pct(snap.funding_apr) if funded else None,
                    funding_apr_24h=_pct(snap.funding_apr_24h) if funded else None,
                    funding_apr_7d=_pct(snap.funding_apr_7d) if funded else None,
                    spot_deposit_apr=_pct(snap.spot_deposit_apr),
                    spot_borrow_apr=_pct(snap.spot_borrow_apr),
                    as_of=datetime.fromtimestamp(snap.last_funding_ts, UTC) if funded else None,
                )
            )
        return sorted(out, key=lambda m: m.market_index)

    # ---------------------------------------------------------------- status
    def health(self) -> HealthOut:
        now = self._clock()
        try:
            read = self.engines_read()
        except SQLAlchemyError:
            return HealthOut(status="db_error", db_ok=False, server_time=now)
        return self.health_at(read, now)

    def health_at(self, read: EnginesRead, now: datetime) -> HealthOut:
        """`health` from a kept `engines_read` at wall time `now`."""
        engines = self.engines_at(read, now)
        counts = engine_counts(engines)
        base = {
            "db_ok": True,
            "engines_running": counts.get("running", 0) + counts.get("reducing", 0),
            "engines_total": len(engines),
            "engine_counts": counts,
            "engine_summary": counts_text(counts),
            "server_time": now,
        }
        if read.beat is None:
            return HealthOut(status="no_heartbeat", **base)
        seq, recorded_at, ts, duration_ms, errors = read.beat
        at = _parse_time(recorded_at)
        age = max(0.0, (now - at).total_seconds()) if at else None
        return HealthOut(
            status="ok" if age is not None and age <= self.stale_after else "stale",
            heartbeat_at=at,
            heartbeat_age_seconds=age,
            heartbeat_seq=seq,
            heartbeat_sim_time=datetime.fromtimestamp(ts, UTC) if ts else None,
            heartbeat_duration_ms=duration_ms,
            heartbeat_errors=errors,
            **base,
        )

    def change_marker(self) -> tuple[Any, Any]:
        """(latest heartbeat id, everything else the page shows changing) — cheap to read.
        Engine liveness is part of it: a runner that dies changes the marker although no
        row changes, so the page learns at the next poll."""
        with self.db.read() as session:
            vaults = tuple(
                session.execute(
                    select(VaultRow.id, VaultRow.engine_id, VaultRow.is_active, VaultRow.status)
                ).all()
            )
            last_entry = session.scalar(select(func.max(LedgerEntryRow.id)))
            if not self._has_engine_tables():
                return None, (vaults, last_entry)
            beat = session.scalar(select(func.max(HeartbeatRow.id)))
            engines = tuple(session.execute(select(EngineRow.engine_id, EngineRow.state)).all())
            live = self._liveness(session, [e[0] for e in engines])
            processes = tuple(sorted((k, v.process) for k, v in live.items()))
            pending = tuple(sorted(self._pending_commands(session).items()))
            sessions = tuple((x.id, x.status, x.alive) for x in self._sessions(session) or ())
        return beat, (engines, processes, pending, sessions, vaults, last_entry)


#: What the header counts, in the order it says them.
COUNT_LABELS = (
    ("running", "running"),
    ("reducing", "reducing"),
    ("paused", "paused"),
    ("halted", "halted"),
    ("not_running", "not running"),
    ("finished", "replay finished"),
    ("stopped_with_positions", "stopped with open positions"),
    ("stopped", "stopped"),
)


def engine_bucket(e: EngineSummaryOut) -> str:
    """Which header count an engine falls in."""
    if e.state == "STOPPED":
        return "stopped_with_positions" if e.holds_positions else "stopped"
    if e.process == "finished":
        return "finished"
    if e.process != "running":
        return "not_running"
    return e.state.lower()


def engine_counts(engines: Sequence[EngineSummaryOut]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in engines:
        bucket = engine_bucket(e)
        counts[bucket] = counts.get(bucket, 0) + 1
    return counts


def counts_text(counts: dict[str, int]) -> str:
    """ "1 running · 1 paused · 1 stopped with open positions"."""
    parts = [f"{counts[key]} {label}" for key, label in COUNT_LABELS if counts.get(key)]
    return " · ".join(parts) if parts else "no engines"


def _portfolio_row(
    engine_id: str | None, name: str, state: str | None, vaults: Sequence[VaultOut]
) -> PortfolioRowOut:
    def total(field: str) -> Money:
        return money(sum(getattr(v, field).micro for v in vaults))

    return PortfolioRowOut(
        engine_id=engine_id,
        name=name,
        state=state,
        cash=total("cash"),
        equity=total("equity"),
        pnl=total("pnl"),
        funding=total("funding"),
        interest=total("interest"),
        fees=total("fees"),
    )


def _one_snapshot(session: Session) -> None:
    """Make the session's read transaction one snapshot for all its statements: on
    PostgreSQL (READ COMMITTED by default, a snapshot per statement) REPEATABLE READ, so
    a read the dashboard keeps is never half before and half after a commit. SQLite's
    read transaction is one snapshot already (WAL)."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


_MARKET_FIELDS = frozenset(f.name for f in dataclasses.fields(MarketSnapshot))


def _markets_from_state(state: Any) -> dict[str, MarketSnapshot]:
    """MarketSnapshots back from a heartbeat row's `market_state` (see
    `heartbeat.market_state_json`); entries that do not parse are left out."""
    if not isinstance(state, dict):
        return {}
    out: dict[str, MarketSnapshot] = {}
    for symbol, fields in state.items():
        if not isinstance(fields, dict):
            continue
        kwargs = {k: v for k, v in fields.items() if k in _MARKET_FIELDS and v is not None}
        try:
            out[symbol] = MarketSnapshot(**kwargs)
        except TypeError:
            continue
    return out


def _unhedged(value: Any) -> Any:
    """The engine record's `extra["unhedged"]` as the API's UnhedgedOut (None if none)."""
    from drift_engine.dashboard.schemas import UnhedgedOut

    if not isinstance(value, dict):
        return None
    return UnhedgedOut(
        market=str(value.get("market", "")),
        base=int(value.get("base", 0)),
        notional=money(int(value.get("notional", 0))),
        since=datetime.fromtimestamp(int(value.get("since", 0)), UTC),
        action=str(value.get("action", "")),
    )


def _display_name(engine_id: str, extra: Any) -> str:
    name = extra.get("name") if isinstance(extra, dict) else None
    return str(name) if name else engine_id


def _config_market(config: Any) -> str | None:
    market = config.get("market") if isinstance(config, dict) else None
    return market if isinstance(market, str) else None


def _engine_name(row: EngineRow) -> str:
    return _display_name(row.engine_id, row.extra)


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _pct(fraction: float | None) -> float | None:
    if fraction is None or not math.isfinite(fraction):
        return None
    return round(fraction * 100, 4)


def _rate_str(rate: float) -> str:
    return format(Decimal(repr(rate)).quantize(Decimal("1e-10")).normalize(), "f")


def _margin(
    persisted: Any,
    snapshot: VaultSnapshotRow | None,
    positions: list[PositionOut],
    equity: int | None,
    markets: dict[str, MarketSnapshot],
) -> MarginOut:
    """Margin metrics: what the engine persisted (DriftMarginMetrics fields) when it did;
    otherwise health from the latest snapshot and leverage from positions at oracle."""
    m = persisted if isinstance(persisted, dict) else {}
    health = m.get("health", snapshot.health if snapshot else None)
    leverage: float | None = None
    if isinstance(m.get("leverage"), int):
        leverage = m["leverage"] / 10_000
    elif equity and equity > 0:
        gross = [p.notional.micro for p in positions if p.notional is not None]
        if gross and len(gross) == len(positions):
            leverage = round(sum(abs(g) for g in gross) / equity, 4)
        elif not positions:
            leverage = 0.0
    distance = _liquidation_distance(m, markets)

    def _m(key: str) -> Money | None:
        value = m.get(key)
        return money(value) if isinstance(value, int) and not isinstance(value, bool) else None

    return MarginOut(
        health=health,
        leverage=leverage,
        total_collateral=_m("total_collateral"),
        free_collateral=_m("free_collateral"),
        maintenance_margin=_m("maintenance_margin_requirement"),
        liquidation_distance_pct=distance,
    )


def _liquidation_distance(m: dict[str, Any], markets: dict[str, MarketSnapshot]) -> float | None:
    """Smallest |oracle - liquidation price| / oracle over the persisted position risks
    (the same function the runner's metrics use)."""
    from drift_engine.metrics.figures import liquidation_distance_pct

    return liquidation_distance_pct(
        m, {s.perp_market_index: s.oracle_price for s in markets.values()}
    )


__all__ = ["DashboardReader", "LatestMarkets", "MarketFeed", "parse_vault_id"]
