"""The funding-spread strategy on the real simulator, engine and vault ledger: two perp
legs, perps only; entry on a wide spread, exit when it closes, rebalancing when prices
drift apart, and wake conditions that never hide a decision."""

from __future__ import annotations

import pytest

from drift_engine.backtest.runner import market_events, parse_date, run_backtest
from drift_engine.core.types import MarketType
from drift_engine.data.models import FundingRecord, OracleTick, merge_events
from drift_engine.strategies import FundingSpreadStrategy, strategy_class
from drift_engine.strategies.wake import EVERY_TICK, fired

HOUR = 3600
START = parse_date("2026-03-01")
SOL, BTC = "SOL-PERP", "BTC-PERP"
INDEX = {SOL: 0, BTC: 1}


def funding(ts: int, market: str, apr: float, price: int) -> FundingRecord:
    """A funding record as Drift writes it: rate in quote per base (1e9) = hourly
    fraction x oracle TWAP (1e6) x 1e3."""
    rate = round(apr / 8760 * price * 1000)
    return FundingRecord(ts, market, INDEX[market], rate, rate, rate, 0, 0, price, price)


def scenario(hours: int, sol_apr, btc_apr, sol_price, btc_price=100_000_000_000, step=600):
    """Oracle ticks every `step` s and hourly funding for SOL-PERP and BTC-PERP; the
    rates and prices are functions of the hour."""
    ticks, records = [], []
    for t in range(START, START + hours * HOUR, step):
        h = (t - START) // HOUR
        ticks += [OracleTick(t, SOL, sol_price(h)), OracleTick(t, BTC, btc_price)]
        if (t - START) % HOUR == 0 and t > START:
            records += [funding(t, SOL, sol_apr(h), sol_price(h)),
                        funding(t, BTC, btc_apr(h), btc_price)]  # fmt: skip
    return list(merge_events(ticks, records))


def run(events, hours, **params):
    cfg = {"lookback_hours": 3, "exit_window_hours": 0, "retry_after_s": 0, **params}
    return run_backtest(
        "funding-spread", SOL, START, START + hours * HOUR, cfg, data=(events, "constructed")
    )


def test_enters_the_spread_with_equal_legs_collects_it_and_exits_when_it_closes():
    # SOL pays +40% APR, BTC +5%: short SOL / long BTC. From hour 12 SOL pays 0%.
    events = scenario(20, lambda h: 0.40 if h < 12 else 0.0, lambda h: 0.05, lambda h: 100_000_000)
    r = run(events, 20, entry_apr=0.10, exit_apr=0.02)
    st = r.strategy_state
    assert st["entries"] == 1 and st["exits"] == 1 and st["side"] == "flat"
    assert r.liquidations == 0 and r.rejections == 0
    assert r.fills == 4  # two legs in, two legs out
    # funding: the short SOL leg received, the long BTC leg paid less; all in the ledger
    assert r.funding > 0 and r.funding == r.ledger_funding == st["funding_earned"]
    # in the market from the first decision with 3 hours of history until the exit
    periods = r.in_market_periods()
    assert len(periods) == 1
    assert (
        periods[0][0] == START + 3 * HOUR and START + 12 * HOUR <= periods[0][1] < START + 14 * HOUR
    )


def test_the_reverse_spread_goes_long_the_first_leg():
    events = scenario(8, lambda h: -0.30, lambda h: 0.05, lambda h: 100_000_000)
    r = run(events, 8, entry_apr=0.10, exit_apr=0.0)
    assert r.strategy_state["side"] == "long_a" and r.funding > 0


def test_legs_are_rebalanced_to_equal_notional_when_prices_move_apart():
    # SOL rallies 20% over 10 hours while BTC stays: the short SOL leg outgrows the long
    # BTC leg; the BTC leg is topped up each time the gap passes the 5% band.
    events = scenario(
        14, lambda h: 0.40, lambda h: 0.0, lambda h: 100_000_000 + 2_000_000 * min(h, 10)
    )
    stack_report = run(events, 14, entry_apr=0.10, exit_apr=0.0, rebalance_band=0.05)
    st = stack_report.strategy_state
    assert st["entries"] == 1 and st["rebalances"] >= 2 and st["side"] == "short_a"
    positions = _final_positions(events, 14, entry_apr=0.10, exit_apr=0.0, rebalance_band=0.05)
    sol_notional = abs(positions[0]) * 120 // 10**3  # base 1e9 x $120 -> micro-USDC
    btc_notional = abs(positions[1]) * 100_000 // 10**3
    assert positions[0] < 0 < positions[1]
    assert abs(sol_notional - btc_notional) <= 0.05 * (sol_notional + btc_notional) / 2


def _final_positions(events, hours, **params):
    """Perp bases at the end of the same run, read from the simulator."""
    import tempfile

    from drift_engine.engine.paper import PaperStack
    from drift_engine.storage.database import Database

    with tempfile.TemporaryDirectory() as tmp:
        db = Database.open(f"sqlite:///{tmp}/x.db")
        try:
            cfg = {"lookback_hours": 3, "exit_window_hours": 0, "retry_after_s": 0, **params}
            stack = PaperStack(db, [SOL, BTC], START, epoch="t")
            engine = stack.add_engine("fs", FundingSpreadStrategy(cfg), 10_000_000_000)
            engine.start(START)
            stack.heartbeat(iter(events)).run_events(interval_s=60, until=START + hours * HOUR)
            snap = engine.snapshot(START + hours * HOUR)
            return {i: snap.base(MarketType.PERP, i) for i in (0, 1)}
        finally:
            db.dispose()


