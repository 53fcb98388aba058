"""`drift-engine run` with LIVE engines: refused unless the config says `live = true` and
the keypair file is private; when allowed, runs the live engines against the RPC."""

from __future__ import annotations

import json
import re

import base58
import pytest
from typer.testing import CliRunner

from drift_engine.cli import app
from drift_engine.storage.database import Database
from drift_engine.vaults.registry import VaultRegistry
from tests.live.live_helpers import HOUR, USDC, chain_cash

CONFIG = """
{live}
[rpc]
url = "{url}"
network = "localnet"

[heartbeat]
interval_s = 1

[[engines]]
id = "dn-live"
mode = "live"

[engines.params]
market = "SOL-PERP"
lookback_hours = 1
target_leverage = 0.5
"""


@pytest.fixture
def cli_env(tmp_path, keypair_file, monkeypatch):
    monkeypatch.setenv("DRIFT_ENGINE_KEYPAIR_PATH", str(keypair_file))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'run.db'}")
    return tmp_path


def _run(tmp_path, url, live, *extra):
    cfg = tmp_path / "drift-engine.toml"
    cfg.write_text(CONFIG.format(live=live, url=url))
    return CliRunner().invoke(app, ["run", "-c", str(cfg), *extra])


def test_run_refuses_live_without_live_true(cli_env):
    result = _run(cli_env, "http://127.0.0.1:1", "")
    assert result.exit_code == 2
    assert "refusing LIVE" in result.output and "live = true" in result.output


def test_run_refuses_live_with_a_readable_keypair(cli_env, keypair_file, keypair):
    keypair_file.chmod(0o644)
    result = _run(cli_env, "http://127.0.0.1:1", "live = true")
    assert result.exit_code == 2
    assert "keypair_path" in result.output and keypair_file.name in result.output
    assert base58.b58encode(bytes(keypair)).decode() not in result.output
    assert json.dumps(list(bytes(keypair))) not in result.output


def test_run_live_trades_against_the_rpc(cli_env, world, make_client, keypair):
    client = make_client(world.server)
    client.run(client.connect())
    client.run(client.initialize_user())
    client.run(client.deposit(5_000 * USDC, 0))
    client.close_blocking()
    with world.chain._lock:
        world.sim.update_funding("SOL-PERP", ts=world.sim.now + HOUR, funding_rate=2_000_000)
    # the CLI's engine waits in real time: let chain time run, long enough (~11 s) for the
    # auction and the keeper's fill even on a loaded machine
    with world.ticking():
        result = _run(cli_env, world.server.url, "live = true", "--hours", "0.003", "--port", "0")
    assert result.exit_code == 0, result.output
    assert "LIVE engine" in result.output
    assert re.search(r"dashboard: http://127\.0\.0\.1:\d+/", result.output)  # --port honoured
    assert world.sim.perp_position(world.key, "SOL-PERP").base_asset_amount < 0
    db = Database.open(f"sqlite:///{cli_env / 'run.db'}")
    registry = VaultRegistry(db)
    vault = registry.get("dn-live")
    assert vault.is_on_chain and registry.summary(vault.id).balance == chain_cash(world)
    assert base58.b58encode(bytes(keypair)).decode() not in result.output
