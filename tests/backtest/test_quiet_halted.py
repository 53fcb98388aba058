"""A HALTED engine's bars and funding hours pass quietly (ADR-0020 point 67,
`engine.quiet.QUIET_HALTED`): its step asks neither its risk checks nor its strategy,
so only the simulator's liquidation band, the equity terms and the record save hold
the bars. The whole fast backtest (report and samples, every row of every table, the
tick results with the engine's bookkeeping at each, the heartbeat's counters, every
simulator record, the final account) is the one the reference gives (`QUIET_HALTED =
False`: a HALTED engine stepped at every bar), and fast stepping still equals per-bar
stepping. Cases: synthetic minutes held short to a drawdown halt (flattened: the
halted engine holds only USDC), the real LUNA crash to a drawdown halt, and a halted
engine that still holds its position (its flatten refused), so the liquidation band
and funding hours go on after the halt. And the engine record a run leaves carries the
margin of its last tick's snapshot even when fast stepping passed that tick quietly
(point 68: every table of fast and per-bar stepping equal on hourly real data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import drift_engine.engine.quiet as engine_quiet
from drift_engine.backtest.runner import run_backtest
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.engine.engine import DriftEngine, EngineState
from drift_engine.risk import RiskLimits
from tests.backtest.flag_scenarios import (
    LIQUIDATION_ONLY,
    LUNA_LABEL,
    SOL_YEAR,
    _luna,
    _tables,
    _whole,
)
from tests.backtest.strategy_kit import Hold
from tests.backtest.test_fast_stepping import _assert_equal

DAY = 86_400


def _both(tmp_path: Path, monkeypatch, *args, **kw) -> tuple[dict, dict]:
    """`_whole` (the lean loop on) with `QUIET_HALTED` on and off; "booked": the funding
    hours booked by `quiet_step` (through the lean loop or `forward`'s general loop)."""
    real = engine_quiet.quiet_step
    out = []
    for halted in (True, False):
        booked = [0]

        def counting(engine, ts, *a, booked=booked):
            booked[0] += 1
            real(engine, ts, *a)

        monkeypatch.setattr(engine_quiet, "quiet_step", counting)
        monkeypatch.setattr(engine_quiet, "QUIET_HALTED", halted)
        sub = tmp_path / ("halted-quiet" if halted else "halted-stepped")
        sub.mkdir()
        got = _whole(sub, True, *args, **kw)
        got["booked"] = booked[0]
        out.append(got)
    monkeypatch.setattr(engine_quiet, "quiet_step", real)
    monkeypatch.setattr(engine_quiet, "QUIET_HALTED", True)
    return out[0], out[1]


def _assert_same(on: dict, off: dict) -> None:
    """Equal but for what skipping changes by design: the ticks `on_tick` saw (a
    skipped bar calls none) and the heartbeat's count of skipped bars."""
    for part in ("report", "engine", "records", "account", "prices"):
        assert on[part] == off[part], part
    assert on["hb"][:2] + on["hb"][3:] == off["hb"][:2] + off["hb"][3:]
    assert on["hb"][2] >= off["hb"][2]  # as many bars skipped or more (hourly data: none)
    # every tick both saw, with the engine's bookkeeping at it, is the same
    seen = {t[0]: t for t in off["ticks"]}
    both = [t for t in on["ticks"] if t[0] in seen]
    assert len(both) == len(on["ticks"])
    for t in both:
        ref = seen[t[0]]
        assert t[:12] == ref[:12], t[0]
    assert on["tables"].keys() == off["tables"].keys()
    for name, rows in off["tables"].items():
        assert on["tables"][name] == rows, name


def test_synthetic_minutes_held_short_to_a_drawdown_halt(tmp_path, monkeypatch):
    args = (Hold, "SOL-PERP", DEFAULT_ORIGIN, DEFAULT_ORIGIN + 6 * DAY, {"leverage": 3.0})
    kw = {"source": "synthetic", "risk": RiskLimits(max_drawdown=0.02)}
    on, off = _both(tmp_path, monkeypatch, *args, **kw)
    assert on["engine"][4] is EngineState.HALTED
    _assert_same(on, off)
    # the bars and hours after the halt were skipped and booked, not stepped each
    assert on["booked"] > off["booked"] + 24
    _assert_equal(tmp_path, *args, **kw)  # and fast stepping is per-bar stepping


def test_real_luna_crash_to_a_drawdown_halt(tmp_path, monkeypatch):
    events = _luna(True)
    args = (Hold, "SOL-PERP", events[0].ts, events[-1].ts + 60, {"leverage": 2.0, "short": False})
    kw = {
        "data": (events, LUNA_LABEL),
        "risk": RiskLimits(max_drawdown=0.3),
    }
    on, off = _both(tmp_path, monkeypatch, *args, **kw)
    assert on["engine"][4] is EngineState.HALTED
    _assert_same(on, off)
    assert on["booked"] > off["booked"]
    _assert_equal(tmp_path, *args, **kw)


def test_a_halted_engine_that_still_holds_its_position(tmp_path, monkeypatch):
    # the halt's flatten is refused: the engine is HALTED with its short open, so its
    # hours book funding and the liquidation band goes on holding the bars
    def kill_without_flatten(self, ts, reason):
        self._transition(EngineState.HALTED, ts, reason)

    monkeypatch.setattr(DriftEngine, "kill", kill_without_flatten)
    args = (Hold, "SOL-PERP", DEFAULT_ORIGIN, DEFAULT_ORIGIN + 6 * DAY, {"leverage": 3.0})
    kw = {"source": "synthetic", "risk": RiskLimits(max_drawdown=0.02)}
    on, off = _both(tmp_path, monkeypatch, *args, **kw)
    assert on["engine"][4] is EngineState.HALTED
    _assert_same(on, off)
    funding_after_halt = [
        r for r in on["tables"]["ledger_entries"] if dict(r).get("kind") == "funding"
    ]
    assert len(funding_after_halt) > 24
    assert on["booked"] > off["booked"] + 24
    _assert_equal(tmp_path, *args, **kw)


@pytest.mark.slow
def test_the_real_sol_year_halted_on_drawdown(tmp_path, monkeypatch):
    # the bench's hold-short with the default limits halts on 2025-05-08 (point 66)
    args = (Hold, "SOL-PERP", 1_744_588_800, 1_775_001_600, {"leverage": 1.0})
    kw = {"source": "bundled"}
    on, off = _both(tmp_path, monkeypatch, *args, **kw)
    assert on["engine"][4] is EngineState.HALTED
    _assert_same(on, off)
    assert on["booked"] > 7000 and off["booked"] < 1000
    _assert_equal(tmp_path, *args, **kw)


def test_a_halted_engine_holding_its_position_is_liquidated_in_the_same_minute(
    tmp_path, monkeypatch
):
    # the real LUNA crash: halted on drawdown with its long still open (flatten refused),
    # the crash goes on to liquidate it; the bars up to the liquidation are skipped
    # only inside the simulator's liquidation band
    def kill_without_flatten(self, ts, reason):
        self._transition(EngineState.HALTED, ts, reason)

    monkeypatch.setattr(DriftEngine, "kill", kill_without_flatten)
    events = _luna(True)
    args = (Hold, "SOL-PERP", events[0].ts, events[-1].ts + 60, {"leverage": 4.0, "short": False})
    kw = {
        "data": (events, LUNA_LABEL),
        "risk": RiskLimits(max_drawdown=0.3, health_floor=0, target_health=1, max_leverage=10),
    }
    on, off = _both(tmp_path, monkeypatch, *args, **kw)
    assert on["engine"][4] is EngineState.HALTED
    assert on["report"]["liquidations"] >= 1
    _assert_same(on, off)
    _assert_equal(tmp_path, *args, **kw)


def _tables_of(tmp_path: Path, mode: str, *args, **kw) -> dict:
    url = tmp_path / f"{mode}.db"
    run_backtest(
        *args, stepping=mode, margin_refresh_move=0.0, database_url=f"sqlite:///{url}", **kw
    )
    return _tables(url)


def test_the_engine_record_after_a_quiet_last_tick_is_per_bar_steppings(tmp_path):
    # hourly real data: every tick is an hour tick, the last one passes quietly, and the
    # record must carry the margin a step at it takes, not the last real step's (point 68)
    args = (Hold, "SOL-PERP", SOL_YEAR, SOL_YEAR + 20 * DAY, {"leverage": 1.0})
    kw = {
        "source": "bundled",
        "risk": LIQUIDATION_ONLY,
    }
    fast = _tables_of(tmp_path, "fast", *args, **kw)
    bar = _tables_of(tmp_path, "bar", *args, **kw)
    assert fast.keys() == bar.keys()
    for name, rows in bar.items():
        assert fast[name] == rows, name
    (record,) = fast["engine_records"]
    margin = json.loads(dict(record)["extra"])["margin"]
    assert margin["timestamp"] == dict(record)["last_ts"]