def test_health_below_the_floor_exits_both_legs():
    # SOL rallies 3% an hour against a 1.4x short; the carry stays at 40% APR, so the
    # only way out is the health floor (90), well before the engine's drawdown switch.
    events = scenario(
        10, lambda h: 0.40, lambda h: 0.0, lambda h: 100_000_000 + 3_000_000 * max(0, h - 4)
    )
    r = run(events, 10, entry_apr=0.10, exit_apr=0.0, target_leverage=1.4, min_health=90,
            rebalance_band=0.9)  # fmt: skip
    st = r.strategy_state
    assert st["exits"] >= 1 and st["fills"] >= 4 and r.liquidations == 0
    assert r.rejections == 0 and r.max_drawdown < 0.25


def test_config_errors_name_the_field():
    cls = strategy_class("funding-spread")
    with pytest.raises(ValueError, match="market and other_market must differ"):
        cls({"market": SOL, "other_market": SOL})
    with pytest.raises(ValueError, match="target_leverage"):
        cls({"target_leverage": 0})


class Checked(FundingSpreadStrategy):
    """Asserts the wake-condition promise at every tick: when none of the conditions
    declared at the previous tick fired, on_tick returns nothing and changes nothing."""

    def __init__(self, config=None):
        super().__init__(config)
        self.declared = None
        self.skippable = 0
        self.woken = 0

    def on_tick(self, snapshot):
        before = self.state.model_dump()
        actions = super().on_tick(snapshot)
        if self.declared is not None:
            conditions, at = self.declared
            if not fired(conditions, at, snapshot):
                self.skippable += 1
                assert actions == [], (snapshot.ts, conditions, actions)
                assert self.state.model_dump() == before, (snapshot.ts, conditions)
            else:
                self.woken += 1
        # after acting, positions in `snapshot` are stale: wake next tick to re-declare
        self.declared = (EVERY_TICK if actions else self.wake_conditions(snapshot), snapshot)
        return actions


def test_wake_conditions_never_hide_a_decision_on_real_funding():
    # Drift's real SOL and BTC funding (daily averages, hourly) with synthetic prices.
    start, end = parse_date("2026-01-10"), parse_date("2026-01-24")
    events, label = market_events("bundled", [SOL, BTC], start, end)
    strat = Checked({"entry_apr": 0.05, "exit_apr": 0.0, "retry_after_s": 600})
    report = run_backtest(type(strat), SOL, start, end, {"entry_apr": 0.05, "exit_apr": 0.0,
                          "retry_after_s": 600}, data=(list(events), label))  # fmt: skip
    assert report.strategy_state["entries"] >= 1 and report.trades >= 2
    assert report.funding == report.ledger_funding


def test_wake_declarations_let_most_ticks_be_skipped():
    events = scenario(24, lambda h: 0.40 if h < 16 else 0.0, lambda h: 0.05,
                      lambda h: 100_000_000 + 500_000 * h, step=300)  # fmt: skip
    import tempfile

    from drift_engine.engine.paper import PaperStack
    from drift_engine.storage.database import Database

    with tempfile.TemporaryDirectory() as tmp:
        db = Database.open(f"sqlite:///{tmp}/x.db")
        try:
            stack = PaperStack(db, [SOL, BTC], START, epoch="t")
            strat = Checked({"lookback_hours": 3, "exit_window_hours": 2, "entry_apr": 0.1,
                             "exit_apr": 0.02})  # fmt: skip
            engine = stack.add_engine("fs", strat, 10_000_000_000)
            engine.start(START)
            stack.heartbeat(iter(events)).run_events(interval_s=300, until=START + 24 * HOUR)
        finally:
            db.dispose()
    assert strat.state.entries == 1 and strat.state.exits == 1
    assert strat.skippable > 5 * strat.woken  # the promise covers most of the ticks


def test_run_trades_both_perps_of_a_funding_spread_engine(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from drift_engine.cli import app
    from drift_engine.config import load_settings
    from drift_engine.engine.store import SqlEngineStore
    from drift_engine.storage.database import Database

    monkeypatch.setenv("DRIFT_ENGINE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    config = tmp_path / "engines.toml"
    config.write_text(
        "[data]\nsource = 'bundled'\nstart = '2026-01-16'\n"
        "[[engines]]\nid = 'spread'\nstrategy = 'funding-spread'\n"
        "[engines.params]\nmarket = 'SOL-PERP'\nother_market = 'BTC-PERP'\n"  # explicit: ADR-0012
        "entry_apr = 0.0\nexit_apr = -1.0\nlookback_hours = 1\n"
    )
    r = CliRunner().invoke(app, ["run", "--config", str(config), "--hours", "3", "--speed", "1e9"])
    assert r.exit_code == 0, r.output
    db = Database.open(load_settings().resolved_database_url)
    try:
        store = SqlEngineStore(db)
        assert set(store.heartbeats()[-1].market_state) == {SOL, BTC}
        (record,) = store.records()
        assert record.strategy == "funding-spread"
        assert '"entries":1' in record.strategy_state.replace(" ", "")
    finally:
        db.dispose()
