"""Fixtures: a real database populated through the vault registry and the engine store."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from drift_engine.core.types import DriftPosition, MarketType
from drift_engine.dashboard.app import create_app
from drift_engine.dashboard.control import QueuedEngineControl
from drift_engine.dashboard.reader import DashboardReader
from drift_engine.engine.ports import EngineRecord
from drift_engine.engine.store import SqlEngineStore
from drift_engine.storage import Database
from drift_engine.vaults import VaultRegistry, VaultType

TOKEN = "test-token-0123456789"
USDC = 1_000_000
T0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)

SOL_PERP = 0
SOL_SPOT = 1


@dataclass
class Scenario:
    db: Database
    registry: VaultRegistry
    store: SqlEngineStore
    vaults: dict[str, int] = field(default_factory=dict)
    expected: dict[str, int] = field(default_factory=dict)


def _record(engine_id: str, name: str, state: str, vault_id: int, **config: object) -> EngineRecord:
    return EngineRecord(
        engine_id=engine_id,
        strategy="delta_neutral",
        config={"market": config.get("market", "SOL-PERP"), "target_leverage": 2.0},
        mode="paper",
        state=state,
        vault_id=str(vault_id),
        last_ts=int((T0 + timedelta(hours=3)).timestamp()),
        high_water_mark=10_050 * USDC,
        extra={"name": name, "started": True},
    )


def build_scenario(db: Database) -> Scenario:
    """Two running paper engines (SOL: an old inactive and the active vault; BTC), a
    stopped one, an ON_CHAIN vault, ledger entries of every trading kind, snapshots."""
    registry = VaultRegistry(db, clock=lambda: T0)
    store = SqlEngineStore(db)
    sc = Scenario(db, registry, store)
    treasury = registry.treasury()
    registry.deposit(treasury.id, 100_000 * USDC, key="seed")

    sol_old = registry.create_vault("sol-v1", "dn-sol")
    registry.allocate(sol_old.id, 1_000 * USDC, key="alloc-sol-v1")
    sol = registry.create_vault("sol-v2", "dn-sol", active=True)
    registry.allocate(sol.id, 10_000 * USDC, key="alloc-sol-v2")
    btc = registry.create_vault("btc-main", "dn-btc", active=True)
    registry.allocate(btc.id, 20_000 * USDC, key="alloc-btc")
    eth = registry.create_vault("eth-main", "old-eth", active=True)
    registry.allocate(eth.id, 500 * USDC, key="alloc-eth")
    chain = registry.create_vault(
        "sol-chain",
        "dn-sol",
        vault_type=VaultType.ON_CHAIN,
        network="devnet",
        authority="9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin",
        sub_account_id=1,
    )
    sc.vaults = {
        "treasury": treasury.id,
        "sol_old": sol_old.id,
        "sol": sol.id,
        "btc": btc.id,
        "eth": eth.id,
        "chain": chain.id,
    }

    ledger = registry.ledger
    # SOL: buy spot (cash -5000 USDC, fee 2.5), short perp (no realized cash, fee 1.25)
    ledger.book_fill(
        "dn-sol",
        sol.id,
        fill_id="s1",
        amount=-5_000 * USDC,
        fee=2_500_000,
        market_index=SOL_SPOT,
        occurred_at=T0,
    )
    ledger.book_fill(
        "dn-sol",
        sol.id,
        fill_id="s2",
        amount=0,
        fee=1_250_000,
        market_index=SOL_PERP,
        occurred_at=T0,
    )
    for hour, amount in ((1, 1_234_567), (2, 2_000_001), (3, -34_568)):
        ledger.book_funding(
            "dn-sol",
            sol.id,
            market_index=SOL_PERP,
            funding_ts=int((T0 + timedelta(hours=hour)).timestamp()),
            amount=amount,
            occurred_at=T0 + timedelta(hours=hour),
        )
    ledger.book_interest(
        "dn-sol",
        sol.id,
        spot_market_index=SOL_SPOT,
        interest_ts=int((T0 + timedelta(hours=3)).timestamp()),
        amount=111,
        occurred_at=T0 + timedelta(hours=3),
    )
    # BTC: one funding payment only
    ledger.book_funding(
        "dn-btc",
        btc.id,
        market_index=1,
        funding_ts=int((T0 + timedelta(hours=1)).timestamp()),
        amount=500_000,
        occurred_at=T0 + timedelta(hours=1),
    )

    positions = (
        DriftPosition(
            market_index=SOL_SPOT,
            market_type=MarketType.SPOT,
            base_asset_amount=50 * 10**9,
            decimals=9,
            symbol="SOL",
        ),
        DriftPosition(
            market_index=SOL_PERP,
            market_type=MarketType.PERP,
            base_asset_amount=-50 * 10**9,
            quote_asset_amount=5_000 * USDC,
            quote_entry_amount=5_000 * USDC,
            symbol="SOL-PERP",
        ),
    )
    for hour, value, upnl, health in (
        (0, 5_000 * USDC, 0, 90),
        (2, 5_010 * USDC, -20 * USDC, 88),
        (3, 5_020 * USDC, -40 * USDC, 87),
    ):
        registry.snapshots.record(
            "dn-sol",
            sol.id,
            position_value=value,
            unrealized_pnl=upnl,
            health=health,
            positions=positions,
            taken_at=T0 + timedelta(hours=hour, minutes=30),
        )
    registry.snapshots.record(
        "dn-btc",
        btc.id,
        position_value=0,
        unrealized_pnl=0,
        health=100,
        taken_at=T0 + timedelta(hours=1, minutes=30),
    )

    store.save(_record("dn-sol", "delta-neutral SOL", "running", sol.id))
    store.save(_record("dn-btc", "delta-neutral BTC", "running", btc.id, market="BTC-PERP"))
    store.save(_record("old-eth", "delta-neutral ETH", "stopped", eth.id, market="ETH-PERP"))
    store.record_heartbeat(int((T0 + timedelta(hours=3)).timestamp()), 12.5, 40, 2, [])

    sol_balance = 10_000 * USDC - 5_000 * USDC - 2_500_000 - 1_250_000 + 3_200_000 + 111
    sc.expected = {
        "sol_balance": sol_balance,
        "sol_equity": sol_balance + 5_020 * USDC,
        "sol_funding": 1_234_567 + 2_000_001 - 34_568,
        "sol_fees": 3_750_000,
        "sol_pnl": sol_balance + 5_020 * USDC - 10_000 * USDC,
        "btc_balance": 20_000 * USDC + 500_000,
    }
    return sc


@pytest.fixture(scope="session")
def scenario_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Scenario]:
    """The scenario is built once (bookings are durable, fsynced commits: slow-ish) and
    each test gets its own copy of the database file."""
    path = tmp_path_factory.mktemp("template") / "dashboard.db"
    db = Database.open(f"sqlite:///{path}")
    built = build_scenario(db)
    db.dispose()  # the last connection closing checkpoints the WAL into the file
    return path, built


@pytest.fixture
def database(tmp_path: Path, scenario_template: tuple[Path, Scenario]) -> Iterator[Database]:
    template, _ = scenario_template
    target = tmp_path / "dashboard.db"
    shutil.copyfile(template, target)
    db = Database.open(f"sqlite:///{target}")
    yield db
    db.dispose()


@pytest.fixture
def scenario(database: Database, scenario_template: tuple[Path, Scenario]) -> Scenario:
    _, built = scenario_template
    return Scenario(
        database,
        VaultRegistry(database, clock=lambda: T0),
        SqlEngineStore(database),
        vaults=dict(built.vaults),
        expected=dict(built.expected),
    )


@pytest.fixture
def client(scenario: Scenario) -> Iterator[TestClient]:
    reader = DashboardReader(scenario.db, stale_after=1e12)
    app = create_app(reader, control=QueuedEngineControl(scenario.store), token=TOKEN)
    with TestClient(app) as c:
        yield c


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def settle(c: TestClient) -> None:
    """Wait until the hot endpoints' refreshes running now have landed
    (dashboard/jsoncache.py: the freshness rule)."""
    c.portal.call(c.app.state.fresh_reads.settle)


def get_fresh(c: TestClient, path: str, **kwargs):
    """GET `path` as the freshness rule promises it after a write: the first request
    after the write starts the refresh (and may answer the read kept before it); once
    that refresh landed, the answer includes the write."""
    c.get(path, **kwargs)
    settle(c)
    return c.get(path, **kwargs)
