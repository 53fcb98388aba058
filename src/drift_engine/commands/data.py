"""`drift-engine data ...`: import, list and synthesise market data in the local store.

The data directory is `--data-dir`, else `DRIFT_ENGINE_DATA_DIR` (default ./var). Every
argument is checked before the store is touched (markets known to Drift, bounded days,
an interval that divides an hour); `list` only reads and never creates the directory.
`import` reads Drift's S3 archive CSVs (gzip or not), Data API JSON pages and CSVs, Drift
candle CSVs and our own files (`drift_engine.data.readers`); `list` shows the series
bundled with the package beside the stored ones; `synth` uses the same default seed as
`backtest`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from drift_engine.commands.errors import fail, usage
from drift_engine.commands.params import MAX_SYNTH_DAYS, seed_option
from drift_engine.data.csvformat import DataFileError
from drift_engine.data.models import (
    DEFAULT_SEED,
    KIND_FUNDING,
    KIND_ORACLE,
    KIND_SPOT_RATE,
    is_perp,
)
from drift_engine.data.store import LocalStore, StoreEntry
from drift_engine.data.synthetic import DEFAULT_ORIGIN, SyntheticMarket

app = typer.Typer(
    help="Market data: import Drift history, list what is stored, generate synthetic data.",
    no_args_is_help=True,
    add_completion=False,
)

DATA_DIR_HELP = (
    "Data directory (default: $DRIFT_ENGINE_DATA_DIR, else ./var); market data lives in "
    "<data-dir>/market_data/."
)
#: Candle resolutions up to a year.
MAX_RESOLUTION_S = 366 * 86_400


def _data_dir(given: Path | None, *, must_exist: bool = False) -> Path:
    """`--data-dir`, else the settings' data directory; never a file."""
    if given is None:
        from drift_engine.config import ConfigError, load_settings

        try:
            given = load_settings().data_dir
        except ConfigError as exc:
            usage(exc)
    if given.exists() and not given.is_dir():
        usage(f"{given} is a file, not a directory", "--data-dir")
    if must_exist and not given.exists():
        fail(f"the data directory {given} does not exist (nothing imported yet)", "--data-dir")
    return given


def _market(symbol: str, option: str = "--market") -> str:
    """A symbol Drift knows (perp "SOL-PERP" or spot "SOL"), in Drift's spelling."""
    from drift_engine.data import symbols

    if symbols.market_index(symbol) is None:
        usage(f"{symbol!r} is not a Drift market symbol (e.g. SOL-PERP, SOL, USDC)", option)
    return symbols.canonical(symbol)


def _console() -> Console:
    console = Console()
    if not console.is_terminal:
        console.width = 160
    return console


