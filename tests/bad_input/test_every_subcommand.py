"""Sweep, every subcommand: the CLI's command tree is walked (nothing listed by hand, so
a new command is covered the day it is added) and each leaf command is run

- with a misspelt `DRIFT_ENGINE_*` variable: the same one line everywhere, naming the
  variable and the setting it meant;
- with an option it does not have, and with a misspelt one of its own: one line with a
  "did you mean";
- without its required arguments, where it has any.

Each ends as `error: ...` on one line, exit code 2, no traceback, the world unchanged
(conftest.run_case)."""

from __future__ import annotations

import pytest

from drift_engine.cli import COMMANDS, load_command

from .conftest import Case, run_case

#: Values that let a command's own arguments parse, so the case reaches what it tests.
PLACEHOLDERS = {
    "--start": "2026-01-10",
    "--end": "2026-01-12",
    "--engine": "eng-a",
    "--seed": "1",
}


def _leaves(command, path):
    if hasattr(command, "list_commands") and hasattr(command, "get_command"):
        for name in command.list_commands(None):
            yield from _leaves(command.get_command(None, name), [*path, name])
    else:
        yield path, command


def _required(command) -> list[str]:
    args: list[str] = []
    for p in command.params:
        if not p.required:
            continue
        if p.param_type_name == "argument":
            args += ["paper-a" if "vault" in p.name or p.name == "source" else "x"] * (
                p.nargs if p.nargs > 0 else 1
            )
        else:
            flag = max(p.opts, key=len)
            args += [flag, PLACEHOLDERS.get(flag, "x")]
    return args


def _takes_dashes(command) -> bool:
    """Commands whose arguments may start with "-" (amounts: "-5" reaches the amount
    check) take unknown options as extra arguments."""
    return bool((command.context_settings or {}).get("ignore_unknown_options"))


def _options(command) -> list[str]:
    return [
        o
        for p in command.params
        if p.param_type_name == "option"
        for o in p.opts
        if o.startswith("--") and len(o) > 5 and o != "--help"
    ]


LEAVES = [(path, cmd) for name in COMMANDS for path, cmd in _leaves(load_command(name), [name])]
NAMES = [" ".join(path) for path, _ in LEAVES]


def test_the_tree_has_every_command() -> None:
    assert len(LEAVES) >= 25  # 13 top-level commands, several with subcommands
    assert "vaults activate" in NAMES and "engines commands" in NAMES and "init" in NAMES


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=NAMES)
def test_misspelt_variable_is_one_line_everywhere(worlds, monkeypatch, path, command) -> None:
    case = Case(
        "env-" + "-".join(path),
        [*path, *_required(command)],
        ("DRIFT_ENGINE_DATA_DRI", "unknown setting", "did you mean DRIFT_ENGINE_DATA_DIR?"),
        env={"DRIFT_ENGINE_DATA_DRI": "x"},
    )
    run_case(worlds[False], case, monkeypatch)


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=NAMES)
def test_unknown_option_is_one_line_everywhere(worlds, monkeypatch, path, command) -> None:
    expect = (
        "unexpected extra argument(s) (--no-such-option)"
        if _takes_dashes(command)
        else "No such option: --no-such-option"
    )
    case = Case(
        "opt-" + "-".join(path), [*path, *_required(command), "--no-such-option"], (expect,)
    )
    run_case(worlds[False], case, monkeypatch)


@pytest.mark.parametrize(
    ("path", "command"),
    [(p, c) for p, c in LEAVES if _options(c) and not _takes_dashes(c)],
    ids=[
        n for n, (_, c) in zip(NAMES, LEAVES, strict=True) if _options(c) and not _takes_dashes(c)
    ],
)
def test_misspelt_option_suggests_the_right_one(worlds, monkeypatch, path, command) -> None:
    option = _options(command)[0]
    typo = option[:-1]  # "--port" -> "--por"
    case = Case(
        "typo-" + "-".join(path),
        [*path, *_required(command), typo, "1"],
        (f"No such option: {typo}", "did you mean", option),
    )
    if any(o.startswith(typo) and o != option for o in _options(command)):
        pytest.skip(f"{typo} is a prefix of another option of {' '.join(path)}")
    run_case(worlds[False], case, monkeypatch)


@pytest.mark.parametrize(
    ("path", "command"),
    [(p, c) for p, c in LEAVES if any(x.required for x in c.params)],
    ids=[n for n, (_, c) in zip(NAMES, LEAVES, strict=True) if any(x.required for x in c.params)],
)
def test_missing_arguments_are_one_line(worlds, monkeypatch, path, command) -> None:
    case = Case("missing-" + "-".join(path), list(path), ("Missing ",))
    run_case(worlds[False], case, monkeypatch)


def test_misspelt_command_suggests_the_right_one(worlds, monkeypatch) -> None:
    run_case(
        worlds[False],
        Case("typo-command", ["vaults", "lst"], ("No such command 'lst'", "did you mean 'list'")),
        monkeypatch,
    )
    run_case(
        worlds[False],
        Case("typo-engine", ["engines", "stop", "eng-b"], ("did you mean 'eng-a'",), code=1),
        monkeypatch,
    )
