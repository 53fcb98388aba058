"""SSE pushes on each heartbeat; the real server binds loopback and refuses unsafe binds."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from drift_engine.dashboard.app import create_app
from drift_engine.dashboard.control import QueuedEngineControl
from drift_engine.dashboard.reader import DashboardReader
from drift_engine.dashboard.server import (
    DashboardServer,
    UnsafeBindError,
    check_bind,
    is_loopback,
)

from .conftest import TOKEN, Scenario, auth

REPO = Path(__file__).resolve().parents[2]


def _read_events(url: str, out: queue.Queue, stop: threading.Event) -> None:
    with (
        httpx.Client(timeout=httpx.Timeout(10.0, read=30.0)) as client,
        client.stream("GET", url) as response,
    ):
        out.put(("status", response.status_code, response.headers["content-type"]))
        event = None
        for line in response.iter_lines():
            if stop.is_set():
                return
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event:
                out.put((event, line.removeprefix("data: ")))
                event = None


def _next(out: queue.Queue, timeout: float = 10.0) -> tuple:
    return out.get(timeout=timeout)


def test_stream_pushes_on_each_heartbeat_and_on_control(scenario: Scenario) -> None:
    reader = DashboardReader(scenario.db, stale_after=1e12)
    app = create_app(
        reader, control=QueuedEngineControl(scenario.store), token=TOKEN, poll_interval=0.1
    )
    out: queue.Queue = queue.Queue()
    stop = threading.Event()
    with DashboardServer(app) as server:
        reader_thread = threading.Thread(
            target=_read_events, args=(f"{server.url}/api/stream", out, stop), daemon=True
        )
        reader_thread.start()
        assert _next(out) == ("status", 200, "text/event-stream; charset=utf-8")
        kind, data = _next(out)  # the current state, at once
        assert kind == "heartbeat" and '"heartbeat_seq":1' in data

        def sol_funding() -> int:
            vaults = httpx.get(f"{server.url}/api/vaults").json()
            return next(v for v in vaults if v["name"] == "sol-v2")["funding"]["micro"]

        funding = sol_funding()  # kept reads exist from here on
        for seq in (2, 3):
            scenario.store.record_heartbeat(1_800_000_000 + seq, 1.0, 0, 2, [])
            kind, data = _next(out)
            assert kind == "heartbeat"
            assert f'"heartbeat_seq":{seq}' in data
            # an event is sent once the hot endpoints' kept reads include what it
            # announces: the page's requests that follow it get it (jsoncache.py)
            assert httpx.get(f"{server.url}/api/health").json()["heartbeat_seq"] == seq
        scenario.registry.ledger.book_funding(
            "dn-sol", scenario.vaults["sol"], market_index=0, funding_ts=1_900_000_000, amount=7
        )
        assert _next(out)[0] == "change"
        assert sol_funding() == funding + 7
        r = httpx.post(f"{server.url}/api/engines/dn-btc/pause", headers=auth())
        assert r.status_code == 200
        kind, _ = _next(out)
        assert kind == "change"  # the queued command changed the engine's record
        stop.set()
        scenario.store.record_heartbeat(1_800_000_100, 1.0, 0, 2, [])  # unblocks the reader
        reader_thread.join(5)


def test_server_binds_loopback_on_a_free_port(scenario: Scenario) -> None:
    app = create_app(DashboardReader(scenario.db))
    with DashboardServer(app) as server:
        assert server.host == "127.0.0.1"
        assert server.port > 0
        assert httpx.get(f"{server.url}/api/health").json()["db_ok"] is True
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/api/health", timeout=2)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("example.org", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_non_loopback_bind_needs_a_token() -> None:
    with pytest.raises(UnsafeBindError, match="refusing to bind 0.0.0.0"):
        check_bind("0.0.0.0", None)
    check_bind("0.0.0.0", "a-token")  # allowed with a token
    check_bind("127.0.0.1", None)


def test_dashboard_command_refuses_a_public_bind_without_token(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from drift_engine.cli import app

    result = CliRunner().invoke(
        app,
        [
            "dashboard",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--database-url",
            f"sqlite:///{tmp_path}/x.db",
        ],
    )
    assert result.exit_code == 2
    assert "refusing to bind 0.0.0.0" in result.output
    assert not (tmp_path / "x.db").exists()  # refused before touching anything


def test_run_dashboard_serves_an_existing_database(scenario: Scenario, tmp_path: Path) -> None:
    url = str(scenario.db.url)
    proc = subprocess.Popen(  # port 0: the server binds a free port and prints it (no race)
        [sys.executable, str(REPO / "run_dashboard.py"), "--port", "0", "--database-url", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("drift-engine dashboard: http://127.0.0.1:"), proc.stderr.read()
        base = line.removeprefix("drift-engine dashboard: ").rstrip("/")
        deadline = time.monotonic() + 60
        while True:
            try:
                vaults = httpx.get(f"{base}/api/vaults", timeout=2).json()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, proc.stderr.read()
                time.sleep(0.1)
        by_name = {v["name"]: v for v in vaults}
        assert by_name["sol-v2"]["balance"]["micro"] == scenario.expected["sol_balance"]
        engines = httpx.get(f"{base}/api/engines").json()
        assert {e["name"] for e in engines if e["active"]} == {
            "delta-neutral SOL",
            "delta-neutral BTC",
        }
    finally:
        proc.terminate()
        proc.wait(10)


def test_token_comes_from_settings_dashboard_token() -> None:
    from pydantic import BaseModel, SecretStr

    from drift_engine.dashboard.run import resolve_token

    class WithToken(BaseModel):
        dashboard_token: SecretStr | None = None

    assert resolve_token(WithToken(dashboard_token=SecretStr("s3cret"))) == "s3cret"
    assert resolve_token(WithToken()) is None
    assert resolve_token(WithToken(dashboard_token=SecretStr(""))) is None
    assert resolve_token(object()) is None  # a Settings without the field: no token
