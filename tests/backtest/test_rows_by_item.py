"""Whole backtests with the tape's per-event facts read an element at a time from its
arrays (`tape.ROWS_BY_ITEM`, `TapeItems`) and from the reference's lists (`TapeRows`),
flag on and off (`flag_runs`, tests/backtest/flag_scenarios.py: the report and every
sample, every table's rows, the ticks, the heartbeat's counters, the simulator's
records, account and prices).

The scenarios read the rows where the chunk's hour table does not answer (hours at a
chunk's edges, a stretch cut by a halt or a liquidation, ticks without funding): the
bench's own 16 days (several chunks), held short at 2x, the LUNA crash halted and
liquidated, real SOL minutes and real SOL hours (which reads none: each hour from
the table). tests/data/test_tape_items.py
compares the reads themselves on drawn tapes."""

from __future__ import annotations

import pytest

from drift_engine import tape
from drift_engine.tape import TapeItems, TapeRows
from tests.backtest.flag_scenarios import flag_runs, named

SCENARIOS = named(
    "bench",
    "held-short",
    "luna-halted",
    "luna-liquidated",
    "sol-minutes",
    "sol-hours-held-short",
)
#: the scenarios whose runs read the rows (real SOL hours: every hour from the table)
READS_ROWS = {"bench", "held-short", "luna-halted", "luna-liquidated", "sol-minutes"}


def _built(mp: pytest.MonkeyPatch):
    """Counts the `TapeItems` built (and fails on a `TapeRows` with the flag on)."""
    built = {"items": 0, "rows": 0}
    items_init, rows_init = TapeItems.__init__, TapeRows.__init__

    def items(self, *args):
        built["items"] += 1
        items_init(self, *args)

    def rows(self, *args):
        built["rows"] += 1
        rows_init(self, *args)

    mp.setattr(TapeItems, "__init__", items)
    mp.setattr(TapeRows, "__init__", rows)
    return lambda: dict(built)


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_backtest_is_the_same_with_the_rows_read_by_item(tmp_path, name):
    runs = flag_runs(tmp_path, name, tape, "ROWS_BY_ITEM", _built)
    assert runs[True]["spied"]["rows"] == 0
    assert runs[False]["spied"]["items"] == 0
    assert runs[True]["spied"]["items"] == runs[False]["spied"]["rows"]
    if name in READS_ROWS:
        assert runs[True]["spied"]["items"] > 0
