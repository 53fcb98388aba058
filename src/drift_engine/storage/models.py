"""SQLAlchemy models: vaults, their append-only ledger, their snapshot time series, and
the engines' records, event log and heartbeat rows.

Money columns are BigInteger micro-USDC (QUOTE precision, 1e6): exact on SQLite and
PostgreSQL alike. Nothing here stores a balance; balances are sums over `ledger_entries`
(see `drift_engine.vaults.ledger`). The invariants the database itself must hold — one
entry per idempotency key and vault, at most one active vault per engine, on-chain
identity present exactly for ON_CHAIN vaults — are constraints here, so they hold under
concurrent processes too, not only in Python.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from drift_engine.storage.enums import EntryKind, SnapshotSource, VaultStatus, VaultType

# Named constraints so Alembic can alter them later (SQLite batch mode needs names).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias).
Id = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes in, the same out, on SQLite (which keeps no zone) too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware UTC time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _enum(cls: type) -> Enum:
    """Store an enum's values (e.g. "on_chain") as a string, portable across databases."""
    return Enum(
        cls,
        native_enum=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class VaultRow(Base):
    """One engine vault: paper capital or a mirrored Drift sub-account."""

    __tablename__ = "vaults"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    engine_id: Mapped[str] = mapped_column(String(64), index=True)
    vault_type: Mapped[VaultType] = mapped_column(_enum(VaultType))
    status: Mapped[VaultStatus] = mapped_column(_enum(VaultStatus))
    quote_asset: Mapped[str] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean, default=False)
    network: Mapped[str | None] = mapped_column(String(16))
    authority: Mapped[str | None] = mapped_column(String(44))
    sub_account_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        # One vault per Drift sub-account: two mirrors of one account would count it twice.
        UniqueConstraint("network", "authority", "sub_account_id"),
        # At most one vault powers an engine at a time (the dashboard's ACTIVE badge).
        Index(
            "uq_vaults_one_active_per_engine",
            "engine_id",
            unique=True,
            sqlite_where=text("is_active"),
            postgresql_where=text("is_active"),
        ),
        CheckConstraint(
            "(vault_type = 'on_chain') = "
            "(network IS NOT NULL AND authority IS NOT NULL AND sub_account_id IS NOT NULL)",
            name="on_chain_identity",
        ),
    )


