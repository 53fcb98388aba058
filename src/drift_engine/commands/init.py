"""`drift-engine init`: write a commented example config file."""

from __future__ import annotations

from pathlib import Path

import typer

from drift_engine.engine.config_file import DEFAULT_CONFIG_PATH, EXAMPLE_CONFIG, load_config


def init(
    path: Path = typer.Argument(DEFAULT_CONFIG_PATH, help="Where to write the config file."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented example engines config (TOML)."""
    if path.exists() and not force:
        typer.echo(f"{path} exists; pass --force to overwrite it", err=True)
        raise typer.Exit(code=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(EXAMPLE_CONFIG)
    load_config(path, environ={})  # the example itself must always be valid
    typer.echo(f"wrote {path}; edit it, then: drift-engine run --config {path}")
