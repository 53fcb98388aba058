"""Issue 11 acceptance, the scenarios, each on the unkind local chain with a LIVE engine:

* one leg fills and the other expires: the residual is hedged, or unwound after the
  hedge timeout — never doubled — and the unhedged exposure shows in the engine record
  and the API while it exists;
* every confirmation lost for 60 s: the orders are UNKNOWN (never rejected), the engine
  blocks new exposure, the chain resolves them, nothing is placed twice;
* a post-only order that would cross is rejected (REJECTED, the strategy told).
(An order outside the market expiring at max_ts: the first scenario's perp leg, and
tests/live/test_unkind_chain.py. A restart mid-auction: tests/live/test_live_start_rules
.py, rules 3 and 4.)"""

from __future__ import annotations

from collections import Counter
from typing import ClassVar

from fastapi.testclient import TestClient

from drift_engine.core.types import MarketType, OrderIntent
from drift_engine.engine.orders import OrderStatus
from drift_engine.live.start import LiveEngineStack
from drift_engine.sim.pricing import PriceModel
from drift_engine.storage.database import Database
from drift_engine.strategies.base import (
    DriftStrategy,
    OrderRejected,
    PlaceOrders,
    StrategySnapshot,
)
from tests.live import independent
from tests.live.live_helpers import USDC, board_for, dn_strategy

HOUR = 3600
RATE = 2_000_000
PERP = (MarketType.PERP, 0)
#: a SOL-PERP market whose makers quote 1% away: a 50 bps taker never fills there
WIDE = PriceModel(half_spread_ppm=10_000)


def _client(world, make_client, **kw):
    client = make_client(world.server, now=lambda: world.sim.now, **kw)
    client.run(client.connect())
    client.run(client.initialize_user())
    client.run(client.deposit(5_000 * USDC, 0))
    return client


def _stack(world, client, tmp_path, strategy):
    db = Database.open(f"sqlite:///{tmp_path / 'live.db'}")
    stack = LiveEngineStack(db, client, engine_id="dn-live")
    board = board_for(world)
    board.add_funding("SOL-PERP", world.sim.now, RATE / (150_000_000 * 1000))
    engine = stack.start(strategy, board, world.sim.now)
    engine.start(world.sim.now)
    return db, stack, engine


def _minute(world, stack, engine, t: int) -> None:
    """One minute of the live loop at chain time t: the keeper works the slots in
    between, the engine steps, the vault syncs."""
    world.clock.sleep_until(t)
    world.chain.sync()
    engine.step(t)
    stack.sync(t)


def _placed_by_uid(world, client) -> Counter:
    return Counter(
        o.user_order_id for o in independent.order_records(world.chain, client.user_pubkey)
    )


def _spot(world) -> int:
    return world.sim.token_amount(world.key, "SOL")


def _perp(world) -> int:
    p = world.sim.perp_position(world.key, "SOL-PERP")
    return 0 if p is None else p.base_asset_amount


# --------------------------------------------------------------------------- two legs


