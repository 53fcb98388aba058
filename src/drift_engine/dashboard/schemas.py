"""Response models of the dashboard's JSON API (they are what /docs documents).

Money is `Money` (integer micro-USDC plus its exact decimal string); ratios shown on the
page (health 0-100, leverage) are plain numbers because they are display values, never
ledger inputs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from drift_engine.dashboard.money import Money


class ErrorBody(BaseModel):
    detail: str


class HealthOut(BaseModel):
    status: Literal["ok", "stale", "no_heartbeat", "db_error"] = Field(
        description="ok: heartbeat fresh; stale: older than the threshold; "
        "no_heartbeat: none recorded yet; db_error: the database did not answer."
    )
    db_ok: bool
    heartbeat_at: datetime | None = None
    heartbeat_age_seconds: float | None = None
    heartbeat_seq: int | None = Field(default=None, description="Id of the latest heartbeat row.")
    heartbeat_sim_time: datetime | None = Field(
        default=None, description="The engines' clock at the latest heartbeat (sim or real)."
    )
    heartbeat_duration_ms: float | None = None
    heartbeat_errors: int = 0
    engines_running: int = 0
    engines_total: int = 0
    server_time: datetime


class PositionOut(BaseModel):
    market: str = Field(description="Market symbol, e.g. SOL-PERP or SOL (spot).")
    market_type: str = Field(description="perp or spot")
    market_index: int
    size: str = Field(description="Signed base size as an exact decimal string.")
    side: Literal["long", "short", "flat"]
    entry_price: str | None = None
    oracle_price: str | None = None
    quote_entry: Money | None = Field(default=None, description="Perp quote entry amount.")
    notional: Money | None = None
    unrealized_pnl: Money | None = None
    liquidation_price: str | None = None


class MarginOut(BaseModel):
    health: int | None = Field(default=None, description="Drift health 0-100.")
    leverage: float | None = None
    total_collateral: Money | None = None
    free_collateral: Money | None = None
    maintenance_margin: Money | None = None
    liquidation_distance_pct: float | None = Field(
        default=None,
        description="How far (in %) the oracle must move against the book before liquidation.",
    )


class VaultOut(BaseModel):
    id: str
    name: str | None = None
    engine_id: str | None
    engine_name: str | None = None
    type: Literal["VIRTUAL", "ON_CHAIN"]
    status: str
    active: bool = Field(description="This vault powers its engine right now (⚡ ACTIVE).")
    balance: Money = Field(description="Sum of the ledger entries.")
    equity: Money = Field(description="Balance plus unrealized PnL from the latest snapshot.")
    pnl: Money = Field(description="Equity minus net deposits (deposits, withdrawals, transfers).")
    realized_pnl: Money
    unrealized_pnl: Money
    funding: Money = Field(description="Funding earned (sum of FUNDING entries).")
    interest: Money
    fees: Money = Field(description="Fees paid (positive number).")
    health: int | None = None
    leverage: float | None = None
    snapshot_at: datetime | None = None
    authority: str | None = None
    sub_account_id: int | None = None
    stale: bool = Field(
        default=False,
        description="ON_CHAIN only: the last chain read failed; figures are as of the last "
        "good sync and nothing was booked since.",
    )
    stale_reason: str | None = None
    stale_since: datetime | None = None


class RunnerOut(BaseModel):
    """The `drift-engine run` process holding an engine's lease (ADR-0011, ADR-0019)."""

    id: str = Field(description="host:pid, as the metrics label it.")
    host: str
    pid: int
    started_at: datetime = Field(description="When that runner process started.")
    lease_expires_at: datetime = Field(
        description="When its lease runs out unless renewed (a dead runner's engines are "
        "picked up by another one after this)."
    )


class EngineSummaryOut(BaseModel):
    id: str
    name: str
    state: str = Field(description="RUNNING, PAUSED, REDUCING, HALTED or STOPPED")
    mode: str = Field(description="PAPER or LIVE")
    strategy: str
    market: str | None = Field(default=None, description="The strategy's market, if it has one.")
    active: bool = Field(description="Not STOPPED: the dashboard shows a vault table for it.")
    active_vault_id: str | None = None
    pending_command: str | None = Field(
        default=None, description="A control action queued for the engine's process."
    )
    sim_time: datetime | None = Field(default=None, description="The engine's last step time.")
    runner: RunnerOut | None = Field(
        default=None, description="The runner holding the engine now; null: none holds it."
    )


class UnhedgedOut(BaseModel):
    """Exposure a hedged strategy holds without its hedge (legs that did not fill
    together), while it exists."""

    market: str
    base: int = Field(description="Signed net base, BASE 1e9 (spot + perp).")
    notional: Money = Field(description="|base| at the oracle.")
    since: datetime
    action: str = Field(default="", description='What the strategy does: "hedge" or "unwind".')


class EngineDetailOut(EngineSummaryOut):
    strategy_config: dict[str, Any] = Field(default_factory=dict)
    risk_limits: dict[str, Any] = Field(default_factory=dict)
    high_water_mark: Money | None = None
    positions: list[PositionOut] = Field(default_factory=list)
    margin: MarginOut = Field(default_factory=MarginOut)
    vaults: list[VaultOut] = Field(default_factory=list)
    unhedged: UnhedgedOut | None = Field(
        default=None, description="Unhedged exposure right now; null when the legs match."
    )
    orders: dict[str, Any] = Field(
        default_factory=dict,
        description="The engine's orders: working count, count by status, whether new "
        "exposure is blocked by orders with an unknown outcome.",
    )


class LedgerEntryOut(BaseModel):
    id: int
    kind: str = Field(description="deposit, withdraw, transfer_in/out, fill, funding, ...")
    amount: Money = Field(description="Signed cash effect before fees.")
    fee: Money = Field(description="Fee paid (negative: rebate).")
    net: Money = Field(description="Effect on the balance: amount - fee.")
    idempotency_key: str
    market_index: int | None = None
    memo: str | None = None
    occurred_at: datetime
    booked_at: datetime


class LedgerPageOut(BaseModel):
    vault_id: str
    entries: list[LedgerEntryOut]
    next_before: int | None = Field(
        default=None, description="Pass as `before` for the next (older) page; null at the end."
    )


class SnapshotOut(BaseModel):
    at: datetime
    equity: Money
    balance: Money | None = Field(default=None, description="Ledger cash at the snapshot.")
    unrealized_pnl: Money | None = None
    funding_cumulative: Money = Field(description="Funding booked up to this snapshot.")
    health: int | None = None
    leverage: float | None = None


class SnapshotSeriesOut(BaseModel):
    vault_id: str
    snapshots: list[SnapshotOut]


class MarketOut(BaseModel):
    symbol: str
    market_index: int
    market_type: str
    oracle_price: str | None = None
    funding_rate_hourly: str | None = Field(
        default=None, description="Last hourly funding rate as a fraction of price."
    )
    funding_apr: float | None = Field(default=None, description="Last hourly rate annualized, %.")
    funding_apr_24h: float | None = None
    funding_apr_7d: float | None = None
    spot_deposit_apr: float | None = None
    spot_borrow_apr: float | None = None
    as_of: datetime | None = None


class ControlOut(BaseModel):
    engine_id: str
    action: Literal["start", "pause", "stop", "kill"]
    state: str = Field(description="The engine's state when the answer was given.")
    pending: bool = Field(
        description="True: the action is queued for the engine's process and applies on its "
        "next tick; false: it was applied already."
    )
