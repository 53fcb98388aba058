"""The page in headless Chromium (Debian's, driven by Playwright) over real paper engines:
what a trader must be able to trust at a glance (issue 15, points 1-8), and an axe-core
accessibility check (vendored under tests/dashboard/vendor/axe-core, no network)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
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

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts"
AXE = Path(__file__).with_name("vendor") / "axe-core" / "axe.min.js"
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
SOL_NAME, BTC_NAME = DEMO_NAMES[SOL_ENGINE], DEMO_NAMES[BTC_ENGINE]

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="Debian's chromium is not installed (scripts/test.sh installs it)",
)


# --------------------------------------------------------------------------- fixtures
def _serve(db: Database, engines: PaperEngines | None, *, token: str | None = TOKEN):
    reader = DashboardReader(db, markets=engines.markets if engines else None)
    control = QueuedEngineControl(engines.stack.store) if engines else None
    return DashboardServer(create_app(reader, control=control, token=token))


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PaperEngines, object]]:
    """Engines nobody controls in this module's read-only tests."""
    db = Database.open(f"sqlite:///{tmp_path_factory.mktemp('shared') / 'demo.db'}")
    engines = PaperEngines(db)
    engines.warm_up(hours=12)
    with engines, _serve(db, engines) as server:
        yield engines, server
    assert engines.error is None, engines.error
    db.dispose()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[PaperEngines, object]]:
    db = Database.open(f"sqlite:///{tmp_path / 'demo.db'}")
    engines = PaperEngines(db)
    engines.warm_up(hours=12)
    with engines, _serve(db, engines) as server:
        yield engines, server
    assert engines.error is None, engines.error
    db.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _page(browser, width: int = 1440, height: int = 1100):
    context = browser.new_context(viewport={"width": width, "height": height})
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
    page.errors = []  # type: ignore[attr-defined]
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    return page


@pytest.fixture
def page(browser) -> Iterator[object]:
    p = _page(browser)
    yield p
    assert p.errors == []
    p.context.close()


def _card(page, engine_id: str):
    return page.locator(f'article.engine[data-engine-id="{engine_id}"]')


def _open(page, server) -> None:
    response = page.goto(server.url + "/")
    # the page runs under its Content-Security-Policy (own scripts and styles only)
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.locator("article.engine").first.wait_for()
    page.locator(".pair").first.wait_for(timeout=30_000)


def _axe_serious(page, server) -> list[tuple[str, str, list[str]]]:
    """Serious or critical axe-core violations on the page as it is now. axe is served as
    a same-origin script (the page's CSP allows nothing else), from the vendored file."""
    page.route(
        server.url + "/__axe.min.js",
        lambda route: route.fulfill(path=str(AXE), content_type="text/javascript"),
    )
    page.add_script_tag(url=server.url + "/__axe.min.js")
    found = page.evaluate(
        "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map("
        "v => [v.id, v.impact, v.nodes.map(n => n.target.join(' '))]))"
    )
    return [tuple(v) for v in found if v[1] in ("serious", "critical")]


# --------------------------------------------------------------------------- point 1
def test_stopped_engine_with_positions_stays_greyed_in_place(running, page) -> None:
    engines, server = running
    _open(page, server)
    order = lambda: page.locator("article.engine").evaluate_all(  # noqa: E731
        "cards => cards.map(c => c.dataset.engineId)"
    )
    before = order()
    assert before == sorted(ENGINES)  # stable: by engine id
    btc = _card(page, BTC_ENGINE)
    btc.locator(".pair").wait_for()  # BTC holds its carry

    page.evaluate("window.__sameDocument = true")
    r = httpx.post(f"{server.url}/api/engines/{BTC_ENGINE}/stop", headers=auth())
    assert r.status_code == 200, r.text
    expect(btc.locator(".pill.state")).to_have_text("STOPPED", timeout=30_000)
    # still on the page, greyed, with its positions and a note that they stay open
    expect(btc).to_have_class(re.compile(r"\binactive\b"))
    expect(btc.locator(".exposure-note")).to_contain_text("STOPPED with open positions")
    assert btc.locator(".pair tbody tr").count() == 2
    expect(page.locator("#counts")).to_contain_text("1 stopped with open positions")
    expect(page.locator("#counts")).to_contain_text("1 running")
    assert order() == before
    assert page.evaluate("window.__sameDocument") is True

    r = httpx.post(f"{server.url}/api/engines/{BTC_ENGINE}/start", headers=auth())
    assert r.status_code == 200, r.text
    expect(btc.locator(".pill.state")).to_have_text("RUNNING", timeout=30_000)
    expect(page.locator("#counts")).to_have_text("2 running", timeout=30_000)
    assert order() == before
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)


