"""`drift-engine engines list|start|stop|pause|kill|commands`: look at and control engines.

Engines live in the `drift-engine run` process that holds their lease; these commands
read their persisted records and append an operator command to the engine's queue
(`engine.commands`), which that runner applies at the start of its next heartbeat tick —
paper or live (start = resume a paused/halted engine; kill = cancel orders, flatten,
halt). Nothing is overwritten: `kill` then `pause` keeps the kill. With no runner holding
the engine, the command waits for the next `drift-engine run`. `commands` shows an
engine's queue and what each command did. None of them creates a database: with no
database there is no engine to list or control, and they say so.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from drift_engine.commands.errors import fail, usage

app = typer.Typer(help="List and control engines (start, stop, pause, kill).", no_args_is_help=True)

COMMANDS = ("start", "stop", "pause", "kill")
_options: dict[str, str | None] = {"database_url": None}


@app.callback()
def _main(
    database_url: str | None = typer.Option(
        None,
        "--database-url",
        help="SQLAlchemy URL (default: from the environment; the demo uses <data_dir>/demo.db).",
    ),
    demo: bool = typer.Option(False, "--demo", help="The engines of `drift-engine demo`."),
) -> None:
    if demo and database_url is not None:
        usage("--demo and --database-url name two databases; give one", "--demo")
    if demo:
        database_url = f"sqlite:///{_settings().data_dir / 'demo.db'}"
    _options["database_url"] = database_url


def _settings():
    from drift_engine.config import ConfigError, load_settings

    try:
        return load_settings()
    except ConfigError as exc:
        usage(exc)


def _store():
    from drift_engine.engine.store import SqlEngineStore
    from drift_engine.storage.database import Database

    url = _options["database_url"] or _settings().resolved_database_url
    return SqlEngineStore(Database.open(url, create=False))


@app.command("list")
def list_engines() -> None:
    """Engines known to the database: state, mode, strategy, vault, last tick."""
    store = _store()
    records = store.records()
    if not records:
        typer.echo("no engines yet (drift-engine demo, or drift-engine run --config FILE)")
        return
    table = Table("engine", "strategy", "mode", "state", "vault", "last tick", "HWM (USDC)")
    from datetime import UTC, datetime

    for r in records:
        when = (
            datetime.fromtimestamp(r.last_ts, UTC).strftime("%Y-%m-%d %H:%M") if r.last_ts else "-"
        )
        table.add_row(
            r.engine_id,
            r.strategy,
            r.mode,
            r.state,
            r.vault_id,
            when,
            f"{r.high_water_mark / 1e6:,.2f}",
        )
    Console().print(table)


def _queue(engine_id: str, command: str) -> None:
    from drift_engine.engine.lease import engine_lease, live_holder

    store = _store()
    if not store.request(engine_id, command):
        fail(f"no engine {engine_id!r} (see: drift-engine engines list)", "ENGINE_ID")
    holder = live_holder(store.db, engine_lease(engine_id))
    if holder is None:
        typer.echo(
            f"{command} queued for {engine_id}; no runner holds it now: the next "
            "`drift-engine run` applies it at its first tick"
        )
    else:
        typer.echo(
            f"{command} queued for {engine_id}; its runner ({holder.holder.describe()}) "
            "applies it at its next tick"
        )


@app.command("start")
def start(engine_id: str) -> None:
    """Start or resume an engine (RUNNING)."""
    _queue(engine_id, "start")


@app.command("stop")
def stop(engine_id: str) -> None:
    """Stop an engine (STOPPED, across restarts too; positions stay as they are)."""
    _queue(engine_id, "stop")


@app.command("pause")
def pause(engine_id: str) -> None:
    """Pause an engine (no new strategy actions; risk limits still apply)."""
    _queue(engine_id, "pause")


@app.command("kill")
def kill(engine_id: str) -> None:
    """Kill switch: cancel every order, flatten every position, HALT."""
    _queue(engine_id, "kill")


@app.command("commands")
def commands(
    engine_id: str,
    limit: int = typer.Option(20, "--limit", min=1, help="How many recent commands."),
) -> None:
    """An engine's operator commands, newest first: pending, applied or refused."""
    from drift_engine.engine.commands import CommandQueue

    store = _store()
    if store.load(engine_id) is None:
        typer.echo(f"no engine {engine_id!r} (see: drift-engine engines list)", err=True)
        raise typer.Exit(code=1)
    rows = CommandQueue(store.db).history(engine_id, limit=limit)
    if not rows:
        typer.echo(f"no commands for {engine_id}")
        return
    table = Table("#", "command", "source", "requested (UTC)", "status", "tick", "result")
    from datetime import UTC, datetime

    for c in rows:
        tick = datetime.fromtimestamp(c.due_ts, UTC).strftime("%Y-%m-%d %H:%M") if c.due_ts else "-"
        table.add_row(
            str(c.id),
            c.describe(),
            c.source,
            c.requested_at.strftime("%Y-%m-%d %H:%M:%S"),
            c.status,
            tick if c.status != "pending" else "-",
            c.result or "",
        )
    Console().print(table)
