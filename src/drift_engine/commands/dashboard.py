"""`drift-engine dashboard` (and `python run_dashboard.py`): serve the dashboard over a database."""

from __future__ import annotations

import typer

# Same as drift_engine.dashboard.server's defaults; kept here so `--help` stays light.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def dashboard(
    host: str = typer.Option(DEFAULT_HOST, "--host", help="Address to bind (loopback by default)."),
    port: int = typer.Option(DEFAULT_PORT, "--port", min=0, max=65535, help="Port to bind."),
    database_url: str | None = typer.Option(
        None, "--database-url", help="SQLAlchemy URL (default: from config / DATABASE_URL)."
    ),
) -> None:
    """Serve the web dashboard over an existing drift-engine database."""
    from drift_engine.dashboard.run import ServeError, run_dashboard

    try:
        run_dashboard(host=host, port=port, database_url=database_url)
    except ServeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
