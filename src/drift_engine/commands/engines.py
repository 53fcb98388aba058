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

from contextlib import closing
from types import SimpleNamespace
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from drift_engine.commands.errors import fail, usage

app = typer.Typer(help="List and control engines (start, stop, pause, kill).", no_args_is_help=True)

COMMANDS = ("start", "stop", "pause", "kill")
_options: dict[str, str | bool | None] = {"database_url": None, "demo": False}


@app.callback()
def _main(
    database_url: str | None = typer.Option(
        None,
        "--database-url",
        metavar="URL",
        help="SQLAlchemy URL (default: from the environment; the demo uses <data_dir>/demo.db).",
    ),
    demo: bool = typer.Option(False, "--demo", help="The engines of `drift-engine demo`."),
) -> None:
    if demo and database_url is not None:
        usage("--demo and --database-url name two databases; give one", "--demo")
    _options["database_url"], _options["demo"] = database_url, demo


def _settings():
    from drift_engine.config import ConfigError, load_settings

    try:
        return load_settings()
    except ConfigError as exc:
        usage(exc)


def _url() -> str:
    explicit = _options["database_url"]
    if isinstance(explicit, str):
        return explicit
    from drift_engine.settings_quick import demo_database_url, quick_database_url

    quick = quick_database_url(demo=bool(_options["demo"]))  # exact, without pydantic
    if quick is not None:
        return quick
    if _options["demo"]:
        return demo_database_url(_settings().data_dir)
    return _settings().resolved_database_url


def _database():
    from drift_engine.storage.database import Database

    return Database.open(_url(), create=False)


def _store():
    from drift_engine.engine.store import SqlEngineStore

    return SqlEngineStore(_database())


