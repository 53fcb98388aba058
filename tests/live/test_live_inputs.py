"""Live strategy inputs, oracle guard and the settle schedule (issue 12 items 4-6,
ADR 0022), on the unkind local chain.

* A (re)started live engine's strategy sees the funding records the chain emitted over
  its lookback — read back from the chain's own logs with an anchorpy coder here — and
  enters at once instead of waiting a day.
* The long and short funding rates are used apart: with the AMM capping what shorts
  receive, the carry a short perp earns is the short side's, and the engine does not
  enter on the market's (uncapped) rate.
* The spot leg's borrow APR comes from its SpotMarket by the program's curve.
* A stale or too uncertain oracle refuses an entry (no order reaches the chain, the
  reason is logged) while the kill switch's reduce-only closes still go out.
* `settle_pnl` runs on its schedule: the chain shows the position's funding settled.
"""

from __future__ import annotations

import base64
import os

import driftpy
from anchorpy import EventCoder, Idl

from drift_engine.core.types import MarketType
from drift_engine.engine.execution import ExecutionConfig
from drift_engine.engine.market_board import MarketBoard
from drift_engine.live.start import ChainMarketData, LiveEngineStack, LiveRunner
from tests.live import independent
from tests.live.live_helpers import HOUR, USDC, dn_strategy, funded_sub_account

RATE = 2_000_000  # FUNDING_RATE 1e9 per hour at $150: ~11.7 % APR


def _setup(world, make_client, tmp_path, deposit=5_000 * USDC):
    return funded_sub_account(world, make_client, tmp_path, deposit)


def _funding_hours(world, rates: list[tuple[int, int, int]]) -> None:
    """One funding update per hour on the chain: (rate, long rate, short rate)."""
    for rate, long_, short in rates:
        with world.chain._lock:
            world.sim.update_funding(
                "SOL-PERP",
                ts=world.sim.now + HOUR,
                funding_rate=rate,
                funding_rate_long=long_,
                funding_rate_short=short,
                derive=False,
            )
        world.clock.sleep_until(world.sim.now)
        world.chain.sync()


def _chain_funding_records(chain) -> list:
    """Every `FundingRateRecord` the program logged, decoded here from the raw logs with
    an anchorpy event coder over driftpy's IDL file (not the client's decoder)."""
    path = os.path.join(os.path.dirname(driftpy.__file__), "idl", "drift.json")
    with open(path) as f:
        coder = EventCoder(Idl.from_json(f.read()))
    out = []
    for rec in chain.signatures.values():
        for line in rec.logs:
            if line.startswith("Program data: "):
                event = coder.parse(base64.b64decode(line[len("Program data: ") :]))
                if event is not None and event.name == "FundingRateRecord":
                    out.append(event.data)
    return sorted(out, key=lambda r: r.ts)


def _orders_on_chain(world, client) -> list:
    return independent.order_records(world.chain, client.user_pubkey)


# --------------------------------------------------------------------------- funding


def test_restarted_engine_sees_the_funding_records_the_chain_emitted_and_enters_at_once(
    world, make_client, keypair_file, tmp_path
):
    from drift_engine.engine.config_file import parse_config
    from drift_engine.live.start import build_live_engines

    client, db = _setup(world, make_client, tmp_path)
    client.close_blocking()
    hours = 30
    _funding_hours(world, [(RATE + 1_000 * h, RATE + 1_000 * h, RATE) for h in range(hours)])
    emitted = _chain_funding_records(world.chain)
    assert len(emitted) == hours  # one update_funding_rate transaction per hour
    assert [r.record_id for r in emitted] == list(
        range(emitted[0].record_id, emitted[0].record_id + hours)
    )
    cfg = parse_config(
        {
            "engines": [
                {
                    "id": "dn-live",
                    "mode": "live",
                    "params": {"market": "SOL-PERP", "lookback_hours": 24, "target_leverage": 0.5},
                }
            ]
        }
    )
    fast = dict(confirm_timeout_s=5.0, confirm_poll_s=0.4, backoff_initial_s=0.05)
    start = world.sim.now
    for _restart in range(2):  # a start, then a restart over the same database
        runner = build_live_engines(
            db,
            cfg.engines,
            rpc_url=world.server.url,
            keypair_path=keypair_file,
            start_ts=start,
            client_options=fast,
            network="localnet",
            clock=world.clock,
        )
        (stack,) = runner.stacks
        snap = stack.engine.snapshot(start).markets["SOL-PERP"]
        # the lookback's records, exactly as the chain logged them (the 24 newest)
        window = [r for r in emitted if r.ts > start - 24 * HOUR]
        assert len(window) == 24
        assert snap.funding_history == tuple(
            (r.ts, r.funding_rate / (r.oracle_price_twap * 1000)) for r in window
        )
        assert snap.funding_sides == tuple(
            (
                r.ts,
                r.funding_rate_long / (r.oracle_price_twap * 1000),
                r.funding_rate_short / (r.oracle_price_twap * 1000),
            )
            for r in window
        )
        if _restart == 0:
            # no day of waiting: the first ticks enter the carry
            runner.run(world.clock, interval_s=60, until=start + 120)
            state = stack.client.run(stack.client.refresh())
            assert state.position(MarketType.PERP, 0).base_asset_amount < 0
            assert len(_orders_on_chain(world, stack.client)) == 2
        runner.close()
        for s in runner.stacks:
            s.client.close_blocking()


