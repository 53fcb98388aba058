"""`drift-engine markets`: the market catalog's mainnet parameters and where they come from.

Every market row shows its snapshot date (the mainnet account the parameters were
decoded from, core/params/mainnet_markets.jsonl); `--market SYMBOL` shows every
parameter of one market with its source; the State section shows the fee tiers and
liquidation settings with the values we could not verify marked UNVERIFIED. Offline: it
reads only the files shipped with the package.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from drift_engine.commands.errors import usage

MARGIN = 10_000  # MARGIN / SPOT_WEIGHT precision
MILLION = 1_000_000  # IMF, liquidation fee, SPOT_RATE precision


def _pct(value: int, precision: int) -> str:
    return f"{100 * value / precision:g}%"


def _oracle_source(spec: Any) -> str:
    return type(spec.oracle_source).__name__


def _market_json(spec: Any) -> dict[str, Any]:
    params = spec.perp if spec.perp is not None else spec.spot
    prov = spec.provenance
    return {
        "symbol": spec.symbol,
        "market_type": spec.market_type.value,
        "market_index": spec.market_index,
        "status": spec.status,
        "oracle": str(spec.oracle),
        "oracle_source": _oracle_source(spec),
        "order_step_size": spec.order_step_size,
        "order_tick_size": spec.order_tick_size,
        "min_order_size": spec.min_order_size,
        "decimals": spec.decimals,
        "params": asdict(params) if params is not None else None,
        "provenance": None
        if prov is None
        else {**asdict(prov), "snapshot_date": prov.snapshot_date},
    }


def _state_json() -> dict[str, Any]:
    from drift_engine.core.fees import load_state_params, mainnet_perp_fee_structure

    state = load_state_params()
    perp = mainnet_perp_fee_structure()
    return {
        "perp_fee_tiers": [asdict(t) for t in perp.fee_tiers],
        "perp_fee_source": perp.source,
        "perp_fee_unverified_fields": state["perp_fee_structure"].get("unverified_fields", []),
        "spot_fee_structure": state["spot_fee_structure"],
        "liquidation": state["liquidation"],
    }


def _perp_table(specs: list[Any]) -> Table:
    table = Table(
        "idx",
        "perp",
        "status",
        "tier",
        "margin init/maint",
        "high lev. init/maint",
        "imf",
        "uPnL weight init/maint",
        "liq. fee / IF",
        "step / tick / min",
        "fee adj.",
        "oracle",
        "snapshot",
        title="Perp markets (mainnet accounts)",
    )
    for s in specs:
        p = s.perp
        hlm = (
            f"{_pct(p.high_leverage_margin_ratio_initial, MARGIN)} / "
            f"{_pct(p.high_leverage_margin_ratio_maintenance, MARGIN)}"
            if p.high_leverage_margin_ratio_initial
            else "-"
        )
        table.add_row(
            str(s.market_index),
            s.symbol,
            s.status,
            p.contract_tier,
            f"{_pct(p.margin_ratio_initial, MARGIN)} / {_pct(p.margin_ratio_maintenance, MARGIN)}",
            hlm,
            f"{p.imf_factor / MILLION:g}",
            f"{p.unrealized_pnl_initial_asset_weight / MARGIN:g} / "
            f"{p.unrealized_pnl_maintenance_asset_weight / MARGIN:g}",
            f"{_pct(p.liquidator_fee, MILLION)} / {_pct(p.if_liquidation_fee, MILLION)}",
            f"{s.order_step_size / 1e9:g} / ${s.order_tick_size / 1e6:g} / "
            f"{s.min_order_size / 1e9:g}",
            f"{p.fee_adjustment:+d}%" if p.fee_adjustment else "0",
            _oracle_source(s) + (" *" if s.provenance and s.provenance.note else ""),
            _snapshot(s),
        )
    return table


def _spot_table(specs: list[Any]) -> Table:
    table = Table(
        "idx",
        "spot",
        "status",
        "asset weight init/maint",
        "liability weight init/maint",
        "imf",
        "liq. fee / IF",
        "borrow rate: optimal util. / at optimal / max / min",
        "step / tick / min",
        "oracle",
        "snapshot",
        title="Spot markets (mainnet accounts)",
    )
    for s in specs:
        p = s.spot
        unit = 10**s.decimals
        table.add_row(
            str(s.market_index),
            s.symbol,
            s.status,
            f"{p.initial_asset_weight / MARGIN:g} / {p.maintenance_asset_weight / MARGIN:g}",
            f"{p.initial_liability_weight / MARGIN:g} / "
            f"{p.maintenance_liability_weight / MARGIN:g}",
            f"{p.imf_factor / MILLION:g}",
            f"{_pct(p.liquidator_fee, MILLION)} / {_pct(p.if_liquidation_fee, MILLION)}",
            f"{_pct(p.optimal_utilization, MILLION)} / {_pct(p.optimal_borrow_rate, MILLION)} / "
            f"{_pct(p.max_borrow_rate, MILLION)} / {p.min_borrow_rate / 2:g}%",
            f"{s.order_step_size / unit:g} / ${s.order_tick_size / 1e6:g} / "
            f"{s.min_order_size / unit:g}"
            if p.orders_enabled
            else "no orders",
            _oracle_source(s) + (" *" if s.provenance and s.provenance.note else ""),
            _snapshot(s),
        )
    return table


def _snapshot(spec: Any) -> str:
    prov = spec.provenance
    if prov is None:
        return "UNVERIFIED (no source)"
    return prov.snapshot_date if prov.verified else f"{prov.snapshot_date} UNVERIFIED"


def _show_market(console: Console, spec: Any) -> None:
    prov = spec.provenance
    params = spec.perp if spec.perp is not None else spec.spot
    table = Table(
        "parameter",
        "value",
        title=f"{spec.symbol} ({spec.market_type.value} market {spec.market_index})",
    )
    table.add_row("status", spec.status)
    table.add_row("oracle", f"{spec.oracle} ({_oracle_source(spec)})")
    for name in ("order_step_size", "order_tick_size", "min_order_size", "decimals"):
        table.add_row(name, str(getattr(spec, name)))
    for f in fields(params):
        table.add_row(f.name, str(getattr(params, f.name)))
    console.print(table)
    if prov is not None:
        state = "verified mainnet account" if prov.verified else "UNVERIFIED"
        console.print(f"source: {prov.source}")
        console.print(f"snapshot: {prov.snapshot_date} (ts {prov.snapshot_ts}), {state}")
        console.print(f"network: {prov.network}")
        if prov.note:
            console.print(f"note: {prov.note}")


def _show_state(console: Console) -> None:
    state = _state_json()
    table = Table("tier", "30-day volume >", "taker fee", "maker rebate", title="Perp fee tiers")
    thresholds = ["$0", "$2M", "$10M", "$20M", "$80M", "$200M"]
    for i, tier in enumerate(state["perp_fee_tiers"]):
        table.add_row(
            str(i + 1),
            thresholds[i] if i < len(thresholds) else "-",
            f"{100 * tier['fee_numerator'] / tier['fee_denominator']:.4f}%",
            f"{100 * tier['maker_rebate_numerator'] / tier['maker_rebate_denominator']:.4f}%",
        )
    console.print(table)
    console.print(f"perp fees: {state['perp_fee_source']}")
    unverified = ", ".join(state["perp_fee_unverified_fields"])
    if unverified:
        console.print(f"UNVERIFIED perp fee fields: {unverified} (program defaults)")
    console.print(
        "DRIFT stake ≥ 999 / 9,999 / 49,999 / 99,999 / 249,995: taker fee -5/10/20/30/40 %, "
        "maker rebate +5/10/20/30/40 % (program constants, math/fees.rs)"
    )
    spot = state["spot_fee_structure"]
    tier = spot["fee_tiers"][0]
    console.print(
        f"spot fees: {100 * tier['fee_numerator'] / tier['fee_denominator']:.4f}% taker, "
        f"{100 * tier['maker_rebate_numerator'] / tier['maker_rebate_denominator']:.4f}% maker "
        f"rebate — {'' if spot['verified'] else 'UNVERIFIED: '}{spot['source']}"
    )
    liq = state["liquidation"]
    console.print(
        f"liquidation: buffer {_pct(liq['liquidation_margin_buffer_ratio'], MARGIN)}, "
        f"initial pct {liq['initial_pct_to_liquidate']}, duration "
        f"{liq['liquidation_duration']} slots — "
        f"{'' if liq['verified'] else 'UNVERIFIED: '}{liq['source']}"
    )


def markets(
    market: str | None = typer.Option(
        None, "--market", "-m", help="Show every parameter of one market (e.g. SOL-PERP)."
    ),
    market_type: str | None = typer.Option(
        None, "--type", help="Only perp or only spot markets.", show_default=False
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """The market catalog: mainnet parameters with their snapshot dates and sources."""
    from drift_engine.core.markets import MarketCatalog, UnknownMarketError
    from drift_engine.core.types import MarketType

    if market_type is not None and market_type.lower() not in ("perp", "spot"):
        usage(f"expected perp or spot, got {market_type!r}", "--type")
    catalog = MarketCatalog.from_constants()
    console = Console()
    if market is not None:
        try:
            spec = catalog.by_symbol(market)
        except UnknownMarketError as exc:
            usage(exc, "--market")
        if as_json:
            typer.echo(json.dumps(_market_json(spec), indent=2))
        else:
            _show_market(console, spec)
        return
    kinds = [MarketType(market_type.lower())] if market_type else [MarketType.PERP, MarketType.SPOT]
    perps = catalog.perp_markets() if MarketType.PERP in kinds else []
    spots = catalog.spot_markets() if MarketType.SPOT in kinds else []
    if as_json:
        out = {"markets": [_market_json(s) for s in (*perps, *spots)], "state": _state_json()}
        typer.echo(json.dumps(out, indent=2))
        return
    if perps:
        console.print(_perp_table(perps))
    if spots:
        console.print(_spot_table(spots))
    moved = [s for s in (*perps, *spots) if s.provenance and s.provenance.note]
    for s in moved:
        console.print(f"* {s.symbol}: {s.provenance.note}")
    unverified = [
        s.symbol for s in (*perps, *spots) if not (s.provenance and s.provenance.verified)
    ]
    if unverified:
        console.print(f"UNVERIFIED parameters: {', '.join(unverified)}")
    console.print(
        "Parameters are decoded from each market's latest mainnet account we hold (source and "
        "date: drift-engine markets --market SYMBOL); check the chain before trading size."
    )
    _show_state(console)
