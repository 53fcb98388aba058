"""`drift-engine run`: the engines of a config file, on the heartbeat, until stopped.

Paper engines trade in the simulator on replayed market data (bundled real funding with
synthetic prices, or synthetic) in accelerated time (`[data] speed`). Live mode comes
with the live issue. Operator commands queued by `drift-engine engines start|stop|pause|
kill` are applied at the next tick. A restart resumes every engine from its persisted
record and continues the data after the last tick the engines saw.

Paper positions survive a restart: the paper stack checkpoints the simulator with the
engines at each heartbeat (engine/paper.py), and a restart resumes from the last
checkpoint and replays the data after it. Only an engine the checkpoint does not know
gets a fresh sub-account funded with its vault's cash (logged as `paper-restart`).

Everything the user gave is checked before anything is written: the config file (keys,
markets, capital: engine/config_file.py), the arguments (commands/params.py), the
environment, the data window, the dashboard's port (bound first, then handed to the
server) and, for live engines, that the RPC answers. A refusal is one line
(commands/errors.py) and leaves no database or directory behind.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import typer
from rich.console import Console

from drift_engine.commands.errors import fail, usage
from drift_engine.commands.params import parse_hours, parse_speed, port_option
from drift_engine.engine.config_file import DEFAULT_CONFIG_PATH, ConfigFileError, load_config

HOUR = 3600


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def apply_operator_commands(stack: Any) -> Callable[[int], None]:
    """A heartbeat sync hook: apply commands queued with `drift-engine engines ...`."""

    def hook(ts: int) -> None:
        for engine in stack.engines:
            cmd = stack.store.take_command(engine.engine_id)
            if cmd == "start":
                if engine.state.value in ("paused", "halted"):
                    engine.resume(ts, "operator start")
                else:
                    engine.start(ts)
            elif cmd == "stop":
                engine.stop(ts, "operator stop")
            elif cmd == "pause":
                engine.pause(ts, "operator pause")
            elif cmd == "kill":
                engine.kill(ts, "operator kill")

    hook.__name__ = "operator_commands"
    return hook


def progress_printer(stack: Any, console: Console, every_s: int) -> Callable[[Any], None]:
    last = {"ts": None}

    def on_tick(result: Any) -> None:
        if last["ts"] is not None and result.ts - last["ts"] < every_s:
            return
        last["ts"] = result.ts
        parts = []
        for e in stack.engines:
            side = getattr(e.strategy.state, "side", "")
            parts.append(
                f"{e.engine_id} {e.state.value} {side} equity {e.venue.equity() / 1e6:,.2f} "
                f"funding {e.stats.funding / 1e6:+,.2f}"
            )
        err = f" errors: {len(result.errors)}" if result.errors else ""
        console.print(f"[dim]{_iso(result.ts)}[/] " + " | ".join(parts) + err)

    return on_tick


def serve(
    stack: Any,
    events: Any,
    *,
    start: int,
    until: int,
    speed: float,
    interval_s: int = 60,
    snapshot_every_s: int = HOUR,
    console: Console,
    progress_every_s: int = 6 * HOUR,
) -> Any:
    """Run the heartbeat on an accelerated clock from `start` to `until`."""
    from drift_engine.clock import AcceleratedClock

    hb = stack.heartbeat(
        events,
        snapshot_every_s=snapshot_every_s,
        # one heartbeat row per tick in real time; at most ~one per wall second when faster
        record_every_s=int(max(interval_s, speed)) if speed > 1 else 0,
        sync_hooks=[apply_operator_commands(stack)],
        on_tick=progress_printer(stack, console, progress_every_s),
    )
    clock = AcceleratedClock(speed, start)
    try:
        hb.run(clock, start=start, until=until, interval_s=interval_s)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]: engines keep their persisted state")
    return hb


def reserve_dashboard(
    cfg: Any, port: int | None, settings: Any
) -> tuple[str, socket.socket] | None:
    """The dashboard's address taken now, before anything is written: `--port` (or, with
    `[dashboard] serve = true`, `[dashboard] port`) on `[dashboard] host`. A taken port or
    an address that may not be exposed is refused here, naming it."""
    if port is None and not cfg.dashboard.serve:
        return None
    from drift_engine.dashboard.run import ServeError, reserve

    host = cfg.dashboard.host
    where = "--port" if port is not None else "dashboard.port"
    port = cfg.dashboard.port if port is None else port
    try:
        return host, reserve(host, port, settings)
    except ServeError as exc:
        usage(exc, "dashboard.host")
    except OSError as exc:
        fail(exc.strerror or exc, where)


def start_dashboard(
    reserved: tuple[str, socket.socket] | None, database_url: str, settings: Any, console: Console
) -> Any:
    """Serve the dashboard on the reserved socket in a background thread (None: not asked)."""
    if reserved is None:
        return None
    from drift_engine.dashboard.run import serve_in_background

    host, sock = reserved
    server = serve_in_background(sock, host, database_url, settings=settings)
    console.print(f"dashboard: {server.url}/")
    return server


def check_rpc(url: str, timeout_s: float = 3.0) -> None:
    """A live run needs its RPC: refuse at once, in one line, when nothing answers."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout_s).close()
    except OSError as exc:
        fail(f"no Solana RPC answers at {url}: {exc.strerror or exc}", "rpc.url")


