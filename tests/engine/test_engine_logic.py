"""DriftEngine's own logic (states, risk, booking, persistence) over a fake venue."""

from __future__ import annotations

import pytest

from drift_engine.core.types import MarketType
from drift_engine.engine import DriftEngine, EngineState, MarketBoard, MemoryEngineStore
from drift_engine.engine.ledger import MemoryLedgerSink
from drift_engine.heartbeat import HeartbeatDataCollector
from drift_engine.risk import RiskLimits, RiskManager
from drift_engine.strategies import DeltaNeutralStrategy

from .fakes import FakeVenue

H = 3600
USDC = 1_000_000
POS = 0.2 / 8760


def setup(limits=None, store=None, **cfg):
    board = MarketBoard(["SOL-PERP"])
    board.set_price("SOL-PERP", 100 * USDC)
    for h in range(24):
        board.add_funding("SOL-PERP", h * H, POS)
    venue = FakeVenue(board)
    ledger = MemoryLedgerSink("v1", 10_000 * USDC)
    strat = DeltaNeutralStrategy({"retry_after_s": 0, **cfg})
    engine = DriftEngine(
        "e1",
        strat,
        venue,
        ledger,
        board,
        risk=RiskManager(limits or RiskLimits()),
        store=store or MemoryEngineStore(),
    )
    return engine, venue, ledger, board


def test_runs_strategy_and_books_fills():
    engine, venue, ledger, _ = setup()
    engine.start(24 * H)
    engine.step(24 * H)
    assert engine.state is EngineState.RUNNING
    assert venue.holdings[(MarketType.SPOT, 1)] == 90 * 10**9
    assert venue.holdings[(MarketType.PERP, 0)] == -90 * 10**9
    assert engine.stats.fills == 2 and ledger.total("fill") == -9_000 * USDC
    assert engine.strategy.state.fills == 2


def test_events_booked_once_and_reach_strategy_once():
    engine, venue, ledger, _ = setup()
    engine.start(0)
    venue.pay_funding(H, 5 * USDC)
    dup = venue.pending[0]
    engine.step(H)
    venue.pending.append(dup)  # the venue reports the same record again
    engine.step(2 * H)
    assert ledger.total("funding") == 5 * USDC
    assert engine.strategy.state.funding_earned == 5 * USDC
    assert engine.stats.duplicates == 1


def test_max_order_notional_rejects_and_logs():
    store = MemoryEngineStore()
    engine, venue, _, _ = setup(RiskLimits(max_order_notional_usdc=1_000), store=store)
    engine.start(0)
    engine.step(24 * H)
    assert venue.placed == []
    kinds = [e[2] for e in store.events]
    assert "rejection" in kinds
    (rej,) = [e for e in store.events if e[2] == "rejection"]
    assert rej[4]["check"] == "max_order_notional"


def test_max_leverage_rejects():
    engine, venue, _, _ = setup(RiskLimits(max_leverage=0.5))
    engine.start(0)
    engine.step(24 * H)
    assert venue.placed == [] and engine.stats.rejections == 1


def test_health_floor_reduces_then_recovers():
    store = MemoryEngineStore()
    engine, venue, _, _ = setup(
        RiskLimits(health_floor=20, target_health=50), store=store, min_health=0
    )
    engine.start(0)
    engine.step(24 * H)
    venue.health = 10
    engine.step(25 * H)
    assert engine.state is EngineState.REDUCING
    reduce = venue.placed[-1]
    assert all(o.reduce_only for o in reduce) and len(reduce) == 2
    # f = 1 - 0.5/0.9 = 44.4% of 90 -> 40 SOL (rounded up to a step)
    assert venue.holdings[(MarketType.PERP, 0)] == -50 * 10**9
    assert venue.holdings[(MarketType.SPOT, 1)] == 50 * 10**9
    venue.health = 60
    engine.step(26 * H)
    assert engine.state is EngineState.RUNNING
    transitions = [e[3] for e in store.events if e[2] == "transition"]
    assert any("running -> reducing" in t for t in transitions)
    assert any("reducing -> running" in t for t in transitions)


def test_kill_switch_flattens_and_halts():
    engine, venue, _, _ = setup()
    engine.start(0)
    engine.step(24 * H)
    venue.orders_open = 3
    engine.kill(25 * H)
    assert engine.state is EngineState.HALTED
    assert venue.orders_open == 0
    assert venue.positions() == ()
    engine.step(26 * H)  # halted: the strategy is not asked again
    assert venue.positions() == ()


def test_drawdown_halts_and_flattens():
    engine, venue, _, board = setup(RiskLimits(max_drawdown=0.1))
    engine.start(0)
    engine.step(24 * H)
    venue.usdc -= 2_000 * USDC  # lose 20% of equity
    engine.step(25 * H)
    assert engine.state is EngineState.HALTED and venue.positions() == ()


def test_paused_engine_books_but_does_not_trade():
    engine, venue, ledger, _ = setup()
    engine.start(0)
    engine.pause(H)
    venue.pay_funding(2 * H, USDC)
    engine.step(24 * H)
    assert venue.placed == [] and ledger.total("funding") == USDC
    engine.resume(25 * H)
    engine.step(25 * H)
    assert venue.placed