def test_one_leg_fills_the_other_expires_and_the_residual_is_hedged(world, make_client, tmp_path):
    world.sim._price_models[PERP] = WIDE  # the perp leg cannot fill within its band
    client = _client(world, make_client)
    db, stack, engine = _stack(world, client, tmp_path, dn_strategy(hedge_timeout_s=600))
    t0 = world.sim.now
    engine.step(t0)  # the entry: both legs, one transaction
    entry = {o.user_order_id: o for o in stack.orders.working()}
    assert len(entry) == 2
    exposures = []
    hedged_at = None
    for k in range(1, 12):
        _minute(world, stack, engine, t0 + 60 * k)
        record = stack.store.load("dn-live")
        if record.extra.get("unhedged"):
            exposures.append(record.extra["unhedged"])
            if hedged_at is None and exposures[-1]["action"] == "hedge":
                hedged_at = k
                world.sim._price_models.pop(PERP)  # the market comes back: the hedge fills
    # the perp leg expired at its max_ts, unfilled; the spot leg filled
    orders = stack.orders.store.all("dn-live")
    perp_entry = next(
        o
        for o in orders
        if o.seq in {e.seq for e in entry.values()} and o.intent.market_type is MarketType.PERP
    )
    assert perp_entry.status is OrderStatus.EXPIRED and perp_entry.base_filled == 0
    assert perp_entry.intent.max_ts == t0 + 60
    # while it existed the exposure was in the engine record (the API serves it): first
    # while the perp leg still worked, then with the hedge
    assert exposures and all(e["base"] > 0 for e in exposures) and hedged_at is not None
    # hedged: delta neutral again, nothing doubled
    spot, perp = _spot(world), _perp(world)
    assert spot > 0 and perp == -spot
    spot_entry = next(e for e in entry.values() if e.intent.market_type is MarketType.SPOT)
    assert spot == spot_entry.intent.base_asset_amount  # the spot leg was never re-bought
    assert stack.store.load("dn-live").extra.get("unhedged") is None
    assert engine.strategy.state.entries == 1 and engine.strategy.state.hedges >= 1
    assert set(_placed_by_uid(world, client).values()) == {1}
    raw = independent.chain_cash(world.server.url, world.keypair.pubkey())
    assert stack.registry.summary("dn-live").balance == raw["cash"]


def test_a_residual_not_hedged_in_time_is_unwound_and_shown_meanwhile(world, make_client, tmp_path):
    world.sim._price_models[PERP] = WIDE  # the perp market stays out of reach
    client = _client(world, make_client)
    strategy = dn_strategy(hedge_timeout_s=300, retry_after_s=HOUR)  # no re-entry for an hour
    db, stack, engine = _stack(world, client, tmp_path, strategy)
    t0 = world.sim.now
    engine.step(t0)
    shown = []
    max_spot = 0
    for k in range(1, 12):
        _minute(world, stack, engine, t0 + 60 * k)
        max_spot = max(max_spot, _spot(world))
        record = stack.store.load("dn-live")
        if record.extra.get("unhedged"):
            shown.append(record.extra["unhedged"]["action"])
            if len(shown) == 1:  # the dashboard's API serves it while it exists
                from drift_engine.dashboard.app import create_app
                from drift_engine.dashboard.reader import DashboardReader

                app = create_app(DashboardReader(db, stale_after=1e12))
                with TestClient(app) as http:
                    body = http.get("/api/engines/dn-live").json()
                assert body["unhedged"]["base"] == record.extra["unhedged"]["base"] > 0
                assert body["orders"]["blocked"] is False
    assert "hedge" in shown and "unwind" in shown  # hedge tried first, then unwound
    # unwound: flat, never more than the one entry's spot
    assert _perp(world) == 0 and _spot(world) < 10**7  # dust below a step may stay
    spot_orders = [
        o for o in stack.orders.store.all("dn-live") if o.intent.market_type is MarketType.SPOT
    ]
    assert spot_orders[0].intent.base_asset_amount == max_spot
    assert [o.intent.reduce_only for o in spot_orders] == [False, True]  # entry, unwind
    assert stack.store.load("dn-live").extra.get("unhedged") is None
    assert engine.strategy.state.entries == 1 and engine.strategy.state.unwinds == 1
    assert set(_placed_by_uid(world, client).values()) == {1}
    raw = independent.chain_cash(world.server.url, world.keypair.pubkey())
    assert stack.registry.summary("dn-live").balance == raw["cash"]


# --------------------------------------------------------------------------- unknown


