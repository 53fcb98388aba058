"""`drift-engine demo`: two paper delta-neutral engines (SOL, BTC) on Drift's real funding.

No config needed. Each engine gets 10,000 virtual USDC in its own VIRTUAL vault and its
own simulated sub-account; the bundled real funding history (Jan 10 - Feb 15 2026, daily
averages expanded hourly) is replayed with synthetic 1-minute prices consistent with it
(labelled as such), in accelerated time, printing progress. The demo keeps its data in
`<data_dir>/demo.db`, reset at every start, which the dashboard can show.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

HOUR = 3600
DEMO_ENGINES = (("dn-sol", "SOL-PERP"), ("dn-btc", "BTC-PERP"))


def demo(
    hours: float | None = typer.Option(
        None, "--hours", help="Data time to replay (default: all 37 days of the funding file)."
    ),
    speed: float = typer.Option(
        4 * HOUR, "--speed", help="Simulated seconds per wall second (default: 4 h a second)."
    ),
    capital: float = typer.Option(10_000.0, "--capital", help="Virtual USDC per engine."),
    port: int | None = typer.Option(None, "--port", help="Also serve the dashboard here."),
    seed: int = typer.Option(7, "--seed", help="Seed of the synthetic prices."),
) -> None:
    """Two paper delta-neutral engines (SOL, BTC) replaying Drift's real funding."""
    from drift_engine.backtest.runner import market_events
    from drift_engine.commands.run import serve, start_dashboard
    from drift_engine.config import load_settings
    from drift_engine.data.bundled import BundledSource
    from drift_engine.engine.paper import PaperStack
    from drift_engine.storage.database import Database
    from drift_engine.strategies import DeltaNeutralStrategy

    console = Console()
    settings = load_settings()
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
        engine = stack.add_engine(
            engine_id, DeltaNeutralStrategy({"market": market}), int(round(capital * 1e6))
        )
        engine.start(start)
    events, label = market_events("bundled", perps, start, end, seed)
    console.print(
        f"[bold]drift-engine demo[/]: paper engines {', '.join(e for e, _ in DEMO_ENGINES)}"
        f" with {capital:,.0f} virtual USDC each"
    )
    console.print(f"data: {label}")
    console.print(f"replaying {(end - start) / 86400:.1f} days at x{speed:g}; database {url}")
    if port:
        start_dashboard(port, url, console)
    hb = serve(
        stack,
        events,
        start=start,
        until=end,
        speed=speed,
        console=console,
        progress_every_s=12 * HOUR,
    )
    console.print("[bold]summary[/]")
    for e in stack.engines:
        eq = e.venue.equity()
        pnl = (eq - int(capital * 1e6)) / 1e6
        console.print(
            f"  {e.engine_id}: {e.state.value}, equity {eq / 1e6:,.2f} USDC "
            f"(pnl {pnl:+,.2f}), funding {e.stats.funding / 1e6:+,.2f}, "
            f"fees {e.stats.fees / 1e6:,.2f}, trades {e.stats.trades}, "
            f"side {getattr(e.strategy.state, 'side', '-')}"
        )
    console.print(f"{hb.events_processed:,} events, {hb.ticks:,} heartbeats")
