"""Whole backtests with the tape refilled from column chunks with one copy of the rows
(`tape.REFILL_ONCE`, `EventTape._refill_joined`) and by the reference's three joins,
flag on and off (`flag_runs`, tests/backtest/flag_scenarios.py: the report and every
sample, every table's rows, the ticks, the heartbeat's counters, the simulator's
records, account and prices).

The scenarios read their data as column chunks (synthetic and bundled sources): the
bench's own 16 days (several chunks), held short at 2x, in and out of the market
delta-neutral, real SOL minutes and real SOL hours. tests/data/test_refill_once.py
compares the tapes themselves on drawn streams."""

from __future__ import annotations

import pytest

from drift_engine import tape
from drift_engine.tape import EventTape
from tests.backtest.flag_scenarios import TAPE_READS, flag_runs, named

SCENARIOS = named(*TAPE_READS)


def _joined(mp: pytest.MonkeyPatch):
    """Counts the refills through `_refill_joined`."""
    calls = {"joined": 0}
    joined = EventTape._refill_joined

    def spied(self, want):
        calls["joined"] += 1
        joined(self, want)

    mp.setattr(EventTape, "_refill_joined", spied)
    return lambda: dict(calls)


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_backtest_is_the_same_with_the_tape_refilled_in_one_copy(tmp_path, name):
    runs = flag_runs(tmp_path, name, tape, "REFILL_ONCE", _joined)
    assert runs[True]["spied"]["joined"] > 0
    assert runs[False]["spied"]["joined"] == 0
