"""`drift-engine run`: the engines of a config file, on the heartbeat, until stopped.

Paper engines trade in the simulator on replayed market data (`drift_engine.data.pipeline`:
the bundled real hourly Drift records, the local store, synthetic, or a data file;
`[data] source`, or `--source`) in accelerated time (`[data] speed`); live engines trade
a Drift sub-account. One runner per engine: `run` first takes a lease on every engine of
the config (and, for paper, on the paper stack they share) and refuses to start, naming
the holding process, while another runner holds one (`engine.lease`; `[heartbeat]
lease_s`). Operator commands queued by `drift-engine engines start|stop|pause|kill`, the
dashboard, and capital moves on the engines' vaults are applied at the start of the next
tick (`engine.commands`). A stopped engine stays stopped across restarts (only an engine
that never started is started); an engine with no capital refuses to run.

Paper positions survive a restart: each tick's writes commit in one transaction with a
checkpoint of the simulator and the engines (engine/paper.py), and a restart resumes from
the last checkpoint and replays the data after it. Only an engine the checkpoint does not
know gets a fresh sub-account funded with its vault's cash (logged as `paper-restart`);
a market the checkpoint does not have is added to the restored simulator.

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
from drift_engine.engine.admission import check_capital
from drift_engine.engine.config_file import DEFAULT_CONFIG_PATH, ConfigFileError, load_config

HOUR = 3600


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def apply_operator_commands(stack: Any) -> Callable[[int], None]:
    """A heartbeat sync hook applying queued commands to `stack`'s engines (the same
    `OperatorCommands` the stack's heartbeat already runs at the start of each tick)."""

    def hook(ts: int) -> None:
        stack.commands.apply(stack.engines, ts)

    hook.__name__ = "operator_commands"
    return hook


def take_leases(db: Any, names: list[str], lease_s: float, console: Console) -> Any:
    """This runner's leases on `names`, kept alive by a `LeaseKeeper`; exits 1 naming the
    holder when another live runner holds one."""
    from drift_engine.engine.lease import LeaseHeldError, LeaseKeeper, Leases

    leases = Leases(db, ttl_s=lease_s)
    try:
        for info in leases.acquire(names):
            console.print(
                f"[yellow]took over[/] {info.name} from {info.holder.describe()} "
                "(its lease had expired)"
            )
    except LeaseHeldError as exc:
        fail(f"refusing to start: {exc}")
    return leases, LeaseKeeper(leases).start()


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
    should_stop: Callable[[], bool] | None = None,
) -> tuple[Any, bool]:
    """Run the heartbeat on an accelerated clock from `start` to `until`; returns the
    heartbeat and whether it was interrupted (Ctrl-C)."""
    from drift_engine.clock import AcceleratedClock

    hb = stack.heartbeat(
        events,
        snapshot_every_s=snapshot_every_s,
        # one heartbeat row per tick in real time; at most ~one per wall second when faster
        record_every_s=int(max(interval_s, speed)) if speed > 1 else 0,
        on_tick=progress_printer(stack, console, progress_every_s),
    )
    clock = AcceleratedClock(speed, start)
    try:
        hb.run(clock, start=start, until=until, interval_s=interval_s, should_stop=should_stop)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]: engines keep their last checkpoint")
        return hb, True
    return hb, False


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


def _until(text: str) -> int:
    """`--until DATE` as unix seconds (a usage error naming the option when it is no date)."""
    from drift_engine.backtest.runner import parse_date

    try:
        return parse_date(text)
    except (ValueError, OverflowError) as exc:
        usage(f"{exc}, got {text!r}", "--until")