# --------------------------------------------------------------------------- point 2
def test_killed_runner_shows_not_running_within_one_heartbeat(tmp_path: Path, browser) -> None:
    tick_s = 3.0  # the runner's heartbeat interval, wall seconds
    url = f"sqlite:///{tmp_path / 'run.db'}"
    Database.open(url).dispose()  # migrated before two processes open it
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFT_ENGINE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.dashboard.runner_proc", url, str(tick_s)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    db = Database.open(url)
    page = _page(browser)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "READY"
        with _serve(db, None) as server:
            page.goto(server.url + "/")
            sol = _card(page, SOL_ENGINE)
            expect(sol.locator(".pill.state")).to_have_text("RUNNING", timeout=30_000)
            banner = page.locator("#banner")
            expect(banner).to_contain_text("funding REAL, prices SYNTHETIC")
            assert re.match(r"Sim \d{4}-\d\d-\d\d \d\d:\d\d UTC · ×100 · ", banner.inner_text())

            proc.send_signal(signal.SIGKILL)  # no clean exit: its session stays "running"
            for engine_id in ENGINES:
                card = _card(page, engine_id)
                expect(card.locator(".pill.state")).to_have_text(
                    "NOT RUNNING", timeout=int(tick_s * 1000)
                )
                expect(card.locator(".liveness")).to_contain_text("not running — last tick")
            expect(page.locator("#counts")).to_have_text("2 not running")
            expect(banner).to_contain_text("not running — last tick")
        assert page.errors == []
    finally:
        proc.kill()
        proc.wait(30)
        page.context.close()
        db.dispose()


# --------------------------------------------------------------------------- point 3
def test_a_hedge_shows_as_one_pair_with_net_delta(shared, browser) -> None:
    engines, server = shared
    page = _page(browser)
    _open(page, server)
    pair = _card(page, BTC_ENGINE).locator('.pair[data-asset="BTC"]')
    pair.wait_for(timeout=30_000)
    expect(pair.locator(".net-delta")).to_contain_text(re.compile(r"net delta -?[\d.,]+ BTC \("))
    expect(pair.locator(".pair-upnl")).to_contain_text(re.compile(r"combined uPnL [+-]?\$"))
    expect(pair.locator(".pair-funding")).to_contain_text("enter above")
    legs = pair.locator("tbody tr")
    assert legs.count() == 2
    spot, perp = pair.locator('tr[data-market="BTC"]'), pair.locator('tr[data-market="BTC-PERP"]')
    for leg in (spot, perp):
        cells = leg.locator("td").all_inner_texts()
        entry, upnl = cells[2], cells[5]
        assert entry != "—" and re.match(r"[+-]?\$", upnl), cells
    assert perp.locator("td").all_inner_texts()[6] != "none"  # the short's liquidation price
    # "Cash", not "Balance", beside Equity
    headers = _card(page, BTC_ENGINE).locator("table.vault-table thead th").all_inner_texts()
    assert "Cash" in headers and "Balance" not in headers
    # the combined uPnL is the sum of the legs' (exact, from the API)
    detail = httpx.get(f"{server.url}/api/engines/{BTC_ENGINE}").json()
    api_pair = detail["pairs"][0]
    assert api_pair["unrealized_pnl"]["micro"] == sum(
        leg["unrealized_pnl"]["micro"] for leg in api_pair["legs"]
    )
    assert page.errors == []
    page.context.close()


