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
from functools import cache
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from drift_engine.core.markets import MarketCatalog
from drift_engine.core.types import MarketType
from drift_engine.dashboard.money import Money, money
from drift_engine.dashboard.schemas import (
    EngineDetailOut,
    EngineSummaryOut,
    HealthOut,
    LedgerEntryOut,
    LedgerPageOut,
    MarginOut,
    MarketOut,
    PositionOut,
    RunnerOut,
    SnapshotOut,
    SnapshotSeriesOut,
    VaultOut,
)
from drift_engine.engine.store import EngineRow, HeartbeatRow
from drift_engine.storage import Database
from drift_engine.storage.enums import EntryKind, VaultType
from drift_engine.storage.models import (
    EngineCommandRow,
    LedgerEntryRow,
    VaultRow,
    VaultSnapshotRow,
    VaultSyncStatusRow,
)
from drift_engine.strategies.base import MarketSnapshot
from drift_engine.vaults.booking import latest_snapshot_row, summarize
from drift_engine.vaults.snapshots import position_from_json

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


def _decimal_str(value: int, decimals: int) -> str:
    """An integer in 10^-decimals units as an exact, normalized decimal string."""
    text = format(Decimal(value).scaleb(-decimals), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


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
        self._commands_table: bool | None = None
        self._leases_table: bool | None = None
        self._compute_lock = threading.Lock()
        self._vault_cache: tuple[Any, list[VaultOut]] | None = None  # swapped atomically

    # ---------------------------------------------------------------- vaults
    def _vault_out(self, session: Session, row: VaultRow, engine_names: dict[str, str]) -> VaultOut:
        s = summarize(session, row)
        sync = session.get(VaultSyncStatusRow, row.id)
        stale = sync is not None and bool(sync.stale)
        return VaultOut(
            id=str(row.id),
            name=row.name,
            engine_id=row.engine_id,
            engine_name=engine_names.get(row.engine_id),
            type=_VAULT_TYPE_NAMES[row.vault_type],  # type: ignore[arg-type]
            status=row.status.value,
            active=row.is_active,
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
                names = self._engine_names(session)
                marker = self._vault_marker(session, names)
                rows = self._vault_rows(session)
                vaults = [self._vault_out(session, row, names) for row in rows]
            self._vault_cache = (marker, vaults)
            return list(vaults)

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
        snapshot: VaultSnapshotRow | None, markets: dict[str, MarketSnapshot] | None = None
    ) -> list[PositionOut]:
        """Open positions of the latest snapshot, marked at the oracle when prices are known."""
        if snapshot is None:
            return []
        prices: dict[tuple[str, int], int] = {}
        for snap in (markets or {}).values():
            if snap.oracle_price:
                prices[("perp", snap.perp_market_index)] = snap.oracle_price
            if snap.spot_market_index is not None and (snap.spot_oracle_price or snap.oracle_price):
                prices[("spot", snap.spot_market_index)] = (
                    snap.spot_oracle_price or snap.oracle_price
                )
        out = []
        for data in snapshot.positions:
            p = position_from_json(data)
            if p.base_asset_amount == 0:
                continue
            if p.market_type is MarketType.SPOT and p.market_index == QUOTE_SPOT_INDEX:
                continue  # USDC in the sub-account is the vault's cash, not a position
            is_perp = p.market_type is MarketType.PERP
            decimals = 9 if is_perp else p.decimals
            entry = None
            if is_perp and p.quote_entry_amount:
                # |quote_entry| / |base| in USDC per base unit (QUOTE 1e6, BASE 1e9)
                price = (
                    Decimal(abs(p.quote_entry_amount)) * Decimal(10**9) / abs(p.base_asset_amount)
                )
                entry = format((price / Decimal(10**6)).quantize(Decimal("0.0001")), "f")
            price = prices.get((p.market_type.value, p.market_index))
            notional = upnl = None
            if price:
                # base (10^decimals) * price (1e6) -> micro-USDC
                notional = p.base_asset_amount * price // 10**decimals
                if is_perp:
                    upnl = notional + p.quote_entry_amount
            out.append(
                PositionOut(
                    market=p.symbol or _market_symbol(p.market_type, p.market_index),
                    market_type=p.market_type.value,
                    market_index=p.market_index,
                    size=_decimal_str(p.base_asset_amount, decimals),
                    side="long" if p.base_asset_amount > 0 else "short",
                    entry_price=entry,
                    oracle_price=_decimal_str(price, 6) if price else None,
                    quote_entry=money(p.quote_entry_amount) if is_perp else None,
                    notional=money(notional) if notional is not None else None,
                    unrealized_pnl=money(upnl) if upnl is not None else None,
                )
            )
        return out

    # ---------------------------------------------------------------- engines
    def _has_engine_tables(self) -> bool:
        """Migration 0002 creates the engine tables; a database not yet upgraded (opened
        without `Database.open`) may lack them, which reads as "no engines", not as an
        error."""
        if not self._engine_tables:
            names = set(inspect(self.db.engine).get_table_names())
            self._engine_tables = {"engine_records", "heartbeats"} <= names
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

    @staticmethod
    def _active_vaults(session: Session) -> dict[str, int]:
        rows = session.execute(
            select(VaultRow.engine_id, VaultRow.id).where(VaultRow.is_active.is_(True))
        ).all()
        return {engine_id: vault_id for engine_id, vault_id in rows}

    def _pending_commands(self, session: Session) -> dict[str, str]:
        """Engine id -> its oldest operator command still waiting for the runner
        (`engine_commands`, migration 0005; none on an older database)."""
        if self._commands_table is None:
            self._commands_table = "engine_commands" in inspect(self.db.engine).get_table_names()
        if not self._commands_table:
            return {}
        rows = session.execute(
            select(EngineCommandRow.engine_id, EngineCommandRow.kind)
            .where(EngineCommandRow.status == "pending")
            .order_by(EngineCommandRow.id.desc())
        ).all()
        return {engine_id: kind for engine_id, kind in rows}  # the oldest wins

    def _runners(self, session: Session) -> dict[str, RunnerOut]:
        """Engine id -> the runner holding its lease now (`leases`, migration 0005); an
        expired lease is no runner (its engines wait to be picked up)."""
        from drift_engine.storage.models import LeaseRow

        if self._leases_table is None:
            self._leases_table = "leases" in inspect(self.db.engine).get_table_names()
        if not self._leases_table:
            return {}
        now_ms = int(self._clock().timestamp() * 1000)
        out = {}
        for row in session.scalars(select(LeaseRow).where(LeaseRow.name.like("engine:%"))):
            if row.expires_at_ms < now_ms:
                continue
            out[row.name.removeprefix("engine:")] = RunnerOut(
                id=f"{row.host}:{row.pid}",
                host=row.host,
                pid=row.pid,
                started_at=datetime.fromtimestamp(row.holder_started_ms / 1000, UTC),
                lease_expires_at=datetime.fromtimestamp(row.expires_at_ms / 1000, UTC),
            )
        return out

    @staticmethod
    def _summary(
        row: EngineRow,
        active_vaults: dict[str, int],
        pending: dict[str, str] | None = None,
        runners: dict[str, RunnerOut] | None = None,
    ) -> EngineSummaryOut:
        state = row.state.upper()
        vault_id = active_vaults.get(row.engine_id)
        return EngineSummaryOut(
            id=row.engine_id,
            name=_engine_name(row),
            state=state,
            mode=row.mode.upper(),
            strategy=row.strategy,
            market=_config_market(row.config),
            active=state != "STOPPED",
            active_vault_id=str(vault_id) if vault_id is not None else (row.vault_id or None),
            pending_command=(pending or {}).get(row.engine_id),
            sim_time=datetime.fromtimestamp(row.last_ts, UTC) if row.last_ts else None,
            runner=(runners or {}).get(row.engine_id),
        )

    def list_engines(self) -> list[EngineSummaryOut]:
        with self.db.read() as session:
            active = self._active_vaults(session)
            pending = self._pending_commands(session)
            runners = self._runners(session)
            return [
                self._summary(row, active, pending, runners) for row in self._engine_rows(session)
            ]

    def get_engine(self, engine_id: str) -> EngineDetailOut | None:
        if not self._has_engine_tables():
            return None
        with self.db.read() as session:
            row = session.get(EngineRow, engine_id)
            if row is None:
                return None
            summary = self._summary(
                row,
                self._active_vaults(session),
                self._pending_commands(session),
                self._runners(session),
            )
            names = {row.engine_id: summary.name}
            vault_rows = self._vault_rows(session, engine_id)
            vaults = [self._vault_out(session, v, names) for v in vault_rows]
            active_id = (
                int(summary.active_vault_id)
                if (summary.active_vault_id and summary.active_vault_id.isdigit())
                else None
            )
            snapshot = latest_snapshot_row(session, active_id) if active_id else None
            config = dict(row.config or {})
            extra = dict(row.extra or {})
        markets = self._market_snapshots()
        positions = self.positions_of(snapshot, markets)
        equity = next((v.equity.micro for v in vaults if v.active), None)
        margin = _margin(extra.get("margin"), snapshot, positions, equity, markets)
        risk = config.pop("risk", None) or extra.get("risk_limits") or {}
        return EngineDetailOut(
            **summary.model_dump(),
            strategy_config=config,
            risk_limits=dict(risk) if isinstance(risk, dict) else {},
            high_water_mark=money(row.high_water_mark),
            positions=positions,
            margin=margin,
            vaults=vaults,
            unhedged=_unhedged(extra.get("unhedged")),
            orders=dict(extra.get("orders") or {}),
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
                    oracle_price=_decimal_str(snap.oracle_price, 6) if has_price else None,
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
            with self.db.read() as session:
                session.execute(select(1))
                engines = self._engine_rows(session)
                beat = (
                    session.scalars(
                        select(HeartbeatRow).order_by(HeartbeatRow.id.desc()).limit(1)
                    ).first()
                    if self._has_engine_tables()
                    else None
                )
                beat_info = (
                    (beat.id, beat.recorded_at, beat.ts, beat.duration_ms, len(beat.errors or []))
                    if beat is not None
                    else None
                )
        except SQLAlchemyError:
            return HealthOut(status="db_error", db_ok=False, server_time=now)
        running = sum(1 for e in engines if e.state.upper() in RUNNING_STATES)
        base = {
            "db_ok": True,
            "engines_running": running,
            "engines_total": len(engines),
            "server_time": now,
        }
        if beat_info is None:
            return HealthOut(status="no_heartbeat", **base)
        seq, recorded_at, ts, duration_ms, errors = beat_info
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
        """(latest heartbeat id, everything else the page shows changing) — cheap to read."""
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
            pending = tuple(sorted(self._pending_commands(session).items()))
        return beat, (engines, pending, vaults, last_entry)


RUNNING_STATES = frozenset({"RUNNING", "REDUCING"})
QUOTE_SPOT_INDEX = 0


@cache
def _catalog() -> MarketCatalog | None:
    try:
        return MarketCatalog.from_constants()
    except Exception:  # noqa: BLE001 - names are cosmetic; never fail a page over them
        return None


def _market_symbol(market_type: MarketType, market_index: int) -> str:
    catalog = _catalog()
    if catalog is not None:
        try:
            return catalog.get(market_type, market_index).symbol
        except KeyError:
            pass
    return f"{market_type.value}-{market_index}"


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
