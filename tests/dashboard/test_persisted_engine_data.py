"""What the dashboard shows about an engine comes from the database alone: a real
PaperStack run writes the engines' names, risk limits and margin metrics (with position
risks) into their records and the market state into each heartbeat row; a dashboard in
another "process" (a fresh Database and reader, no in-process market feed) shows them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from fastapi.testclient import TestClient

from drift_engine.dashboard.app import create_app
from drift_engine.dashboard.reader import DashboardReader
from drift_engine.risk import RiskLimits
from drift_engine.storage import Database

from .paper_engines import BTC_ENGINE, SOL_ENGINE, PaperEngines

NAMES = {SOL_ENGINE: "Carry SOL", BTC_ENGINE: "Carry BTC"}
LIMITS = RiskLimits(health_floor=30, target_health=60, max_leverage=2.5)


def _write(url: str) -> dict[str, int]:
    """Six simulated hours of the two demo engines; the last oracle price per market."""
    db = Database.open(url)
    try:
        pe = PaperEngines(db, names=NAMES, limits=LIMITS)
        pe.warm_up(hours=6)
        for engine in pe.engines.values():
            engine.persist()
        return {s: snap.oracle_price for s, snap in pe.stack.board.snapshots().items()}
    finally:
        db.dispose()


def test_api_shows_persisted_names_limits_margin_and_markets(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'engines.db'}"
    prices = _write(url)

    db = Database.open(url)
    try:
        client = TestClient(create_app(DashboardReader(db)))  # no market feed attached
        engines = client.get("/api/engines").json()
        assert {e["id"]: e["name"] for e in engines} == NAMES

        btc = client.get(f"/api/engines/{BTC_ENGINE}").json()
        assert btc["name"] == "Carry BTC"
        assert btc["risk_limits"] == LIMITS.model_dump(mode="json")
        assert btc["positions"], "the BTC carry is entered after six hours of positive funding"
        margin = btc["margin"]
        assert 0 < margin["health"] <= 100
        assert margin["leverage"] > 0
        assert margin["total_collateral"]["micro"] > 0
        assert margin["maintenance_margin"]["micro"] > 0
        # the perp short's liquidation price is above the oracle: a finite, positive distance
        assert margin["liquidation_distance_pct"] is not None
        assert 0 < margin["liquidation_distance_pct"] < 1000

        sol = client.get(f"/api/engines/{SOL_ENGINE}").json()
        assert sol["name"] == "Carry SOL" and sol["risk_limits"]["health_floor"] == 30
        assert sol["margin"]["health"] is not None

        markets = {m["symbol"]: m for m in client.get("/api/markets").json()}
        assert set(markets) == {"SOL-PERP", "BTC-PERP"}
        for symbol, market in markets.items():
            assert Decimal(market["oracle_price"]) == Decimal(prices[symbol]) / 10**6
            assert market["funding_apr"] is not None and market["as_of"] is not None
    finally:
        db.dispose()
