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
from drift_engine.commands.runinfo import (
    AnnouncedCommands,
    announce_pending,
    begin_session,
    controls_line,
    data_kinds,
    end_session,
    print_summary,
    token_configured,
)
from drift_engine.commands.stopping import StopSignal, either, stopping_line
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


def take_engine_leases(
    db: Any, engine_ids: list[str], lease_s: float, console: Console, *, standby: bool = False
) -> tuple[Any, Any, list[str]]:
    """This runner's leases on the engines no live runner holds (kept alive by a
    `LeaseKeeper`), and the engine ids left to other runners (it waits for them). Exits
    1 naming a holder when every engine is held elsewhere, unless `standby`."""
    from drift_engine.engine.lease import LeaseHeldError, LeaseKeeper, Leases, engine_lease

    leases = Leases(db, ttl_s=lease_s)
    taken, held = leases.acquire_free([engine_lease(e) for e in engine_ids])
    for info in leases.taken_over:
        console.print(
            f"[yellow]took over[/] {info.name} from {info.holder.describe()} "
            "(its lease had expired)"
        )
    if not taken and not standby:
        first = held[min(held)]
        fail(f"refusing to start: {LeaseHeldError(first, leases.now_ms())}")
    waiting = [e for e in engine_ids if engine_lease(e) in held]
    for e in waiting:
        info = held[engine_lease(e)]
        console.print(f"{e} is held by {info.holder.describe()}: left to that runner")
    return leases, LeaseKeeper(leases).start(), waiting


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
    on_tick: Callable[[Any], None] | None = None,
    stop: StopSignal | None = None,
) -> tuple[Any, bool]:
    """Run the heartbeat on an accelerated clock from `start` to `until`; returns the
    heartbeat and whether `stop` (Ctrl-C, SIGTERM) ended it. The stop lands between two
    ticks (the clock's sleep wakes on it), so every tick that ran is whole. `on_tick`
    runs after each tick (after the progress line): the runner's pick-ups, metrics and
    alerts; `should_stop` ends the run too (e.g. a lost lease), not as an interrupt."""
    from drift_engine.clock import AcceleratedClock
    from drift_engine.heap import frozen_start_up

    progress = progress_printer(stack, console, progress_every_s)

    def tick_done(result: Any) -> None:
        progress(result)
        if on_tick is not None:
            on_tick(result)

    hb = stack.heartbeat(
        events,
        snapshot_every_s=snapshot_every_s,
        # one heartbeat row per tick in real time; at most ~one per wall second when faster
        record_every_s=int(max(interval_s, speed)) if speed > 1 else 0,
        on_tick=tick_done,
    )
    clock = AcceleratedClock(speed, start, stop=stop)
    # what start-up built (stack, engines, the in-process dashboard) lives through the
    # run: frozen, a full collection in a tick walks only what the ticks made (heap.py)
    with frozen_start_up():
        hb.run(
            clock,
            start=start,
            until=until,
            interval_s=interval_s,
            should_stop=either(stop, should_stop),
        )
    if stop is not None and stop.is_set():
        console.print(stopping_line(stop))
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
    reserved: tuple[str, socket.socket] | None,
    database_url: str,
    settings: Any,
    console: Console,
    **app_options: Any,
) -> Any:
    """Serve the dashboard on the reserved socket in a background thread (None: not asked);
    `app_options` reach `create_app` (the runner's metrics collectors and notifier)."""
    if reserved is None:
        return None
    from drift_engine.dashboard.run import serve_in_background

    host, sock = reserved
    server = serve_in_background(sock, host, database_url, settings=settings, **app_options)
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


def reserve_metrics(host: str, port: int | None) -> Any:
    """`--metrics-port` bound now, before anything is written (None: not asked)."""
    if port is None:
        return None
    from drift_engine.dashboard.server import is_loopback
    from drift_engine.metrics.server import MetricsBindError, bind

    try:
        sock = bind(host, port)
    except MetricsBindError as exc:
        fail(exc.strerror or exc, "--metrics-port")
    if not is_loopback(host):
        Console(stderr=True).print(
            f"[yellow]note[/]: metrics on {host} are readable by anyone who can reach it "
            "(equity, PnL, positions' health): keep the port on a private network"
        )
    return host, sock


