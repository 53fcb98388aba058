"""Whole backtests with a chunk's `HourTable` read from the ranks of the hours' cuts
(`sim.stretch.TABLE_LEAN`, `_own_ranks`), flag on and off (`flag_runs`,
tests/backtest/flag_scenarios.py: the report and every sample, every table's rows, the
ticks, the heartbeat's counters, the simulator's records, account and prices).

The scenarios: the bench's own 16 days (several chunks), held short at 2x, the LUNA
crash halted on drawdown and liquidated, real SOL minutes and real SOL hours (no bar
before each hour tick: no gap). tests/sim/test_table_lean.py compares the tables
themselves on drawn tapes."""

from __future__ import annotations

import pytest

from drift_engine.sim import stretch
from tests.backtest.flag_scenarios import calls_of, flag_runs, named

SCENARIOS = named(
    "bench",
    "held-short",
    "luna-halted",
    "luna-liquidated",
    "sol-minutes",
    "sol-hours-held-short",
)


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_backtest_is_the_same_with_the_table_from_ranks(tmp_path, name):
    runs = flag_runs(tmp_path, name, stretch, "TABLE_LEAN", calls_of(stretch, "_own_ranks"))
    assert runs[False]["spied"] == 0
    assert runs[True]["spied"] > 0
