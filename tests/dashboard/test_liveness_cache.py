"""`/api/engines` and `/api/health` keep what they read from the database (ADR-0020) and
add the wall clock's part per request: the answer must be byte for byte the uncached one
at every moment, follow the wall clock without a database change (a heartbeat going
stale, a lease expiring, a runner process dying), and follow every database change (a
new heartbeat, a state change)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from fastapi.encoders import jsonable_encoder
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from drift_engine.dashboard.app import create_app
from drift_engine.dashboard.reader import DashboardReader
from drift_engine.dashboard.schemas import EngineSummaryOut, HealthOut
from drift_engine.dashboard.server import bind_socket
from drift_engine.sessions import RUNNING, this_host
from drift_engine.storage.models import LeaseRow, RunSessionRow

from .conftest import T0, Scenario, _record, get_fresh

ENGINES = TypeAdapter(list[EngineSummaryOut])
HEALTH = TypeAdapter(HealthOut)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _uncached(scenario: Scenario, clock: Clock, stale_after: float) -> tuple[bytes, bytes]:
    """The answers computed from scratch by a reader of its own (no cache)."""
    reader = DashboardReader(scenario.db, stale_after=stale_after, clock=clock)
    return ENGINES.dump_json(reader.list_engines()), HEALTH.dump_json(reader.health())


def _recorded_heartbeat(scenario: Scenario) -> datetime:
    row = scenario.store.heartbeats(1)[-1]
    return datetime.fromisoformat(row.recorded_at)


def test_cached_answers_equal_the_uncached_ones_as_the_wall_clock_moves(
    scenario: Scenario, monkeypatch
) -> None:
    beat = _recorded_heartbeat(scenario)
    clock = Clock(beat + timedelta(seconds=5))
    reader = DashboardReader(scenario.db, stale_after=60.0, clock=clock)
    reads = []
    original = reader.engines_read

    def counted():
        reads.append(1)
        return original()

    monkeypatch.setattr(reader, "engines_read", counted)
    with TestClient(create_app(reader)) as c:
        seen = []
        for seconds in (5, 30, 61, 600, 7_200):
            clock.now = beat + timedelta(seconds=seconds)
            engines, health = c.get("/api/engines"), c.get("/api/health")
            want_engines, want_health = _uncached(scenario, clock, 60.0)
            assert engines.content == want_engines, seconds
            assert health.content == want_health, seconds
            # the same JSON FastAPI's own serialisation of the models gives
            assert engines.json() == jsonable_encoder(
                DashboardReader(scenario.db, stale_after=60.0, clock=clock).list_engines()
            )
            seen.append((health.json()["status"], health.json()["engines_running"]))
    # the heartbeat went stale with no database change, and the engines stopped counting
    assert seen[0] == ("ok", 2) and seen[1] == ("ok", 2)
    assert seen[2] == ("stale", 0) and seen[-1] == ("stale", 0)
    assert len(reads) == 1  # read once: the rest was the wall clock's part


def test_a_new_heartbeat_or_state_change_is_served_once_its_refresh_lands(
    scenario: Scenario,
) -> None:
    clock = Clock(_recorded_heartbeat(scenario) + timedelta(seconds=1))
    reader = DashboardReader(scenario.db, stale_after=1e12, clock=clock)
    with TestClient(create_app(reader)) as c:
        assert c.get("/api/health").json()["heartbeat_seq"] == 1
        assert c.get("/api/health").json()["heartbeat_seq"] == 1  # kept
        scenario.store.record_heartbeat(int((T0 + timedelta(hours=4)).timestamp()), 3.0, 1, 2, [])
        body = get_fresh(c, "/api/health").json()
        assert body["heartbeat_seq"] == 2
        assert body["heartbeat_sim_time"].startswith("2026-01-05T04:00:00")
        scenario.store.save(
            _record("dn-btc", "delta-neutral BTC", "paused", scenario.vaults["btc"])
        )
        engines = {e["id"]: e for e in get_fresh(c, "/api/engines").json()}
        assert engines["dn-btc"]["state"] == "PAUSED"
        assert c.get("/api/health").json()["engine_counts"].get("paused") == 1
        want_engines, want_health = _uncached(scenario, clock, 1e12)
        assert c.get("/api/engines").content == want_engines
        assert c.get("/api/health").content == want_health


def test_lease_expiry_and_a_dead_runner_show_without_a_database_change(
    scenario: Scenario,
) -> None:
    clock = Clock(_recorded_heartbeat(scenario) + timedelta(seconds=1))
    now_ms = int(clock.now.timestamp() * 1000)
    started = datetime.now(UTC) - timedelta(seconds=5)
    runner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with scenario.db.write() as s:
            s.add(
                LeaseRow(
                    name="engine:dn-sol",
                    holder=f"{this_host()}:{runner.pid}",
                    host=this_host(),
                    pid=runner.pid,
                    holder_started_ms=now_ms - 5_000,
                    acquired_ms=now_ms - 5_000,
                    renewed_ms=now_ms,
                    expires_at_ms=now_ms + 30_000,
                )
            )
            s.add(
                RunSessionRow(
                    kind="run",
                    host=this_host(),
                    pid=runner.pid,
                    started_at=started,
                    status=RUNNING,
                    engines=["dn-sol"],
                    data={},
                    controls=False,
                )
            )
        reader = DashboardReader(scenario.db, stale_after=1e12, clock=clock)
        with TestClient(create_app(reader)) as c:
            sol = next(e for e in c.get("/api/engines").json() if e["id"] == "dn-sol")
            assert sol["runner"]["pid"] == runner.pid and sol["process"] == "running"
            clock.now += timedelta(seconds=31)  # the lease expired; nothing was written
            sol = next(e for e in c.get("/api/engines").json() if e["id"] == "dn-sol")
            assert sol["runner"] is None and sol["process"] == "running"
            runner.kill()
            runner.wait()
            sol = next(e for e in c.get("/api/engines").json() if e["id"] == "dn-sol")
            assert sol["process"] == "not_running" and sol["status"] == "NOT RUNNING"
            assert c.get("/api/engines").content == _uncached(scenario, clock, 1e12)[0]
    finally:
        runner.kill()
        runner.wait()


def test_accepted_dashboard_connections_have_tcp_nodelay() -> None:
    """The listening socket names IPPROTO_TCP, so asyncio sets TCP_NODELAY on each
    accepted connection (no Nagle + delayed-ACK wait on small answers)."""
    seen: list[int] = []

    async def main() -> None:
        sock = bind_socket("127.0.0.1", 0)
        port = sock.getsockname()[1]
        done = asyncio.Event()

        class Proto(asyncio.Protocol):
            def connection_made(self, transport) -> None:  # type: ignore[override]
                conn = transport.get_extra_info("socket")
                seen.append(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()
                done.set()

        server = await asyncio.get_running_loop().create_server(Proto, sock=sock)
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.wait_for(done.wait(), 10)
        writer.close()
        server.close()
        await server.wait_closed()

    asyncio.run(main())
    assert seen and seen[0] != 0
