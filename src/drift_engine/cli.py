"""The `drift-engine` command line.

Commands are loaded lazily: importing every area (driftpy, SQLAlchemy, Alembic,
FastAPI, numpy) costs seconds, and a user typing `drift-engine vaults list` should pay
only for the vaults. Each entry below names the module and attribute that implements a
command — a typer sub-app (`app`) or a single command function — plus the one-line help
shown in `drift-engine --help`, so the top-level help imports nothing.
"""

from __future__ import annotations

import importlib
from typing import NamedTuple

import click
import typer
from typer.core import TyperGroup

from drift_engine import __version__
from drift_engine.commands.errors import one_line_errors


class LazyCommand(NamedTuple):
    target: str  # "module:attribute"
    help: str


#: Commands in the order `--help` lists them.
COMMANDS: dict[str, LazyCommand] = {
    "demo": LazyCommand(
        "drift_engine.commands.demo:demo", "Offline paper demo: two engines, real data."
    ),
    "run": LazyCommand("drift_engine.commands.run:run", "Run the engines from the config file."),
    "backtest": LazyCommand(
        "drift_engine.commands.backtest:backtest", "Backtest a strategy on the simulated clock."
    ),
    "sweep": LazyCommand(
        "drift_engine.commands.sweep:sweep",
        "Parameter sweeps, Optuna studies and walk-forward tests (local cores or Ray).",
    ),
    "strategies": LazyCommand(
        "drift_engine.commands.strategies:app", "Strategies: list, show parameters, write new."
    ),
    "engines": LazyCommand(
        "drift_engine.commands.engines:app", "List and control engines (start, stop, pause, kill)."
    ),
    "account": LazyCommand(
        "drift_engine.commands.account:app", "Drift sub-accounts of the wallet: create, list."
    ),
    "vaults": LazyCommand(
        "drift_engine.commands.vaults:app", "Engine vaults: list, show, create, move capital."
    ),
    "data": LazyCommand(
        "drift_engine.commands.data:app", "Market data: import Drift history, list, synthesize."
    ),
    "margin": LazyCommand(
        "drift_engine.commands.margin:margin", "Margin reports for Drift sub-accounts."
    ),
    "markets": LazyCommand(
        "drift_engine.commands.markets:markets",
        "Market parameters from mainnet accounts, with snapshot dates and sources.",
    ),
    "dashboard": LazyCommand(
        "drift_engine.commands.dashboard:dashboard", "Serve the web dashboard on 127.0.0.1."
    ),
    "localnet": LazyCommand(
        "drift_engine.commands.localnet:localnet", "Local Drift-compatible JSON-RPC server."
    ),
    "init": LazyCommand(
        "drift_engine.commands.init:init", "Write a commented example config file."
    ),
}


def load_command(name: str) -> click.Command:
    """Import the module behind `name` and turn its typer object into a click command."""
    module_name, attr = COMMANDS[name].target.split(":")
    obj = getattr(importlib.import_module(module_name), attr)
    if isinstance(obj, typer.Typer):
        obj._add_completion = False  # completion belongs to the top-level program only
        obj.rich_markup_mode = None  # help text as written: "[data]" is not markup
        command = typer.main.get_command(obj)
    else:
        single = typer.Typer(
            add_completion=False, pretty_exceptions_show_locals=False, rich_markup_mode=None
        )
        single.command(name, help=None)(obj)
        command = typer.main.get_command(single)
    command.name = name
    _plain_metavars(command)
    return command


def _plain_metavars(command: click.Command) -> None:
    """Options show a name for their value (`--host HOST`), not typer's type labels
    (`<str>`, `<int range>`), and flags show none (no `<bool>`)."""
    for param in command.params:
        kind = getattr(param, "param_type_name", "")
        if kind not in ("option", "argument") or param.metavar is not None:
            continue
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            continue
        if kind == "argument":  # no `<str>` / `<list[Path]>` beside an argument's name
            param.display_type_rich = lambda ctx=None: None  # type: ignore[method-assign]
        else:
            param.metavar = (param.name or "value").upper()
    for sub in getattr(command, "commands", {}).values():
        _plain_metavars(sub)


def _asks_for_help(ctx: click.Context) -> bool:
    protected = getattr(ctx, "_protected_args", None) or getattr(ctx, "protected_args", ())
    args = [*protected, *ctx.args]
    return any(a in ("--help", "-h") for a in args) or not args


def _check_environment() -> None:
    """A misspelt DRIFT_ENGINE_* variable fails every command the same way, before the
    command runs. pydantic-settings (~0.25 s to import) is only imported when a variable
    is not certainly right (settings_quick.py); `config.check_environment` then decides."""
    from drift_engine.settings_quick import environment_known

    if not environment_known():
        from drift_engine.config import check_environment

        check_environment()


class LazyGroup(TyperGroup):
    """A typer group whose registered sub-commands are imported on first use, and the
    guard that turns every error a user can cause into one line (commands/errors.py)."""

    _listing_help = False

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: object,
    ) -> click.Context:
        with one_line_errors():  # e.g. `drift-engine --bogus`
            return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: click.Context) -> object:
        with one_line_errors():  # sub-command arguments, and the command itself
            if not _asks_for_help(ctx):
                _check_environment()
            return super().invoke(ctx)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*COMMANDS, *super().list_commands(ctx)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        if self._listing_help:  # the help page needs names and one-liners only
            return click.Command(cmd_name, help=COMMANDS[cmd_name].help)
        return load_command(cmd_name)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing_help = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing_help = False


app = typer.Typer(
    name="drift-engine",
    cls=LazyGroup,
    help="Trading engines on Drift Protocol v2: paper and live vaults, simulator, dashboard.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # never print locals: they may hold key material
    # Plain help (click's): text renders literally ("[data] speed" stays; rich markup
    # would eat it) and flags show no "<bool>" type.
    rich_markup_mode=None,
)


def dump_stacks_on_sigusr1() -> bool:
    """`kill -USR1 <pid>` prints every thread's stack to stderr and the process carries
    on: how to see where a runner that will not stop is stuck (docs/operations.md).
    faulthandler writes from its C signal handler, so it works even when Python code
    is wedged (a held lock, a blocked call). False where it cannot be registered."""
    import faulthandler
    import signal
    import sys

    stderr = sys.__stderr__
    if not hasattr(signal, "SIGUSR1") or stderr is None:
        return False
    try:
        faulthandler.register(signal.SIGUSR1, file=stderr, all_threads=True)
    except (AttributeError, OSError, RuntimeError, ValueError):  # no real stderr fd
        return False
    return True


@app.callback()
def main() -> None:
    """Trading engines on Drift Protocol v2: paper and live vaults, simulator, dashboard."""
    dump_stacks_on_sigusr1()


@app.command("version")
def version() -> None:
    """Print the drift-engine version."""
    typer.echo(__version__)


if __name__ == "__main__":  # pragma: no cover
    app()
