"""`drift-engine margin`: margin reports (placeholder wiring; see core/margin.py)."""

from __future__ import annotations

import typer


def margin(
    demo: bool = typer.Option(False, "--demo", help="Report on built-in example accounts."),
) -> None:
    """Print a margin report for Drift sub-accounts."""
    raise typer.Exit(code=2)
