"""The top-level CLI: every command has --help, and the help page imports nothing heavy."""

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from drift_engine.cli import COMMANDS, app

runner = CliRunner()


def test_top_level_help_lists_every_command_without_importing_them():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from drift_engine.cli import app\n"
        "r = CliRunner().invoke(app, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print(r.output)\n"
        "heavy = [m for m in ('driftpy', 'sqlalchemy', 'fastapi', 'numpy') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    for name, entry in COMMANDS.items():
        assert name in out and entry.help[:20] in out
    assert "HEAVY=\n" in out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(name):
    result = runner.invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert f"drift-engine {name}" in result.output
    assert "--install-completion" not in result.output


def test_sub_app_commands_have_help():
    for group in ("engines", "vaults", "data"):
        listing = runner.invoke(app, [group, "--help"]).output
        for sub in {
            "engines": ["list", "start", "stop", "pause", "kill"],
            "vaults": ["list", "show", "create", "deposit", "withdraw", "transfer"],
            "data": ["import", "list", "synth"],
        }[group]:
            assert sub in listing
            result = runner.invoke(app, [group, sub, "--help"])
            assert result.exit_code == 0, (group, sub, result.output)


def test_unknown_command_is_an_error():
    result = runner.invoke(app, ["nonsense"])
    assert result.exit_code == 2
    assert "No such command" in result.output
