"""Whole backtests with a chunk's `HourTable` read from each symbol's events alone
(`sim.stretch.LEAN_INDEX`) and with its gaps' bar-end extremes read from the table
(`sim.stretch.HOUR_BAR_ENDS`), each flag on and off (`flag_runs`,
tests/backtest/flag_scenarios.py: the report and every sample, every table's rows, the
ticks, the heartbeat's counters, the simulator's records, account and prices).

The scenarios: the bench's own 16 days (held short at 1x: several chunks, hours whose
equity may make a new high, so the bar-end extremes are read), held short at 2x, the
LUNA crash halted on drawdown and liquidated (the equity path, a stretch cut before a
halt), real SOL minutes and real SOL hours (no bar before each hour tick: no gap).
tests/sim/test_lean_index.py compares the tables and the extremes themselves on drawn
tapes."""

from __future__ import annotations

import pytest

from drift_engine.sim import stretch
from drift_engine.sim.stretch import HourTable
from tests.backtest.flag_scenarios import calls_of, flag_runs, named

SCENARIOS = named(
    "bench",
    "held-short",
    "luna-halted",
    "luna-liquidated",
    "sol-minutes",
    "sol-hours-held-short",
)
#: the scenarios with hours whose bar-end extremes are read (`_hour_equity`: a gap's
#: equity may reach the high-water mark)
READS_GAP_ENDS = {"bench", "held-short"}


def _gap_ends(mp: pytest.MonkeyPatch):
    """Counts the reads of `HourTable.gap_ends`."""
    read = [0]
    gap_ends = HourTable.gap_ends

    def spy(self, movers):
        read[0] += 1
        return gap_ends(self, movers)

    mp.setattr(HourTable, "gap_ends", spy)
    return lambda: read[0]


#: counts the tables built from each symbol's events alone (`_own_segments`, or
#: `_own_ranks` under `TABLE_LEAN`)
_own = calls_of(stretch, "_own_segments", "_own_ranks")


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_backtest_is_the_same_with_the_gaps_bar_ends_from_the_table(tmp_path, name):
    runs = flag_runs(tmp_path, name, stretch, "HOUR_BAR_ENDS", _gap_ends)
    assert runs[False]["spied"] == 0
    if name in READS_GAP_ENDS:
        assert runs[True]["spied"] > 10


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_backtest_is_the_same_with_the_lean_index(tmp_path, name):
    runs = flag_runs(tmp_path, name, stretch, "LEAN_INDEX", _own)
    assert runs[False]["spied"] == 0
    assert runs[True]["spied"] > 0