def _data_window(cfg: Any, perps: list[str]) -> tuple[int, int]:
    """[start, end] of the data the paper engines replay; `[data] start` must be in it."""
    from drift_engine.backtest.runner import parse_date
    from drift_engine.data.bundled import BundledSource
    from drift_engine.data.synthetic import DEFAULT_ORIGIN

    if cfg.data.source == "bundled":
        windows = BundledSource().windows()
        data_start = max(windows[m][0] for m in perps)
        data_end = min(windows[m][1] for m in perps) + HOUR - 1
    else:
        data_start, data_end = DEFAULT_ORIGIN, DEFAULT_ORIGIN + 365 * 24 * HOUR
    if cfg.data.start:
        start = parse_date(cfg.data.start)
        if not data_start <= start < data_end:
            usage(
                f"data.start: {cfg.data.start} is outside the {cfg.data.source} data "
                f"({_iso(data_start)} .. {_iso(data_end)})"
            )
        data_start = start
    return data_start, data_end


def run(
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        help=f"Engines config (default: $DRIFT_ENGINE_CONFIG, else {DEFAULT_CONFIG_PATH}); "
        "keys can be overridden by DRIFT_ENGINE__SECTION__KEY variables.",
    ),
    hours: float | None = typer.Option(
        None,
        "--hours",
        parser=parse_hours,
        metavar="HOURS",
        help="Stop after this much data time (hours, > 0).",
    ),
    speed: float | None = typer.Option(
        None, "--speed", parser=parse_speed, metavar="X", help="Override \\[data] speed (> 0)."
    ),
    port: int | None = port_option(
        None,
        help="Serve the dashboard on this port (\\[dashboard] host); without it the dashboard "
        "is served only when \\[dashboard] serve = true, on its port. 0: any free port.",
    ),
) -> None:
    """Run the engines of a config file (paper: simulator on replayed data)."""
    from drift_engine.backtest.runner import market_events
    from drift_engine.config import ConfigError, load_settings
    from drift_engine.engine.paper import PaperStack
    from drift_engine.storage.database import Database
    from drift_engine.strategies import strategy_class

    console = Console()
    try:
        cfg = load_config(config)
    except ConfigFileError as exc:
        usage(exc)
    specs = [s for s in cfg.engines if s.enabled]
    if not specs:
        fail("no enabled engines in the config", "engines")
    try:
        settings = load_settings()
    except ConfigError as exc:
        usage(exc)
    if any(s.mode == "live" for s in specs):
        return _run_live(cfg, specs, settings, hours, console, port)
    url = settings.resolved_database_url
    # the markets every strategy trades (a strategy may need more than one perp)
    strategies = {s.id: strategy_class(s.strategy)(s.strategy_config()) for s in specs}
    perps = list(dict.fromkeys(m for st in strategies.values() for m in st.markets()))
    data_start, data_end = _data_window(cfg, perps)
    dashboard = reserve_dashboard(cfg, port, settings)
    db = Database.open(url)
    from drift_engine.engine.store import SqlEngineStore

    store = SqlEngineStore(db)
    resumed = [r for r in (store.load(s.id) for s in specs) if r is not None and r.last_ts]
    start = max([data_start] + [r.last_ts + 1 for r in resumed])
    start -= start % 60
    until = data_end if hours is None else min(data_end, start + int(hours * HOUR))
    if start >= until:
        console.print(f"the data ends at {_iso(data_end)}; nothing left to run")
        raise typer.Exit(code=0)

    stack = PaperStack(db, perps, start, persist=True)
    if stack.restored_ts is not None:  # the tick after the checkpoint, on the same grid
        start = stack.restored_ts + cfg.heartbeat.interval_s
    for s in specs:
        strategy = strategies[s.id]
        engine = stack.add_engine(
            s.id, strategy, int(round(s.capital_usdc * 1e6)), vault_name=s.vault_name, limits=s.risk
        )
        engine.name = s.name or engine.name
        if engine.started and not stack.was_restored(engine):
            engine._log(
                start,
                "paper-restart",
                "fresh simulator: sub-account funded with the "
                "vault's cash; the strategy re-enters if it should",
            )
        if engine.state.value == "stopped":
            engine.start(start)
    first = data_start if stack.restored_ts is not None else start
    events, label = market_events(cfg.data.source, perps, first, until, cfg.data.seed)
    events = stack.resume_events(events)
    console.print(
        f"running {len(specs)} engine(s) on {label}, {_iso(start)} -> {_iso(until)}, "
        f"x{speed or cfg.data.speed:g} speed; database {url}"
    )
    server = start_dashboard(dashboard, url, settings, console)
    hb = serve(
        stack,
        events,
        start=start,
        until=until,
        speed=speed or cfg.data.speed,
        interval_s=cfg.heartbeat.interval_s,
        snapshot_every_s=cfg.heartbeat.snapshot_every_s,
        console=console,
    )
    for e in stack.engines:
        e.persist()
    if hb.last_ts is not None and hb.last_ts + cfg.heartbeat.interval_s > until:
        stack.checkpoint(hb.last_ts)  # ran to the end (not interrupted mid-tick)
    if server is not None:
        server.stop()
    console.print("done")