def _data_window(cfg: Any, perps: list[str], source: str, data_dir: Any) -> tuple[int, int]:
    """[start, end) of the data the paper engines replay (`data.pipeline.data_window`);
    `[data] start` must be in it."""
    from drift_engine.backtest.runner import parse_date
    from drift_engine.data.pipeline import data_window

    try:
        data_start, data_end = data_window(source, perps, data_dir=data_dir)
    except (ValueError, KeyError) as exc:
        usage(exc.args[0] if exc.args else exc, "--source")
    if cfg.data.start:
        start = parse_date(cfg.data.start)
        if not data_start <= start < data_end:
            usage(
                f"data.start: {cfg.data.start} is outside the {source} data "
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
    until_date: str | None = typer.Option(
        None,
        "--until",
        metavar="DATE",
        help="Stop at this data time (ISO date or date-time, UTC), wherever the run resumes.",
    ),
    source: str | None = typer.Option(
        None,
        "--source",
        help="Override \\[data] source: bundled, store, synthetic, or a data file/folder.",
    ),
    bridge: int = typer.Option(
        0,
        "--bridge",
        min=0,
        max=3599,
        help="Seconds between synthetic intra-hour prices between the real hourly ones (0 = none).",
    ),
) -> None:
    """Run the engines of a config file (paper: simulator on replayed data)."""
    from drift_engine.config import ConfigError, load_settings
    from drift_engine.data.pipeline import open_market_data
    from drift_engine.engine.lease import LeaseLostError, engine_lease, stack_lease
    from drift_engine.engine.paper import NoCapitalError, PaperStack
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
    data_source = source or cfg.data.source
    data_start, data_end = _data_window(cfg, perps, data_source, settings.data_dir)
    if until_date:
        data_end = min(data_end, _until(until_date))
    capital = {s.id: check_capital(s.capital_usdc) for s in specs}  # checked with the config
    dashboard = reserve_dashboard(cfg, port, settings)
    db = Database.open(url)

    stack_name = "paper"
    leases, keeper = take_leases(
        db,
        [stack_lease(stack_name)] + [engine_lease(s.id) for s in specs],
        cfg.heartbeat.lease_s,
        console,
    )
    lost = False
    server = None
    try:
        from drift_engine.engine.store import SqlEngineStore

        store = SqlEngineStore(db)
        checkpoint_ts = store.checkpoint_ts(stack_name)
        if checkpoint_ts is not None:  # the tick after the checkpoint, on the same grid
            start = checkpoint_ts + cfg.heartbeat.interval_s
        else:
            resumed = [r for r in (store.load(s.id) for s in specs) if r is not None and r.last_ts]
            start = max([data_start] + [r.last_ts + 1 for r in resumed])
            start -= start % 60
        until = data_end if hours is None else min(data_end, start + int(hours * HOUR))
        if start >= until:
            console.print(f"the data ends at {_iso(until)}; nothing left to run")
            return

        stack = PaperStack(db, perps, start, name=stack_name, persist=True)
        stack.leases = leases
        if stack.restored_ts is not None:  # the tick after the checkpoint, on the same grid
            start = stack.restored_ts + cfg.heartbeat.interval_s
        begin = stack.start_ts  # engines (re)join the simulator as of its restored time
        if stack.added_markets:
            console.print(
                f"added {', '.join(stack.added_markets)} to the saved paper state "
                "(new markets start fresh)"
            )
        for s in specs:
            strategy = strategies[s.id]
            try:
                engine = stack.add_engine(
                    s.id,
                    strategy,
                    capital[s.id],
                    vault_name=s.vault_name,
                    limits=s.risk,
                )
            except NoCapitalError as exc:
                fail(f"refusing to run: {exc}", f"engines[{s.id}]")
            engine.name = s.name or engine.name
            if engine.started and not stack.was_restored(engine):
                engine._log(
                    begin,
                    "paper-restart",
                    "fresh simulator: sub-account funded with the "
                    "vault's cash; the strategy re-enters if it should",
                )
            if not engine.started:
                engine.start(begin)
            elif engine.state.value == "stopped":
                console.print(
                    f"{engine.engine_id} is stopped (operator stop); it stays stopped: "
                    f"`drift-engine engines start {engine.engine_id}` starts it"
                )
        first = data_start if stack.restored_ts is not None else start
        try:
            data = open_market_data(
                data_source,
                perps,
                first,
                until,
                seed=cfg.data.seed,
                bridge_s=bridge,
                data_dir=settings.data_dir,
            )
        except (ValueError, KeyError) as exc:
            usage(exc.args[0] if exc.args else exc, "--source")
        stack.board.data_sources = data.sources_by_market()
        events, label = stack.resume_events(data.events), data.label()
        console.print(
            f"running {len(specs)} engine(s) on {label}, {_iso(start)} -> {_iso(until)}, "
            f"x{speed or cfg.data.speed:g} speed; database {url}"
        )
        server = start_dashboard(dashboard, url, settings, console)
        try:
            hb, interrupted = serve(
                stack,
                events,
                start=start,
                until=until,
                speed=speed or cfg.data.speed,
                interval_s=cfg.heartbeat.interval_s,
                snapshot_every_s=cfg.heartbeat.snapshot_every_s,
                console=console,
                should_stop=keeper.lost.is_set,
            )
            if keeper.lost.is_set():
                raise LeaseLostError(keeper.reason)
            if interrupted or hb.last_ts is None:
                stack.discard()  # a tick cut short: the restart replays it
            else:
                for e in stack.engines:
                    e.persist()
                stack.checkpoint(hb.last_ts)
        except LeaseLostError as exc:
            lost = True
            stack.discard()
            fail(f"stopped: {exc}; nothing more was written")
        console.print("done")
    finally:
        keeper.stop()
        if not lost:
            leases.release()
        if server is not None:
            server.stop()


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
    from drift_engine.engine.lease import engine_lease
    from drift_engine.live.start import (
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
    leases, keeper = take_leases(
        db, [engine_lease(s.id) for s in specs], cfg.heartbeat.lease_s, console
    )
    # serving before the clock starts: its start-up does not eat into --hours
    server = start_dashboard(dashboard, settings.resolved_database_url, settings, console)
    try:
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
                client_options={
                    "compute_unit_price": cfg.rpc.compute_unit_price,
                    "priority_fee_percentile": cfg.rpc.priority_fee_percentile,
                    "max_compute_unit_price": cfg.rpc.max_compute_unit_price,
                },
            )
        except LiveStartError as exc:
            fail(f"cannot start live engines: {exc}")
        for stack in runner.stacks:
            if stack.engine.venue.equity() <= 0:
                fail(
                    f"refusing to run engine {stack.engine.engine_id!r}: its sub-account "
                    f"holds no capital; deposit into vault {stack.vault_name!r} first",
                    f"engines[{stack.engine.engine_id}]",
                )
        console.print(f"running {len(specs)} LIVE engine(s) on {cfg.rpc.url} ({cfg.rpc.network})")
        until = None if hours is None else start + int(hours * HOUR)
        try:
            runner.run(
                clock,
                interval_s=cfg.heartbeat.interval_s,
                until=until,
                should_stop=keeper.lost.is_set,
            )
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/]: engines keep their persisted state")
        if keeper.lost.is_set():
            fail(f"stopped: {keeper.reason}")
        for stack in runner.stacks:
            stack.engine.persist()
        runner.close()
        console.print("done")
    finally:
        keeper.stop()
        if not keeper.lost.is_set():
            leases.release()
        if server is not None:
            server.stop()
