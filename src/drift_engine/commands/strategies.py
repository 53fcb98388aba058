"""`drift-engine strategies list|show|new`: the strategies you can run, and a new one."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from drift_engine.commands.errors import usage

app = typer.Typer(
    help="Strategies: list built-in and installed ones, show parameters, write a new one.",
    no_args_is_help=True,
)


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if (doc or "").strip() else ""


def _type_name(annotation: Any) -> str:
    name = getattr(annotation, "__name__", None)
    return name if name and "[" not in repr(annotation) else repr(annotation).replace("typing.", "")


def _constraints(field: Any) -> str:
    parts = []
    for item in field.metadata:
        for attr, sign in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="), ("pattern", "~")):
            value = getattr(item, attr, None)
            if value is not None:
                parts.append(f"{sign} {value}")
    return ", ".join(parts)


def parameters(cls: Any) -> list[dict[str, Any]]:
    """The strategy's config fields: name, type, default, constraints, description."""
    out = []
    for name, field in cls.config_model.model_fields.items():
        default = None if field.is_required() else field.get_default(call_default_factory=True)
        out.append(
            {
                "name": name,
                "type": _type_name(field.annotation),
                "default": default,
                "required": field.is_required(),
                "constraints": _constraints(field),
                "description": field.description or "",
            }
        )
    return out


def _rows() -> list[dict[str, str]]:
    from drift_engine.strategies.loading import (
        StrategyLoadError,
        builtin_strategies,
        installed_strategies,
    )

    rows = []
    for name, cls in builtin_strategies().items():
        rows.append(
            {
                "name": name,
                "origin": "built-in",
                "class": f"{cls.__module__}:{cls.__qualname__}",
                "summary": _first_line(cls.__module__ and sys.modules[cls.__module__].__doc__),
            }
        )
    for name, ep in installed_strategies().items():
        if name in builtin_strategies():
            continue
        dist = ep.dist.name if getattr(ep, "dist", None) is not None else "?"
        row = {"name": name, "origin": f"installed ({dist})", "class": ep.value, "summary": ""}
        try:
            from drift_engine.strategies.loading import check_strategy_class

            cls = check_strategy_class(name, ep.load())
            row["summary"] = _first_line(cls.__doc__ or sys.modules[cls.__module__].__doc__)
        except StrategyLoadError as exc:
            row["summary"] = f"[unusable] {exc}"
        except Exception as exc:  # noqa: BLE001 - a broken package must not break the list
            row["summary"] = f"[unusable] {type(exc).__name__}: {exc}"
        rows.append(row)
    return rows


@app.command("list")
def list_strategies(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON array."),
) -> None:
    """Built-in strategies and those installed packages declare (entry points)."""
    rows = _rows()
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    table = Table("name", "origin", "class", "summary", title="Strategies")
    for r in rows:
        table.add_row(r["name"], r["origin"], r["class"], r["summary"])
    Console().print(table)
    typer.echo(
        "Any DriftStrategy subclass also runs as --strategy module:Class or "
        "path/to/file.py:Class; `drift-engine strategies show NAME` lists its parameters."
    )


@app.command("show")
def show(
    name: str = typer.Argument(..., help="A strategy name, module:Class or file.py:Class."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """A strategy's description, markets and parameters with their defaults."""
    from drift_engine.strategies import DriftStrategy, StrategyLoadError, strategy_class

    try:
        cls = strategy_class(name)
    except StrategyLoadError as exc:
        usage(exc, "NAME")
    doc = (sys.modules[cls.__module__].__doc__ or cls.__doc__ or "").strip()
    params = parameters(cls)
    info = {
        "name": cls.name or cls.__name__,
        "class": f"{cls.__module__}:{cls.__qualname__}",
        "description": doc,
        "wake_conditions": "declared"
        if cls.wake_conditions is not DriftStrategy.wake_conditions
        else "every tick (default)",
        "parameters": params,
    }
    if as_json:
        sys.stdout.write(json.dumps(info, default=str) + "\n")
        return
    console = Console()
    console.print(f"[bold]{info['name']}[/]  ({info['class']})")
    if doc:
        console.print(doc.split("\n\n")[0])
    console.print(f"wake conditions: {info['wake_conditions']}")
    table = Table("parameter", "type", "default", "constraints", "description", title="Parameters")
    for p in params:
        default = "(required)" if p["required"] else json.dumps(p["default"], default=str)
        table.add_row(p["name"], p["type"], default, p["constraints"], p["description"])
    console.print(table)


@app.command("new")
def new(
    name: str = typer.Argument(..., help="Strategy name, e.g. my-carry."),
    directory: Path = typer.Option(Path("."), "--dir", help="Where to write the two files."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing files."),
) -> None:
    """Write NAME's strategy module (commented, runnable) and its test."""
    from drift_engine.strategies.template import names, render

    try:
        files = render(name)
        _, module, cls = names(name)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="NAME") from None
    if directory.exists() and not directory.is_dir():
        raise typer.BadParameter(f"{directory} is not a directory", param_hint="--dir")
    existing = [directory / f for f in files if (directory / f).exists()]
    if existing and not force:
        usage(f"{existing[0]} exists (use --force to overwrite)", "NAME")
    directory.mkdir(parents=True, exist_ok=True)
    for file_name, text in files.items():
        (directory / file_name).write_text(text)
        typer.echo(f"wrote {directory / file_name}")
    path = directory / f"{module}.py"
    typer.echo(
        f"try it:  drift-engine backtest --strategy {path}:{cls} --market SOL-PERP "
        "--start 2026-01-10 --end 2026-02-15\n"
        f"test it: python -m pytest -p no:pytest_anchorpy {directory / f'test_{module}.py'}"
    )
