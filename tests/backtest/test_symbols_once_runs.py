"""Whole backtests with a refill's symbol ids read once, by `take` (`tape.SYMBOLS_ONCE`,
`EventTape._known_symbols`), flag on and off (`flag_runs`,
tests/backtest/flag_scenarios.py: the report and every sample, every table's rows, the
ticks, the heartbeat's counters, the simulator's records, account and prices).

The scenarios read their data as column chunks (synthetic and bundled sources): the
bench's own 16 days (several chunks), held short at 2x, in and out of the market
delta-neutral, real SOL minutes and real SOL hours. tests/data/test_symbols_once.py
compares the tapes themselves on drawn streams."""

from __future__ import annotations

import pytest

from drift_engine import tape
from drift_engine.tape import EventTape
from tests.backtest.flag_scenarios import TAPE_READS, answers_of, flag_runs, named

SCENARIOS = named(*TAPE_READS)

#: the scenarios refilled after their first chunk (the others fit one refill: there the
#: first refill meets new markets and takes the reference's way)
MANY_CHUNKS = {"bench", "delta-neutral-in-and-out"}


#: counts the refills whose ids were read once (`_known_symbols` answered True)
_known = answers_of(EventTape, "_known_symbols")


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_backtest_is_the_same_with_the_symbol_ids_read_once(tmp_path, monkeypatch, name):
    # (reads of 16,384 rows: `tape.LONG_READ`'s long reads take these runs in one)
    monkeypatch.setattr(tape, "LONG_READ", False)
    runs = flag_runs(tmp_path, name, tape, "SYMBOLS_ONCE", _known)
    assert runs[False]["spied"] == 0
    if name in MANY_CHUNKS:
        assert runs[True]["spied"] > 0
