"""`drift-engine run` and its dashboard (issue #10): a taken port fails at once, naming
it, before anything is written (it used to print the URL and exit 0 while the dashboard
thread died); `[dashboard] host/port` are what is served; `--port` overrides the port."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from drift_engine.cli import app

CONFIG = """
[data]
speed = {speed}
[dashboard]
{serve}host = "127.0.0.1"
port = {port}
[[engines]]
id = "dn-sol"
[engines.params]
market = "SOL-PERP"
"""


def _config(tmp_path: Path, *, serve: bool = False, port: int = 8765, speed: str = "1e9"):
    path = tmp_path / "engines.toml"
    serve_line = "serve = true\n" if serve else ""  # absent: the default, false
    path.write_text(CONFIG.format(serve=serve_line, port=port, speed=speed))
    return path


def test_a_taken_port_fails_naming_it_and_creates_no_database(tmp_path, monkeypatch) -> None:
    var = tmp_path / "var"
    monkeypatch.setenv("DRIFT_ENGINE_DATA_DIR", str(var))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        config = _config(tmp_path)
        result = CliRunner().invoke(
            app, ["run", "-c", str(config), "--port", str(port), "--hours", "1"]
        )
        from_config = CliRunner().invoke(
            app, ["run", "-c", str(_config(tmp_path, serve=True, port=port))]
        )
    assert result.exit_code == 1, result.output
    assert result.output.strip() == (
        f"error: cannot serve the dashboard on 127.0.0.1:{port}: Address already in use (--port)"
    )
    assert from_config.exit_code == 1 and "(dashboard.port)" in from_config.output
    assert not var.exists()  # refused before the database (or its directory) existed


def test_the_config_host_and_port_are_what_run_serves(tmp_path, monkeypatch) -> None:
    """`[dashboard] serve = true`: run binds `[dashboard] host:port` (recorded here, then
    bound on a free port so the test cannot collide with anything)."""
    import drift_engine.dashboard.run as dashboard_run

    asked: list[tuple[str, int]] = []
    real_bind = dashboard_run.bind_socket

    def recording_bind(host: str, port: int) -> socket.socket:
        asked.append((host, port))
        return real_bind(host, 0)

    monkeypatch.setattr(dashboard_run, "bind_socket", recording_bind)
    monkeypatch.setenv("DRIFT_ENGINE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = CliRunner().invoke(
        app, ["run", "-c", str(_config(tmp_path, serve=True, port=45_678)), "--hours", "0.1"]
    )
    assert result.exit_code == 0, result.output
    assert asked == [("127.0.0.1", 45_678)]
    assert re.search(r"dashboard: http://127\.0\.0\.1:\d+/", result.output)
    quiet = CliRunner().invoke(app, ["run", "-c", str(_config(tmp_path)), "--hours", "0.1"])
    assert quiet.exit_code == 0 and "dashboard:" not in quiet.output  # serve = false
    assert asked == [("127.0.0.1", 45_678)]


def test_run_port_serves_the_dashboard_while_the_engines_run(tmp_path) -> None:
    """`--port 0`: the OS picks a free port and run prints it; the dashboard answers
    while the engines run, over the database they write."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith("DRIFT_ENGINE_") and k != "DATABASE_URL"
    }
    env["DRIFT_ENGINE_DATA_DIR"] = str(tmp_path / "var")
    config = _config(tmp_path, speed="600")  # 6 data-minutes a wall second
    proc = subprocess.Popen(
        [sys.executable, "-m", "drift_engine.cli", "run", "-c", str(config), "--port", "0",
         "--hours", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            found = re.search(r"dashboard: (http://127\.0\.0\.1:\d+)/", line)
            url = found.group(1) if found else None
        assert url is not None
        health = httpx.get(f"{url}/api/health", timeout=10)
        assert health.status_code == 200 and health.json()["db_ok"] is True
        engines = httpx.get(f"{url}/api/engines", timeout=10).json()
        assert [e["id"] for e in engines] == ["dn-sol"]
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "done" in out
