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
    engines_running: int = Field(
        default=0,
        description="Engines in RUNNING or REDUCING whose process is alive (not the stored "
        "state alone: a killed process's engines are not counted).",
    )
    engines_total: int = 0
    engine_counts: dict[str, int] = Field(
        default_factory=dict,
        description="Engines by what the page shows: running, reducing, paused, halted, "
        "not_running, stopped_with_positions, stopped.",
    )
    engine_summary: str = Field(
        default="", description='e.g. "1 running · 1 paused · 1 stopped with open positions".'
    )
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
    liquidation_price: str | None = Field(
        default=None, description="Oracle price at which this position is liquidated (margin)."
    )
    liquidation_distance_pct: float | None = None


class HedgePairOut(BaseModel):
    """A carry shown as one position: the spot and perp legs of one asset together."""

    asset: str = Field(description="The asset both legs trade, e.g. SOL.")
    legs: list[PositionOut]
    net_delta: str = Field(description="Spot + perp base, in the asset's units (exact).")
    net_delta_usd: Money | None = Field(
        default=None, description="Net delta at the oracle: what a price move changes."
    )
    hedged_notional: Money | None = Field(default=None, description="The larger leg at oracle.")
    unrealized_pnl: Money | None = Field(
        default=None, description="Both legs' uPnL together (null if a leg's is unknown)."
    )
    funding_apr: float | None = Field(
        default=None, description="Current funding APR, % (over the strategy's lookback)."
    )
    funding_apr_window: str | None = Field(default=None, description="e.g. 24h, 7d, last 1h.")
    entry_apr: float | None = Field(default=None, description="Strategy entry threshold, %.")
    exit_apr: float | None = Field(default=None, description="Strategy exit threshold, %.")


class KpisOut(BaseModel):
    """Per engine, over its booking vault and the simulated time it has run."""

    net_deposits: Money
    pnl: Money
    return_pct: float | None = None
    net_apr_pct: float | None = Field(
        default=None, description="PnL / net deposits, annualised over the engine's sim time."
    )
    days: float | None = Field(default=None, description="Simulated days the engine has run.")
    drawdown_pct: float | None = Field(default=None, description="Below the high-water mark, %.")
    drawdown_usd: Money | None = None
    time_in_market_pct: float | None = None
    funding: Money
    interest: Money
    fees: Money


class LimitOut(BaseModel):
    """One risk limit with what it means in dollars now and where the engine stands."""

    key: str
    label: str
    unit: Literal["pct", "ratio", "health", "usd"]
    limit: float = Field(description="pct: %, ratio: ×, health: 0-100, usd: dollars.")
    limit_usd: Money | None = Field(default=None, description="The limit in dollars now.")
    current: float | None = None
    current_usd: Money | None = None
    note: str = ""
    breached: bool = False


class TimelineOut(BaseModel):
    """What the equity chart marks: entries and exits, and when the engine held positions."""

    vault_id: str | None
    markers: list[dict[str, Any]] = Field(
        default_factory=list, description="{at, kind: entry|exit|trade|halt, text}"
    )
    in_market: list[dict[str, Any]] = Field(
        default_factory=list, description="{start, end}: periods with open positions."
    )


class ActivityOut(BaseModel):
    id: str = Field(description="e<event id>, l<ledger entry id> or c<command id>.")
    at: datetime = Field(description="Engine time (simulated in paper).")
    category: Literal[
        "decision", "fill", "funding", "risk", "operator", "state", "error", "capital"
    ]
    kind: str
    text: str
    amount: Money | None = None


class ActivityPageOut(BaseModel):
    engine_id: str
    entries: list[ActivityOut]


class RunOut(BaseModel):
    """The banner: simulated time, speed, data sources, whether the replay finished, and
    whether this dashboard accepts control actions."""

    banner: str = Field(
        description='e.g. "Sim 2026-01-17 05:00 UTC · ×14,400 · funding REAL, prices SYNTHETIC".'
    )
    sim_time: datetime | None = None
    speed: float | None = Field(default=None, description="Sim seconds per wall second.")
    data_sources: dict[str, str] = Field(
        default_factory=dict, description="series -> REAL | SYNTHETIC | MIXED"
    )
    replay: Literal["running", "finished", "interrupted", "failed", "not_running", "none"] = "none"
    replay_end: datetime | None = None
    process: str | None = Field(default=None, description="e.g. demo pid 123 on host.")
    controls_enabled: bool = False
    controls_reason: str = ""


class PortfolioRowOut(BaseModel):
    engine_id: str | None
    name: str
    state: str | None = None
    cash: Money
    equity: Money
    pnl: Money
    funding: Money
    interest: Money
    fees: Money


class PortfolioOut(BaseModel):
    rows: list[PortfolioRowOut]
    total: PortfolioRowOut = Field(description="Engines' booking vaults together.")
    treasury: Money = Field(description="Cash in the treasury (not allocated to an engine).")
    unassigned: Money = Field(description="Equity of vaults no engine books into.")


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
    role: Literal["engine", "treasury", "unassigned"] = Field(
        default="engine",
        description="treasury: capital not allocated; unassigned: no engine record uses it.",
    )
    cash: Money = Field(description="Cash: the sum of the ledger entries.")
    balance: Money = Field(description="Same as `cash` (kept for API clients).")
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
    visible: bool = Field(
        default=True,
        description="Shown on the page: not STOPPED, or STOPPED/HALTED with open positions "
        "(exposure is never hidden).",
    )
    holds_positions: bool = False
    process: Literal["running", "not_running", "finished"] = Field(
        default="running",
        description="Whether the process running the engine is alive (run sessions, pid, "
        "heartbeat); `finished`: its replay ended.",
    )
    status: str = Field(
        default="",
        description="What the page shows: the state when the process runs, else "
        '"NOT RUNNING" (or "REPLAY FINISHED").',
    )
    liveness: str = Field(default="", description='e.g. "not running — last tick 8 m ago".')
    last_tick_at: datetime | None = Field(default=None, description="Wall time, newest heartbeat.")
    last_tick_age_seconds: float | None = None
    active_vault_id: str | None = None
    active_vault_name: str | None = None
    booking_vault: str | None = Field(
        default=None, description="The vault the engine books into (its record)."
    )
    actions: dict[str, str | None] = Field(
        default_factory=dict,
        description="start/pause/stop/kill -> null when the action applies to the engine's "
        "state, else why it does not.",
    )
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
    pairs: list[HedgePairOut] = Field(
        default_factory=list, description="Spot + perp legs of one asset shown as one carry."
    )
    margin: MarginOut = Field(default_factory=MarginOut)
    vaults: list[VaultOut] = Field(default_factory=list)
    kpis: KpisOut | None = None
    limits: list[LimitOut] = Field(default_factory=list)
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
    message: str = Field(
        default="",
        description="What happens next, e.g. that no process runs the engine and the action "
        "waits for the next `drift-engine run`.",
    )
