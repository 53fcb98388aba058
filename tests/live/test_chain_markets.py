"""The chain is the truth for markets (issue 12, part 4): at connect the client builds
its catalog from the program's PerpMarket/SpotMarket accounts. A market whose on-chain
oracle conflicts with the configured expectation is refused for new orders (and still
valued at the chain's oracle); a sub-account holding a market the configured catalog
does not know is read, valued and runs."""

from __future__ import annotations

from dataclasses import replace

import pytest
from solders.pubkey import Pubkey

from drift_engine.core.markets import MarketCatalog
from drift_engine.core.types import MarketType, OrderIntent
from drift_engine.engine.execution import ExecutionConfig, OrderPricer
from drift_engine.engine.market_board import MarketBoard
from drift_engine.live.client import MarketRefusedError
from drift_engine.live.start import ChainMarketData, LiveEngineStack, LiveRunner
from drift_engine.storage.database import Database
from tests.live import conftest
from tests.live.conftest import USDC, SimWorld
from tests.live.live_helpers import dn_strategy

SOL = 10**9


@pytest.fixture
def eth_world(keypair, monkeypatch):
    """The local chain with ETH-PERP too (index 2)."""
    monkeypatch.setattr(conftest, "SIM_PRICES", {**conftest.SIM_PRICES, "ETH-PERP": 3_000_000_000})
    w = SimWorld(keypair)
    w.server.start()
    try:
        yield w
    finally:
        w.server.stop()


def _subset(*symbols: str) -> MarketCatalog:
    full = MarketCatalog.from_constants()
    return MarketCatalog([m for m in full if m.symbol in symbols], full.env)


def _taker(world, market_index: int, symbol: str, direction: str, size: int, uid: int):
    pricer = OrderPricer(ExecutionConfig(worst_price_bps=50, auction_duration=10, order_ttl_s=600))
    intent = OrderIntent(market_index, MarketType.PERP, direction, size, user_order_id=uid)
    return pricer.price(intent, world.sim.oracle_price(symbol), world.sim.now)


def test_a_wrong_expected_oracle_refuses_that_market(world, make_client):
    full = MarketCatalog.from_constants()
    wrong = Pubkey.new_unique()
    expected = MarketCatalog(
        [replace(m, oracle=wrong) if m.symbol == "SOL-PERP" else m for m in full], full.env
    )
    client = make_client(world.server, catalog=expected, now=lambda: world.sim.now)
    state = client.run(client.connect())
    client.run(client.initialize_user())
    client.run(client.deposit(2_000 * USDC, 0))
    assert set(client.refused_markets) == {(MarketType.PERP, 0)}
    reason = client.refused_markets[(MarketType.PERP, 0)]
    assert str(wrong) in reason and "SOL-PERP" in reason
    # the chain's oracle is read and used: the market is never valued at 0
    assert client.catalog.get(MarketType.PERP, 0).oracle != wrong
    assert state.perp_prices[0] == world.sim.oracle_price("SOL-PERP")
    sends = world.server.stats.calls["sendTransaction"]
    with pytest.raises(MarketRefusedError, match="refused"):
        client.run(client.place_orders([_taker(world, 0, "SOL-PERP", "short", SOL, 3)]))
    assert world.server.stats.calls["sendTransaction"] == sends  # nothing sent
    # another market is not refused
    client.check_tradable([OrderIntent(1, MarketType.PERP, "short", SOL // 1000)])
    client.close_blocking()


def test_a_market_outside_the_configured_catalog_is_read_and_the_engine_runs(
    eth_world, make_client, tmp_path
):
    world = eth_world
    full = make_client(world.server, now=lambda: world.sim.now)
    full.run(full.connect())
    full.run(full.initialize_user())
    full.run(full.deposit(5_000 * USDC, 0))
    full.run(full.place_orders([_taker(world, 2, "ETH-PERP", "long", SOL // 10, 9)]))
    world.wait(10)  # the keeper fills the auction
    full.close_blocking()
    assert world.sim.perp_position(world.key, "ETH-PERP").base_asset_amount == SOL // 10

    old = _subset("SOL-PERP", "BTC-PERP", "USDC", "SOL")  # knows nothing of ETH-PERP
    client = make_client(world.server, catalog=old, now=lambda: world.sim.now)
    state = client.run(client.connect())
    eth = client.catalog.get(MarketType.PERP, 2)
    assert eth.symbol == "ETH-PERP" and "read from the chain" in eth.provenance.source
    pos = state.position(MarketType.PERP, 2)
    assert pos is not None and pos.base_asset_amount == SOL // 10
    assert state.perp_prices[2] == world.sim.oracle_price("ETH-PERP")
    assert state.margin is not None and state.margin.total_collateral > 0
    assert client.refused_markets == {}

    db = Database.open(f"sqlite:///{tmp_path / 'live.db'}")
    board = MarketBoard(["SOL-PERP"])
    market_data = ChainMarketData(board)
    market_data.update(state)
    stack = LiveEngineStack(db, client, engine_id="dn-live")
    engine = stack.start(dn_strategy(), board, world.sim.now)
    engine.start(world.sim.now)
    runner = LiveRunner([stack], board, store=stack.store, market_data=market_data)
    t = world.sim.now
    runner.run(world.clock, interval_s=60, until=t + 120)
    runner.close()
    assert engine.state.value == "running"
    rows = stack.store.heartbeats()
    assert rows and all(not r.errors for r in rows)
    assert any(p.market_index == 2 for p in stack.venue.positions())
    client.close_blocking()
    db.dispose()