class LedgerEntryRow(Base):
    """One booked event. Never updated or deleted (database triggers refuse both)."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    vault_id: Mapped[int] = mapped_column(ForeignKey("vaults.id"), index=True)
    kind: Mapped[EntryKind] = mapped_column(_enum(EntryKind))
    # Signed cash effect before fees, micro-USDC; the balance counts `amount - fee`.
    amount: Mapped[int] = mapped_column(BigInteger)
    # Fee paid (positive) or rebate received (negative), micro-USDC.
    fee: Mapped[int] = mapped_column(BigInteger, default=0)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    counterparty_vault_id: Mapped[int | None] = mapped_column(ForeignKey("vaults.id"))
    market_index: Mapped[int | None] = mapped_column(Integer)
    memo: Mapped[str | None] = mapped_column(String(200))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    booked_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("vault_id", "idempotency_key"),)


class VaultSnapshotRow(Base):
    """A point of a vault's equity/health/positions time series (the dashboard's charts).

    `cash` is the ledger balance when recorded (for chain snapshots: the chain's cash);
    `position_value` is what open positions add on top of cash (perp unrealized PnL plus
    the value of non-quote spot holdings), so equity = cash + position_value.
    """

    __tablename__ = "vault_snapshots"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    vault_id: Mapped[int] = mapped_column(ForeignKey("vaults.id"))
    source: Mapped[SnapshotSource] = mapped_column(_enum(SnapshotSource))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())
    slot: Mapped[int | None] = mapped_column(BigInteger)
    cash: Mapped[int] = mapped_column(BigInteger)
    position_value: Mapped[int] = mapped_column(BigInteger)
    equity: Mapped[int] = mapped_column(BigInteger)
    unrealized_pnl: Mapped[int] = mapped_column(BigInteger)
    health: Mapped[int | None] = mapped_column(Integer)
    positions: Mapped[list[dict[str, Any]]] = mapped_column(Json)
    cumulative_perp_funding: Mapped[int | None] = mapped_column(BigInteger)
    settled_perp_pnl: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        # A chain snapshot is identified by its slot: reconciling it twice is one row.
        UniqueConstraint("vault_id", "slot"),
        Index("ix_vault_snapshots_vault_id_taken_at", "vault_id", "taken_at"),
    )


# ------------------------------------------------------------------------- engines
class EngineRow(Base):
    """One engine's persisted record: state, strategy state, high-water mark.

    `extra` (JSON) carries what the dashboard shows about the engine and nothing the
    engine needs to resume: `name` (display name), `margin` (the latest
    DriftMarginMetrics, integers at Drift precision, with `position_risks`) and
    `risk_limits` (the limits in force), rewritten on every persist.
    """

    __tablename__ = "engine_records"

    engine_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    strategy: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(Json)
    mode: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    strategy_state: Mapped[str] = mapped_column(Text)
    high_water_mark: Mapped[int] = mapped_column(BigInteger)
    last_ts: Mapped[int] = mapped_column(BigInteger)
    vault_id: Mapped[str] = mapped_column(String(64))
    extra: Mapped[dict[str, Any]] = mapped_column(Json)


class EngineCommandRow(Base):
    """One operator command for an engine (migration 0005): a durable queue, never
    overwritten. Controls (`start`, `stop`, `pause`, `kill`) and paper capital moves
    (`deposit`, `withdraw`, `transfer_in`, `transfer_out`: `amount` micro-USDC into or out
    of the engine's vault `vault`, `counterparty` the other vault of a transfer) are applied
    by the engine's runner in `id` order at a tick boundary. `due_ts` is the engine time of
    the tick that applies it (stamped when a runner first sees it, so a replay after a
    crash applies it at the same tick); `status` goes pending -> applied | refused, with
    `result` saying what happened. `key` makes a request idempotent."""

    __tablename__ = "engine_commands"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    engine_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    vault: Mapped[str | None] = mapped_column(String(64), nullable=True)
    counterparty: Mapped[str | None] = mapped_column(String(64), nullable=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    source: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    due_ts: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_engine_commands_engine_id_status", "engine_id", "status"),)


class LeaseRow(Base):
    """Who holds a resource (migration 0005): `engine:<id>` for one engine, or
    `paper-stack:<name>` for a paper stack's shared simulator checkpoint. A runner takes a
    lease with one conditional write (free, its own, or expired) and renews it while it
    runs; another runner takes it over only after `expires_at_ms` (wall clock, ms)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(128))
    pid: Mapped[int] = mapped_column(Integer)
    holder_started_ms: Mapped[int] = mapped_column(BigInteger)
    acquired_ms: Mapped[int] = mapped_column(BigInteger)
    renewed_ms: Mapped[int] = mapped_column(BigInteger)
    expires_at_ms: Mapped[int] = mapped_column(BigInteger)


class EngineEventRow(Base):
    """An engine's log: transitions, rejections, orders."""

    __tablename__ = "engine_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    engine_id: Mapped[str] = mapped_column(String(64), index=True)
    ts: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(Json)


class HeartbeatRow(Base):
    """One heartbeat tick. `market_state` is the market board at that tick (symbol ->
    MarketSnapshot fields), so a dashboard over the database alone can show markets."""

    __tablename__ = "heartbeats"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    ts: Mapped[int] = mapped_column(BigInteger, index=True)
    recorded_at: Mapped[str] = mapped_column(String(40))
    duration_ms: Mapped[float] = mapped_column(Float)
    events: Mapped[int] = mapped_column(Integer)
    engines_stepped: Mapped[int] = mapped_column(Integer)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(Json)
    market_state: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)


# ------------------------------------------------------------------------- paper state
class PaperCheckpointRow(Base):
    """A paper stack's simulated Drift and its engines as of one heartbeat (migration 0003).

    `state` is zlib-compressed JSON: the simulator's `dump()` (accounts as the program's
    bytes), the market board, and per engine its record, sub-account and venue cursor.
    `ledger_mark` is the highest ledger entry id at that moment: entries above it were
    booked by a heartbeat the checkpoint does not include, and are replayed, not rebooked.
    One row per stack `name`, rewritten in one transaction at each checkpoint.
    """

    __tablename__ = "paper_checkpoints"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    ts: Mapped[int] = mapped_column(BigInteger)
    epoch: Mapped[str] = mapped_column(String(32))
    ledger_mark: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime)


