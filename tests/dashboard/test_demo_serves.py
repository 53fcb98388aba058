"""`drift-engine demo` serves the dashboard: the real command in a subprocess, on a free
loopback port, a short replay; the API shows the two demo engines' vaults, each with one
active vault; SIGTERM stops it cleanly. A taken port is a clear error naming it."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.childproc import stop_child

DEMO = "from drift_engine.cli import app; app()"


class _Output:
    """Reads a subprocess's stdout in a thread: lines so far, and the first match of a
    pattern (the port the server bound itself, announced on stdout)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._proc = proc
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self.lines.append(line)

    def wait_for(self, pattern: str, deadline_s: float = 120.0) -> re.Match[str]:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            for line in list(self.lines):
                match = re.search(pattern, line)
                if match:
                    return match
            assert self._proc.poll() is None, "".join(self.lines)
            time.sleep(0.05)
        raise AssertionError(f"no line matched {pattern!r}: {''.join(self.lines)}")

    def text(self) -> str:
        self._thread.join(timeout=30)
        return "".join(self.lines)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFT_ENGINE_")}
    env.pop("DATABASE_URL", None)
    env["DRIFT_ENGINE_DATA_DIR"] = str(tmp_path / "var")
    env["COLUMNS"] = "200"
    return env


def _get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        return json.loads(response.read())


def _wait_for(url: str, proc: subprocess.Popen[str], ready, deadline_s: float = 120.0):
    """Poll `url` until `ready(body)` holds (the replay runs while we wait)."""
    deadline = time.monotonic() + deadline_s
    last: object = None
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited with {proc.returncode}"
        try:
            last = _get(url)
            if ready(last):
                return last
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never became ready; last answer {last!r}")


def test_demo_serves_the_dashboard_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            DEMO,
            "demo",
            "--port",
            "0",  # the demo binds a free port itself and prints it
            "--hours",
            "6",
            "--speed",
            "20000",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(tmp_path),
        cwd=tmp_path,
    )
    output = _Output(proc)
    try:
        port = int(output.wait_for(r"dashboard: http://127\.0\.0\.1:(\d+)/").group(1))
        base = f"http://127.0.0.1:{port}"
        health = _wait_for(f"{base}/api/health", proc, lambda h: h["db_ok"] and h["heartbeat_seq"])
        assert health["engines_total"] == 2
        vaults = _wait_for(
            f"{base}/api/vaults",
            proc,
            lambda v: {x["engine_id"] for x in v} >= {"dn-sol", "dn-btc"},
        )
        engine_vaults = [v for v in vaults if v["engine_id"] in ("dn-sol", "dn-btc")]
        assert sorted(v["engine_id"] for v in engine_vaults) == ["dn-btc", "dn-sol"]
        assert all(v["active"] and v["type"] == "VIRTUAL" for v in engine_vaults)
        names = {v["engine_id"]: v["engine_name"] for v in engine_vaults}
        assert names == {"dn-sol": "Delta-neutral SOL", "dn-btc": "Delta-neutral BTC"}
        # the replay ends after 6 simulated hours; the dashboard keeps serving
        _wait_for(f"{base}/api/health", proc, lambda h: h["heartbeat_sim_time"] >= "2025-06-01T06")
        assert _get(f"{base}/api/markets")
        stop_child(proc, signal.SIGTERM, output=output.text)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = output.text()
    assert proc.returncode == 0, out
    assert f"dashboard: http://127.0.0.1:{port}/" in out
    # the console says what is real: the bundled hourly records, funding and prices
    assert "SOL-PERP: funding REAL" in out and "BTC-PERP: funding REAL" in out
    assert "prices REAL (real (hourly oracle TWAP)" in out
    assert "demo stopped" in out
    # and so does every heartbeat row the dashboard reads the markets from
    from sqlalchemy import select

    from drift_engine.storage.database import Database
    from drift_engine.storage.models import HeartbeatRow

    db = Database.open(f"sqlite:///{tmp_path / 'var' / 'demo.db'}")
    try:
        with db.read() as session:
            state = session.scalars(
                select(HeartbeatRow.market_state)
                .where(HeartbeatRow.market_state.is_not(None))
                .order_by(HeartbeatRow.id.desc())
            ).first()
    finally:
        db.dispose()
    sources = state["SOL-PERP"]["data_sources"]
    assert sources["funding"].startswith("real: ") and sources["prices"].startswith("real: ")
    with socket.socket() as s:  # nothing listens on the port any more
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))


def test_demo_on_a_taken_port_fails_naming_it(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-c", DEMO, "demo", "--port", str(port), "--hours", "1"],
            capture_output=True,
            text=True,
            env=_env(tmp_path),
            cwd=tmp_path,
            timeout=120,
        )
    assert proc.returncode == 1  # a refusal: the arguments were fine, the port is not free
    out = proc.stdout + proc.stderr
    assert f"127.0.0.1:{port}" in out and "--port" in out
    assert "Traceback" not in out and len(out.strip().splitlines()) == 1
    assert not any(tmp_path.rglob("demo.db*"))  # checked before demo.db is reset