def start_ops(cfg: Any, metrics: Any, holder: Any, console: Console, interval_wall_s: float) -> Any:
    """The runner's alerts, metrics and health (drift_engine.ops), serving `metrics` when
    `--metrics-port` reserved it."""
    from drift_engine.notify import Notifier
    from drift_engine.ops import RunnerOps

    ops = RunnerOps(
        runner=f"{holder.host}:{holder.pid}",
        notifier=Notifier.from_config(cfg.notify),
        stall_after_s=max(120.0, 10 * interval_wall_s),
    )
    if metrics is not None:
        host, sock = metrics
        server = ops.serve(sock, host)
        console.print(f"metrics: {server.url}/metrics")
    return ops


def _selection(specs: list[Any], engines: str | None, shard: str | None) -> list[Any]:
    from drift_engine.engine.sharing import SelectionError, select_engines

    try:
        chosen = set(select_engines([s.id for s in specs], engines=engines, shard=shard))
    except SelectionError as exc:
        usage(exc, exc.key)
    picked = [s for s in specs if s.id in chosen]
    if not picked:
        fail(f"shard {shard} holds none of the config's enabled engines", "--shard")
    return picked


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
        None, "--speed", parser=parse_speed, metavar="X", help="Override [data] speed (> 0)."
    ),
    port: int | None = port_option(
        None,
        help="Serve the dashboard on this port ([dashboard] host); without it the dashboard "
        "is served only when [dashboard] serve = true, on its port. 0: any free port.",
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
    engines_opt: str | None = typer.Option(
        None,
        "--engines",
        metavar="ID,ID",
        help="Run only these engines of the config (several runners can share a database).",
    ),
    shard: str | None = typer.Option(
        None,
        "--shard",
        metavar="I/N",
        help="Run shard I of N of the config's engines (a stable hash of each engine id).",
    ),
    standby: bool = typer.Option(
        False,
        "--standby",
        help="When other runners hold every selected engine, wait and pick up those whose "
        "runner dies instead of refusing to start.",
    ),
    metrics_port: int | None = typer.Option(
        None,
        "--metrics-port",
        min=0,
        max=65535,
        help="Serve Prometheus metrics, /healthz and /readyz on this port (0: any free "
        "port). Default: off.",
    ),
    metrics_host: str = typer.Option(
        "127.0.0.1", "--metrics-host", help="Address for --metrics-port (default 127.0.0.1)."
    ),
    log_format: str = typer.Option(
        "human", "--log-format", help="Log lines on stderr: human, or json (one object a line)."
    ),
    log_level: str | None = typer.Option(
        None,
        "--log-level",
        help="debug, info, warning or error (default: warning for human, info for json).",
    ),
) -> None:
    """Run the engines of a config file (paper: simulator on replayed data)."""
    from drift_engine.config import ConfigError, load_settings
    from drift_engine.logs import configure_logging

    console = Console()
    try:
        configure_logging(log_format, log_level)
    except ValueError as exc:
        usage(exc, "--log-format" if log_format not in ("human", "json") else "--log-level")
    try:
        cfg = load_config(config)
    except ConfigFileError as exc:
        usage(exc)
    enabled = [s for s in cfg.engines if s.enabled]
    if not enabled:
        fail("no enabled engines in the config", "engines")
    specs = _selection(enabled, engines_opt, shard)
    try:
        settings = load_settings()
    except ConfigError as exc:
        usage(exc)
    # from here on Ctrl-C and SIGTERM set a flag the heartbeat reads between ticks, and
    # the run shuts down in order (ADR 0023); installed explicitly, so a runner started
    # with SIGINT ignored (a shell's background job, nohup) still stops on it
    with StopSignal() as stop:
        if any(s.mode == "live" for s in enabled):
            return _run_live(
                cfg,
                specs,
                settings,
                hours,
                console,
                port,
                metrics=(metrics_host, metrics_port),
                standby=standby,
                enabled=enabled,
                stop=stop,
            )
        return _run_paper(
            cfg,
            specs,
            enabled,
            settings,
            console,
            stop,
            hours=hours,
            speed=speed,
            port=port,
            until_date=until_date,
            source=source,
            bridge=bridge,
            standby=standby,
            metrics=(metrics_host, metrics_port),
        )


