"""Sweep, real processes: the installed `drift-engine` script and `run_dashboard.py` give
the same one line as the in-process cases (typer's own exception printer never shows),
and a live `run` with no RPC listening says so in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from solders.keypair import Keypair

from .conftest import Case, World, assert_one_line_error

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).with_name("drift-engine")

LIVE_CONFIG = """live = true
[rpc]
url = "http://127.0.0.1:{port}"
network = "localnet"
[[engines]]
id = "dn-live"
mode = "live"
[engines.params]
market = "SOL-PERP"
"""


def _run(world: World, args: list[str], env: dict[str, str] | None = None):
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith("DRIFT_ENGINE_") and k != "DATABASE_URL"
    }
    clean.update({"DRIFT_ENGINE_DATA_DIR": str(world.var), "COLUMNS": "80"}, **(env or {}))
    return subprocess.run(
        args, capture_output=True, text=True, env=clean, cwd=world.root, timeout=120
    )


def _check(world: World, case: Case, argv: list[str], env: dict[str, str] | None = None):
    before = world.snapshot()
    proc = _run(world, argv, env)
    assert_one_line_error(proc.stdout + proc.stderr, proc.returncode, case)
    assert proc.stdout == "", "the error goes to stderr"
    assert world.snapshot() == before, f"{case.id}: the world changed"


@pytest.mark.skipif(not SCRIPT.exists(), reason="the console script is not installed")
@pytest.mark.parametrize(
    ("case", "env"),
    [
        (Case("script-hours", ["run", "-c", "good.toml", "--hours", "-1"], ["--hours"]), {}),
        (Case("script-db-url", ["vaults", "list"], ["DATABASE_URL"]), {"DATABASE_URL": "x"}),
        (Case("script-capital", ["demo", "--capital", "inf"], ["--capital"]), {}),
        (Case("script-engine", ["engines", "kill", "ghost"], ["ghost"], code=1), {}),
    ],
    ids=lambda v: v.id if isinstance(v, Case) else "",
)
def test_the_installed_script_prints_one_line(worlds, case: Case, env) -> None:
    _check(worlds[False], case, [str(SCRIPT), *case.args], env)


def test_run_dashboard_script_prints_one_line(worlds) -> None:
    case = Case("run-dashboard-port", ["--port", "70000"], ["--port"])
    _check(worlds[False], case, [sys.executable, str(REPO / "run_dashboard.py"), *case.args])


def test_live_run_with_no_rpc_listening_says_so_in_one_line(worlds, tmp_path) -> None:
    """The RPC is checked (nothing listens on port 1) before the database is touched."""
    world = worlds[False]
    keypair = tmp_path / "id.json"
    keypair.write_text(json.dumps(list(bytes(Keypair()))))
    keypair.chmod(0o600)
    config = tmp_path / "live.toml"
    config.write_text(LIVE_CONFIG.format(port=1))
    case = Case("live-no-rpc", [], ["no Solana RPC answers at http://127.0.0.1:1", "rpc.url"], 1)
    _check(
        world,
        case,
        [sys.executable, "-m", "drift_engine.cli", "run", "-c", str(config)],
        {"DRIFT_ENGINE_KEYPAIR_PATH": str(keypair)},
    )
