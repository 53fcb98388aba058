"""The API's edges (issue #10): times that UTC cannot hold, optional parameters, the Host
header (DNS rebinding), security headers, and the cap on live streams."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from drift_engine.dashboard.app import create_app
from drift_engine.dashboard.reader import DashboardReader
from drift_engine.dashboard.server import DashboardServer

from .conftest import Scenario


# ---------------------------------------------------------------- query parameters
@pytest.mark.parametrize(
    "since",
    [
        "0001-01-01T00:00:00%2B14:00",  # year 0 once in UTC: OverflowError before the fix
        "9999-12-31T23:59:59-14:00",  # year 10000 once in UTC
    ],
)
def test_a_time_utc_cannot_hold_is_a_422_not_a_500(client: TestClient, scenario, since) -> None:
    vid = scenario.vaults["sol"]
    r = client.get(f"/api/vaults/{vid}/snapshots?since={since}")
    assert r.status_code == 422, r.text
    assert "out of range" in r.text


def test_since_in_any_offset_means_the_same_instant(client: TestClient, scenario) -> None:
    vid = scenario.vaults["sol"]
    everything = client.get(f"/api/vaults/{vid}/snapshots").json()["snapshots"]
    assert len(everything) >= 2
    second = everything[1]["at"]  # UTC, e.g. 2026-01-05T01:00:00Z
    utc = client.get(f"/api/vaults/{vid}/snapshots", params={"since": second}).json()
    shifted = second.replace("Z", "").replace("+00:00", "")
    hour = int(shifted[11:13])
    plus_two = f"{shifted[:11]}{hour + 2:02d}{shifted[13:]}+02:00"
    local = client.get(f"/api/vaults/{vid}/snapshots", params={"since": plus_two}).json()
    assert utc == local and len(utc["snapshots"]) == len(everything) - 1


def test_optional_query_parameters_are_not_declared_nullable(client: TestClient) -> None:
    """An optional parameter is absent or a value; declaring `null` (anyOf null) promised
    a value no client can send in a query string (null was answered 422)."""
    spec = client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        for op in ops.values():
            for param in op.get("parameters", []):
                if param["in"] == "query" and not param.get("required"):
                    text = str(param["schema"])
                    assert "'null'" not in text, (path, param["name"], text)


def test_optional_parameters_absent_still_mean_everything(client: TestClient, scenario) -> None:
    vid = scenario.vaults["sol"]
    assert client.get(f"/api/vaults/{vid}/ledger").status_code == 200
    assert client.get(f"/api/vaults/{vid}/snapshots").status_code == 200
    assert client.get(f"/api/vaults/{vid}/ledger?before=null").status_code == 422


# ---------------------------------------------------------------- Host header
def test_allowed_hosts_are_the_loopback_names_and_the_bound_host_with_the_port() -> None:
    from drift_engine.dashboard.protect import allowed_hosts

    hosts = allowed_hosts("127.0.0.1", 8123)
    assert {"127.0.0.1:8123", "localhost:8123", "[::1]:8123"} <= hosts
    assert "evil.example:8123" not in hosts and "127.0.0.1:8124" not in hosts
    assert "127.0.0.1" not in hosts  # no port: only on port 80
    assert "dash.lan:9000" in allowed_hosts("dash.lan", 9000)
    assert "[::1]:9000" in allowed_hosts("::1", 9000)


def test_a_page_on_another_name_cannot_read_balances(scenario: Scenario) -> None:
    """DNS rebinding: evil.example resolves to 127.0.0.1, the browser sends its own name."""
    app = create_app(DashboardReader(scenario.db))
    with DashboardServer(app) as server:
        good = httpx.get(f"{server.url}/api/vaults")
        assert good.status_code == 200 and good.json()
        for host in (f"evil.example:{server.port}", "127.0.0.1", f"127.0.0.1:{server.port + 1}"):
            bad = httpx.get(f"{server.url}/api/vaults", headers={"Host": host})
            assert bad.status_code == 421, (host, bad.text)
            assert "balance" not in bad.text and host.lower() in bad.text
        for host in (f"localhost:{server.port}", f"LOCALHOST:{server.port}"):
            assert httpx.get(f"{server.url}/api/vaults", headers={"Host": host}).is_success


def test_a_test_client_app_checks_the_hosts_it_is_given(scenario: Scenario) -> None:
    app = create_app(DashboardReader(scenario.db), hosts=["testserver"])
    with TestClient(app) as c:
        assert c.get("/api/health").status_code == 200
        assert c.get("/api/health", headers={"Host": "evil.example"}).status_code == 421


# ---------------------------------------------------------------- security headers
@pytest.mark.parametrize("path", ["/", "/api/vaults", "/static/app.js", "/docs", "/nope"])
def test_every_answer_carries_the_security_headers(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-eval" not in csp and "'unsafe-inline'" not in csp.split("style-src")[0]


def test_the_docs_page_runs_no_inline_script(client: TestClient) -> None:
    html = client.get("/docs").text
    assert '<script src="/static/docs.js"></script>' in html
    assert "<script>" not in html  # every script is a file the CSP allows
    assert client.get("/static/docs.js").status_code == 200


# ---------------------------------------------------------------- live streams
def test_live_streams_are_capped_with_a_clear_503(scenario: Scenario) -> None:
    app = create_app(DashboardReader(scenario.db), max_streams=2, poll_interval=0.05)
    with DashboardServer(app) as server:
        opened: list[httpx.Response] = []
        clients = [httpx.Client(timeout=10) for _ in range(3)]
        try:
            for c in clients[:2]:
                r = c.send(c.build_request("GET", f"{server.url}/api/stream"), stream=True)
                assert r.status_code == 200
                opened.append(r)
            third = clients[2].get(f"{server.url}/api/stream")
            assert third.status_code == 503
            assert "too many live streams" in third.json()["detail"]
            assert third.headers["retry-after"] == "5"
            opened.pop().close()  # a slot comes back when a stream ends
            deadline = time.monotonic() + 10
            while app.state.stream_slots.open > 1:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            again = clients[2].send(
                clients[2].build_request("GET", f"{server.url}/api/stream"), stream=True
            )
            assert again.status_code == 200
            again.close()
        finally:
            for r in opened:
                r.close()
            for c in clients:
                c.close()


# ---------------------------------------------------------------- binding
def test_a_taken_port_is_named_when_binding() -> None:
    from drift_engine.dashboard.server import PortInUseError, bind_socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"127.0.0.1:{port}"):
            bind_socket("127.0.0.1", port)


def test_a_server_can_start_on_a_socket_bound_earlier(scenario: Scenario) -> None:
    from drift_engine.dashboard.server import bind_socket

    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    app = create_app(DashboardReader(scenario.db))
    done = threading.Event()
    with DashboardServer(app, sock=sock) as server:
        assert server.port == port
        assert httpx.get(f"http://127.0.0.1:{port}/api/health").status_code == 200
        done.set()
    assert done.is_set()
