"""The JSON API over a real database populated through the vault registry and engine store."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from drift_engine.dashboard.app import create_app
from drift_engine.dashboard.money import format_micro
from drift_engine.dashboard.reader import DashboardReader
from drift_engine.storage import Database

from .conftest import T0, TOKEN, USDC, Scenario, auth, get_fresh


def _money(m: dict, micro: int) -> None:
    assert m == {"micro": micro, "usdc": format_micro(micro)}


# ---------------------------------------------------------------- health
def test_health_reports_heartbeat_engines_and_db(client: TestClient) -> None:
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["db_ok"] is True
    assert body["engines_running"] == 2
    assert body["engines_total"] == 3
    assert body["heartbeat_seq"] == 1
    assert body["heartbeat_age_seconds"] >= 0
    assert body["heartbeat_sim_time"].startswith("2026-01-05T03:00:00")
    assert body["heartbeat_duration_ms"] == 12.5


def test_health_stale_and_empty_database(scenario: Scenario, database: Database) -> None:
    stale = create_app(DashboardReader(database, stale_after=0.0))
    with TestClient(stale) as c:
        assert c.get("/api/health").json()["status"] == "stale"


def test_health_without_any_engine_or_heartbeat(tmp_path) -> None:
    db = Database.open(f"sqlite:///{tmp_path / 'empty.db'}")
    with TestClient(create_app(DashboardReader(db))) as c:
        body = c.get("/api/health").json()
        assert body["status"] == "no_heartbeat"
        assert body["db_ok"] is True
        assert body["engines_total"] == 0
        assert c.get("/api/engines").json() == []
        assert c.get("/api/vaults").json() == []
        assert c.get("/api/engines/anything").status_code == 404
    db.dispose()


def test_health_db_error(tmp_path) -> None:
    db = Database.open(f"sqlite:///{tmp_path / 'gone.db'}")
    reader = DashboardReader(db)
    db.engine.dispose()
    (tmp_path / "gone.db").unlink()
    (tmp_path / "gone.db").mkdir()  # a directory where the file was: every query fails
    with TestClient(create_app(reader)) as c:
        body = c.get("/api/health").json()
    assert body["status"] == "db_error"
    assert body["db_ok"] is False


# ---------------------------------------------------------------- engines
def test_engines_list(client: TestClient, scenario: Scenario) -> None:
    engines = {e["id"]: e for e in client.get("/api/engines").json()}
    assert set(engines) == {"dn-sol", "dn-btc", "old-eth"}
    sol = engines["dn-sol"]
    assert sol["name"] == "delta-neutral SOL"
    assert sol["state"] == "RUNNING"
    assert sol["mode"] == "PAPER"
    assert sol["strategy"] == "delta_neutral"
    assert sol["active"] is True
    assert sol["active_vault_id"] == str(scenario.vaults["sol"])
    assert engines["old-eth"]["active"] is False
    assert engines["old-eth"]["state"] == "STOPPED"


def test_engine_detail(client: TestClient, scenario: Scenario) -> None:
    body = client.get("/api/engines/dn-sol").json()
    assert body["name"] == "delta-neutral SOL"
    assert body["strategy_config"] == {"market": "SOL-PERP", "target_leverage": 2.0}
    _money(body["high_water_mark"], 10_050 * USDC)
    assert body["margin"]["health"] == 87
    positions = {p["market"]: p for p in body["positions"]}
    assert positions["SOL-PERP"]["side"] == "short"
    assert positions["SOL-PERP"]["size"] == "-50"
    assert positions["SOL-PERP"]["entry_price"] == "100.0000"
    assert positions["SOL"]["side"] == "long"
    assert positions["SOL"]["size"] == "50"
    vaults = {v["name"]: v for v in body["vaults"]}
    assert set(vaults) == {"sol-v1", "sol-v2", "sol-chain"}
    assert [v["name"] for v in body["vaults"] if v["active"]] == ["sol-v2"]


def test_engine_unknown_is_404_with_message(client: TestClient) -> None:
    r = client.get("/api/engines/nope")
    assert r.status_code == 404
    assert r.json() == {"detail": "no engine with id 'nope'"}


# ---------------------------------------------------------------- vaults
def test_vaults_money_is_exact(client: TestClient, scenario: Scenario) -> None:
    vaults = {v["name"]: v for v in client.get("/api/vaults").json()}
    assert set(vaults) == {"treasury", "sol-v1", "sol-v2", "btc-main", "eth-main", "sol-chain"}
    sol = vaults["sol-v2"]
    exp = scenario.expected
    assert sol["type"] == "VIRTUAL"
    assert sol["engine_id"] == "dn-sol"
    assert sol["engine_name"] == "delta-neutral SOL"
    assert sol["active"] is True
    _money(sol["balance"], exp["sol_balance"])
    _money(sol["equity"], exp["sol_equity"])
    _money(sol["funding"], exp["sol_funding"])
    _money(sol["fees"], exp["sol_fees"])
    _money(sol["pnl"], exp["sol_pnl"])
    _money(sol["interest"], 111)
    _money(sol["unrealized_pnl"], -40 * USDC)
    assert sol["balance"]["usdc"] == "4999.450111"
    assert sol["health"] == 87
    assert vaults["sol-v1"]["active"] is False
    _money(vaults["btc-main"]["balance"], exp["btc_balance"])
    chain = vaults["sol-chain"]
    assert chain["type"] == "ON_CHAIN"
    assert chain["sub_account_id"] == 1
    assert chain["authority"].startswith("9xQe")
    # money never travels as a float
    for v in vaults.values():
        for key in ("balance", "equity", "pnl", "funding", "fees", "interest"):
            assert isinstance(v[key]["micro"], int)
            assert isinstance(v[key]["usdc"], str)


def test_ledger_paging_newest_first(client: TestClient, scenario: Scenario) -> None:
    vid = scenario.vaults["sol"]
    first = client.get(f"/api/vaults/{vid}/ledger", params={"limit": 3}).json()
    assert [e["kind"] for e in first["entries"]] == ["interest", "funding", "funding"]
    assert first["next_before"] == first["entries"][-1]["id"]
    rest = client.get(
        f"/api/vaults/{vid}/ledger", params={"limit": 50, "before": first["next_before"]}
    ).json()
    kinds = [e["kind"] for e in rest["entries"]]
    assert kinds == ["funding", "fill", "fill", "transfer_in"]
    assert rest["next_before"] is None
    ids = [e["id"] for e in first["entries"] + rest["entries"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 7
    fill = rest["entries"][2]
    _money(fill["amount"], -5_000 * USDC)
    _money(fill["fee"], 2_500_000)
    _money(fill["net"], -5_002_500_000)
    assert fill["idempotency_key"] == "fill:s1"
    # every entry's net sums to the balance
    assert (
        sum(e["net"]["micro"] for e in first["entries"] + rest["entries"])
        == (scenario.expected["sol_balance"])
    )


def test_snapshots_series_with_cumulative_funding(client: TestClient, scenario: Scenario) -> None:
    vid = scenario.vaults["sol"]
    body = client.get(f"/api/vaults/{vid}/snapshots").json()
    points = body["snapshots"]
    assert len(points) == 3
    assert [p["health"] for p in points] == [90, 88, 87]
    # funding booked by each snapshot time (00:30, 02:30, 03:30)
    assert [p["funding_cumulative"]["micro"] for p in points] == [
        0,
        1_234_567 + 2_000_001,
        scenario.expected["sol_funding"],
    ]
    _money(points[-1]["equity"], scenario.expected["sol_equity"])
    since = (T0 + timedelta(hours=2)).isoformat()
    later = client.get(f"/api/vaults/{vid}/snapshots", params={"since": since}).json()
    assert len(later["snapshots"]) == 2


@pytest.mark.parametrize("path", ["ledger", "snapshots"])
@pytest.mark.parametrize("vault_id", ["999999", "abc", "-1", "0"])
def test_unknown_vault_is_404(client: TestClient, path: str, vault_id: str) -> None:
    r = client.get(f"/api/vaults/{vault_id}/{path}")
    assert r.status_code == 404
    assert r.json()["detail"] == f"no vault with id {vault_id!r}"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("ledger", {"limit": 0}),
        ("ledger", {"limit": 501}),
        ("ledger", {"limit": "ten"}),
        ("ledger", {"before": 0}),
        ("ledger", {"before": "x"}),
        ("snapshots", {"since": "yesterday"}),
        ("snapshots", {"limit": 0}),
    ],
)
def test_bad_query_values_are_422(
    client: TestClient, scenario: Scenario, path: str, params: dict
) -> None:
    r = client.get(f"/api/vaults/{scenario.vaults['sol']}/{path}", params=params)
    assert r.status_code == 422


# ---------------------------------------------------------------- markets
def test_markets_without_a_feed_is_empty(client: TestClient) -> None:
    assert client.get("/api/markets").json() == []


def test_markets_from_the_engines_market_board(scenario: Scenario) -> None:
    from drift_engine.engine.market_board import MarketBoard

    board = MarketBoard(["SOL-PERP", "BTC-PERP"])
    board.set_price("SOL-PERP", 150_250_000, ts=100)
    for hour in range(24):
        board.add_funding("SOL-PERP", 3600 * hour, 0.00001)
    board.add_funding("SOL-PERP", 3600 * 24, 0.00002)
    reader = DashboardReader(scenario.db, markets=board.snapshots)
    with TestClient(create_app(reader)) as c:
        markets = {m["symbol"]: m for m in c.get("/api/markets").json()}
        sol = markets["SOL-PERP"]
        assert sol["oracle_price"] == "150.25"
        assert sol["funding_rate_hourly"] == "0.00002"
        assert sol["funding_apr"] == pytest.approx(17.52)
        assert sol["funding_apr_24h"] == pytest.approx((23 * 0.00001 + 0.00002) / 24 * 8760 * 100)
        assert markets["BTC-PERP"]["oracle_price"] is None
        # positions are marked at the board's oracle
        detail = c.get("/api/engines/dn-sol").json()
        perp = next(p for p in detail["positions"] if p["market"] == "SOL-PERP")
        assert perp["oracle_price"] == "150.25"
        assert perp["notional"]["micro"] == -50 * 150_250_000
        assert perp["unrealized_pnl"]["micro"] == -50 * 150_250_000 + 5_000 * USDC
        assert detail["margin"]["leverage"] == pytest.approx(
            2 * 50 * 150.25 / (scenario.expected["sol_equity"] / USDC), rel=1e-4
        )


# ---------------------------------------------------------------- control
@pytest.mark.parametrize("action", ["start", "pause", "stop", "kill"])
def test_control_needs_the_token(client: TestClient, action: str) -> None:
    r = client.post(f"/api/engines/dn-sol/{action}")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    r = client.post(f"/api/engines/dn-sol/{action}", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    assert r.json()["detail"].startswith("wrong bearer token: enter the value of ")
    r = client.post(f"/api/engines/dn-sol/{action}", headers={"Authorization": f"Basic {TOKEN}"})
    assert r.status_code == 401


def test_control_queues_the_command_for_the_engine_process(
    client: TestClient, scenario: Scenario
) -> None:
    r = client.post("/api/engines/dn-btc/stop", headers=auth())
    assert r.status_code == 200
    body = r.json()
    assert body.pop("message").startswith("stop queued for delta-neutral BTC")
    assert body == {
        "engine_id": "dn-btc",
        "action": "stop",
        "state": "RUNNING",
        "pending": True,
    }
    assert client.get("/api/engines/dn-btc").json()["pending_command"] == "stop"
    from drift_engine.engine.commands import CommandQueue

    (queued,) = CommandQueue(scenario.db).pending(["dn-btc"])
    assert (queued.kind, queued.source) == ("stop", "dashboard")


def test_control_unknown_engine_is_404(client: TestClient) -> None:
    r = client.post("/api/engines/nope/pause", headers=auth())
    assert r.status_code == 404
    assert r.json() == {"detail": "no engine with id 'nope'"}


def test_control_without_a_configured_token_is_always_401(scenario: Scenario) -> None:
    from drift_engine.dashboard.control import QueuedEngineControl

    app = create_app(DashboardReader(scenario.db), control=QueuedEngineControl(scenario.store))
    with TestClient(app) as c:
        r = c.post("/api/engines/dn-sol/stop", headers=auth())
    assert r.status_code == 401
    detail = r.json()["detail"]
    assert "no dashboard token configured" in detail
    assert "DRIFT_ENGINE_DASHBOARD_TOKEN" in detail  # the refusal says how to fix it


def test_control_read_only_dashboard_is_503(scenario: Scenario) -> None:
    app = create_app(DashboardReader(scenario.db), token=TOKEN)
    with TestClient(app) as c:
        assert c.post("/api/engines/dn-sol/stop", headers=auth()).status_code == 503


def test_control_rejected_is_409(scenario: Scenario) -> None:
    from drift_engine.dashboard.control import ControlRejectedError

    class Refuses:
        def control(self, engine_id: str, action: str) -> str:
            raise ControlRejectedError(f"{engine_id} is HALTED: reset before {action}")

    app = create_app(DashboardReader(scenario.db), control=Refuses(), token=TOKEN)
    with TestClient(app) as c:
        r = c.post("/api/engines/dn-sol/stop", headers=auth())
        assert r.status_code == 409
        assert r.json()["detail"] == (
            "cannot stop delta-neutral SOL: dn-sol is HALTED: reset before stop"
        )
        # an action the engine's state makes pointless is refused before it is queued
        r = c.post("/api/engines/dn-sol/start", headers=auth())
        assert r.status_code == 409
        assert r.json()["detail"] == (
            "cannot start delta-neutral SOL: already RUNNING: nothing to start"
        )


# ---------------------------------------------------------------- page, docs, stream
def test_page_and_assets_are_local(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    for ref in (
        "/static/app.js",
        "/static/app.css",
        "/static/vendor/uplot/uPlot.iife.min.js",
        "/static/vendor/uplot/uPlot.min.css",
    ):
        assert ref in page.text
        assert client.get(ref).status_code == 200
    assert "http://" not in page.text and "https://" not in page.text
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert client.get(f"/static/vendor/swagger-ui/{asset}").status_code == 200
    spec = client.get("/openapi.json").json()
    for path in (
        "/api/health",
        "/api/engines",
        "/api/engines/{engine_id}",
        "/api/vaults",
        "/api/vaults/{vault_id}/ledger",
        "/api/vaults/{vault_id}/snapshots",
        "/api/markets",
        "/api/stream",
        "/api/engines/{engine_id}/kill",
    ):
        assert path in spec["paths"]


def test_vault_list_cache_never_serves_stale_figures(
    client: TestClient, scenario: Scenario
) -> None:
    def sol() -> dict:  # the answer once the refresh a write starts has landed
        return next(v for v in get_fresh(client, "/api/vaults").json() if v["name"] == "sol-v2")

    before = sol()
    assert sol() == before  # a cache hit answers the same
    scenario.registry.ledger.book_funding(
        "dn-sol", scenario.vaults["sol"], market_index=0, funding_ts=1_900_000_000, amount=7
    )
    after_booking = sol()
    assert after_booking["funding"]["micro"] == before["funding"]["micro"] + 7
    assert after_booking["balance"]["micro"] == before["balance"]["micro"] + 7
    scenario.registry.snapshots.record(
        "dn-sol",
        scenario.vaults["sol"],
        position_value=1,
        unrealized_pnl=1,
        health=42,
        taken_at=T0 + timedelta(days=1),
    )
    after_snapshot = sol()
    assert after_snapshot["health"] == 42
    assert after_snapshot["equity"]["micro"] == after_snapshot["balance"]["micro"] + 1
    scenario.registry.set_active(scenario.vaults["sol_old"])
    by_name = {v["name"]: v for v in get_fresh(client, "/api/vaults").json()}
    assert by_name["sol-v1"]["active"] is True
    assert by_name["sol-v2"]["active"] is False
    assert client.get("/api/engines/dn-sol").json()["active_vault_id"] == str(
        scenario.vaults["sol_old"]
    )


def test_engine_detail_uses_persisted_margin_and_risk_limits(
    client: TestClient, scenario: Scenario
) -> None:
    """When the engine persists its margin metrics and risk limits in its record's `extra`
    (DriftMarginMetrics fields, Drift precisions), the risk panel shows them."""
    record = scenario.store.load("dn-sol")
    record.extra = {
        **record.extra,
        "risk_limits": {"health_floor": 25, "max_leverage": 3.0},
        "margin": {
            "health": 61,
            "leverage": 18_500,  # 1.85x in 1e4 precision
            "total_collateral": 9_990 * USDC,
            "free_collateral": 4_000 * USDC,
            "maintenance_margin_requirement": 1_234 * USDC,
            "position_risks": [
                {"market_index": 0, "liquidation_price": 160_000_000, "oracle_price": 100_000_000},
                {"market_index": 1, "liquidation_price": None, "oracle_price": 100_000_000},
            ],
        },
    }
    scenario.store.save(record)
    body = client.get("/api/engines/dn-sol").json()
    assert body["risk_limits"] == {"health_floor": 25, "max_leverage": 3.0}
    m = body["margin"]
    assert m["health"] == 61
    assert m["leverage"] == 1.85
    _money(m["total_collateral"], 9_990 * USDC)
    _money(m["free_collateral"], 4_000 * USDC)
    _money(m["maintenance_margin"], 1_234 * USDC)
    assert m["liquidation_distance_pct"] == 60.0


def test_a_stale_on_chain_vault_is_flagged_and_clears(
    client: TestClient, scenario: Scenario
) -> None:
    """Issue 7: a failed chain read marks the ON_CHAIN vault stale on the dashboard."""
    from datetime import UTC, datetime

    chain_id = scenario.vaults["chain"]
    since = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    before = {v["name"]: v for v in client.get("/api/vaults").json()}
    assert before["sol-chain"]["stale"] is False

    scenario.registry.sync_status.mark_stale(chain_id, "getMultipleAccounts: HTTP 429", since)
    vaults = {v["name"]: v for v in get_fresh(client, "/api/vaults").json()}
    assert vaults["sol-chain"]["stale"] is True
    assert vaults["sol-chain"]["stale_reason"] == "getMultipleAccounts: HTTP 429"
    assert vaults["sol-chain"]["stale_since"].startswith("2026-01-02T03:04:05")
    assert vaults["sol-chain"]["balance"] == before["sol-chain"]["balance"]  # nothing booked
    assert not any(v["stale"] for name, v in vaults.items() if name != "sol-chain")

    scenario.registry.sync_status.mark_fresh(chain_id, slot=10, at=since)
    after = {v["name"]: v for v in get_fresh(client, "/api/vaults").json()}
    assert after["sol-chain"]["stale"] is False and after["sol-chain"]["stale_reason"] is None
