"""Issue 11 acceptance, end to end on the unkind local chain (every mainnet-like behaviour
on): a LIVE engine running DeltaNeutralStrategy through LiveVenue -> our DriftClient ->
driftpy -> the local RPC -> the simulator. Deposit; a delta-neutral carry entered with
both legs through auctions the keeper fills over several slots; funding over simulated
hours, settled by settle_pnl; exit. The ON_CHAIN vault's ledger equals the chain to the
micro-USDC — the chain's side computed independently, from the raw account bytes
decoded by driftpy (tests/live/independent.py) — and the program's orders counted by
user order id show no duplicate."""

from __future__ import annotations

from collections import Counter

from drift_engine.core.types import MarketType
from drift_engine.engine.engine import EngineState
from drift_engine.engine.orders import OrderStatus
from drift_engine.heartbeat import HeartbeatDataCollector
from drift_engine.live.client import drift_events
from drift_engine.live.start import LiveEngineStack
from drift_engine.storage.enums import EntryKind
from tests.live import independent
from tests.live.live_helpers import (
    HOUR,
    USDC,
    ChainMarketFeed,
    board_for,
    chain_cash,
    dn_strategy,
    expected_taker_fee,
    funded_sub_account,
    hourly_events,
)

RATE = 2_000_000  # FUNDING_RATE 1e9 per hour at $150: ~11.7% APR, above entry_apr


def _setup(world, make_client, tmp_path, deposit=5_000 * USDC):
    return funded_sub_account(world, make_client, tmp_path, deposit)


def _keeper_fills(world, market_type: str) -> list[tuple[int, int]]:
    """(slot, base) of the keeper's fills of this wallet's orders in one market type."""
    user = world.client_user
    out = []
    for rec in world.chain.signatures.values():
        if rec.instructions != ["fill_perp_order"]:
            continue
        for name, data in drift_events(rec.logs):
            if (
                name == "OrderActionRecord"
                and type(data.action).__name__ == "Fill"
                and data.taker == user
                and type(data.market_type).__name__ == market_type
            ):
                out.append((rec.slot, data.base_asset_amount_filled))
    return out