def test_short_perp_carry_uses_the_short_sides_rate_not_the_markets(world, make_client, tmp_path):
    """The AMM caps what it pays: longs paid RATE, shorts received a tenth of it. The
    market's rate says 11.7 % APR (above entry_apr 5 %); what a short perp earns is
    1.2 %: the engine must not enter."""
    client, db = _setup(world, make_client, tmp_path)
    _funding_hours(world, [(RATE, RATE, RATE // 10)])
    board = MarketBoard(["SOL-PERP"])
    market_data = ChainMarketData(board)
    market_data.update(client.run(client.refresh()))
    snap = board.snapshot("SOL-PERP")
    twap = world.sim.perp_markets[0].amm.last_funding_oracle_twap
    assert snap.funding_rate == RATE / (twap * 1000)
    assert snap.funding_rate_long == RATE / (twap * 1000)
    assert snap.funding_rate_short == RATE // 10 / (twap * 1000)
    assert snap.funding_apr_over(1) > 0.05 > snap.funding_apr_over(1, side="short")
    strategy = dn_strategy()
    assert strategy.expected_carry(snap, "long_carry") == snap.funding_apr_over(1, side="short")
    stack = LiveEngineStack(db, client, engine_id="dn-live")
    engine = stack.start(strategy, board, world.sim.now)
    engine.start(world.sim.now)
    runner = LiveRunner([stack], board, store=stack.store, market_data=market_data)
    t = world.sim.now
    runner.run(world.clock, interval_s=60, until=t + 180)
    assert _orders_on_chain(world, client) == []
    state = client.run(client.refresh())
    assert state.position(MarketType.PERP, 0) is None
    runner.close()


# --------------------------------------------------------------------------- spot rates


def test_spot_borrow_apr_is_the_spot_markets_curve_at_its_utilisation(world, make_client, tmp_path):
    client, _db = _setup(world, make_client, tmp_path)
    sol = world.sim.spot_markets[1]
    with world.chain._lock:  # 60 % of deposits borrowed (below the 80 % optimum)
        sol.deposit_balance = 1_000 * 10**9
        sol.borrow_balance = 600 * 10**9
    board = MarketBoard(["SOL-PERP"])
    ChainMarketData(board).update(client.run(client.refresh()))
    snap = board.snapshot("SOL-PERP")
    # the program's curve written out (math/spot_balance.rs::calculate_borrow_rate):
    # utilisation 600/1000 (cumulative interest equal on both sides here), linear to the
    # optimal rate at the optimal utilisation
    assert sol.cumulative_deposit_interest == sol.cumulative_borrow_interest
    util = 600_000
    slope = sol.optimal_borrow_rate * 1_000_000 // sol.optimal_utilization
    borrow = max(util * slope // 1_000_000, sol.min_borrow_rate * 5_000)
    assert snap.spot_borrow_apr == borrow / 1e6 and borrow > 0
    deposit = borrow * (1_000_000 - sol.insurance_fund.total_factor) * util // 10**12
    assert snap.spot_deposit_apr == deposit / 1e6
    # the spot leg is priced at its own oracle
    assert snap.spot_oracle_price == world.sim.oracle_price("SOL")


# --------------------------------------------------------------------------- oracles


def _entry_ready(world, make_client, tmp_path):
    client, db = _setup(world, make_client, tmp_path)
    _funding_hours(world, [(RATE, RATE, RATE)])
    board = MarketBoard(["SOL-PERP"])
    market_data = ChainMarketData(board)
    stack = LiveEngineStack(db, client, engine_id="dn-live")
    engine = stack.start(dn_strategy(), board, world.sim.now)
    engine.start(world.sim.now)
    runner = LiveRunner([stack], board, store=stack.store, market_data=market_data)
    return client, board, stack, engine, runner


def test_stale_oracle_refuses_the_entry_and_nothing_reaches_the_chain(world, make_client, tmp_path):
    client, board, stack, engine, runner = _entry_ready(world, make_client, tmp_path)
    world.program.freeze_oracle("SOL-PERP")  # the perp's oracle stops posting
    world.wait(120)  # 300 slots: past slots_before_stale_for_margin (120)
    t = world.sim.now
    runner.run(world.clock, interval_s=60, until=t + 180)
    snap = board.snapshot("SOL-PERP")
    assert "oracle stale" in snap.oracle_invalid and "120" in snap.oracle_invalid
    assert _orders_on_chain(world, client) == []
    rejections = [e for e in stack.store.events("dn-live") if e.kind == "rejection"]
    assert rejections and all("oracle stale" in e.message for e in rejections)
    assert rejections[0].data["check"] == "oracle"

    # the oracle posts again: the same engine enters
    world.program.unfreeze_oracle("SOL-PERP")
    t = world.clock.now()
    runner.run(world.clock, interval_s=60, until=t + 120)
    assert board.snapshot("SOL-PERP").oracle_invalid == ""
    assert len(_orders_on_chain(world, client)) == 2
    runner.close()


def test_wide_oracle_confidence_refuses_new_risk_but_the_kill_still_closes(
    world, make_client, tmp_path
):
    client, board, stack, engine, runner = _entry_ready(world, make_client, tmp_path)
    t = world.sim.now
    runner.run(world.clock, interval_s=60, until=t + 120)  # enters the carry
    state = client.run(client.refresh())
    short = state.position(MarketType.PERP, 0).base_asset_amount
    assert short < 0
    placed = len(_orders_on_chain(world, client))
    # SOL's oracle (the perp and the spot market share it, as on mainnet): confidence
    # 3 % of price, wider than the 2 % a tier-B perp / Collateral asset allows
    world.program.set_oracle_confidence("SOL", world.sim.oracle_price("SOL") * 3 // 100)
    runner.feed()
    snap = board.snapshot("SOL-PERP")
    assert "confidence 3.00% of price, wider than 2.00%" in snap.oracle_invalid
    assert "confidence 3.00% of price" in snap.spot_oracle_invalid
    # more exposure is refused in either leg; reducing passes
    from drift_engine.core.types import OrderIntent

    strat_snap = engine.snapshot(world.clock.now())
    for more in (
        OrderIntent(1, MarketType.SPOT, "long", 10**9),
        OrderIntent(0, MarketType.PERP, "short", 10**9),
    ):
        rejection = engine.risk.check([more], strat_snap)
        assert rejection is not None and rejection.check == "oracle"
    for less in (
        OrderIntent(1, MarketType.SPOT, "short", 10**9, reduce_only=True),
        OrderIntent(0, MarketType.PERP, "long", 10**9),  # buys back part of the short
    ):
        assert engine.risk.check([less], strat_snap) is None
    # the kill switch: cancels and sends reduce-only closes of both legs
    engine.kill(world.clock.now(), "operator kill")
    for _ in range(20):
        world.wait(2)
    state = client.run(client.refresh())
    closes = _orders_on_chain(world, client)[placed:]
    assert len(closes) >= 2 and all(o.reduce_only for o in closes)
    assert state.position(MarketType.PERP, 0) is None or (
        state.position(MarketType.PERP, 0).base_asset_amount == 0
    )
    runner.close()


# --------------------------------------------------------------------------- settle


def test_settle_pnl_runs_on_its_schedule_and_the_chain_shows_funding_settled(
    world, make_client, tmp_path
):
    client, db = _setup(world, make_client, tmp_path)
    _funding_hours(world, [(RATE, RATE, RATE)])
    board = MarketBoard(["SOL-PERP"])
    market_data = ChainMarketData(board)
    stack = LiveEngineStack(db, client, engine_id="dn-live")
    # the strategy never settles by itself: only the schedule does
    engine = stack.start(
        dn_strategy(settle_every_s=0),
        board,
        world.sim.now,
        execution=ExecutionConfig(settle_every_s=HOUR),
    )
    engine.start(world.sim.now)
    runner = LiveRunner([stack], board, store=stack.store, market_data=market_data)
    t0 = world.sim.now
    runner.run(world.clock, interval_s=60, until=t0 + 120)  # enters
    assert client.run(client.refresh()).position(MarketType.PERP, 0).base_asset_amount < 0

    def settles() -> list:
        return [r for r in world.chain.signatures.values() if "settle_pnl" in r.instructions]

    # the schedule started at the first tick (nothing held then): nothing settled yet
    first = len(settles())
    assert first == 0
    # two funding hours pass, the engine ticking every 10 minutes
    for _ in range(2):
        t = world.clock.now()
        _funding_hours(world, [(RATE, RATE, RATE)])
        runner.run(world.clock, interval_s=600, until=t + HOUR + 600)
    done = settles()
    ts_of = [e.ts for e in stack.store.events("dn-live") if e.kind == "settle"]
    assert len(ts_of) == len(done) == 2
    assert ts_of[0] - t0 >= HOUR and ts_of[1] - ts_of[0] >= HOUR
    # the chain: the position's funding is settled up to the market's cumulative rate
    user = world.sim.user(world.key)
    pos = next(p for p in user.perp_positions if p.market_index == 0)
    market = world.sim.perp_markets[0]
    assert pos.base_asset_amount < 0
    assert pos.last_cumulative_funding_rate == market.amm.cumulative_funding_rate_short
    assert user.cumulative_perp_funding > 0  # the short received it, settled
    runner.close()


def test_a_transfer_between_sub_accounts_settles_the_sources_pnl_first(
    world, make_client, keypair_file, tmp_path
):
    """ADR 0021 settled before a withdrawal; a `transfer_deposit` moves USDC out of the
    source sub-account too: its unsettled funding is settled first (ADR 0022)."""
    from drift_engine.core.types import OrderIntent
    from drift_engine.live.capital import ChainMoveBuilder, ChainMoveSender

    client, _db = _setup(world, make_client, tmp_path)
    other = make_client(world.server, sub_account_id=1)
    other.run(other.connect())
    other.run(other.initialize_user())
    with world.chain._lock:  # a short perp held through one funding hour
        world.sim.place_order(
            world.key, OrderIntent(0, MarketType.PERP, "short", 10**9), world.sim.now
        )
    _funding_hours(world, [(RATE, RATE, RATE)])
    user = world.sim.user(world.key)
    assert user.cumulative_perp_funding == 0  # nothing settles by itself on chain
    sender = ChainMoveSender(
        world.server.url,
        keypair_file,
        clock=world.clock,
        client_options=dict(confirm_timeout_s=5.0, confirm_poll_s=0.4, backoff_initial_s=0.05),
    )
    move = ChainMoveBuilder().transfer_deposit(
        authority=str(world.keypair.pubkey()),
        from_sub_account_id=0,
        to_sub_account_id=1,
        spot_market_index=0,
        amount=100 * USDC,
    )
    sender.send_and_confirm([move])
    order = [
        ix
        for rec in sorted(world.chain.signatures.values(), key=lambda r: r.slot)
        for ix in rec.instructions
        if ix in ("settle_pnl", "transfer_deposit")
    ]
    assert order == ["settle_pnl", "transfer_deposit"]
    assert user.cumulative_perp_funding > 0  # the short's funding, settled
    assert world.sim.token_amount((world.keypair.pubkey(), 1), (MarketType.SPOT, 0)) == 100 * USDC
    other.close_blocking()
    client.close_blocking()
