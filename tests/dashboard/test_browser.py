"""The page in headless Chromium (Debian's, driven by Playwright) over two real paper
engines: one vault table per active engine with the ⚡ ACTIVE badge on the right vault;
stopping an engine through the API removes its table without a reload."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from drift_engine.commands.demo import DEMO_NAMES
from drift_engine.dashboard.app import create_app
from drift_engine.dashboard.control import QueuedEngineControl
from drift_engine.dashboard.reader import DashboardReader
from drift_engine.dashboard.server import DashboardServer
from drift_engine.storage import Database

from .conftest import TOKEN, auth
from .paper_engines import BTC_ENGINE, ENGINES, SOL_ENGINE, PaperEngines

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="Debian's chromium is not installed (scripts/test.sh installs it)",
)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[PaperEngines, DashboardServer]]:
    db = Database.open(f"sqlite:///{tmp_path / 'demo.db'}")
    engines = PaperEngines(db)
    engines.warm_up(hours=12)
    reader = DashboardReader(db, markets=engines.markets)
    app = create_app(reader, control=QueuedEngineControl(engines.stack.store), token=TOKEN)
    with engines, DashboardServer(app) as server:
        yield engines, server
    assert engines.error is None, engines.error
    db.dispose()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[object]:
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh profile for every test
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1440, "height": 1100},
        )
        # the page must not reach anything but the dashboard itself
        context.route(
            "**/*",
            lambda route: (
                route.continue_()
                if route.request.url.startswith("http://127.0.0.1:")
                else route.abort()
            ),
        )
        page = context.new_page()
        yield page
        context.close()


def test_two_engines_two_tables_badges_and_live_removal(running, page) -> None:
    engines, server = running
    registry = engines.stack.registry
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(server.url) else outside.append(r.url))
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)

    response = page.goto(server.url + "/")
    # the page runs under its Content-Security-Policy (own scripts and styles only), so
    # the waits below use locators: a string predicate would need eval, which it forbids
    assert "script-src 'self'" in response.headers["content-security-policy"]
    tables = page.locator("table.vault-table")
    tables.first.wait_for()
    expect(tables).to_have_count(2)

    for engine_id in ENGINES:
        card = page.locator(f'article.engine[data-engine-id="{engine_id}"]')
        # the display name the engine persisted, not its id
        assert card.locator(".engine-name").inner_text() == DEMO_NAMES[engine_id]
        active = registry.active_vault(engine_id)
        assert active is not None
        badges = card.locator(".badge-active")
        assert badges.count() == 1
        assert badges.inner_text() == "⚡ ACTIVE"
        row = card.locator("tr.vault-row", has=page.locator(".badge-active"))
        assert row.get_attribute("data-vault-id") == str(active.id)
        assert row.locator(".vtype").inner_text() == "VIRTUAL"
        # the chart and the risk panel are drawn from the API
        card.locator(".chart canvas").first.wait_for()
        card.locator(".risk-slot .gauge").wait_for()
        assert card.locator("tr.vault-row .gauge").count() >= 1
    sol = page.locator(f'article.engine[data-engine-id="{SOL_ENGINE}"]')
    assert sol.locator("tr.vault-row").count() == 2  # the reserve vault has no badge
    reserve = sol.locator(f'tr.vault-row[data-vault-id="{engines.reserve_vault_id}"]')
    assert reserve.locator(".badge-active").count() == 0
    page.locator("#markets-table tbody tr[data-market]").first.wait_for()
    assert page.locator("#markets-table tbody tr[data-market]").count() == 2
    expect(page.locator("#heartbeat")).to_have_attribute("data-status", "ok")

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    # stop BTC through the API: its table disappears live, without a reload
    page.evaluate("window.__sameDocument = true")
    r = httpx.post(f"{server.url}/api/engines/{BTC_ENGINE}/stop", headers=auth())
    assert r.status_code == 200, r.text
    expect(tables).to_have_count(1, timeout=30_000)
    assert page.evaluate("window.__sameDocument") is True
    assert page.locator(f'article.engine[data-engine-id="{BTC_ENGINE}"]').count() == 0
    assert page.locator(f'article.engine[data-engine-id="{SOL_ENGINE}"]').count() == 1
    assert httpx.get(f"{server.url}/api/engines/{BTC_ENGINE}").json()["state"] == "STOPPED"
    page.screenshot(path=str(ARTIFACTS / "dashboard-after-stop.png"), full_page=True)

    # starting it again brings its table back, live
    r = httpx.post(f"{server.url}/api/engines/{BTC_ENGINE}/start", headers=auth())
    assert r.status_code == 200, r.text
    expect(tables).to_have_count(2, timeout=30_000)

    # the page's own Pause button, with the token the operator entered (kept locally)
    page.evaluate(f"localStorage.setItem('drift-engine.dashboard.token', '{TOKEN}')")
    sol.locator('button[data-action="pause"]').click()
    expect(sol.locator(".pill.state")).to_have_text("PAUSED", timeout=30_000)
    assert page.evaluate("window.__sameDocument") is True

    # a control action without the token is refused, not applied
    assert httpx.post(f"{server.url}/api/engines/{SOL_ENGINE}/kill").status_code == 401
    assert engines.stack.store.load(SOL_ENGINE).state == "paused"
    assert outside == []
    assert console_errors == []


def test_api_docs_render_offline(scenario, page) -> None:
    app = create_app(DashboardReader(scenario.db), token=TOKEN)
    outside: list[str] = []
    console_errors: list[str] = []  # e.g. a script or style the page's CSP refused
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    with DashboardServer(app) as server:
        page.on(
            "request",
            lambda r: (
                None
                if r.url.startswith(server.url) or r.url.startswith("data:")
                else outside.append(r.url)
            ),
        )
        response = page.goto(server.url + "/docs")
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        page.locator(".swagger-ui .info .title").wait_for()
        assert "drift-engine dashboard" in page.locator(".swagger-ui .info .title").inner_text()
        page.locator("#operations-vaults-vaults_api_vaults_get").wait_for()
    assert outside == []
    assert console_errors == []


def test_unhedged_exposure_and_blocked_orders_show_on_the_card(scenario, page) -> None:
    """Two legs that did not fill together (issue 11): while the engine record holds an
    unhedged exposure and orders whose outcome is unknown, the card's risk panel says
    so; once they are gone, so is the row."""
    record = scenario.store.load("dn-sol")
    record.extra = {
        **record.extra,
        "unhedged": {
            "market": "SOL-PERP",
            "base": 1_500_000_000,
            "notional": 225 * 10**6,
            "since": 1_700_000_000,
            "action": "hedge",
        },
        "orders": {"working": 1, "by_status": {"unknown": 1}, "blocked": True},
    }
    scenario.store.save(record)
    app = create_app(DashboardReader(scenario.db, stale_after=1e12), token=TOKEN)
    with DashboardServer(app) as server:
        page.goto(server.url + "/")
        card = page.locator('article.engine[data-engine-id="dn-sol"]')
        unhedged = card.locator(".risk-slot .unhedged")
        unhedged.wait_for()
        assert unhedged.inner_text() == "1.5000 SOL-PERP · $225.00 · hedge"
        assert "BLOCKED" in card.locator(".risk-slot").inner_text()
        assert "Working orders" in card.locator(".risk-slot").inner_text()
        # the legs match again: the row is gone
        record.extra = {**record.extra, "unhedged": None, "orders": {"working": 0}}
        scenario.store.save(record)
        page.reload()
        card.locator(".risk-slot .gauge").wait_for()
        assert card.locator(".risk-slot .unhedged").count() == 0
        assert "BLOCKED" not in card.locator(".risk-slot").inner_text()
