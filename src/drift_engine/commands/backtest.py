"""`drift-engine backtest`: one strategy on one market over a window, as fast as possible.

Every argument is checked before the run starts (commands/params.py, engine/admission.py):
a known perp with data, capital within bounds for it, a tick that divides a day, a window
of at most `MAX_BACKTEST_DAYS`, a usable `--db` URL. Errors are one line
(commands/errors.py).

Market data comes from `drift_engine.data.pipeline` (`--source`, default `bundled`: Drift's
real hourly records shipped in the package; `auto`: the bundled real data when it covers
the window, else the synthetic market; `store`, `synthetic`, or a data file/folder).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from drift_engine.commands.errors import usage
from drift_engine.commands.params import MAX_SYNTH_DAYS, parse_usdc, seed_option
from drift_engine.data.models import DEFAULT_SEED

#: The longest window a backtest replays (synthetic data has no end; ten years is plenty).
MAX_BACKTEST_DAYS = MAX_SYNTH_DAYS


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
    """`auto`: the bundled real data when it has the market and covers the window, else
    the synthetic market (labelled)."""
    from drift_engine.data.pipeline import real_span
    from drift_engine.data.real_hourly import has_real_data

    if has_real_data(market):
        lo, hi = real_span(market)
        if lo <= start and end <= hi:
            return "bundled"
    return "synthetic"


def _check_params(cls: Any, market: str, params: dict[str, Any]) -> None:
    """The strategy's own config model validates `--param`s before the run starts."""
    model = cls.config_model
    values = dict(params)
    if "market" in model.model_fields:
        values.setdefault("market", market)
    try:
        model.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "params"
        usage(f"--param {key}: {first['msg'].removeprefix('Value error, ')}")


def _window(parse_date: Any, start: str, end: str) -> tuple[int, int]:
    """(start, end) in unix seconds: ISO dates from 2000 to 2100, end after start, at most
    `MAX_BACKTEST_DAYS` apart."""
    out = []
    for text, option in ((start, "--start"), (end, "--end")):
        try:
            ts = parse_date(text)
        except (ValueError, OverflowError) as exc:
            raise typer.BadParameter(str(exc), param_hint=option) from None
        if not 946_684_800 <= ts <= 4_102_444_800:  # 2000-01-01 .. 2100-01-01
            raise typer.BadParameter("expected a date from 2000 to 2100", param_hint=option)
        out.append(ts)
    t0, t1 = out
    if t1 <= t0:
        raise typer.BadParameter("--end must be after --start", param_hint="--end")
    if t1 - t0 > MAX_BACKTEST_DAYS * 86_400:
        raise typer.BadParameter(
            f"the window is longer than {MAX_BACKTEST_DAYS} days", param_hint="--end"
        )
    return t0, t1


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
        "bundled",
        "--source",
        help="Market data: bundled (Drift's real hourly records shipped in the package; "
        "markets without one: synthetic, labelled), auto (bundled if it covers the window, "
        "else synthetic), store (the local store, see `drift-engine data`), synthetic, or "
        "the path of a data file or folder.",
    ),
    seed: int = seed_option(DEFAULT_SEED, help="Seed of every synthetic part (market, bridge)."),
    bridge: int = typer.Option(
        0,
        "--bridge",
        min=0,
        max=3599,
        help="Seconds between synthetic intra-hour prices bridged between the real hourly "
        "ones (e.g. 60); 0 = none, prices change at the hourly records.",
    ),
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        help="Data directory of --source store (default: $DRIFT_ENGINE_DATA_DIR, else ./var).",
    ),
    capital: Any = typer.Option(
        "10000", "--capital", parser=parse_usdc, metavar="USDC", help="Starting USDC."
    ),
    interval: int = typer.Option(
        60,
        "--interval",
        min=1,
        max=86_400,
        help="Engine tick, seconds of data time (divides a day: 1, 60, 300, 3600, ...).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
    plot: str | None = typer.Option(None, "--plot", help="Write a chart: FILE.html or FILE.png."),
    database_url: str | None = typer.Option(
        None,
        "--db",
        help="Keep the run's vaults, ledger, daily vault snapshots and heartbeat rows in "
        "this database (default: a temporary one, with only what the report reads).",
    ),
) -> None:
    """Backtest a strategy on the simulator with the real engine and vault ledger."""
    from drift_engine.backtest import parse_date, run_backtest, write_plot
    from drift_engine.backtest.runner import Progress as BtProgress
    from drift_engine.engine.admission import AdmissionError, check_capital, check_perp
    from drift_engine.strategies import StrategyLoadError, strategy_class

    err = Console(stderr=True)
    try:
        cls = strategy_class(strategy)  # a built-in or installed name, module:Class, file.py
    except StrategyLoadError as exc:
        raise typer.BadParameter(str(exc), param_hint="--strategy") from None
    if 86_400 % interval:
        usage(f"{interval} does not divide a day (86400 s)", "--interval")
    if source not in ("auto", "bundled", "store", "synthetic") and not Path(source).exists():
        usage(
            f"unknown data source {source!r}: use bundled, auto, store, synthetic or the path "
            "of a data file or folder",
            "--source",
        )
    try:
        # bundled/auto/synthetic replay real or synthetic data of the markets the synthetic
        # market models; a store or a file says itself what it has (checked when opened)
        known = source in ("auto", "bundled", "synthetic")
        check_perp(market, source="synthetic" if known else None)
    except AdmissionError as exc:
        usage(exc, "--market")
    try:
        capital_micro = check_capital(capital, market)
    except AdmissionError as exc:
        usage(exc, "--capital")
    t0, t1 = _window(parse_date, start, end)
    if plot and not (plot.endswith(".html") or plot.endswith(".png")):
        raise typer.BadParameter("needs a .html or .png file name", param_hint="--plot")
    if database_url is not None:
        from drift_engine.storage.engine import DatabaseUrlError, check_url

        try:
            check_url(database_url)
        except DatabaseUrlError as exc:
            usage(exc, "--db")
    params = parse_params(param)
    _check_params(cls, market, params)  # before the progress bar: one line
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
                bridge_s=bridge,
                data_dir=data_dir,
                capital=capital_micro,
                interval_s=interval,
                progress=on_progress,
                database_url=database_url,
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(p) for p in first["loc"])
            bar.stop()
            usage(f"--param {key}: {first['msg']}")
        except (ValueError, KeyError) as exc:
            bar.stop()
            usage(exc.args[0] if exc.args else exc)

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
