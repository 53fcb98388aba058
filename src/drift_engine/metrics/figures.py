"""The per-engine and per-vault figures both metric sources expose, under one set of names.

Two places know an engine's figures: the runner that trades it (in memory, as of its last
tick: `metrics.runner`) and the database (what the dashboard's API shows:
`metrics.fleet`). Both fill `EngineFigures` / `VaultFigures` and hand them to
`families()`, so a series means the same wherever it was scraped; `job`/`instance`
labels (Prometheus adds them) tell the sources apart.

Money is exported in USDC as a float (`micro / 1e6`: exact for any amount below 2^53
micro-USDC, i.e. 9 billion USDC); the ledger itself stays integer. A figure that is not
known (no margin computed yet, no snapshot) is left out rather than exported as 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

PREFIX = "drift_engine"
#: Engine states, as the engine spells them (the state gauge has one series each).
STATES = ("running", "paused", "reducing", "halted", "stopped")


@dataclass(frozen=True)
class EngineFigures:
    engine: str
    name: str
    mode: str  # paper | live
    strategy: str
    state: str  # one of STATES
    runner: str = ""  # the lease holder "host:pid" (empty: no runner holds it)
    health: int | None = None
    leverage: float | None = None
    liquidation_distance_pct: float | None = None
    open_orders: int | None = None
    unknown_orders: int | None = None
    unhedged_notional: int | None = None  # micro-USDC


@dataclass(frozen=True)
class VaultFigures:
    vault: str  # the vault's name
    engine: str
    type: str  # VIRTUAL | ON_CHAIN
    active: bool
    balance: int  # micro-USDC, every amount below
    equity: int
    pnl: int
    funding: int
    fees: int
    entries: Mapping[str, int] = field(default_factory=dict)  # ledger entry kind -> count


def usdc(micro: int) -> float:
    return micro / 1_000_000


def liquidation_distance_pct(
    margin: Mapping[str, Any] | None, oracle_by_perp_index: Mapping[int, int] | None = None
) -> float | None:
    """Smallest |oracle - liquidation price| / oracle (in %) over a margin's position risks
    (`engine.margin_json` shape), rounded as the dashboard shows it."""
    risks = (margin or {}).get("position_risks")
    if not isinstance(risks, list):
        return None
    by_index = oracle_by_perp_index or {}
    distances = []
    for r in risks:
        if not isinstance(r, dict):
            continue
        liq = r.get("liquidation_price")
        price = r.get("oracle_price") or by_index.get(r.get("market_index"))  # type: ignore[arg-type]
        if isinstance(liq, int) and liq > 0 and isinstance(price, int) and price > 0:
            distances.append(abs(price - liq) / price * 100)
    return round(min(distances), 2) if distances else None


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=labels)


def families(engines: Iterable[EngineFigures], vaults: Iterable[VaultFigures]) -> list[Metric]:
    """The metric families of these figures (see the module docstring for the names)."""
    engines, vaults = list(engines), list(vaults)
    e = ["engine"]
    info = _gauge(
        "engine_info",
        "An engine: display name, strategy, mode, and the runner holding it (empty: none)",
        ["engine", "name", "strategy", "mode", "runner"],
    )
    state = _gauge("engine_state", "1 for the engine's state, 0 for others", ["engine", "state"])
    health = _gauge("health", "Drift margin health 0-100 (last computed)", e)
    leverage = _gauge("leverage", "Leverage: total position notional / collateral", e)
    liq = _gauge(
        "liquidation_distance_pct",
        "How far (%) the oracle must move against the positions before liquidation",
        e,
    )
    orders = _gauge("open_orders", "Orders working at the venue (open or in flight)", e)
    unknown = _gauge("unknown_orders", "Orders whose send outcome is not known yet (UNKNOWN)", e)
    unhedged = _gauge(
        "unhedged_exposure_usdc", "Notional a hedged strategy holds without its hedge", e
    )
    for f in engines:
        info.add_metric([f.engine, f.name, f.strategy, f.mode, f.runner], 1)
        for s in STATES:
            state.add_metric([f.engine, s], 1.0 if f.state == s else 0.0)
        for family, value in (
            (health, f.health),
            (leverage, f.leverage),
            (liq, f.liquidation_distance_pct),
            (orders, f.open_orders),
            (unknown, f.unknown_orders),
            (unhedged, None if f.unhedged_notional is None else usdc(f.unhedged_notional)),
        ):
            if value is not None:
                family.add_metric([f.engine], float(value))
    v = ["engine", "vault", "type", "active"]
    money = {
        "balance": _gauge("vault_balance_usdc", "Cash: the sum of the vault's ledger entries", v),
        "equity": _gauge("vault_equity_usdc", "Balance plus position value", v),
        "pnl": _gauge("vault_pnl_usdc", "Equity minus net capital in", v),
        "funding": _gauge("vault_funding_usdc", "Funding booked (sum of FUNDING entries)", v),
        "fees": _gauge("vault_fees_usdc", "Fees paid (sum of entry fees)", v),
    }
    entries = CounterMetricFamily(
        f"{PREFIX}_ledger_entries",
        "Ledger entries booked, by kind",
        labels=["engine", "vault", "kind"],
    )
    for f in vaults:
        labels = [f.engine, f.vault, f.type, "true" if f.active else "false"]
        for key, family in money.items():
            family.add_metric(labels, usdc(getattr(f, key)))
        for kind, count in sorted(f.entries.items()):
            entries.add_metric([f.engine, f.vault, kind], count)
    return [info, state, health, leverage, liq, orders, unknown, unhedged, *money.values(), entries]


__all__ = [
    "PREFIX",
    "STATES",
    "EngineFigures",
    "VaultFigures",
    "families",
    "liquidation_distance_pct",
    "usdc",
]