def _run_paper(
    cfg: Any,
    specs: list[Any],
    enabled: list[Any],
    settings: Any,
    console: Console,
    stop: StopSignal,
    *,
    hours: float | None,
    speed: float | None,
    port: int | None,
    until_date: str | None,
    source: str | None,
    bridge: int,
    standby: bool,
    metrics: tuple[str, int | None],
) -> None:
    """PAPER engines: the simulator on replayed data, from the last checkpoint, until
    the data's (or `--hours`', `--until`'s) end or a stop signal."""
    from drift_engine.data.pipeline import open_market_data
    from drift_engine.engine.lease import LeaseLostError
    from drift_engine.engine.paper import NoCapitalError, PaperStack
    from drift_engine.engine.sharing import PaperPickup
    from drift_engine.storage.database import Database
    from drift_engine.strategies import strategy_class

    url = settings.resolved_database_url
    # every runner of the config reads the same data stream (all enabled engines'
    # markets), so an engine carries on identically whichever runner holds it
    strategies = {s.id: strategy_class(s.strategy)(s.strategy_config()) for s in enabled}
    perps = list(dict.fromkeys(m for st in strategies.values() for m in st.markets()))
    data_source = source or cfg.data.source
    data_start, data_end = _data_window(cfg, perps, data_source, settings.data_dir)
    last = data_end  # the run's last tick; the data may go on after it
    if until_date:
        last = min(data_end, _until(until_date))
    capital = {s.id: check_capital(s.capital_usdc) for s in specs}  # checked with the config
    dashboard = reserve_dashboard(cfg, port, settings)
    metrics = reserve_metrics(*metrics)
    db = Database.open(url)

    leases, keeper, waiting = take_engine_leases(
        db, [s.id for s in specs], cfg.heartbeat.lease_s, console, standby=standby
    )
    run_speed = speed or cfg.data.speed
    ops = start_ops(cfg, metrics, leases.holder, console, cfg.heartbeat.interval_s / run_speed)
    lost = False
    server = None
    stack = None
    try:
        from drift_engine.engine.store import SqlEngineStore

        store = SqlEngineStore(db)
        held = [s for s in specs if s.id not in waiting]
        stack = PaperStack(db, perps, data_start, persist=True)
        stack.leases = leases
        restored = stack.restore([s.id for s in held])
        if restored is not None:  # the tick after the newest checkpoint, on the same grid
            start = restored + cfg.heartbeat.interval_s
        else:
            resumed = [r for r in (store.load(s.id) for s in held) if r is not None and r.last_ts]
            start = max([data_start] + [r.last_ts + 1 for r in resumed])
            start -= start % 60
            stack.start_ts = start
        until = last if hours is None else min(last, start + int(hours * HOUR))
        if start >= until:
            console.print(f"the data ends at {_iso(until)}; nothing left to run")
            return
        begin = stack.start_ts  # engines (re)join the simulators as of the stack's time
        by_id = {s.id: s for s in specs}

        def add(engine_id: str, ts: int) -> Any:
            s = by_id[engine_id]
            try:
                engine = stack.add_engine(
                    s.id, strategies[s.id], capital[s.id], vault_name=s.vault_name, limits=s.risk
                )
            except NoCapitalError as exc:
                fail(f"refusing to run: {exc}", f"engines[{s.id}]")
            engine.name = s.name or engine.name
            ops.attach(engine)
            if engine.started and not stack.was_restored(engine):
                engine._log(
                    ts,
                    "paper-restart",
                    "fresh simulator: sub-account funded with the "
                    "vault's cash; the strategy re-enters if it should",
                )
            if not engine.started:
                engine.start(ts)
            elif engine.state.value == "stopped":
                console.print(
                    f"{engine.engine_id} is stopped (operator stop); it stays stopped: "
                    f"`drift-engine engines start {engine.engine_id}` starts it"
                )
            return engine

        for s in held:
            add(s.id, begin)
        if stack.added_markets:
            console.print(
                f"added {', '.join(stack.added_markets)} to the saved paper state "
                "(new markets start fresh)"
            )

        def market_data(first_ts: int, last_ts: int) -> Any:
            """The run's data from `first_ts` THROUGH `last_ts`: the events stamped at
            `last_ts` (an hour's funding record, a price) belong to the tick at `last_ts`,
            and a run resumed from a checkpoint taken then reads only later events, so a
            stream that stopped short of them would lose them for good."""
            try:
                return open_market_data(
                    data_source,
                    perps,
                    first_ts,
                    min(last_ts + 1, data_end),
                    seed=cfg.data.seed,
                    bridge_s=bridge,
                    data_dir=settings.data_dir,
                )
            except (ValueError, KeyError) as exc:
                usage(exc.args[0] if exc.args else exc, "--source")

        def events_until(ts: int) -> Any:
            return market_data(data_start, ts).events

        for cell in stack.lagging():
            ticks = stack.catch_up(
                cell,
                events_until(begin),
                begin,
                interval_s=cfg.heartbeat.interval_s,
                snapshot_every_s=cfg.heartbeat.snapshot_every_s,
            )
            console.print(f"{cell.engine_id} caught up {ticks} tick(s) to {_iso(begin)}")
        first = data_start if restored is not None else start
        data = market_data(first, until)
        stack.board.data_sources = data.sources_by_market()
        events, label = stack.resume_events(data.events), data.label()
        names = ", ".join(s.id for s in held) or "none yet"
        console.print(
            f"running {len(held)} engine(s) on {label}, {_iso(start)} -> {_iso(until)}, "
            f"x{run_speed:g} speed; database {url}"
        )
        if waiting:
            console.print(
                f"waiting for {', '.join(waiting)} (held by other runners): picked up if "
                "their runner stops renewing its lease"
            )
        ops.say(f"runner {ops.runner} started: {names}")

        def on_taken(engine_id: str, _engine: Any, ticks: int) -> None:
            console.print(f"[yellow]picked up[/] {engine_id} (caught up {ticks} tick(s))")
            ops.say(f"runner {ops.runner} picked up {engine_id}", engine_id)
            ops.metrics.engines_held.set(len(stack.engines))

        pickup = PaperPickup(
            stack,
            leases,
            waiting,
            add=add,
            events_until=events_until,
            interval_s=cfg.heartbeat.interval_s,
            snapshot_every_s=cfg.heartbeat.snapshot_every_s,
            every_s=max(0.5, cfg.heartbeat.lease_s / 3),
            on_taken=on_taken,
        )
        ops.metrics.engines_held.set(len(stack.engines))
        server = start_dashboard(
            dashboard,
            url,
            settings,
            console,
            collectors=[ops.process_collector()],
            notifier=ops.notifier,
        )
        console.print(controls_line(settings, server is not None), highlight=False)
        announce_pending(db, [s.id for s in specs], console)
        stack.commands = AnnouncedCommands(stack.commands, console)
        session = begin_session(
            db,
            kind="run",
            engines=[s.id for s in specs],
            speed=run_speed,
            start=start,
            end=until,
            source=data.source,
            label=label,
            sources=data_kinds(data),
            controls=server is not None and token_configured(settings),
        )
        ops.status.ready = True
        ops.status.reason = "running"

        def on_tick(result: Any) -> None:
            pickup(result)
            ops.on_tick(result, stack.engines)

        try:
            hb, interrupted = serve(
                stack,
                events,
                start=start,
                until=until,
                speed=run_speed,
                interval_s=cfg.heartbeat.interval_s,
                snapshot_every_s=cfg.heartbeat.snapshot_every_s,
                console=console,
                should_stop=keeper.lost.is_set,
                on_tick=on_tick,
                stop=stop,
            )
            if keeper.lost.is_set():
                raise LeaseLostError(keeper.reason)
            if hb.last_ts is None:
                stack.discard()  # stopped before its first tick: nothing to keep
            else:  # a stop lands between ticks: every tick that ran is whole, keep them
                for e in stack.engines:
                    e.persist()
                stack.checkpoint(hb.last_ts)
                ops.finish(stack.engines)
            end_session(session, interrupted=interrupted)
        except LeaseLostError as exc:
            lost = True
            stack.discard()
            end_session(session, interrupted=True, failed=str(exc))
            ops.status.reason = "lease lost"
            ops.say(f"runner {ops.runner} stopped: {exc}")
            fail(f"stopped: {exc}; nothing more was written")
        finally:
            end_session(session, interrupted=True)  # no-op once closed above
        ops.say(f"runner {ops.runner} stopped: {_iso(until) if not interrupted else 'interrupted'}")
        print_summary(stack, console)
        console.print("done")
    finally:
        keeper.stop()
        if not lost:
            leases.release()
        if server is not None:
            server.stop()
        ops.close()


