"""`drift-engine demo`: two paper delta-neutral engines (SOL, BTC) on Drift's real hourly
market data, with the dashboard.

No config needed. Each engine gets 10,000 virtual USDC in its own VIRTUAL vault and its
own simulated sub-account. By default the bundled real Drift records are replayed (real
hourly funding, real hourly oracle TWAPs as prices; `drift_engine.data.pipeline`) over
`DEMO_WINDOW`, 2025-06-01 -> 2025-08-01 UTC: two months in which both engines act (SOL
enters and exits four times as its funding flips; BTC enters on June 3 and holds through
BTC's positive summer funding). `--source` replays other data (store, synthetic, a file),
`--bridge` adds a labelled synthetic intra-hour path. The console says which series are
real and which synthetic, and every heartbeat row records it for the dashboard
(`market_state[symbol]["data_sources"]`). Time runs accelerated, printing progress. The
dashboard is served on http://127.0.0.1:8000/ (`--port`, `--no-dashboard`) from the start;
when the replay ends (the window, or `--hours`) it keeps serving until Ctrl-C, unless
`--exit-when-done`. The demo keeps its data in `<data_dir>/demo.db`, reset at every start.
Arguments, the data and the dashboard's port are checked first: a bad value or a taken
port leaves demo.db as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from drift_engine.commands.errors import fail, usage
from drift_engine.commands.params import (
    parse_hours,
    parse_speed,
    parse_usdc,
    port_option,
    seed_option,
)
from drift_engine.commands.runinfo import (
    begin_session,
    controls_line,
    data_kinds,
    end_session,
    print_summary,
    token_configured,
)
from drift_engine.commands.stopping import StopSignal, stopping_line
from drift_engine.data.models import DEFAULT_SEED
from drift_engine.settings_quick import demo_database_path

HOUR = 3600
DEMO_ENGINES = (("dn-sol", "SOL-PERP"), ("dn-btc", "BTC-PERP"))
#: Display names (the dashboard's vault table titles).
DEMO_NAMES = {"dn-sol": "Delta-neutral SOL", "dn-btc": "Delta-neutral BTC"}
DEFAULT_PORT = 8000
#: The default replay window of the bundled real data (see the module docstring).
DEMO_WINDOW = ("2025-06-01", "2025-08-01")


def _reserve_dashboard(port: int, settings: Any) -> Any:
    """The dashboard's port, taken before demo.db is reset, so a taken port fails at once,
    naming it, and changes nothing."""
    from drift_engine.dashboard.run import ServeError, reserve

    try:
        return reserve("127.0.0.1", port, settings)
    except ServeError as exc:
        usage(f"dashboard: {exc}")
    except OSError as exc:
        fail(
            f"{exc.strerror or exc}; is port {port} already in use? Pass --port to pick "
            "another, or --no-dashboard",
            "--port",
        )


def _start_dashboard(sock: Any, url: str, settings: Any, markets: Any) -> Any:
    from drift_engine.dashboard.run import serve_in_background

    return serve_in_background(sock, "127.0.0.1", url, settings=settings, markets=markets)


def demo(
    hours: float | None = typer.Option(
        None,
        "--hours",
        parser=parse_hours,
        metavar="HOURS",
        help="Simulated hours to replay (default: the whole window).",
    ),
    start_day: str | None = typer.Option(
        None,
        "--start",
        help=f"First day (UTC), e.g. 2025-09-01 (default: {DEMO_WINDOW[0]} for the bundled "
        "data, else the start of the data).",
    ),
    source: str = typer.Option(
        "bundled",
        "--source",
        help="Market data: bundled (real hourly Drift records), store, synthetic, or a "
        "data file/folder.",
    ),
    bridge: int = typer.Option(
        0,
        "--bridge",
        min=0,
        max=3599,
        help="Seconds between synthetic intra-hour prices between the real hourly ones (0 = none).",
    ),
    speed: float = typer.Option(
        4 * HOUR,
        "--speed",
        parser=parse_speed,
        metavar="X",
        help="Simulated seconds per wall second (default: 4 h a second).",
    ),
    capital: Any = typer.Option(
        "10000",
        "--capital",
        parser=parse_usdc,
        metavar="USDC",
        help="Virtual USDC per engine (at most 6 decimals).",
    ),
    port: int = port_option(DEFAULT_PORT, help="Dashboard port on 127.0.0.1 (0: any free port)."),
    no_dashboard: bool = typer.Option(
        False, "--no-dashboard", help="Do not serve the dashboard; exit when the replay ends."
    ),
    exit_when_done: bool = typer.Option(
        False, "--exit-when-done", help="Stop serving and exit when the replay ends."
    ),
    seed: int = seed_option(
        DEFAULT_SEED, help="Seed of every synthetic part (bridge, synthetic market)."
    ),
) -> None:
    """Two paper delta-neutral engines (SOL, BTC) replaying Drift's real hourly data, with
    the dashboard on http://127.0.0.1:8000/."""
    from drift_engine.backtest.runner import parse_date
    from drift_engine.config import ConfigError, load_settings
    from drift_engine.dashboard.reader import LatestMarkets
    from drift_engine.data.pipeline import data_window, open_market_data
    from drift_engine.engine.admission import AdmissionError, check_capital
    from drift_engine.engine.paper import PaperStack
    from drift_engine.storage.database import Database
    from drift_engine.strategies import DeltaNeutralStrategy

    console = Console()
    try:
        settings = load_settings()
    except ConfigError as exc:
        usage(exc)
    try:
        micro = max(check_capital(capital, market) for _, market in DEMO_ENGINES)
    except AdmissionError as exc:
        usage(exc, "--capital")
    capital = float(capital)
    perps = [m for _, m in DEMO_ENGINES]
    first_day = None
    if start_day is not None:
        try:
            first_day = parse_date(start_day)
        except (ValueError, OverflowError) as exc:
            usage(f"{exc}, got {start_day!r}", "--start")
    try:
        lo, hi = data_window(source, perps, data_dir=settings.data_dir)
        if first_day is not None:
            start, end = first_day, hi
        elif source in ("bundled", "auto"):
            start, end = (parse_date(d) for d in DEMO_WINDOW)
        else:
            start, end = lo, hi
        if hours is not None:
            end = min(hi, start + int(hours * HOUR))
        data = open_market_data(
            source, perps, start, end, seed=seed, bridge_s=bridge, data_dir=settings.data_dir
        )
    except (ValueError, KeyError) as exc:
        usage(exc.args[0] if exc.args else exc, "--source")
    sock = None if no_dashboard else _reserve_dashboard(port, settings)
    path = demo_database_path(settings.data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    db = Database.open(url)
    stack = PaperStack(db, perps, start)
    stack.board.data_sources = data.sources_by_market()
    for engine_id, market in DEMO_ENGINES:
        engine = stack.add_engine(engine_id, DeltaNeutralStrategy({"market": market}), micro)
        engine.name = DEMO_NAMES[engine_id]
        engine.start(start)
        engine.persist()
    events = data.events
    session = begin_session(
        db,
        kind="demo",
        engines=[e for e, _ in DEMO_ENGINES],
        speed=speed,
        start=start,
        end=end,
        source=data.source,
        label=data.label(),
        sources=data_kinds(data),
        controls=sock is not None and token_configured(settings),
    )

    markets = LatestMarkets()
    markets.publish(stack.board.snapshots())
    server = None
    if sock is not None:
        server = _start_dashboard(sock, url, settings, markets)

    # Ctrl-C and SIGTERM set a flag the heartbeat reads between ticks (ADR 0023)
    stop = StopSignal().install()
    try:
        console.print(
            f"[bold]drift-engine demo[/]: paper engines "
            f"{', '.join(DEMO_NAMES[e] for e, _ in DEMO_ENGINES)} "
            f"with {capital:,.0f} virtual USDC each (VIRTUAL vaults)"
        )
        console.print(f"data ({escape(data.source)}):")
        for line in data.describe().splitlines():
            console.print(f"  {escape(line)}", highlight=False)
        console.print(
            f"replaying {(end - start) / 86400:.1f} days of simulated time at x{speed:g}; "
            f"database {url}"
        )
        if server is not None:
            console.print(f"dashboard: [bold]{server.url}/[/]  (Ctrl-C to stop)")
        console.print(controls_line(settings, server is not None), highlight=False)
        interrupted = _replay(stack, events, start, end, speed, markets, console, stop)
        end_session(session, interrupted=interrupted)
        print_summary(stack, console)
        if server is not None and not interrupted and not exit_when_done:
            console.print(
                f"replay finished; the dashboard keeps serving at {server.url}/ (Ctrl-C to stop)"
            )
            stop.wait()
            console.print(stopping_line(stop))
    finally:
        end_session(session, interrupted=True)  # no-op once the replay closed it
        if server is not None:
            server.stop()
        for e in stack.engines:
            e.persist()
        db.dispose()
        stop.restore()
    console.print("demo stopped")


def _replay(
    stack: Any,
    events: Any,
    start: int,
    end: int,
    speed: float,
    markets: Any,
    console: Console,
    stop: StopSignal,
) -> bool:
    """Run the heartbeat to `end`; True when `stop` ended it first (Ctrl-C or SIGTERM,
    between two ticks)."""
    from drift_engine.clock import AcceleratedClock
    from drift_engine.commands.run import apply_operator_commands, progress_printer
    from drift_engine.heap import frozen_start_up

    hb = stack.heartbeat(
        events,
        snapshot_every_s=HOUR,
        # at most about one heartbeat row per wall second
        record_every_s=int(max(60, speed)) if speed > 1 else 0,
        sync_hooks=[
            apply_operator_commands(stack),
            # the heartbeat thread publishes market state for the dashboard's threads
            lambda _ts: markets.publish(stack.board.snapshots()),
        ],
        on_tick=progress_printer(stack, console, 12 * HOUR),
    )
    try:
        clock = AcceleratedClock(speed, start, stop=stop)
        # start-up's heap (stack, engines, the dashboard's app) lives through the replay:
        # frozen, as `drift-engine run` freezes it, so a full collection in a tick walks
        # only what the ticks made (heap.py)
        with frozen_start_up():
            hb.run(clock, start=start, until=end, interval_s=60, should_stop=stop.is_set)
    finally:
        hb.flush()
    if stop.is_set():
        console.print(stopping_line(stop))
        console.print("[yellow]interrupted[/]: engines keep their persisted state")
        return True
    console.print(f"{hb.events_processed:,} events, {hb.ticks:,} heartbeats")
    return False