class VaultSyncStatusRow(Base):
    """Whether an ON_CHAIN vault's mirror of the chain is current (migration 0004).

    One row per vault, updated in place: the flag is not money and not history, so it is
    neither a ledger entry nor a `VaultStatus` (see vaults/sync_status.py).
    """

    __tablename__ = "vault_sync_status"

    vault_id: Mapped[int] = mapped_column(ForeignKey("vaults.id"), primary_key=True)
    stale: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(String(300), nullable=True)
    stale_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_slot: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class LiveCursorRow(Base):
    """Where an ON_CHAIN vault's transaction history was read up to (migration 0007): the
    newest signature of its sub-account (`account`) whose events the engine consumed.
    One row per vault, updated in place (live/cursor.py)."""

    __tablename__ = "live_cursors"

    vault_id: Mapped[int] = mapped_column(ForeignKey("vaults.id"), primary_key=True)
    account: Mapped[str] = mapped_column(String(44))
    signature: Mapped[str] = mapped_column(String(88))
    slot: Mapped[int] = mapped_column(BigInteger)
    #: the vault's highest ledger entry id when the cursor was saved: fills booked after
    #: it come from transactions after the cursor (start rule 7 checks only those)
    ledger_mark: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[str] = mapped_column(String(40))


# ------------------------------------------------------------------------- run sessions
class RunSessionRow(Base):
    """One `drift-engine demo` or `run` process, from start to end (migration 0008).

    What the dashboard's banner and its liveness need and nothing else holds: which
    process runs which engines (`host`, `pid`, `engines`), how fast simulated time goes
    (`speed`; None: wall-clock time), the replay's window (`sim_start`, `sim_end`; None:
    open-ended), the data sources' labels (`data`: which series are real, which
    synthetic), whether its dashboard accepts control actions (`controls`), and how it
    ended (`status`: running -> finished | interrupted | failed, with `ended_at`). A
    process killed outright leaves `running`; readers check the process itself.
    """

    __tablename__ = "run_sessions"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    host: Mapped[str] = mapped_column(String(128))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    speed: Mapped[float | None] = mapped_column(Float, nullable=True)
    sim_start: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    sim_end: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    engines: Mapped[list[str]] = mapped_column(Json)
    data: Mapped[dict[str, Any]] = mapped_column(Json)
    controls: Mapped[bool] = mapped_column(Boolean, default=False)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)


# ------------------------------------------------------------------------- orders
class EngineOrderRow(Base):
    """One order an engine sent (or adopted), with its life cycle (migration 0006).

    Keyed by (engine, user order id) while it is working: the partial unique index
    allows one working order per user order id and engine (ids 1..255 are reused once
    an order is done; `seq` numbers an engine's orders for good). Written INFLIGHT
    before the order is sent, updated in place as evidence moves it (engine/orders.py).
    `intent` is what was sent (JSON); `send_ref` how to find the send on chain
    (signatures, last valid block height, the User's next order id and slot before it).
    """

    __tablename__ = "engine_orders"
    __table_args__ = (
        UniqueConstraint("engine_id", "seq", name="uq_engine_orders_engine_id_seq"),
        Index(
            "uq_engine_orders_working_user_order_id",
            "engine_id",
            "user_order_id",
            unique=True,
            sqlite_where=text("working"),
            postgresql_where=text("working"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    engine_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    user_order_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    working: Mapped[bool] = mapped_column(Boolean)
    external: Mapped[bool] = mapped_column(Boolean, default=False)
    market_type: Mapped[str] = mapped_column(String(8))
    market_index: Mapped[int] = mapped_column(Integer)
    direction: Mapped[str] = mapped_column(String(8))
    base_asset_amount: Mapped[int] = mapped_column(BigInteger)
    base_filled: Mapped[int] = mapped_column(BigInteger, default=0)
    quote_filled: Mapped[int] = mapped_column(BigInteger, default=0)
    order_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    intent: Mapped[dict[str, Any]] = mapped_column(Json)
    send_ref: Mapped[dict[str, Any]] = mapped_column(Json)
    fill_ids: Mapped[list[str]] = mapped_column(Json)
    reason: Mapped[str] = mapped_column(String(300), default="")
    created_ts: Mapped[int] = mapped_column(BigInteger)
    updated_ts: Mapped[int] = mapped_column(BigInteger)