def test_live_carry_through_auctions_funding_settle_exit_ledger_equals_chain(
    world, make_client, tmp_path
):
    client, db = _setup(world, make_client, tmp_path)
    world.client_user = client.user_pubkey
    t0 = world.sim.now
    stack = LiveEngineStack(db, client, engine_id="dn-live")
    board = board_for(world)
    engine = stack.start(dn_strategy(settle_every_s=HOUR), board, t0)
    engine.start(t0)
    hours_in, hours_out = 6, 3
    events = hourly_events(t0, hours_in + hours_out, [RATE] * hours_in + [-RATE] * hours_out)
    hb = HeartbeatDataCollector(
        events,
        board,
        [engine],
        markets=[ChainMarketFeed(world.chain, world.sim)],
        sync_hooks=[stack.sync],
    )
    vault = stack.registry.get("dn-live")
    held = False
    for h in range(1, hours_in + hours_out + 2):
        result = hb.tick(t0 + h * HOUR)
        assert result.errors == []
        assert not stack.registry.sync_status.is_stale(vault.id)
        # the ledger mirrors the chain to the micro-USDC after every sync — the chain's
        # side from its raw bytes, decoded by driftpy
        raw = independent.chain_cash(world.server.url, world.keypair.pubkey())
        assert raw["slot"] == stack.registry.sync_status.get(vault.id).last_slot
        assert stack.registry.summary(vault.id).balance == raw["cash"]
        state = client.run(client.refresh())
        perp = state.position(MarketType.PERP, 0)
        if perp is not None and perp.base_asset_amount < 0 and not state.open_orders:
            assert state.spot_balance(1) == -perp.base_asset_amount  # delta neutral
            held = True
    assert held and engine.state is EngineState.RUNNING

    # closed by the strategy once the carry turned negative
    final = client.run(client.refresh())
    assert final.position(MarketType.PERP, 0) is None or (
        final.position(MarketType.PERP, 0).base_asset_amount == 0
    )
    assert final.spot_balance(1) == 0 and final.open_orders == ()

    # both legs of the entry went out in ONE transaction, as auctioned oracle orders ...
    placements = [
        rec for rec in world.chain.signatures.values() if "place_orders" in rec.instructions
    ]
    entry = [d.order for n, d in drift_events(placements[0].logs) if n == "OrderRecord"]
    assert sorted(type(o.market_type).__name__ for o in entry) == ["Perp", "Spot"]
    for o in entry:
        assert type(o.order_type).__name__ == "Oracle" and o.price == 0
        assert o.auction_duration >= 10 and o.oracle_price_offset != 0 and o.max_ts > 0
    # ... and the keeper filled each leg over several slots, never inside the placing tx
    for kind in ("Perp", "Spot"):
        fills = _keeper_fills(world, kind)
        assert len({slot for slot, _ in fills}) >= 2, (kind, fills)
    placing = {rec.slot for rec in placements}
    assert not any(
        n == "OrderActionRecord" and type(d.action).__name__ == "Fill"
        for rec in placements
        for n, d in drift_events(rec.logs)
    ), placing

    # the engine's order book: every order ended FILLED, each with its evidence
    orders = stack.orders.store.all("dn-live")
    assert len(orders) == 4 and {o.status for o in orders} == {OrderStatus.FILLED}
    assert all(o.order_id is not None and o.fill_ids for o in orders)

    # no duplicate: the program placed each user order id exactly once
    records = independent.order_records(world.chain, client.user_pubkey)
    by_uid = Counter(o.user_order_id for o in records)
    assert set(by_uid.values()) == {1} and sorted(by_uid) == sorted(o.user_order_id for o in orders)

    # funding: nothing settled by itself; settle_pnl settled it; booked from the counter
    entries = stack.registry.ledger.entries(vault.id)
    funding = sum(e.amount for e in entries if e.kind is EntryKind.FUNDING)
    assert funding == world.sim.user(world.key).cumulative_perp_funding > 0
    settles = [r for r in world.chain.signatures.values() if "settle_pnl" in r.instructions]
    assert len(settles) >= 3
    assert engine.stats.funding == funding  # the FundingPaymentRecord events agree
    # fills: booked by the engine at their chain ids, with the program's realized PnL
    fills = [e for e in entries if e.kind is EntryKind.FILL]
    sim_fills = [r for r in world.sim.records if r.kind == "fill"]
    assert len(fills) == len(sim_fills) >= 6
    assert sum(e.fee for e in fills) == sum(r.fee for r in sim_fills)
    # and each fee by the program's rule from the fill's quote and the State's tier-0
    # numerators, written out in the helper (not the simulator's fee function)
    assert sorted(e.fee for e in fills) == sorted(expected_taker_fee(world, r) for r in sim_fills)
    # nothing needed adjusting: fills, fees and funding explain every micro-USDC
    adj = [(e.amount, e.memo, e.key) for e in entries if e.kind is EntryKind.SYNC_ADJUSTMENT]
    assert adj == [], [(e.kind.value, e.amount, e.fee, e.key) for e in entries]
    raw = independent.chain_cash(world.server.url, world.keypair.pubkey())
    assert stack.registry.summary(vault.id).balance == raw["cash"]
    assert not world.server.stats.unknown
    # fees and rent were charged in SOL (the payer paid for every transaction it sent)
    assert world.chain.lamports[world.keypair.pubkey()] < 10**9


def test_live_runner_trades_on_market_data_read_from_the_chain(world, make_client, tmp_path):
    from drift_engine.engine.market_board import MarketBoard
    from drift_engine.live.start import ChainMarketData, LiveRunner

    client, db = _setup(world, make_client, tmp_path)
    with world.chain._lock:  # an hour of positive funding, known only to the chain
        world.sim.update_funding("SOL-PERP", ts=world.sim.now + HOUR, funding_rate=RATE)
    world.clock.sleep_until(world.sim.now)  # chain time is the funding update's
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
    runner.run(world.clock, interval_s=60, until=t + 180)  # the chain's own clock
    state = client.run(client.refresh())
    assert state.position(MarketType.PERP, 0).base_asset_amount < 0
    assert state.spot_balance(1) == -state.position(MarketType.PERP, 0).base_asset_amount
    assert len(board.snapshot("SOL-PERP").funding_history) == 1  # each funding time once
    assert len(stack.store.heartbeats()) == 4
    vault = stack.registry.get("dn-live")
    assert stack.registry.summary(vault.id).balance == chain_cash(world)


