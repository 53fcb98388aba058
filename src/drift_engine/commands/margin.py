"""`drift-engine margin`: margin reports for Drift sub-accounts (core/margin.py).

`--demo` builds two example accounts from the real market parameters shipped with the
package (core/params/mainnet_markets.jsonl) and prints what `DriftMarginMonitor` says
about them.
No network, no clock: the same command prints the same numbers everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import typer
from driftpy.types import SpotBalanceType
from rich.console import Console
from rich.table import Table

from drift_engine.commands.errors import usage
from drift_engine.core.accounts import default_markets, make_user
from drift_engine.core.margin import UNBOUNDED, DriftMarginMonitor, MarginThresholds
from drift_engine.core.markets import MarketCatalog
from drift_engine.core.offline import OfflineDrift
from drift_engine.core.types import (
    DriftMarginMetrics,
    MarketType,
    RiskLevel,
    positions_from_user,
)

#: Demo oracle price of SOL (PRICE 1e6); both accounts are valued at it.
DEMO_SOL_PRICE = 150_000_000
_OVERLEVERED_SOL_PRICE = 145_000_000

_DEFAULT_THRESHOLDS = MarginThresholds()

_RISK_STYLE = {
    RiskLevel.HEALTHY: "bold green",
    RiskLevel.WARNING: "bold yellow",
    RiskLevel.CRITICAL: "bold red",
    RiskLevel.LIQUIDATABLE: "bold white on red",
}


@dataclass(frozen=True)
class DemoAccount:
    name: str
    description: str
    drift: OfflineDrift
    user: Any


def _deposit(user: Any, slot: int, spot_market: Any, tokens: int) -> None:
    """Put a deposit of `tokens` (market decimals) into spot slot `slot` at the market's
    current cumulative interest (math/spot_balance.rs get_spot_balance, rounded down)."""
    sp = user.spot_positions[slot]
    sp.market_index = spot_market.market_index
    sp.balance_type = SpotBalanceType.Deposit()
    sp.scaled_balance = (
        tokens * 10 ** (19 - spot_market.decimals) // spot_market.cumulative_deposit_interest
    )
    sp.cumulative_deposits = tokens


def _perp(user: Any, slot: int, market_index: int, base: int, entry_price: int) -> None:
    """A perp position of `base` (BASE 1e9, signed) opened at `entry_price`, no fees."""
    pp = user.perp_positions[slot]
    pp.market_index = market_index
    pp.base_asset_amount = base
    quote = -base * entry_price // 10**9
    pp.quote_asset_amount = pp.quote_entry_amount = pp.quote_break_even_amount = quote


def demo_accounts() -> list[DemoAccount]:
    """The two example accounts of `drift-engine margin --demo`."""
    catalog = MarketCatalog.from_constants()
    prices = {"SOL-PERP": DEMO_SOL_PRICE, "SOL": DEMO_SOL_PRICE}

    # 1. Delta-neutral carry: 20 SOL spot + 20 SOL-PERP short (entered at $148) + $1,000.
    perps, spots = default_markets(catalog, prices)
    hedged = OfflineDrift(perps, spots)
    user = make_user(hedged.authority, 0)
    _deposit(user, 0, spots[0], 1_000 * 10**6)
    _deposit(user, 1, spots[1], 20 * 10**9)
    _perp(user, 0, 0, -20 * 10**9, 148_000_000)
    hedged.add_user(user)
    accounts = [
        DemoAccount(
            "hedged SOL carry",
            "20 SOL spot + 20 SOL-PERP short entered at $148, $1,000 USDC; SOL at $150",
            hedged,
            user,
        )
    ]

    # 2. Over-levered: $1,000 USDC, 100 SOL-PERP long opened at $150 (15x), SOL now $145.
    perps, spots = default_markets(catalog, prices)
    levered = OfflineDrift(perps, spots)
    user = make_user(levered.authority, 0)
    _deposit(user, 0, spots[0], 1_000 * 10**6)
    _perp(user, 0, 0, 100 * 10**9, DEMO_SOL_PRICE)
    levered.add_user(user)
    levered.set_perp_oracle_price(0, _OVERLEVERED_SOL_PRICE)
    accounts.append(
        DemoAccount(
            "over-levered SOL long",
            "100 SOL-PERP long opened at $150 on $1,000 USDC (15x); SOL now at $145",
            levered,
            user,
        )
    )
    return accounts


# --------------------------------------------------------------------------- formatting


def _usd(amount: int) -> str:
    """QUOTE 1e6 micro-USDC as dollars, e.g. 3660000000 -> "$3,660.00"."""
    sign = "-" if amount < 0 else ""
    return f"{sign}${Decimal(abs(amount)).scaleb(-6):,.2f}"


def _price(price: int | None) -> str:
    if price is None:
        return "—"
    return f"${Decimal(price).scaleb(-6):,.4f}"


def _ratio(value: int, suffix: str = "x") -> str:
    if value >= UNBOUNDED:
        return "∞"
    return f"{Decimal(value).scaleb(-4):,.2f}{suffix}"


def _size(amount: int, decimals: int) -> str:
    text = f"{Decimal(amount).scaleb(-decimals).normalize():,f}"
    return text if amount < 0 else f"+{text}"


def _summary_table(metrics: DriftMarginMetrics) -> Table:
    table = Table(show_edge=True, header_style="bold")
    for col in (
        "Total collateral",
        "Maint. collateral",
        "Maint. requirement",
        "Initial requirement",
        "Free collateral",
        "Health",
        "Leverage",
        "Risk",
    ):
        table.add_column(col, justify="right" if col != "Risk" else "left", no_wrap=True)
    level = metrics.risk_level
    table.add_row(
        _usd(metrics.total_collateral),
        _usd(metrics.maintenance_total_collateral),
        _usd(metrics.maintenance_margin_requirement),
        _usd(metrics.initial_margin_requirement),
        _usd(metrics.free_collateral),
        str(metrics.health),
        _ratio(metrics.leverage),
        f"[{_RISK_STYLE[level]}]{level.value.upper()}[/]",
    )
    return table


def _positions_table(account: DemoAccount, metrics: DriftMarginMetrics) -> Table:
    catalog = MarketCatalog.from_constants()
    table = Table(show_edge=True, header_style="bold")
    for col in ("Market", "Size", "Entry", "Oracle", "Liq. price", "Distance"):
        table.add_column(col, justify="left" if col == "Market" else "right", no_wrap=True)
    risks = {(r.market_type, r.market_index): r for r in metrics.position_risks}
    spots = account.drift.spot_markets
    for pos in positions_from_user(account.user, spots):
        symbol = catalog.get(pos.market_type, pos.market_index).symbol
        risk = risks.get((pos.market_type, pos.market_index))
        if pos.market_type is MarketType.PERP:
            oracle = account.drift.perp_oracle_price(pos.market_index)
        else:
            oracle = account.drift.spot_oracle_price(pos.market_index)
        entry = _price(pos.entry_price) if pos.market_type is MarketType.PERP else "—"
        if risk is None or risk.liquidation_price is None:
            distance = "—"
        else:
            distance = f"{risk.distance_pct:+}% ({_price(abs(risk.distance))})"
            distance = distance if risk.distance >= 0 else distance.replace("($", "(-$")
        table.add_row(
            symbol,
            _size(pos.base_asset_amount, pos.decimals),
            entry,
            _price(oracle),
            _price(risk.liquidation_price if risk else None),
            distance,
        )
    return table


def margin(
    demo: bool = typer.Option(False, "--demo", help="Report on built-in example accounts."),
    warning_health: int = typer.Option(
        _DEFAULT_THRESHOLDS.warning_health,
        min=0,
        max=100,
        help="Health (0-100) at or below which an account is WARNING.",
    ),
    critical_health: int = typer.Option(
        _DEFAULT_THRESHOLDS.critical_health,
        min=0,
        max=100,
        help="Health (0-100) at or below which it is CRITICAL.",
    ),
) -> None:
    """Print a margin report (collateral, requirements, health, leverage, liquidation prices)."""
    console = Console(width=None if Console().is_terminal else 140)
    if not demo:
        usage(
            "margin reports on built-in example accounts only: pass --demo. A running "
            "engine's margin (health, leverage, liquidation prices) is on the dashboard "
            "(drift-engine dashboard)",
            "--demo",
        )
    try:
        thresholds = MarginThresholds(warning_health, critical_health)
    except ValueError as exc:
        usage(exc, "--warning-health/--critical-health")
    monitor = DriftMarginMonitor(thresholds)
    console.print(
        "[bold]Drift margin report[/] (demo accounts built from the real market parameters; "
        "math: core/margin.py, following the on-chain program)"
    )
    for account in demo_accounts():
        metrics = monitor.compute(account.drift, 0, now=0)
        console.print()
        console.print(f"[bold]{account.name}[/] — {account.description}")
        console.print(_summary_table(metrics))
        console.print(_positions_table(account, metrics))
