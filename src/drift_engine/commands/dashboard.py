"""`drift-engine dashboard` (and `python run_dashboard.py`): serve the dashboard over a database.

The database must exist (the dashboard only reads; it never creates one). A public bind
without a token is a usage error (2); a taken port is a refusal (1), naming it.
"""

from __future__ import annotations

import typer

from drift_engine.commands.errors import fail, usage

# Same as drift_engine.dashboard.server's defaults; kept here so `--help` stays light.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def dashboard(
    host: str = typer.Option(DEFAULT_HOST, "--host", help="Address to bind (loopback by default)."),
    port: int = typer.Option(
        DEFAULT_PORT, "--port", min=0, max=65535, help="Port to bind (0: any free port)."
    ),
    database_url: str | None = typer.Option(
        None,
        "--database-url",
        metavar="URL",
        help="SQLAlchemy URL (default: from config / DATABASE_URL).",
    ),
    demo: bool = typer.Option(
        False, "--demo", help="The database of `drift-engine demo` (<data_dir>/demo.db)."
    ),
) -> None:
    """Serve the web dashboard over an existing drift-engine database."""
    from drift_engine.dashboard.run import ServeError, run_dashboard

    if demo and database_url is not None:
        usage("--demo and --database-url name two databases; give one", "--demo")
    if demo:
        from drift_engine.config import ConfigError, load_settings
        from drift_engine.settings_quick import demo_database_url

        try:
            database_url = demo_database_url(load_settings().data_dir)
        except ConfigError as exc:
            usage(exc)

    from drift_engine.commands.runinfo import controls_line
    from drift_engine.config import ConfigError, load_settings

    try:
        note = controls_line(load_settings(), True)
    except ConfigError as exc:
        usage(exc)
    try:
        run_dashboard(host=host, port=port, database_url=database_url, note=note)
    except ServeError as exc:
        usage(exc)
    except OSError as exc:
        fail(exc.strerror or exc, "--port")
