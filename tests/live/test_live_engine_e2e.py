"""Issue 7 acceptance, end to end: a LIVE engine (DeltaNeutralStrategy) trading through
LiveVenue -> our DriftClient -> driftpy -> the local RPC -> the simulator, with the
heartbeat's on-chain vault sync reconciling its ON_CHAIN vault every tick."""

from __future__ import annotations

from drift_engine.core.client import drift_events
from drift_engine.core.margin import DriftMarginMonitor
from drift_engine.core.types import MarketType, positions_from_user
from drift_engine.engine.engine import EngineState
from drift_engine.heartbeat import HeartbeatDataCollector
from drift_engine.live_start import LiveEngineStack
from drift_engine.storage.database import Database
from drift_engine.storage.enums import EntryKind
from tests.live.live_helpers import (
    HOUR,
    USDC,
    ChainMarketFeed,
    board_for,
    chain_cash,
    dn_strategy,
    expected_taker_fee,
    hourly_events,
)

RATE = 2_000_000  # FUNDING_RATE 1e9 per hour at $150: ~11.7% APR, above entry_apr


def _setup(world, make_client, tmp_path, deposit=5_000 * USDC):
    client = make_client(world.server, now=lambda: world.sim.now)
    client.run(client.connect())
    client.run(client.initialize_user())
    client.run(client.deposit(deposit, 0))
    db = Database.open(f"sqlite:///{tmp_path / 'live.db'}")
    return client, db


def test_live_engine_carry_round_trip_reconciles_to_the_micro_usdc(world, make_client, tmp_path):
    client, db = _setup(world, make_client, tmp_path)
    t0 = world.sim.now
    stack = LiveEngineStack(db, client, engine_id="dn-live")
    board = board_for(world)
    engine = stack.start(dn_strategy(), board, t0)
    engine.start(t0)
    hours_in, hours_out = 6, 2
    events = hourly_events(t0, hours_in + hours_out, [RATE] * hours_in + [-RATE] * hours_out)
    hb = HeartbeatDataCollector(
        events,
        board,
        [engine],
        markets=[ChainMarketFeed(world.chain, world.sim)],
        sync_hooks=[stack.sync],
    )
    vault = stack.registry.get("dn-live")
    saw_position = False
    for h in range(1, hours_in + hours_out + 1):
        result = hb.tick(t0 + h * HOUR)
        assert result.errors == []
        state = client.run(client.refresh())
        # the venue's margin is the simulator's own, at every tick
        assert engine.venue.margin(t0) == DriftMarginMonitor().compute(
            world.sim.drift(world.keypair.pubkey()), 0, world.sim.now
        )
        assert list(state.positions) == positions_from_user(
            world.sim.user(world.key), world.sim.spot_markets
        )
        # the ledger mirrors the sub-account to the micro-USDC after every sync
        assert stack.registry.summary(vault.id).balance == chain_cash(world)
        assert not stack.registry.sync_status.is_stale(vault.id)
        perp = state.position(MarketType.PERP, 0)
        if h <= hours_in and h >= 2:
            assert perp is not None and perp.base_asset_amount < 0
            assert state.spot_balance(1) == -perp.base_asset_amount  # delta neutral
            saw_position = True

    assert saw_position and engine.state is EngineState.RUNNING
    # closed by the strategy once the carry turned negative
    final = client.run(client.refresh())
    assert final.position(MarketType.PERP, 0) is None or (
        final.position(MarketType.PERP, 0).base_asset_amount == 0
    )
    assert final.spot_balance(1) == 0

    # both legs in one transaction, entry and exit: one place_orders each, spot + perp
    placements = [
        rec for rec in world.chain.signatures.values() if "place_orders" in rec.instructions
    ]
    assert len(placements) == 2
    for rec in placements:
        orders = [d.order for name, d in drift_events(rec.logs) if name == "OrderRecord"]
        kinds = sorted(type(o.market_type).__name__ for o in orders)
        assert kinds == ["Perp", "Spot"]

    # funding: received over the carry hours, paid after; booked from the chain counter
    entries = stack.registry.ledger.entries(vault.id)
    funding = sum(e.amount for e in entries if e.kind is EntryKind.FUNDING)
    assert funding == world.sim.user(world.key).cumulative_perp_funding
    assert engine.stats.funding == funding  # the venue's FundingPaymentRecord events agree
    received = [r for r in world.sim.records if r.kind == "funding"]
    assert sum(r.funding_payment for r in received) == funding and len(received) >= 4
    # fills: booked by the engine at their chain ids, with the program's realized PnL
    fills = [e for e in entries if e.kind is EntryKind.FILL]
    sim_fills = [r for r in world.sim.records if r.kind == "fill"]
    assert len(fills) == len(sim_fills) == 4
    # fees by the program's rule from each fill's quote and the State's tier-0 numerators
    # (hand-written here, not the simulator's fee function)
    assert sorted(e.fee for e in fills) == sorted(expected_taker_fee(world, r) for r in sim_fills)
    # the perp round trip is flat again, so its realized PnL is what the sells brought in
    # less what the buys paid; spot fills are -cost / +proceeds
    signed_quotes = {
        mt: sum(
            r.quote_asset_amount if r.direction.value == "short" else -r.quote_asset_amount
            for r in sim_fills
            if r.market_type is mt
        )
        for mt in (MarketType.PERP, MarketType.SPOT)
    }
    assert (
        sum(e.amount for e in fills)
        == signed_quotes[MarketType.PERP] + signed_quotes[MarketType.SPOT]
    )
    assert all(e.key.startswith("fill:") and ":" in e.key[5:] for e in fills)
    # nothing needed adjusting: fills, fees and funding explain every micro-USDC
    kinds = {e.kind for e in entries}
    assert EntryKind.SYNC_ADJUSTMENT not in kinds
    assert [e.kind for e in entries if e.kind is EntryKind.DEPOSIT] == [EntryKind.DEPOSIT]
    summary = stack.registry.summary(vault.id)
    assert summary.balance == chain_cash(world) == world.sim.token_amount(world.key, "USDC")
    assert not world.server.stats.unknown