def _unknown_engine(engine_id: str, known: list[str]) -> None:
    """One line naming the unknown engine and the closest known id, if any."""
    import difflib

    close = difflib.get_close_matches(engine_id, known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else "see: drift-engine engines list"
    fail(f"no engine {engine_id!r}; {hint}", "ENGINE_ID")


def _engine_ids(db) -> list[str]:
    from sqlalchemy import select

    from drift_engine.storage.models import EngineRow

    with db.read() as s:
        return list(s.scalars(select(EngineRow.engine_id).order_by(EngineRow.engine_id)))


def _quick_listing() -> tuple[list[Any], list[Any], dict[str, Any]] | None:
    """`_listing` through `sqlite3` (storage/quick.py) when the database is a current
    SQLite file and the settings need no pydantic; None otherwise."""
    from drift_engine.sessions import liveness_at, parse_recorded, session_infos
    from drift_engine.settings_quick import quick_database_url
    from drift_engine.storage.quick import as_json, as_utc, open_current_sqlite

    explicit = _options["database_url"]
    url = explicit if isinstance(explicit, str) else quick_database_url(demo=bool(_options["demo"]))
    connection = open_current_sqlite(url) if url else None
    if connection is None:
        return None
    with closing(connection):
        rows = [
            SimpleNamespace(**dict(r))
            for r in connection.execute(
                "SELECT engine_id, strategy, mode, state, vault_id, last_ts, high_water_mark "
                "FROM engine_records ORDER BY engine_id"
            )
        ]
        vaults = [
            SimpleNamespace(
                id=r["id"], name=r["name"], engine_id=r["engine_id"], is_active=bool(r["is_active"])
            )
            for r in connection.execute(
                "SELECT id, name, engine_id, is_active FROM vaults ORDER BY id"
            )
        ]
        session_rows = [
            SimpleNamespace(
                **{
                    **dict(r),
                    "started_at": as_utc(r["started_at"]),
                    "ended_at": as_utc(r["ended_at"]),
                    "engines": as_json(r["engines"]),
                    "data": as_json(r["data"]),
                }
            )
            for r in connection.execute(
                "SELECT id, kind, host, pid, started_at, ended_at, status, speed, sim_start, "
                "sim_end, engines, data, controls, result FROM run_sessions "
                "ORDER BY id DESC LIMIT 20"
            )
        ]
        beat = connection.execute(
            "SELECT recorded_at FROM heartbeats ORDER BY id DESC LIMIT 1"
        ).fetchone()
    live = liveness_at(
        parse_recorded(beat[0]) if beat else None,
        [r.engine_id for r in rows],
        sessions=session_infos(session_rows),
    )
    return rows, vaults, live


def _orm_listing() -> tuple[list[Any], list[Any], dict[str, Any]]:
    """`_listing` through `Database` and the storage models (any database, migrating an
    old schema first)."""
    from sqlalchemy import select

    from drift_engine.sessions import engine_liveness, has_sessions_table, read_sessions
    from drift_engine.storage.models import EngineRow, VaultRow

    db = _database()
    with db.read() as s:
        rows = list(s.scalars(select(EngineRow).order_by(EngineRow.engine_id)))
        vaults = list(s.scalars(select(VaultRow).order_by(VaultRow.id)))
        sessions = read_sessions(s) if has_sessions_table(db) else None
        live = engine_liveness(s, [r.engine_id for r in rows], sessions=sessions)
    return rows, vaults, live


def _listing() -> tuple[list[Any], list[Any], dict[str, Any]]:
    """Engine rows, vault rows (ordered) and each engine's liveness, read in one
    transaction. The common case (a current SQLite file) imports neither SQLAlchemy nor
    pydantic, so `engines list` answers in well under a second (bench/cli_latency.py)."""
    return _quick_listing() or _orm_listing()


@app.command("list")
def list_engines() -> None:
    """Engines known to the database: status (RUNNING only while a process runs them),
    the vault that powers them (⚡), last tick, high-water mark."""
    # No engine, strategy or driftpy import: the rows and liveness only.
    from datetime import UTC, datetime

    from drift_engine.sessions import engine_status, format_age

    rows, vaults, live = _listing()
    if not rows:
        typer.echo("no engines yet (drift-engine demo, or drift-engine run --config FILE)")
        return
    table = Table()
    table.add_column("engine", no_wrap=True)
    table.add_column("strategy")
    table.add_column("mode")
    table.add_column("status")
    table.add_column("vault", overflow="fold")
    table.add_column("last tick", min_width=10)
    table.add_column("HWM (USDC)", justify="right", no_wrap=True)
    for r in rows:
        own = [v for v in vaults if v.engine_id == r.engine_id]
        booking = next((v for v in own if r.vault_id in (str(v.id), v.name)), None)
        active = next((v for v in own if v.is_active), None)
        if booking is not None and active is not None and booking.id != active.id:
            vault = f"books into {booking.name}; {active.name} ⚡ ACTIVE"
        elif active is not None:
            vault = f"{active.name} ⚡ ACTIVE"
        else:
            vault = booking.name if booking is not None else r.vault_id
        when = (
            datetime.fromtimestamp(r.last_ts, UTC).strftime("%Y-%m-%d %H:%M") if r.last_ts else "-"
        )
        liveness = live[r.engine_id]
        if liveness.last_tick_at is not None:
            when += f" ({format_age(liveness.last_tick_age_s)})"  # engine time (wall age)
        state = r.state.upper()
        # never RUNNING for an engine nothing runs (the process decides, not the row)
        status = engine_status(state, liveness)
        if status != state and state not in ("RUNNING", "STOPPED"):
            status = f"{status} ({state})"  # e.g. NOT RUNNING (PAUSED): the next run keeps it
        table.add_row(
            r.engine_id,
            r.strategy,
            r.mode,
            status,
            vault,
            when,
            f"{r.high_water_mark / 1e6:,.2f}",
        )
    Console().print(table)


def _queue(engine_id: str, command: str) -> None:
    from drift_engine.engine.lease import engine_lease, live_holder
    from drift_engine.sessions import engine_liveness, has_sessions_table, read_sessions

    store = _store()
    if not store.request(engine_id, command):
        _unknown_engine(engine_id, _engine_ids(store.db))
    holder = live_holder(store.db, engine_lease(engine_id))
    if holder is not None:
        typer.echo(
            f"{command} queued for {engine_id}; its runner ({holder.holder.describe()}) "
            "applies it at its next tick"
        )
        return
    with store.db.read() as s:
        sessions = read_sessions(s) if has_sessions_table(store.db) else None
        live = engine_liveness(s, [engine_id], sessions=sessions)[engine_id]
    if live.running:  # e.g. `drift-engine demo`, which runs its engines in-process
        typer.echo(f"{command} queued for {engine_id}; its process applies it at its next tick")
        return
    typer.echo(f"{command} queued for {engine_id}")
    typer.echo(
        f"warning: no process runs {engine_id} ({live.describe()}): the {command} waits in "
        "its queue and the next `drift-engine run` applies it at its first tick "
        f"(see: drift-engine engines commands {engine_id})",
        err=True,
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
        _unknown_engine(engine_id, _engine_ids(store.db))
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