def test_engines_config_with_live_mode_builds_and_runs(world, make_client, keypair_file, tmp_path):
    """What `drift-engine run` does for `mode = "live"` engines (build_live_engines)."""
    from drift_engine.engine.config_file import parse_config
    from drift_engine.live.start import build_live_engines

    client, db = _setup(world, make_client, tmp_path)
    client.close_blocking()
    with world.chain._lock:
        world.sim.update_funding("SOL-PERP", ts=world.sim.now + HOUR, funding_rate=RATE)
    world.clock.sleep_until(world.sim.now)
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
    fast = dict(confirm_timeout_s=5.0, confirm_poll_s=0.4, backoff_initial_s=0.05)
    runner = build_live_engines(
        db,
        cfg.engines,
        rpc_url=world.server.url,
        keypair_path=keypair_file,
        start_ts=world.sim.now,
        client_options=fast,
        network="localnet",
        clock=world.clock,
    )
    t = world.sim.now
    runner.run(world.clock, interval_s=60, until=t + 120)
    (stack,) = runner.stacks
    assert stack.engine.mode.value == "live" and stack.engine.state.value == "running"
    vault = stack.registry.get("dn-live-vault")
    assert vault.is_on_chain and vault.network == "localnet" and vault.is_active
    state = stack.client.run(stack.client.refresh())
    assert state.position(MarketType.PERP, 0).base_asset_amount < 0
    assert stack.registry.summary(vault.id).balance == chain_cash(world)
    stack.client.close_blocking()


def test_engines_config_sets_the_price_band_and_adopts_strangers(
    world, make_client, keypair_file, tmp_path
):
    """`[engines.execution]` prices the engine's takers and `unknown_orders = "adopt"`
    adopts a chain order the engine does not know as EXTERNAL (docs/reconciliation.md
    rule 4), both from the config file as `drift-engine run` reads it."""
    from drift_engine.core.types import OrderIntent
    from drift_engine.engine.config_file import parse_config
    from drift_engine.live.start import build_live_engines

    client, db = _setup(world, make_client, tmp_path)
    stranger = OrderIntent(
        0, MarketType.PERP, "long", 10**9, order_type="limit", price=100_000_000, user_order_id=78
    )
    client.run(client.place_order(stranger))  # placed by hand, before the engine starts
    client.close_blocking()
    cfg = parse_config(
        {
            "engines": [
                {
                    "id": "dn-live",
                    "mode": "live",
                    "params": {"market": "SOL-PERP", "lookback_hours": 1},
                    "execution": {"worst_price_bps": 30, "auction_duration": 15},
                    "unknown_orders": "adopt",
                }
            ]
        }
    )
    runner = build_live_engines(
        db,
        cfg.engines,
        rpc_url=world.server.url,
        keypair_path=keypair_file,
        start_ts=world.sim.now,
        client_options=dict(confirm_timeout_s=5.0, confirm_poll_s=0.4, backoff_initial_s=0.05),
        network="localnet",
        clock=world.clock,
    )
    (stack,) = runner.stacks
    assert stack.report.adopted_orders == [78] and stack.report.cancelled_orders == []
    (adopted,) = stack.orders.working()
    assert adopted.external and adopted.user_order_id == 78
    pricer = stack.engine.pricer
    assert (pricer.config.worst_price_bps, pricer.config.auction_duration) == (30, 15)
    short = OrderIntent(0, MarketType.PERP, "short", 10**9)
    priced = pricer.price(short, 150_000_000, world.sim.now)
    # an oracle auction ending at the worst price a short accepts: 30 bps under the oracle
    assert priced.auction_duration == 15 and priced.auction_end_price == -450_000
    assert priced.oracle_price_offset == -450_000
    state = stack.client.run(stack.client.refresh())
    assert [o.user_order_id for o in state.open_orders] == [78]  # adopted, not cancelled
    stack.client.close_blocking()