def _run_live(
    cfg: Any,
    specs: list[Any],
    settings: Any,
    hours: float | None,
    console: Any,
    port: int | None = None,
) -> None:
    """LIVE engines (issue 7): refused unless `live = true` and a private keypair file."""
    from drift_engine.clock import WallClock
    from drift_engine.live_start import (
        LiveNotAllowedError,
        LiveStartError,
        build_live_engines,
        check_live_allowed,
    )
    from drift_engine.storage.database import Database

    try:
        keypair = check_live_allowed(cfg.live, settings.keypair_path)
    except LiveNotAllowedError as exc:
        usage(f"refusing LIVE mode: {exc}")
    if any(s.mode != "live" for s in specs):
        usage("run paper and live engines in separate configs", "engines[*].mode")
    check_rpc(cfg.rpc.url)
    dashboard = reserve_dashboard(cfg, port, settings)
    db = Database.open(settings.resolved_database_url)
    # serving before the clock starts: its start-up does not eat into --hours
    server = start_dashboard(dashboard, settings.resolved_database_url, settings, console)
    clock = WallClock()
    start = clock.now()
    try:
        runner = build_live_engines(
            db,
            specs,
            rpc_url=cfg.rpc.url,
            keypair_path=keypair,
            start_ts=start,
            network=cfg.rpc.network,
            client_options={"compute_unit_price": cfg.rpc.compute_unit_price},
        )
    except LiveStartError as exc:
        if server is not None:
            server.stop()
        fail(f"cannot start live engines: {exc}")
    console.print(f"running {len(specs)} LIVE engine(s) on {cfg.rpc.url} ({cfg.rpc.network})")
    until = None if hours is None else start + int(hours * HOUR)
    try:
        runner.run(clock, interval_s=cfg.heartbeat.interval_s, until=until)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]: engines keep their persisted state")
    for stack in runner.stacks:
        stack.engine.persist()
    if server is not None:
        server.stop()
    console.print("done")