def test_restart_resumes_state_from_store():
    store = MemoryEngineStore()
    engine, venue, ledger, board = setup(store=store)
    engine.start(0)
    engine.step(24 * H)
    dumped = engine.strategy.dump_state()
    again = DriftEngine(
        "e1", DeltaNeutralStrategy({"retry_after_s": 0}), venue, ledger, board, store=store
    )
    assert again.state is EngineState.RUNNING
    assert again.strategy.dump_state() == dumped
    assert again.high_water_mark == engine.high_water_mark
    again.step(25 * H)
    assert len(venue.placed) == 1  # no second entry


def test_venue_failure_is_a_rejection_not_a_crash():
    engine, venue, _, _ = setup()
    engine.start(0)
    venue.fail_next = True
    engine.step(24 * H)
    assert engine.stats.rejections == 1 and engine.state is EngineState.RUNNING


def test_heartbeat_isolates_a_failing_engine():
    good, gv, _, board = setup()
    bad, bv, _, _ = setup()
    bad.engine_id = "bad"

    def boom(ts):
        raise RuntimeError("boom")

    good.start(0)
    bad.start(0)
    bv.poll_events = boom
    hb = HeartbeatDataCollector([], board, [bad, good])
    r = hb.tick(24 * H)
    assert r.engines_stepped == 1 and r.errors[0]["engine"] == "bad"
    assert bad.state is EngineState.HALTED and good.state is EngineState.RUNNING
    assert gv.placed
    r2 = hb.tick(25 * H)
    assert r2.engines_stepped == 1 and not r2.errors
    bv.poll_events = lambda ts: []  # repaired; the operator starts it again
    bad.resume(26 * H, "operator start")
    assert hb.tick(26 * H).engines_stepped == 2


@pytest.mark.parametrize("state", ["paused", "halted"])
def test_resume_from(state):
    engine, venue, _, _ = setup()
    engine.start(0)
    engine.pause(1) if state == "paused" else engine.kill(1)
    engine.resume(2)
    assert engine.state is EngineState.RUNNING


def test_delta_neutral_engine_is_a_drift_engine_running_delta_neutral():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the engine name itself is not deprecated
        from delta_neutral import DeltaNeutralEngine

    board = MarketBoard(["SOL-PERP"])
    board.set_price("SOL-PERP", 100 * USDC)
    venue = FakeVenue(board)
    engine = DeltaNeutralEngine("dn", venue, MemoryLedgerSink("v"), board, {"entry_apr": 0.1})
    assert isinstance(engine, DriftEngine)
    assert isinstance(engine.strategy, DeltaNeutralStrategy)
    assert engine.strategy.config.entry_apr == 0.1


class RowStore:
    def __init__(self):
        self.rows = []

    def record_heartbeat(self, ts, duration_ms, events, stepped, errors, *, market_state=None):
        self.rows.append((ts, duration_ms, events, stepped, errors, market_state))


def test_heartbeat_records_rows_and_feeds_markets():
    from drift_engine.data.models import OracleTick

    engine, venue, _, board = setup()
    engine.start(0)
    fed = []

    class Sink:
        def apply(self, event):
            fed.append(event)

    store = RowStore()
    events = [OracleTick(10, "SOL-PERP", 101 * USDC), OracleTick(70, "SOL-PERP", 102 * USDC)]
    hb = HeartbeatDataCollector(events, board, [engine], markets=[Sink()], store=store)
    hb.run_events(interval_s=60)
    assert [r[0] for r in store.rows] == [60, 120]
    assert [(r[2], r[3], r[4]) for r in store.rows] == [(1, 1, []), (1, 1, [])]
    assert all(r[1] >= 0 for r in store.rows)
    assert fed == events and board.snapshot("SOL-PERP").oracle_price == 102 * USDC
    # each row carries the board as it was at that tick
    assert [r[5]["SOL-PERP"]["oracle_price"] for r in store.rows] == [101 * USDC, 102 * USDC]


def test_live_mode_leaves_funding_to_reconciliation():
    board = MarketBoard(["SOL-PERP"])
    board.set_price("SOL-PERP", 100 * USDC)
    venue = FakeVenue(board)
    ledger = MemoryLedgerSink("v")
    engine = DriftEngine("live", DeltaNeutralStrategy({}), venue, ledger, board, mode="live")
    engine.start(0)
    venue.pay_funding(H, 3 * USDC)
    engine.step(H)
    assert ledger.total("funding") == 0
    assert engine.stats.funding == engine.strategy.state.funding_earned == 3 * USDC


def test_token_interest_is_not_booked_as_cash_but_usdc_interest_is():
    from drift_engine.engine import InterestEvent

    engine, venue, ledger, _ = setup()
    engine.start(0)
    venue.pending += [
        InterestEvent("interest:1", H, 0, 2 * USDC, 2 * USDC),
        InterestEvent("interest:2", H, 1, 3 * USDC, 30_000_000),
    ]
    engine.step(H)
    assert ledger.total("interest") == 2 * USDC
    assert engine.stats.interest == 5 * USDC


def test_partial_placement_books_the_filled_leg_and_logs_the_refusal():
    store = MemoryEngineStore()
    engine, venue, ledger, _ = setup(store=store)
    engine.start(0)
    venue.fail_after_first = True
    engine.step(24 * H)
    assert engine.stats.fills == 1 and ledger.total("fill") == -9_000 * USDC
    (rej,) = [e for e in store.events if e[2] == "rejection"]
    assert rej[4]["check"] == "venue" and "second leg refused" in rej[3]
