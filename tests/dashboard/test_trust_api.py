"""What the page's trust rests on, at the API and below it: liveness from run sessions
and the process table (not the stored state), the banner, the header counts, a spot
leg's cost from the fill log, and the CLI's warning when a control is queued with no
process to apply it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

from fastapi.testclient import TestClient

from drift_engine.dashboard.app import create_app
from drift_engine.dashboard.positions import spot_costs
from drift_engine.dashboard.reader import DashboardReader
from drift_engine.sessions import (
    FINISHED,
    RunSession,
    banner_text,
    engine_liveness,
    process_alive,
    read_sessions,
    source_kinds,
)

from .conftest import T0, Scenario


def _dead_child() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_process_alive_sees_self_dead_and_zombie_processes() -> None:
    assert process_alive(os.getpid())
    assert not process_alive(_dead_child())
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = 0
        while process_alive(zombie.pid) and deadline < 200:  # exits at once, unreaped
            deadline += 1
            subprocess.run([sys.executable, "-c", "import time; time.sleep(0.01)"], check=True)
        assert not process_alive(zombie.pid)  # a zombie is gone, though not reaped
    finally:
        zombie.wait()


def _session(scenario: Scenario, engines, **kw) -> RunSession:
    return RunSession.begin(
        scenario.db,
        kind=kw.pop("kind", "run"),
        engines=engines,
        speed=kw.pop("speed", 14_400.0),
        sim_start=int(T0.timestamp()),
        sim_end=int((T0 + timedelta(days=2)).timestamp()),
        data={"sources": {"funding": "real", "prices": "synthetic"}},
        **kw,
    )


def test_liveness_follows_the_process_not_the_stored_state(scenario: Scenario) -> None:
    ids = ["dn-sol", "dn-btc", "old-eth"]
    with scenario.db.read() as s:  # no session: the (fresh) heartbeat decides
        live = engine_liveness(s, ids, sessions=[], stale_after=1e12)
        assert {k: v.process for k, v in live.items()} == dict.fromkeys(ids, "running")
        live = engine_liveness(s, ids, sessions=[], stale_after=0)
        assert live["dn-sol"].describe().startswith("not running — last tick ")

    session = _session(scenario, ["dn-sol"])  # this very process runs dn-sol
    dead = _session(scenario, ["dn-btc"])
    with scenario.db.write() as s:  # dn-btc's runner was SIGKILLed: its row stays open
        from drift_engine.storage.models import RunSessionRow

        s.get(RunSessionRow, dead.id).pid = _dead_child()
    with scenario.db.read() as s:
        live = engine_liveness(s, ids, sessions=read_sessions(s), stale_after=1e12)
    assert live["dn-sol"].process == "running"
    assert live["dn-btc"].process == "not_running"  # though stored RUNNING, heartbeat fresh

    reader = DashboardReader(scenario.db, stale_after=1e12)
    with TestClient(create_app(reader)) as c:
        engines = {e["id"]: e for e in c.get("/api/engines").json()}
        assert engines["dn-btc"]["state"] == "RUNNING"
        assert engines["dn-btc"]["status"] == "NOT RUNNING"
        assert engines["dn-btc"]["liveness"].startswith("not running — last tick ")
        assert engines["dn-sol"]["status"] == "RUNNING"
        health = c.get("/api/health").json()
        assert health["engines_running"] == 1
        assert health["engine_summary"] == "1 running · 1 not running · 1 stopped"

    session.end(FINISHED)
    with TestClient(create_app(reader)) as c:
        sol = next(e for e in c.get("/api/engines").json() if e["id"] == "dn-sol")
        assert sol["status"] == "REPLAY FINISHED"
        assert sol["process"] == "finished"


def test_banner_says_sim_time_speed_sources_and_replay_finished(scenario: Scenario) -> None:
    session = _session(scenario, ["dn-sol", "dn-btc"])
    app = create_app(DashboardReader(scenario.db, stale_after=1e12))
    with TestClient(app) as c:
        run = c.get("/api/run").json()
        assert run["banner"] == (
            "Sim 2026-01-05 03:00 UTC · ×14,400 · funding REAL, prices SYNTHETIC"
        )
        assert run["data_sources"] == {"funding": "REAL", "prices": "SYNTHETIC"}
        assert run["replay"] == "running"
        assert run["controls_enabled"] is False
        assert "DRIFT_ENGINE_DASHBOARD_TOKEN" in run["controls_reason"] or (
            "no engine control" in run["controls_reason"]
        )
        session.end(FINISHED)
        run = c.get("/api/run").json()
        assert run["banner"].endswith(" · replay finished")
        assert run["replay"] == "finished"


def test_banner_prefers_the_heartbeats_data_labels() -> None:
    by_market = {
        "SOL-PERP": {"funding": "real: hourly (store)", "prices": "synthetic: bridge (seed 7)"},
        "BTC-PERP": {"funding": "real: hourly (store)", "prices": "real: TWAP (store)"},
    }
    kinds = source_kinds({"funding": "synthetic"}, by_market)
    assert kinds == {"funding": "REAL", "prices": "MIXED"}
    # a series no market names (the run-wide spot rates) comes from the run's record
    with_rates = source_kinds({"funding": "synthetic", "spot_rates": "assumed"}, by_market)
    assert with_rates == {"funding": "REAL", "prices": "MIXED", "spot_rates": "ASSUMED"}
    assert banner_text(None, 14_400, with_rates).endswith(
        "funding REAL, prices MIXED, spot rates ASSUMED"
    )
    assert banner_text(None, 1.0, kinds, mode="Live") == (
        "Live time unknown · real time · funding REAL, prices MIXED"
    )


def test_spot_cost_from_fills_average_cost_and_flip() -> None:
    def fill(base: int, quote: int) -> dict:
        return {"market_type": "spot", "market_index": 1, "base": base, "quote": quote}

    # buy 2 @ 100, buy 2 @ 110: 4 held for 420 USDC
    fills = [fill(2 * 10**9, -200 * 10**6), fill(2 * 10**9, -220 * 10**6)]
    assert spot_costs(fills) == {1: (4 * 10**9, 420 * 10**6)}
    # sell 1 @ 120: a quarter of the cost leaves with it (average cost)
    fills.append(fill(-(10**9), 120 * 10**6))
    assert spot_costs(fills) == {1: (3 * 10**9, 315 * 10**6)}
    # sell 5 @ 100: flat, then short 2 opened at 100 (received 200)
    fills.append(fill(-5 * 10**9, 500 * 10**6))
    assert spot_costs(fills) == {1: (-2 * 10**9, -200 * 10**6)}
    assert spot_costs([{"market_type": "perp", "market_index": 0, "base": 1, "quote": -1}]) == {}


def test_queued_control_with_no_process_warns(scenario: Scenario, tmp_path) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import update

    from drift_engine.storage.models import HeartbeatRow

    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    with scenario.db.write() as s:  # the last tick was an hour ago; no run session
        s.execute(update(HeartbeatRow).values(recorded_at=hour_ago))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFT_ENGINE_")}
    env["DATABASE_URL"] = str(scenario.db.url)
    done = subprocess.run(
        [sys.executable, "-c", "from drift_engine.cli import app; app()"]
        + ["engines", "pause", "dn-btc"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "pause queued for dn-btc"
    assert done.stderr.startswith("warning: no process runs dn-btc (not running — last tick ")
    assert "the next `drift-engine run` applies it at its first tick" in done.stderr
