"""Issue 7 acceptance: kill the live engine process mid-position (SIGKILL); the restarted
process reconciles with the chain and continues — and the keypair's secret bytes appear
nowhere: not in either process's logs, not in the database file, not in the dashboard's
API responses."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import base58
from fastapi.testclient import TestClient

from drift_engine.core.types import MarketType
from drift_engine.dashboard.app import create_app
from drift_engine.dashboard.reader import DashboardReader
from drift_engine.engine.store import SqlEngineStore
from drift_engine.storage.database import Database
from drift_engine.storage.enums import EntryKind
from drift_engine.vaults.registry import VaultRegistry
from tests.live.live_helpers import HOUR, USDC, chain_cash

REPO = Path(__file__).resolve().parents[2]
RATE = 2_000_000
WAIT_S = 60.0


class EngineProcess:
    def __init__(self, world, keypair_file, db_url: str, log_dir: Path, name: str) -> None:
        self.stderr_path = log_dir / f"{name}.stderr"
        self.stdout_lines: list[str] = []
        self._lines: queue.Queue[str] = queue.Queue()
        env = dict(os.environ)
        env["PYTHONPATH"] = f"{REPO / 'src'}{os.pathsep}{REPO}"
        self._stderr = self.stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.live.engine_proc",
                world.server.url,
                str(keypair_file),
                db_url,
                "dn-live",
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.stdout_lines.append(line)
            self._lines.put(line)

    def wait_for(self, prefix: str, count: int = 1) -> list[str]:
        got: list[str] = []
        deadline = time.monotonic() + WAIT_S
        while len(got) < count:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None and self._lines.empty():
                raise AssertionError(
                    f"no {prefix!r} from the engine process; stderr tail:\n"
                    + self.stderr_path.read_text()[-3000:]
                )
            try:
                line = self._lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if line.startswith(prefix):
                got.append(line)
        return got

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._stderr.close()

    def logs(self) -> str:
        return "".join(self.stdout_lines) + self.stderr_path.read_text()


def _funding_hour(world) -> None:
    with world.chain._lock:
        world.sim.update_funding("SOL-PERP", ts=world.sim.now + HOUR, funding_rate=RATE)


def _placements(world) -> int:
    authority = str(world.keypair.pubkey())
    return len(
        {
            (r.user_order_id, r.order_id)
            for r in world.sim.records
            if r.kind in ("order", "fill") and getattr(r, "authority", None) == authority
        }
    )


def test_sigkill_mid_position_then_restart_reconciles_and_no_secret_leaks(
    world, make_client, keypair, keypair_file, tmp_path
):
    client = make_client(world.server, now=lambda: world.sim.now)
    client.run(client.connect())
    client.run(client.initialize_user())
    client.run(client.deposit(5_000 * USDC, 0))
    client.close_blocking()
    _funding_hour(world)  # an hour of positive funding: the strategy will enter
    db_path = tmp_path / "live.db"
    db_url = f"sqlite:///{db_path}"

    ticking = world.ticking()  # the processes wait in real time: chain time runs by itself
    ticking.__enter__()
    first = EngineProcess(world, keypair_file, db_url, tmp_path, "first")
    try:
        first.wait_for("READY")
        deadline = time.monotonic() + WAIT_S
        while world.sim.perp_position(world.key, "SOL-PERP") is None or (
            world.sim.perp_position(world.key, "SOL-PERP").base_asset_amount == 0
        ):
            assert time.monotonic() < deadline, first.stderr_path.read_text()[-3000:]
            time.sleep(0.05)
        for _ in range(2):
            _funding_hour(world)
            first.wait_for("TICK", 3)
    finally:
        first.kill()  # mid-position, no chance to clean up
    position = world.sim.perp_position(world.key, "SOL-PERP").base_asset_amount
    assert position < 0 and _placements(world) == 2

    # while the engine is down: two more hours of funding accrue on chain (unsettled)
    _funding_hour(world)
    _funding_hour(world)

    second = EngineProcess(world, keypair_file, db_url, tmp_path, "second")
    try:
        ready = second.wait_for("READY")[0]
        ticks = second.wait_for("TICK", 3)
        _funding_hour(world)
        ticks += second.wait_for("TICK", 3)
    finally:
        second.kill()
        ticking.__exit__(None, None, None)
    assert all(" running " in t for t in ticks), ticks
    assert "[] []" in ready  # nothing to book late, no unknown orders to cancel
    # continued with the same position: nothing re-entered, nothing placed twice
    assert world.sim.perp_position(world.key, "SOL-PERP").base_asset_amount == position
    assert _placements(world) == 2

    db = Database.open(db_url)
    registry = VaultRegistry(db)
    vault = registry.get("dn-live")
    entries = registry.ledger.entries(vault.id)
    reader = make_client(world.server)
    state = reader.run(reader.connect())
    reader.close_blocking()
    assert state.position(MarketType.PERP, 0).base_asset_amount == position
    assert registry.summary(vault.id).balance == chain_cash(world)
    funding = sum(e.amount for e in entries if e.kind is EntryKind.FUNDING)
    assert funding == state.user.cumulative_perp_funding > 0
    assert EntryKind.SYNC_ADJUSTMENT not in {e.kind for e in entries}
    sim_fills = [r for r in world.sim.records if r.kind == "fill"]
    assert len([e for e in entries if e.kind is EntryKind.FILL]) == len(sim_fills) >= 2
    assert not registry.sync_status.is_stale(vault.id)
    store = SqlEngineStore(db)
    assert len(store.events("dn-live", "start-reconciled")) == 2
    assert len(store.events("dn-live", "resume")) == 1
    assert store.load("dn-live").mode == "live"

    # ---- the keypair's secret, in every form, is nowhere
    secret = bytes(keypair)
    forms = {
        "base58 keypair": base58.b58encode(secret).decode(),
        "base58 seed": base58.b58encode(secret[:32]).decode(),
        "json": json.dumps(list(secret)),
        "json compact": json.dumps(list(secret), separators=(",", ":")),
        "json seed": json.dumps(list(secret[:32]))[1:-1],
        "hex": secret.hex(),
    }
    assert str(keypair) == forms["base58 keypair"]
    haystacks = {"first logs": first.logs(), "second logs": second.logs()}
    assert "start-reconciled" in haystacks["second logs"] or "READY" in haystacks["second logs"]
    db.dispose()
    raw = b""
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(db_path) + suffix)
        if p.exists():
            raw += p.read_bytes()
    haystacks["database file"] = raw.decode("latin-1")
    db = Database.open(db_url)
    app = create_app(DashboardReader(db, stale_after=1e12))
    api = []
    with TestClient(app) as http:
        paths = ["/api/health", "/api/engines", "/api/vaults", "/api/markets"]
        paths += ["/api/engines/dn-live", f"/api/vaults/{vault.id}"]
        for route in app.routes:
            path = getattr(route, "path", "")
            if path.startswith("/api/vaults/{") and "GET" in getattr(route, "methods", ()):
                paths.append(path.replace("{vault_id}", str(vault.id)))
        for path in dict.fromkeys(paths):
            if "{" in path:
                continue
            r = http.get(path)
            api.append(f"{path} {r.status_code} {r.text}")
    haystacks["api responses"] = "\n".join(api)
    assert "dn-live" in haystacks["api responses"]
    for where, text in haystacks.items():
        for form, needle in forms.items():
            assert needle not in text, f"{form} of the secret key found in {where}"
    db.dispose()