def test_every_confirmation_lost_for_60s_orders_unknown_engine_blocks_chain_resolves(
    world, make_client, tmp_path
):
    client = _client(world, make_client, max_attempts=3)
    db, stack, engine = _stack(world, client, tmp_path, dn_strategy())
    t0 = world.sim.now
    # for 60 s of chain time every answer is lost (the node processes the requests:
    # the entry's transaction lands, but nothing can confirm it)
    faults = world.server.faults

    def blackout(kind: str, method: str) -> None:
        if method == "sendTransaction":  # from the entry's send on
            faults.arm_for("drop_response", 60)

    faults.on_fire = blackout
    faults.arm("drop_response", "sendTransaction")
    engine.step(t0)
    statuses = {o.status for o in stack.orders.working()}
    assert statuses == {OrderStatus.UNKNOWN} and stack.orders.blocked
    events = [e.kind for e in stack.store.events("dn-live")]
    assert "orders-unknown" in events and "rejection" not in events  # unknown != rejected
    # the entry did land on chain meanwhile
    assert sum(_placed_by_uid(world, client).values()) == 2
    # blocked: new exposure waits; a reduce-only order (and cancels) still go
    snap = engine.snapshot(t0 + 5)
    more = PlaceOrders((OrderIntent(0, MarketType.PERP, "short", 10**9),), reason="more")
    engine._execute_all([more], snap, t0 + 5)
    assert stack.store.events("dn-live", "blocked")
    assert sum(_placed_by_uid(world, client).values()) == 2  # nothing sent
    # chain reads work again: the orders are found, resolved, then filled by the keeper
    for k in range(1, 4):
        _minute(world, stack, engine, t0 + 60 * k)
    done = {o.status for o in stack.orders.store.all("dn-live")}
    assert done == {OrderStatus.FILLED} and not stack.orders.blocked
    # no duplicate: each user order id placed once, the entry not re-sent
    placed = _placed_by_uid(world, client)
    assert set(placed.values()) == {1} and sum(placed.values()) == 2
    assert _spot(world) > 0 and _perp(world) == -_spot(world)
    raw = independent.chain_cash(world.server.url, world.keypair.pubkey())
    assert stack.registry.summary("dn-live").balance == raw["cash"]


# --------------------------------------------------------------------------- post-only


class MakerOnce(DriftStrategy):
    """Proposes one post-only bid at a price that would cross the market."""

    name: ClassVar[str] = "maker-once"

    def __init__(self, price: int) -> None:
        super().__init__({})
        self.price = price
        self.sent = False
        self.rejections: list[OrderRejected] = []

    def markets(self) -> list[str]:
        return ["SOL-PERP"]

    def on_tick(self, snapshot: StrategySnapshot) -> list:
        if self.sent:
            return []
        self.sent = True
        from drift_engine.core.types import PositionDirection
        from drift_engine.engine.execution import OrderPricer

        bid = OrderPricer().maker(MarketType.PERP, 0, PositionDirection.LONG, 10**9, self.price)
        return [PlaceOrders((bid,), reason="post a bid")]

    def on_rejected(self, rejection: OrderRejected) -> None:
        self.rejections.append(rejection)


def test_a_post_only_that_would_cross_is_rejected(world, make_client, tmp_path):
    client = _client(world, make_client)
    strategy = MakerOnce(151_000_000)  # above the ask: it would take
    db, stack, engine = _stack(world, client, tmp_path, strategy)
    engine.step(world.sim.now)
    (order,) = stack.orders.store.all("dn-live")
    assert order.status is OrderStatus.REJECTED
    assert "0x17a9" in order.reason or "6057" in order.reason or "PostOnly" in order.reason
    (rejection,) = strategy.rejections
    assert rejection.user_order_ids == (order.user_order_id,)
    assert stack.store.events("dn-live", "rejection")
    assert client.run(client.refresh()).open_orders == ()
    # a bid below the market rests (OPEN)
    strategy2 = MakerOnce(149_000_000)
    engine.strategy = strategy2
    engine.step(world.sim.now + 1)
    engine.step(world.sim.now + 2)  # the next read shows it resting
    resting = list(stack.orders.working())
    assert [o.status for o in resting] == [OrderStatus.OPEN] and resting[0].order_id is not None