# --------------------------------------------------------------------------- point 4
def _cli(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFT_ENGINE_")}
    env["DATABASE_URL"] = url
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-c", "from drift_engine.cli import app; app()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_active_badge_engines_list_and_ledger_agree_after_vaults_activate(running, page) -> None:
    engines, server = running
    url = str(engines.db.url)
    registry = engines.stack.registry
    booking = registry.active_vault(SOL_ENGINE)
    assert booking is not None and booking.name == SOL_ENGINE

    # the empty reserve vault cannot power a running engine that books into dn-sol
    refused = _cli("vaults", "activate", "sol-reserve", url=url)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert refused.stderr.startswith("error: vault 'sol-reserve' (it is empty) cannot power")
    assert "Traceback" not in refused.stderr
    done = _cli("vaults", "activate", SOL_ENGINE, url=url)
    assert done.returncode == 0, done.stderr
    assert registry.active_vault(SOL_ENGINE).id == booking.id

    _open(page, server)
    sol = _card(page, SOL_ENGINE)
    badge_row = sol.locator("tr.vault-row", has=page.locator(".badge-active"))
    expect(badge_row).to_have_attribute("data-vault-id", str(booking.id))
    assert sol.locator(".badge-active").count() == 1
    reserve = sol.locator(f'tr.vault-row[data-vault-id="{engines.reserve_vault_id}"]')
    assert reserve.locator(".badge-active").count() == 0

    listed = _cli("engines", "list", url=url)
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if SOL_ENGINE + " " in line)
    assert f"{SOL_ENGINE} ⚡ ACTIVE" in row and "sol-reserve" not in row

    # the bookings go to the same vault: the ledger tab shows it, with the engine's entries
    sol.get_by_role("tab", name="Ledger").click()
    ledger = sol.locator(".ledger-panel")
    expect(ledger.locator("select.ledger-vault")).to_have_value(str(booking.id))
    ledger.locator("tbody tr td").first.wait_for()
    kinds = set(ledger.locator("tbody tr td:nth-child(3)").all_inner_texts())
    booked_by_engine = {"fill", "funding", "interest"}
    assert booked_by_engine & kinds, kinds
    reserve_entries = registry.ledger.entries(engines.reserve_vault_id, limit=10)
    assert not [e for e in reserve_entries if e.kind.value in booked_by_engine]
    # the treasury is shown, with the vaults no engine uses
    expect(page.locator('#treasury-table tr[data-role="treasury"]')).to_have_count(1)


# --------------------------------------------------------------------------- point 5
def test_log_shows_a_strategy_decision_with_its_reason(shared, browser) -> None:
    _, server = shared
    page = _page(browser)
    _open(page, server)
    log = _card(page, BTC_ENGINE).locator(".activity-list")
    decision = log.locator('li[data-category="decision"]').filter(has_text="enter long_carry")
    decision.first.wait_for(timeout=30_000)
    assert re.search(
        r"expected carry -?[\d.]+% APR over 1h > entry 0\.00%", decision.first.inner_text()
    )
    assert log.locator('li[data-category="fill"]').count() >= 2
    assert log.locator('li[data-category="funding"]').count() >= 1
    # entries are marked on the equity chart, whose text alternative says so
    caption = _card(page, BTC_ENGINE).locator(".chart-caption")
    expect(caption).to_contain_text(re.compile(r"Equity chart of .*; [1-9]\d* entries"))
    assert page.errors == []
    page.context.close()


# --------------------------------------------------------------------------- point 6
def test_kpis_limits_and_portfolio_total(shared, browser) -> None:
    _, server = shared
    page = _page(browser)
    _open(page, server)
    btc = _card(page, BTC_ENGINE)
    more = btc.locator(".kpis-more")
    expect(more).to_contain_text("Net APR")
    expect(more).to_contain_text(re.compile(r"Drawdown[\d.]+% \(\$[\d,.]+\) of 25% limit"))
    expect(more).to_contain_text("Time in market")
    for label in ("Funding", "Interest", "Fees", "Cash"):
        expect(more).to_contain_text(label)
    limits = btc.locator(".limits-table").inner_text()
    assert re.search(r"Max drawdown\s+25\.00% = \$[\d,]+\.\d\d", limits), limits
    assert re.search(r"Max leverage\s+3\.00× = \$", limits), limits
    total = page.locator("#portfolio-table tr.total-row")
    expect(total).to_contain_text("Total")
    funding = page.locator("#markets-table tbody tr").first.locator("td").nth(1)
    assert funding.inner_text().endswith("%")  # funding as a percent, not a raw fraction
    assert page.errors == []
    page.context.close()


