"""Scenarios on the real stack: DriftSimulator + PaperVenue + vault ledger in SQLite +
DriftEngine + DeltaNeutralStrategy, driven by crafted market data through the heartbeat."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drift_engine.core.types import MarketType, OrderIntent, OrderType, PositionDirection
from drift_engine.data.models import FundingRecord, OracleTick
from drift_engine.engine import DriftEngine, EngineState
from drift_engine.engine.ledger import VaultLedgerSink
from drift_engine.engine.paper import PaperStack
from drift_engine.risk import RiskLimits, RiskManager
from drift_engine.storage.database import Database
from drift_engine.storage.enums import EntryKind
from drift_engine.strategies import DeltaNeutralStrategy
from drift_engine.venues.paper import PaperVenue

H = 3600
T0 = 1_767_225_600  # 2026-01-01 00:00 UTC
USDC = 1_000_000
CAPITAL = 10_000 * USDC
BASE = 10**9


def market(hours: int, apr, price, *, minutes: int = 15) -> Iterator:
    """Oracle ticks every `minutes` and an hourly funding record; `apr(h)`, `price(t)`."""
    cum = 0
    for h in range(hours):
        for m in range(0, 60, minutes):
            t = T0 + h * H + m * 60
            yield OracleTick(t, "SOL-PERP", price(t), "synthetic")
        ts = T0 + (h + 1) * H
        p = price(ts)
        rate = round(apr(h) / 8760 * p * 1000)
        cum += rate
        yield OracleTick(ts, "SOL-PERP", p, "synthetic")
        yield FundingRecord(ts, "SOL-PERP", 0, rate, rate, rate, cum, cum, p, p, "synthetic")


def flat_price(t: int) -> int:
    return 100 * USDC


@pytest.fixture
def db(tmp_path):
    d = Database.open(f"sqlite:///{tmp_path / 'scenario.db'}")
    yield d
    d.dispose()


def build(db, limits=None, **cfg):
    stack = PaperStack(db, ["SOL-PERP"], T0, epoch="t")
    params = {"retry_after_s": 0, "lookback_hours": 6, "exit_window_hours": 12, **cfg}
    engine = stack.add_engine("dn-sol", DeltaNeutralStrategy(params), CAPITAL, limits=limits)
    engine.start(T0)
    return stack, engine


def legs(engine) -> tuple[int, int]:
    spot = perp = 0
    for p in engine.venue.positions():
        if p.market_type is MarketType.PERP and p.market_index == 0:
            perp = p.base_asset_amount
        if p.market_type is MarketType.SPOT and p.market_index == 1:
            spot = p.base_asset_amount
    return spot, perp


def ledger_sum(stack, engine, kind: EntryKind) -> int:
    entries = stack.registry.ledger.entries(engine.ledger.vault_id)
    return sum(e.amount for e in entries if e.kind is kind)


def test_positive_funding_enters_hedged_and_earns_funding(db):
    stack, engine = build(db)
    stack.heartbeat(market(48, lambda h: 0.20, flat_price)).run_events(interval_s=900)
    spot, perp = legs(engine)
    # 0.9 x 10,000 USDC at $100 -> 90 SOL each side
    assert spot >= 90 * BASE and perp == -90 * BASE
    assert engine.strategy.state.side == "long_carry"
    funding = ledger_sum(stack, engine, EntryKind.FUNDING)
    # entered after 6 hours of history; shorts then receive 20% APR on 9,000 USDC for
    # the 42 remaining hours: 9,000 x 0.2 / 8760 = 0.2055 USDC an hour
    assert funding == 42 * (90 * 2_283_105 // 1000)
    assert 8 * USDC < funding < 9 * USDC
    assert funding == engine.stats.funding == engine.strategy.state.funding_earned
    fills = [e for e in stack.registry.ledger.entries("dn-sol") if e.kind is EntryKind.FILL]
    assert len(fills) == 2  # both legs: cash (spot) or realized PnL (perp, 0 here) + fee
    assert all(e.fee > 0 for e in fills)
    assert engine.venue.margin(T0 + 48 * H).health > 80


def test_negative_funding_longer_than_exit_window_exits(db):
    stack, engine = build(db)
    apr = lambda h: 0.20 if h < 24 else -0.30  # noqa: E731
    hb = stack.heartbeat(market(24 + 12, apr, flat_price))
    hb.run_events(interval_s=900)
    # the 6h average turns negative a few hours in; the 12h exit window has not passed
    assert legs(engine)[1] == -90 * BASE
    hb2 = stack.heartbeat([])
    hb2._events = iter(list(market(60, apr, flat_price))[(24 + 12) * 6 :])
    hb2.run_events(interval_s=900)
    spot, perp = legs(engine)
    assert perp == 0 and spot < 10_000_000  # flat (interest dust below a step)
    assert engine.strategy.state.side == "flat" and engine.strategy.state.exits == 1
    events = stack.store.events("dn-sol", "orders")
    assert any("exit: carry" in e.message for e in events)
    assert engine.state is EngineState.RUNNING


def test_price_crash_stays_delta_neutral(db):
    stack, engine = build(db, rebalance_band=0.02)

    def crash(t: int) -> int:  # $100 for 12h, then -60% over 12h, then flat
        h = (t - T0) / H
        if h < 12:
            return 100 * USDC
        return int(100 * USDC * max(0.4, 1 - 0.05 * (h - 12)))

    worst = []

    def check(result):
        spot, perp = legs(engine)
        if perp:
            worst.append(abs(spot + perp) / abs(perp))

    stack.heartbeat(market(36, lambda h: 0.2, crash), on_tick=check).run_events(interval_s=900)
    spot, perp = legs(engine)
    assert perp == -90 * BASE and worst
    assert max(worst) <= 0.02
    assert engine.stats.liquidations == 0
    assert engine.venue.margin(T0 + 36 * H).health > 50


def test_health_below_floor_deleverages_with_reduce_only_orders(db):
    limits = RiskLimits(health_floor=70, target_health=85, max_leverage=5)
    stack, engine = build(db, limits, target_leverage=3.0, min_health=0)

    def squeeze(t: int) -> int:  # +40% in 8 hours after entry: the short perp bleeds
        h = (t - T0) / H
        return int(100 * USDC * (1 + 0.05 * min(8, max(0.0, h - 8))))

    stack.heartbeat(market(24, lambda h: 0.3, squeeze)).run_events(interval_s=900)
    events = stack.store.events("dn-sol")
    transitions = [e.message for e in events if e.kind == "transition"]
    assert any("running -> reducing" in t for t in transitions)
    delev = [e for e in events if e.kind == "deleverage"]
    assert delev
    orders = [e for e in events if e.kind == "orders" and "health" in e.message]
    assert orders and all(o["reduce_only"] for e in orders for o in e.data["orders"])
    spot, perp = legs(engine)
    assert 0 < -perp < 300 * BASE  # reduced from the 300 SOL entry, not closed
    assert engine.venue.margin(T0 + 24 * H).health >= 70
    assert engine.stats.liquidations == 0


def test_kill_switch_leaves_flat_with_no_open_orders(db):
    stack, engine = build(db)
    stack.heartbeat(market(12, lambda h: 0.2, flat_price)).run_events(interval_s=900)
    resting = OrderIntent(
        market_index=0,
        market_type=MarketType.PERP,
        direction=PositionDirection.LONG,
        base_asset_amount=BASE,
        order_type=OrderType.LIMIT,
        price=50 * USDC,
    )
    engine.venue.place([resting], T0 + 12 * H)
    assert len(engine.venue.open_orders()) == 1
    engine.kill(T0 + 12 * H, "test kill")
    assert engine.state is EngineState.HALTED
    assert engine.venue.open_orders() == []
    spot, perp = legs(engine)
    assert perp == 0 and spot < 10_000_000
    # halted: more positive funding does not re-enter
    hb = stack.heartbeat([])
    hb._events = iter(list(market(24, lambda h: 0.2, flat_price))[12 * 6 :])
    hb.run_events(interval_s=900)
    assert legs(engine)[1] == 0
    kinds = [e.kind for e in stack.store.events("dn-sol")]
    assert "kill" in kinds and "flatten" in kinds


def test_restart_mid_run_resumes_and_books_nothing_twice(db):
    stack, engine = build(db)
    events = list(market(48, lambda h: 0.2 if h < 30 else -0.4, flat_price))
    half = len(events) // 2
    hb = stack.heartbeat(events[:half])
    hb.run_events(interval_s=900)
    before_state = engine.strategy.dump_state()
    before_legs = legs(engine)
    assert before_legs[1] == -90 * BASE

    # "crash": drop the engine, its venue and its ledger sink; the simulator (the chain
    # for a paper account) and the database survive. A new venue re-reads every record.
    venue = PaperVenue(stack.sim, engine.venue.key, epoch="t", replay_from_start=True)
    ledger = VaultLedgerSink(stack.registry.ledger, "dn-sol", "dn-sol")
    again = DriftEngine(
        "dn-sol",
        DeltaNeutralStrategy(engine.strategy.config),
        venue,
        ledger,
        stack.board,
        risk=RiskManager(),
        store=stack.store,
    )
    assert again.state is EngineState.RUNNING
    assert again.strategy.dump_state() == before_state
    assert legs(again) == before_legs
    stack.engines[:] = [again]
    hb2 = stack.heartbeat([])
    hb2._events = iter(events[half:])
    hb2.run_events(interval_s=900)
    assert again.stats.duplicates > 0  # the replayed records were recognised ...
    entries = stack.registry.ledger.entries("dn-sol")
    keys = [e.key for e in entries]
    assert len(keys) == len(set(keys))  # ... and none was booked twice
    fills = [r for r in stack.sim.records if r.kind == "fill"]
    booked_fills = [e for e in entries if e.kind is EntryKind.FILL]
    assert len(fills) == 4  # entry (2 legs) and exit (2 legs)
    assert sorted(e.key for e in booked_fills) == sorted(f"fill:t:fill:{f.seq}" for f in fills)
    funding_records = [r for r in stack.sim.records if r.kind == "funding"]
    assert ledger_sum(stack, again, EntryKind.FUNDING) == sum(
        r.funding_payment for r in funding_records
    )
    assert again.strategy.state.exits == 1 and legs(again)[1] == 0


def test_a_fast_run_after_a_peek_at_the_next_event_keeps_the_tape_in_line(db):
    """`next_event_time` reads one event ahead; a fast run started after it begins with
    that event, and the tape's arrays describe the same events as its buffer (they are
    what the fast path plans its skips from)."""
    stack, _ = build(db)
    events = list(market(6, lambda h: 0.20, flat_price))
    hb = stack.heartbeat(iter(events))
    assert hb.next_event_time() == events[0].time  # the peek: one event held back
    hb.run_events(interval_s=900, fast=True, until=events[0].time - 1)  # fills the tape only
    tape = hb._tape
    assert len(tape.buf) == len(tape.time) == len(events)
    assert [e.time for e in tape.buf] == tape.time.tolist() == [e.time for e in events]
