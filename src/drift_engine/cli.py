"""The `drift-engine` command line. Each area registers its own sub-commands here."""

from __future__ import annotations

import typer

from drift_engine import __version__
from drift_engine.commands import margin as margin_cmd

app = typer.Typer(
    name="drift-engine",
    help="Trading engines on Drift Protocol v2: paper and live vaults, simulator, dashboard.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # never print locals: they may hold key material
)

app.command("margin")(margin_cmd.margin)


@app.command("version")
def version() -> None:
    """Print the drift-engine version."""
    typer.echo(__version__)


if __name__ == "__main__":  # pragma: no cover
    app()