# --------------------------------------------------------------------------- point 7
def test_controls_explain_themselves(running, page) -> None:
    engines, server = running
    _open(page, server)
    pause = page.get_by_role("button", name=f"Pause {SOL_NAME}")
    start = page.get_by_role("button", name=f"Start {SOL_NAME}")
    expect(pause).to_be_enabled()
    expect(start).to_be_disabled()  # RUNNING: nothing to start
    assert "already RUNNING" in (start.get_attribute("title") or "")

    pause.click()  # no token yet: the page says where it comes from
    expect(page.locator("#toast")).to_contain_text("DRIFT_ENGINE_DASHBOARD_TOKEN")
    page.fill("#token-input", TOKEN)
    page.click("#token-form button[type=submit]")
    pause.click()
    expect(page.locator("#toast")).to_contain_text(f"pause queued for {SOL_NAME}")
    sol = _card(page, SOL_ENGINE)
    expect(sol.locator(".pill.state")).to_have_text("PAUSED", timeout=30_000)
    expect(pause).to_be_disabled()
    expect(start).to_be_enabled()

    # a refusal shows the server's reason and its fix
    page.evaluate("localStorage.setItem('drift-engine.dashboard.token', 'wrong')")
    page.get_by_role("button", name=f"Stop {SOL_NAME}").click()
    expect(page.locator("#toast")).to_contain_text(
        "stop refused (HTTP 401): wrong bearer token: enter the value of "
        "DRIFT_ENGINE_DASHBOARD_TOKEN"
    )
    assert engines.stack.store.load(SOL_ENGINE).state == "paused"
    # the browser logs the refused request itself; nothing else may be in the console
    page.errors[:] = [e for e in page.errors if "status of 401 (Unauthorized)" not in e]


def test_no_control_is_enabled_without_a_token(shared, browser) -> None:
    engines, _ = shared
    page = _page(browser)
    with _serve(engines.db, engines, token=None) as server:
        _open(page, server)
        expect(page.locator("#control-mode")).to_contain_text("read-only")
        expect(page.locator("#control-mode")).to_contain_text("DRIFT_ENGINE_DASHBOARD_TOKEN")
        buttons = page.locator("button.control")
        assert buttons.count() == 4 * len(ENGINES)
        for i in range(buttons.count()):
            expect(buttons.nth(i)).to_be_disabled()
        assert page.locator("#token-form").is_hidden()
    assert page.errors == []
    page.context.close()


# --------------------------------------------------------------------------- point 8
def test_mobile_390px_equity_pnl_health_first_and_accessible(shared, browser) -> None:
    _, server = shared
    page = _page(browser, 390, 844)
    _open(page, server)
    assert page.locator("h1").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing off-screen
    first = page.locator("article.engine").first
    first.locator(".kpi-equity .kpi-value").filter(has_text="$").wait_for()
    for kpi in (".kpi-equity", ".kpi-pnl", ".kpi-health"):
        box = first.locator(kpi).bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (kpi, box)
        assert box["y"] + box["height"] <= 844, (kpi, box)  # visible without scrolling
    first.locator(".chart canvas").first.wait_for()
    expect(first.locator(".chart-caption")).to_contain_text("Equity chart of")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-390.png"))
    assert _axe_serious(page, server) == []
    assert page.errors == []
    page.context.close()


def test_axe_reports_no_serious_violations_on_the_full_page(shared, browser) -> None:
    _, server = shared
    page = _page(browser)
    _open(page, server)
    page.locator(".chart canvas").first.wait_for()
    assert _axe_serious(page, server) == []
    _card(page, BTC_ENGINE).get_by_role("tab", name="Ledger").click()
    _card(page, BTC_ENGINE).locator(".ledger-panel tbody tr").first.wait_for()
    assert _axe_serious(page, server) == []
    assert page.errors == []
    page.context.close()


# --------------------------------------------------------------------------- docs
def test_api_docs_render_offline(scenario, page) -> None:
    app = create_app(DashboardReader(scenario.db), token=TOKEN)
    outside: list[str] = []
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
        card.locator(".risk-slot .limits-table").wait_for()
        assert card.locator(".risk-slot .unhedged").count() == 0
        assert "BLOCKED" not in card.locator(".risk-slot").inner_text()
