"""`drift-engine backtest`: one strategy on one market over a window, as fast as possible."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


def parse_params(items: list[str]) -> dict[str, Any]:
    """`k=v` pairs; values are JSON when they parse (numbers, true/false), else strings."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise typer.BadParameter(f"{item!r} is not key=value", param_hint="--param")
        key, _, raw = item.partition("=")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key.strip()] = value
    return out


def _auto_source(market: str, start: int, end: int) -> str:
    from drift_engine.data import BundledSource

    bundled = BundledSource()
    if market in bundled.funding_markets():
        lo, hi = bundled.windows()[market]
        if lo <= start and end <= hi + 3599:
            return "bundled"
    return "synthetic"


def backtest(
    strategy: str = typer.Option(
        "delta-neutral",
        "--strategy",
        help="Strategy: a name (drift-engine strategies list), module:Class or file.py:Class.",
    ),
    market: str = typer.Option("SOL-PERP", "--market", help="Perp market, e.g. SOL-PERP."),
    start: str = typer.Option(..., "--start", help="Start date (UTC), e.g. 2026-01-10."),
    end: str = typer.Option(..., "--end", help="End date (UTC, exclusive)."),
    param: list[str] = typer.Option([], "--param", help="Strategy parameter key=value."),
    source: str = typer.Option(
        "auto", "--source", help="bundled (real funding), synthetic, or auto."
    ),
    seed: int = typer.Option(7, "--seed", help="Seed of the synthetic prices/funding."),
    capital: float = typer.Option(10_000.0, "--capital", help="Starting USDC."),
    interval: int = typer.Option(60, "--interval", help="Engine tick, seconds of data time."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
    plot: str | None = typer.Option(None, "--plot", help="Write a chart: FILE.html or FILE.png."),
    database_url: str | None = typer.Option(
        None, "--db", help="Keep the run's vaults and ledger in this database (default: temp)."
    ),
) -> None:
    """Backtest a strategy on the simulator with the real engine and vault ledger."""
    from drift_engine.backtest import parse_date, run_backtest, write_plot
    from drift_engine.backtest.runner import Progress as BtProgress
    from drift_engine.strategies import StrategyLoadError, strategy_class

    err = Console(stderr=True)
    try:
        cls = strategy_class(strategy)  # a built-in or installed name, module:Class, file.py
    except StrategyLoadError as exc:
        raise typer.BadParameter(str(exc), param_hint="--strategy") from None
    try:
        t0, t1 = parse_date(start), parse_date(end)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--start/--end") from None
    if t1 <= t0:
        raise typer.BadParameter("--end must be after --start", param_hint="--end")
    if plot and not (plot.endswith(".html") or plot.endswith(".png")):
        raise typer.BadParameter("needs a .html or .png file name", param_hint="--plot")
    params = parse_params(param)
    try:  # before the progress bar: a bad parameter is one line
        defaults = {"market": market} if "market" in cls.config_model.model_fields else {}
        cls.config_model.model_validate({**defaults, **params})
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        err.print(f"[red]error:[/] --param {key}: {first['msg']}")
        raise typer.Exit(code=2) from None
    if source == "auto":
        source = _auto_source(market, t0, t1)

    with Progress(
        TextColumn("[bold]backtest[/] {task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[events]:,} events"),
        TimeElapsedColumn(),
        console=err,
        transient=as_json,
    ) as bar:
        task = bar.add_task(f"{strategy} {market}", total=t1 - t0, events=0)

        def on_progress(p: BtProgress) -> None:
            bar.update(task, completed=p.ts - p.start, events=p.events)

        try:
            report = run_backtest(
                strategy,
                market,
                t0,
                t1,
                params,
                source=source,
                seed=seed,
                capital=int(round(capital * 1_000_000)),
                interval_s=interval,
                progress=on_progress,
                database_url=database_url,
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(p) for p in first["loc"])
            err.print(f"[red]error:[/] --param {key}: {first['msg']}")
            raise typer.Exit(code=2) from None
        except (ValueError, KeyError) as exc:
            err.print(f"[red]error:[/] {exc}")
            raise typer.Exit(code=2) from None

    if plot:
        write_plot(report, plot)
    if as_json:
        sys.stdout.write(report.to_json() + "\n")
        return
    table = Table(title="Backtest report", show_header=False)
    for k, v in report.rows():
        table.add_row(k, v)
    Console().print(table)
    if plot:
        typer.echo(f"chart written to {plot}")
