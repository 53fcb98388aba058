"""Whole backtests with the tape's long reads (`tape.LONG_READ`: a refill from column
chunks takes `LONG_READS` times `want` new rows) and with reads of `want` rows, flag on
and off (`flag_runs`, tests/backtest/flag_scenarios.py: the report and every sample,
every table's rows, the ticks, the heartbeat's counters, the simulator's records,
account and prices).

The chunks' edges fall elsewhere with the flag on: a quiet hour at an edge goes through
`forward`'s general loop and its planners, a tick cut by a chunk's end is stepped for
real, the data's last hour is read in another chunk. The scenarios read their data as
column chunks: the bench's own 16 days (with the flag on one read of 65,536 rows holds
them all; with `LONG_READS` 2 it takes two reads, so an edge falls inside the run both
ways), held short at 2x, in and out of the market delta-neutral, real SOL minutes and
real SOL hours. tests/data/test_long_read.py compares the tapes on drawn streams."""

from __future__ import annotations

import pytest

from drift_engine import tape
from drift_engine.tape import EventTape
from tests.backtest.flag_scenarios import TAPE_READS, calls_of, flag_runs, named

SCENARIOS = named(*TAPE_READS)


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_backtest_is_the_same_with_long_reads(tmp_path, name):
    runs = flag_runs(tmp_path, name, tape, "LONG_READ", calls_of(EventTape, "_refill_columns"))
    assert 0 < runs[True]["spied"] <= runs[False]["spied"]
    if name == "bench":  # (16 days of minutes: ~46k rows, one long read, four short ones)
        assert runs[True]["spied"] == 1 < runs[False]["spied"]


def test_a_backtest_is_the_same_with_two_long_reads(tmp_path, monkeypatch):
    """The bench's 16 days in reads of 32,768 rows: a chunk's edge inside the run with the
    flag on too, elsewhere than with it off."""
    monkeypatch.setattr(tape, "LONG_READS", 2)
    runs = flag_runs(tmp_path, "bench", tape, "LONG_READ", calls_of(EventTape, "_refill_columns"))
    assert 1 < runs[True]["spied"] < runs[False]["spied"]