def _fmt_ts(ts: int | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _kind(entry: StoreEntry) -> str:
    return f"{entry.kind} {entry.resolution}s" if entry.resolution else entry.kind


def entries_table(entries: list[StoreEntry], title: str) -> Table:
    table = Table(title=title)
    table.add_column("market", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("first (UTC)", no_wrap=True)
    table.add_column("last (UTC)", no_wrap=True)
    table.add_column("rows", justify="right")
    table.add_column("source", no_wrap=True)
    table.add_column("label / note")
    for e in entries:
        note = e.label if not e.note else f"{e.label}; {e.note}"
        table.add_row(
            e.market,
            _kind(e),
            _fmt_ts(e.first_ts),
            _fmt_ts(e.last_ts),
            f"{e.rows:,}",
            e.source,
            note,
        )
    return table


def _fail(message: str) -> None:
    fail(message)


@app.command("import")
def import_cmd(
    paths: list[Path] = typer.Argument(
        ...,
        help="Files or folders: Drift S3 archive CSVs (fundingRateRecords, gzip or not), "
        "Data API JSON pages or CSVs, Drift candle CSVs, drift-engine CSV files.",
    ),
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    market: str | None = typer.Option(
        None, "--market", help="Market symbol, when the files do not say (e.g. candle files)."
    ),
    resolution: int | None = typer.Option(
        None,
        "--resolution",
        min=1,
        max=MAX_RESOLUTION_S,
        help="Candle resolution in seconds, when the files do not say.",
    ),
) -> None:
    """Validate and import market data files. All or nothing: a bad file imports nothing."""
    from drift_engine.data.readers import import_paths

    market = None if market is None else _market(market)
    store = LocalStore(_data_dir(data_dir))
    try:
        written = import_paths(store, paths, market=market, resolution=resolution)
    except DataFileError as exc:
        _fail(f"{exc} (nothing was imported)")
    if not written:
        typer.echo("no records found; nothing was imported")
        return
    _console().print(entries_table(written, f"imported into {store.root}"))


@app.command("list")
def list_cmd(
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
) -> None:
    """List the stored series and those bundled with the package: market, kind,
    first/last time, rows, source (real/synthetic)."""
    from drift_engine.data.catalog import bundled_series

    folder = _data_dir(data_dir)  # read only: never created here
    store = LocalStore(folder)
    console = _console()
    entries = store.entries()
    if entries:
        console.print(entries_table(entries, f"market data in {store.root}"))
    elif not folder.exists():
        typer.echo(f"no market data in {store.root} (the data directory does not exist yet)")
    else:
        typer.echo(f"no market data in {store.root}")
    console.print(entries_table(bundled_series(), "bundled with drift-engine (read-only)"))


def _parse_start(value: str | None) -> int:
    if value is None:
        return DEFAULT_ORIGIN
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise typer.BadParameter("expected YYYY-MM-DD", param_hint="--start") from None
    if not 2000 <= day.year <= 2100:
        raise typer.BadParameter("expected a day from 2000 to 2100", param_hint="--start")
    return int(day.timestamp())


@app.command("synth")
def synth_cmd(
    markets: list[str] = typer.Option(
        ["SOL-PERP"], "--market", help="Market symbol (repeat for several), e.g. SOL-PERP, SOL."
    ),
    days: int = typer.Option(
        365, "--days", min=1, max=MAX_SYNTH_DAYS, help=f"Length in days (1-{MAX_SYNTH_DAYS})."
    ),
    seed: int = seed_option(
        DEFAULT_SEED, help="Random seed: same seed, same data (default: backtest's)."
    ),
    interval: int = typer.Option(
        60,
        "--interval",
        min=1,
        max=3600,
        help="Seconds between price ticks; divides an hour (1, 5, 60, 900, 3600, ...).",
    ),
    start: str | None = typer.Option(
        None, "--start", help="First day, YYYY-MM-DD (UTC). Default 2026-01-01."
    ),
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
) -> None:
    """Generate seeded synthetic prices and hourly funding (labelled "synthetic") into the store."""
    if 3600 % interval:
        usage(f"{interval} does not divide an hour (3600 s)", "--interval")
    origin = _parse_start(start)
    markets = [_market(m) for m in dict.fromkeys(markets)]
    target = _data_dir(data_dir)
    try:
        sm = SyntheticMarket(seed, origin=origin, interval=interval)
        for market in markets:  # every market has a model, before the store is touched
            if is_perp(market):
                sm.funding_model(market)
            if market.upper() != "USDC":
                sm.price_model(market)
    except (KeyError, ValueError) as exc:
        usage(exc.args[0] if exc.args else exc, "--market")
    try:
        end = origin + days * 86_400
        note = f"{sm.describe()}; see drift_engine.data.synthetic"
        store = LocalStore(target)
        with store.transaction() as txn:
            written = []
            for market in markets:
                label = sm.label
                if is_perp(market):
                    written.append(
                        txn.put(
                            market,
                            KIND_ORACLE,
                            label,
                            sm.oracle_events(market, origin, end),
                            note=note,
                        )
                    )
                    written.append(
                        txn.put(
                            market,
                            KIND_FUNDING,
                            label,
                            sm.funding_events(market, origin, end),
                            note=note,
                        )
                    )
                else:
                    if sm.spot_rates.covers(market):
                        written.append(
                            txn.put(
                                market,
                                KIND_SPOT_RATE,
                                label,
                                sm.spot_rates.events([market], origin, end),
                                note="constant assumed rates (drift_engine.data.rates)",
                            )
                        )
                    if market.upper() != "USDC":
                        written.append(
                            txn.put(
                                market,
                                KIND_ORACLE,
                                label,
                                sm.oracle_events(market, origin, end),
                                note=note,
                            )
                        )
    except (KeyError, ValueError) as exc:
        _fail(str(exc.args[0]) if exc.args else str(exc))
    _console().print(entries_table(written, f"synthetic data written to {store.root}"))


__all__ = ["app"]