def _run_live(
    cfg: Any,
    specs: list[Any],
    settings: Any,
    hours: float | None,
    console: Any,
    port: int | None = None,
    *,
    metrics: tuple[str, int | None] = ("127.0.0.1", None),
    standby: bool = False,
    enabled: list[Any] | None = None,
    stop: StopSignal | None = None,
) -> None:
    """LIVE engines (issue 7): refused unless `live = true` and a private keypair file.
    `stop` (Ctrl-C, SIGTERM) ends the run between two ticks (ADR 0023)."""
    from drift_engine.clock import WallClock
    from drift_engine.engine.sharing import LivePickup
    from drift_engine.live.start import (
        LiveNotAllowedError,
        LiveStartError,
        build_live_engines,
        check_live_allowed,
    )
    from drift_engine.metrics.rpc import meter_client, meter_connection, metered_process
    from drift_engine.notify import NoticeKind
    from drift_engine.storage.database import Database

    try:
        keypair = check_live_allowed(cfg.live, settings.keypair_path)
    except LiveNotAllowedError as exc:
        usage(f"refusing LIVE mode: {exc}")
    if any(s.mode != "live" for s in (enabled or specs)):
        usage("run paper and live engines in separate configs", "engines[*].mode")
    check_rpc(cfg.rpc.url)
    dashboard = reserve_dashboard(cfg, port, settings)
    reserved_metrics = reserve_metrics(*metrics)
    db = Database.open(settings.resolved_database_url)
    leases, keeper, waiting = take_engine_leases(
        db, [s.id for s in specs], cfg.heartbeat.lease_s, console, standby=False
    )
    ops = start_ops(cfg, reserved_metrics, leases.holder, console, cfg.heartbeat.interval_s)
    held = [s for s in specs if s.id not in waiting]
    # serving before the clock starts: its start-up does not eat into --hours
    server = start_dashboard(
        dashboard,
        settings.resolved_database_url,
        settings,
        console,
        collectors=[ops.process_collector()],
        notifier=ops.notifier,
    )

    def instrument(stack: Any) -> None:
        """Alerts and metrics for one live engine: its events, its vault going stale, its
        RPC traffic and transactions."""
        engine_id = stack.engine.engine_id
        ops.attach(stack.engine)
        stack.venue.on_stale = lambda reason: ops.say(
            f"{engine_id}: vault is stale, nothing is booked until the chain reads again: {reason}",
            engine_id,
            NoticeKind.VAULT_STALE,
        )
        conn = getattr(stack.client, "_conn", None)
        if conn is not None:
            meter_connection(conn, ops.metrics)
        meter_client(stack.client, ops.metrics, engine_id)

    # every RPC call of this process from here on: start-up reads, the engines' clients
    # and any other connection the runner opens (issue 17)
    rpc_meter = metered_process(ops.metrics)
    rpc_meter.__enter__()
    try:
        clock = WallClock(stop=stop)
        start = clock.now()

        def build(chosen: list[Any], ts: int) -> Any:
            try:
                return build_live_engines(
                    db,
                    chosen,
                    rpc_url=cfg.rpc.url,
                    keypair_path=keypair,
                    start_ts=ts,
                    network=cfg.rpc.network,
                    client_options={
                        "compute_unit_price": cfg.rpc.compute_unit_price,
                        "priority_fee_percentile": cfg.rpc.priority_fee_percentile,
                        "max_compute_unit_price": cfg.rpc.max_compute_unit_price,
                    },
                )
            except LiveStartError as exc:
                fail(f"cannot start live engines: {exc}")

        runner = build(held, start)
        for stack in runner.stacks:
            if stack.engine.venue.equity() <= 0:
                fail(
                    f"refusing to run engine {stack.engine.engine_id!r}: its sub-account "
                    f"holds no capital; deposit into vault {stack.vault_name!r} first",
                    f"engines[{stack.engine.engine_id}]",
                )
            instrument(stack)
        console.print(f"running {len(held)} LIVE engine(s) on {cfg.rpc.url} ({cfg.rpc.network})")
        console.print(controls_line(settings, server is not None), highlight=False)
        announce_pending(db, [s.id for s in specs], console)
        if waiting:
            console.print(f"waiting for {', '.join(waiting)} (held by other runners)")
        ops.say(f"runner {ops.runner} started (live): {', '.join(s.id for s in held)}")
        by_id = {s.id: s for s in specs}

        def taken(engine_id: str, stack: Any) -> None:
            instrument(stack)
            console.print(f"[yellow]picked up[/] {engine_id}")
            ops.say(f"runner {ops.runner} picked up {engine_id}", engine_id)

        pickup = LivePickup(
            runner,
            leases,
            waiting,
            build=lambda engine_id, ts: build([by_id[engine_id]], ts),
            every_s=max(0.5, cfg.heartbeat.lease_s / 3),
            on_taken=taken,
        )

        def on_tick(result: Any) -> None:
            engines = [st.engine for st in runner.stacks]
            ops.on_tick(result, engines)
            pickup(result)

        runner.heartbeat.on_tick = on_tick
        ops.metrics.engines_held.set(len(runner.stacks))
        ops.status.ready = True
        ops.status.reason = "running"
        until = None if hours is None else start + int(hours * HOUR)
        session = begin_session(
            db,
            kind="live",
            engines=[s.id for s in specs],
            speed=1.0,
            start=start,
            end=until,
            source="chain",
            label=f"live {cfg.rpc.network}",
            controls=server is not None and token_configured(settings),
        )
        interrupted = False
        try:
            runner.run(
                clock,
                interval_s=cfg.heartbeat.interval_s,
                until=until,
                should_stop=either(stop, keeper.lost.is_set),
            )
            if stop is not None and stop.is_set():
                interrupted = True
                console.print(stopping_line(stop))
                console.print("[yellow]interrupted[/]: engines keep their persisted state")
        finally:
            end_session(session, interrupted=interrupted or keeper.lost.is_set())
        if keeper.lost.is_set():
            ops.status.reason = "lease lost"
            ops.say(f"runner {ops.runner} stopped: {keeper.reason}")
            fail(f"stopped: {keeper.reason}")
        for stack in runner.stacks:
            stack.engine.persist()
        ops.finish([st.engine for st in runner.stacks])
        ops.say(f"runner {ops.runner} stopped")
        print_summary(_Engines([stack.engine for stack in runner.stacks], db), console)
        runner.close()
        console.print("done")
    finally:
        rpc_meter.__exit__(None, None, None)
        keeper.stop()
        if not keeper.lost.is_set():
            leases.release()
        if server is not None:
            server.stop()
        ops.close()


class _Engines:
    """What `print_summary` reads of a paper stack, for the live runner's engines."""

    def __init__(self, engines: list[Any], db: Any) -> None:
        from drift_engine.vaults.registry import VaultRegistry

        self.engines = engines
        self.registry = VaultRegistry(db)