def test_live_runner_trades_on_market_data_read_from_the_chain(world, make_client, tmp_path):
    from drift_engine.clock import SimulatedClock
    from drift_engine.engine.market_board import MarketBoard
    from drift_engine.live_start import ChainMarketData, LiveRunner

    client, db = _setup(world, make_client, tmp_path)
    with world.chain._lock:  # an hour of positive funding, known only to the chain
        world.sim.update_funding("SOL-PERP", ts=world.sim.now + HOUR, funding_rate=RATE)
    board = MarketBoard(["SOL-PERP"])
    market_data = ChainMarketData(board)
    market_data.update(client.run(client.refresh()))
    snap = board.snapshot("SOL-PERP")
    assert snap.oracle_price == world.sim.oracle_price("SOL-PERP")
    assert snap.funding_history and snap.funding_history[-1][1] > 0
    stack = LiveEngineStack(db, client, engine_id="dn-live")
    engine = stack.start(dn_strategy(), board, world.sim.now)
    engine.start(world.sim.now)
    runner = LiveRunner([stack], board, store=stack.store, market_data=market_data)
    t = world.sim.now
    runner.run(SimulatedClock(t), interval_s=60, until=t + 180)
    state = client.run(client.refresh())
    assert state.position(MarketType.PERP, 0).base_asset_amount < 0
    assert state.spot_balance(1) == -state.position(MarketType.PERP, 0).base_asset_amount
    assert len(board.snapshot("SOL-PERP").funding_history) == 1  # each funding time once
    assert len(stack.store.heartbeats()) == 4
    vault = stack.registry.get("dn-live")
    assert stack.registry.summary(vault.id).balance == chain_cash(world)


def test_engines_config_with_live_mode_builds_and_runs(world, make_client, keypair_file, tmp_path):
    """What `drift-engine run` does for `mode = "live"` engines (build_live_engines)."""
    from drift_engine.clock import SimulatedClock
    from drift_engine.engine.config_file import parse_config
    from drift_engine.live_start import build_live_engines

    client, db = _setup(world, make_client, tmp_path)
    client.close_blocking()
    with world.chain._lock:
        world.sim.update_funding("SOL-PERP", ts=world.sim.now + HOUR, funding_rate=RATE)
    cfg = parse_config(
        {
            "engines": [
                {
                    "id": "dn-live",
                    "mode": "live",
                    "vault": "dn-live-vault",
                    "params": {"market": "SOL-PERP", "lookback_hours": 1, "target_leverage": 0.5},
                }
            ]
        }
    )
    fast = dict(confirm_timeout_s=1.0, confirm_poll_s=0.05, backoff_initial_s=0.01)
    runner = build_live_engines(
        db,
        cfg.engines,
        rpc_url=world.server.url,
        keypair_path=keypair_file,
        start_ts=world.sim.now,
        client_options=fast,
        network="localnet",
    )
    t = world.sim.now
    runner.run(SimulatedClock(t), interval_s=60, until=t + 120)
    (stack,) = runner.stacks
    assert stack.engine.mode.value == "live" and stack.engine.state.value == "running"
    vault = stack.registry.get("dn-live-vault")
    assert vault.is_on_chain and vault.network == "localnet" and vault.is_active
    state = stack.client.run(stack.client.refresh())
    assert state.position(MarketType.PERP, 0).base_asset_amount < 0
    assert stack.registry.summary(vault.id).balance == chain_cash(world)
    stack.client.close_blocking()
