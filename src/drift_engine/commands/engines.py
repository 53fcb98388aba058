"""`drift-engine engines list|start|stop|pause|kill`: look at and control engines.

Engines live in the `drift-engine run` process; these commands read their persisted
records and queue an operator command that the running process applies at its next
heartbeat tick (start = resume a paused/halted engine; kill = cancel orders, flatten,
halt). None of them creates a database: with no database there is no engine to list or
control, and they say so.
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
    store = _store()
    if not store.request(engine_id, command):
        fail(f"no engine {engine_id!r} (see: drift-engine engines list)", "ENGINE_ID")
    typer.echo(f"{command} queued for {engine_id}; the running process applies it next tick")


@app.command("start")
def start(engine_id: str) -> None:
    """Start or resume an engine (RUNNING)."""
    _queue(engine_id, "start")


@app.command("stop")
def stop(engine_id: str) -> None:
    """Stop an engine (STOPPED; positions stay as they are)."""
    _queue(engine_id, "stop")


@app.command("pause")
def pause(engine_id: str) -> None:
    """Pause an engine (no new strategy actions; risk limits still apply)."""
    _queue(engine_id, "pause")


@app.command("kill")
def kill(engine_id: str) -> None:
    """Kill switch: cancel every order, flatten every position, HALT."""
    _queue(engine_id, "kill")
