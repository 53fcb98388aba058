"""`drift-engine init`: write a commented example config file."""

from __future__ import annotations

from pathlib import Path

import typer

from drift_engine.commands.errors import fail, usage
from drift_engine.engine.config_file import DEFAULT_CONFIG_PATH, EXAMPLE_CONFIG, load_config


def init(
    path: Path = typer.Argument(DEFAULT_CONFIG_PATH, help="Where to write the config file."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented example engines config (TOML)."""
    if path.is_dir():
        usage(f"{path} is a directory; give a file name", "PATH")
    if path.exists() and not force:
        fail(f"{path} exists; pass --force to overwrite it", "PATH")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            usage(f"{parent} is a file, not a directory", "PATH")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(EXAMPLE_CONFIG, encoding="utf-8")
    load_config(path, environ={})  # the example itself must always be valid
    typer.echo(f"wrote {path}; edit it, then: drift-engine run --config {path}")
