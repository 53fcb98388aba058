"""A running LIVE engine obeys its operator (ADR-0011): `drift-engine engines pause` and the
dashboard's kill reach a live `drift-engine run` through the same command queue the paper
runner reads, and the kill switch flattens the position on chain within a tick."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from drift_engine.cli import app
from drift_engine.dashboard.control import QueuedEngineControl
from drift_engine.engine.store import SqlEngineStore
from drift_engine.storage.database import Database
from tests.childproc import stop_child
from tests.live.live_helpers import HOUR, USDC

REPO = Path(__file__).resolve().parents[2]
WAIT_S = 120.0  # a failure bound only: each step takes a tick or two of one second

CONFIG = """
live = true
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


def _until(what: str, check) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _perp_base(world) -> int:
    with world.chain._lock:
        pos = world.sim.perp_position(world.key, "SOL-PERP")
    return 0 if pos is None else pos.base_asset_amount


def test_pause_and_kill_reach_a_running_live_engine(
    world, make_client, keypair_file, tmp_path, monkeypatch
):
    client = make_client(world.server)
    client.run(client.connect())
    client.run(client.initialize_user())
    client.run(client.deposit(5_000 * USDC, 0))
    client.close_blocking()
    with world.chain._lock:
        world.sim.update_funding("SOL-PERP", ts=world.sim.now + HOUR, funding_rate=2_000_000)

    url = f"sqlite:///{tmp_path / 'live.db'}"
    config = tmp_path / "live.toml"
    config.write_text(CONFIG.format(url=world.server.url))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith("DRIFT_ENGINE") and k != "DATABASE_URL"
    }
    env.update(
        DATABASE_URL=url,
        DRIFT_ENGINE_KEYPAIR_PATH=str(keypair_file),
        PYTHONPATH=os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(REPO)) if p),
    )
    ticking = world.ticking()  # the runner waits in real time: chain time runs by itself
    ticking.__enter__()
    proc = subprocess.Popen(
        [sys.executable, "-m", "drift_engine.cli", "run", "-c", str(config), "--hours", "1"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for name in list(os.environ):
        if name.upper().startswith("DRIFT_ENGINE"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", url)
    db = None
    try:
        _until("the live engine to open its short perp", lambda: _perp_base(world) < 0)
        db = Database.open(url)
        store = SqlEngineStore(db)

        r = CliRunner().invoke(app, ["engines", "pause", "dn-live"])
        assert r.exit_code == 0, r.output
        assert "its runner (pid" in " ".join(r.output.split())
        _until("the pause", lambda: store.load("dn-live").state == "paused")
        assert _perp_base(world) < 0  # a pause closes nothing

        # the dashboard's control port: the same queue
        assert QueuedEngineControl(store).control("dn-live", "kill") == "PAUSED"
        _until("the kill", lambda: store.load("dn-live").state == "halted")
        _until("the flatten on chain", lambda: _perp_base(world) == 0)
        # the outcome is written after the kill's own writes (state, flatten): wait for it
        _until("the kill's outcome", lambda: _history(db)[-1].status != "pending")
        history = [(c.kind, c.source, c.status) for c in _history(db)]
        assert history == [("pause", "cli", "applied"), ("kill", "dashboard", "applied")]
        kinds = {e.kind for e in store.events("dn-live")}
        assert {"kill", "flatten", "command"} <= kinds
    finally:
        out, _ = stop_child(proc, signal.SIGINT)
        ticking.__exit__(None, None, None)
        if db is not None:
            db.dispose()
    assert proc.returncode == 0, out[-3000:]
    with world.chain._lock:
        user = world.sim.user(world.key)
    open_perps = [p for p in user.perp_positions if p.base_asset_amount != 0]
    assert open_perps == []


def _history(db):
    from drift_engine.engine.commands import CommandQueue

    return CommandQueue(db).history("dn-live")[::-1]
