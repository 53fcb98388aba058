"""`drift-engine demo`: two paper delta-neutral engines (SOL, BTC) on Drift's real funding,
with the dashboard.

No config needed. Each engine gets 10,000 virtual USDC in its own VIRTUAL vault and its
own simulated sub-account; the bundled real funding history (Jan 10 - Feb 15 2026, daily
averages expanded hourly) is replayed with synthetic 1-minute prices consistent with it
(labelled as such), in accelerated time, printing progress. The dashboard is served on
http://127.0.0.1:8000/ (`--port`, `--no-dashboard`) from the start; when the replay ends
(all the data, or `--hours`) it keeps serving until Ctrl-C, unless `--exit-when-done`.
The demo keeps its data in `<data_dir>/demo.db`, reset at every start. Arguments and the
dashboard's port are checked first: a bad value or a taken port leaves demo.db as it was.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

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
    end_session,
    print_summary,
    token_configured,
)

HOUR = 3600
DEMO_ENGINES = (("dn-sol", "SOL-PERP"), ("dn-btc", "BTC-PERP"))
#: Display names (the dashboard's vault table titles).
DEMO_NAMES = {"dn-sol": "Delta-neutral SOL", "dn-btc": "Delta-neutral BTC"}
DEFAULT_PORT = 8000


class _Stop(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: stop the replay and the dashboard, exit 0."""


def _on_sigterm(_signum: int, _frame: Any) -> None:
    raise _Stop()


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
        help="Simulated hours to replay (default: all 37 days of the funding file).",
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
    seed: int = seed_option(7, help="Seed of the synthetic prices."),
) -> None:
    """Two paper delta-neutral engines (SOL, BTC) replaying Drift's real funding, with the
    dashboard on http://127.0.0.1:8000/."""
    from drift_engine.backtest.runner import market_events
    from drift_engine.config import ConfigError, load_settings
    from drift_engine.dashboard.reader import LatestMarkets
    from drift_engine.data.bundled import BundledSource
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
    sock = None if no_dashboard else _reserve_dashboard(port, settings)
    path = Path(settings.data_dir) / "demo.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    db = Database.open(url)
    perps = [m for _, m in DEMO_ENGINES]
    windows = BundledSource().windows()
    start = max(windows[m][0] for m in perps)
    end = min(windows[m][1] for m in perps) + HOUR - 1
    if hours is not None:
        end = min(end, start + int(hours * HOUR))
    stack = PaperStack(db, perps, start)
    for engine_id, market in DEMO_ENGINES:
        engine = stack.add_engine(engine_id, DeltaNeutralStrategy({"market": market}), micro)
        engine.name = DEMO_NAMES[engine_id]
        engine.start(start)
        engine.persist()
    events, label = market_events("bundled", perps, start, end, seed)
    session = begin_session(
        db,
        kind="demo",
        engines=[e for e, _ in DEMO_ENGINES],
        speed=speed,
        start=start,
        end=end,
        source="bundled",
        label=label,
        controls=sock is not None and token_configured(settings),
    )

    markets = LatestMarkets()
    markets.publish(stack.board.snapshots())
    server = None
    if sock is not None:
        server = _start_dashboard(sock, url, settings, markets)

    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        console.print(
            f"[bold]drift-engine demo[/]: paper engines "
            f"{', '.join(DEMO_NAMES[e] for e, _ in DEMO_ENGINES)} "
            f"with {capital:,.0f} virtual USDC each (VIRTUAL vaults)"
        )
        console.print(
            "data: funding rates [bold]real[/] (Drift mainnet history, daily averages "
            "expanded hourly); prices [bold]synthetic[/] (generated 1-minute ticks "
            f"consistent with the funding, seed {seed})"
        )
        console.print(
            f"replaying {(end - start) / 86400:.1f} days of simulated time at x{speed:g}; "
            f"database {url}"
        )
        if server is not None:
            console.print(f"dashboard: [bold]{server.url}/[/]  (Ctrl-C to stop)")
        console.print(controls_line(settings, server is not None), highlight=False)
        interrupted = _replay(stack, events, start, end, speed, markets, console)
        end_session(session, interrupted=interrupted)
        print_summary(stack, console)
        if server is not None and not interrupted and not exit_when_done:
            console.print(
                f"replay finished; the dashboard keeps serving at {server.url}/ (Ctrl-C to stop)"
            )
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        end_session(session, interrupted=True)  # no-op once the replay closed it
        signal.signal(signal.SIGTERM, previous)
        if server is not None:
            server.stop()
        for e in stack.engines:
            e.persist()
        db.dispose()
    console.print("demo stopped")


def _replay(
    stack: Any, events: Any, start: int, end: int, speed: float, markets: Any, console: Console
) -> bool:
    """Run the heartbeat to `end`; True when interrupted (Ctrl-C or SIGTERM)."""
    from drift_engine.clock import AcceleratedClock
    from drift_engine.commands.run import apply_operator_commands, progress_printer

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
        hb.run(AcceleratedClock(speed, start), start=start, until=end, interval_s=60)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]: engines keep their persisted state")
        return True
    finally:
        hb.flush()
    console.print(f"{hb.events_processed:,} events, {hb.ticks:,} heartbeats")
    return False
