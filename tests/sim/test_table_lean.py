"""A chunk's `HourTable` with each symbol's extremes, last events and tick presence read
from the ranks of the hours' cuts (`sim.stretch.TABLE_LEAN`, `_own_ranks`) against the
reference (`_own_segments` and its two bisections of every hour), and against the table
built from the index's full-length arrays (`LEAN_INDEX = False`).

Drawn tapes as tests/sim/test_lean_index.py draws them (up to three symbols and
non-price events in bars of one to four events): hours with and without a gap, a symbol
missing from a gap, from an hour tick or from the whole chunk, a symbol whose first event
comes after a gap, hour ticks with prices after their first non-price event, a chunk
that ends inside a bar, and tapes with no hour at all. Every field of the table is
compared, value and type."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drift_engine.sim import stretch
from drift_engine.sim.stretch import HourTable, TapeIndex
from tests.sim.test_lean_index import BARS, FIELDS, _tape


def _table(lean: bool, tape: tuple[np.ndarray, ...], nsym: int, *, index: bool = True):
    old = stretch.TABLE_LEAN, stretch.LEAN_INDEX
    stretch.TABLE_LEAN, stretch.LEAN_INDEX = lean, index
    try:
        return HourTable(TapeIndex(*tape, nsym))
    finally:
        stretch.TABLE_LEAN, stretch.LEAN_INDEX = old


def _same(lean: HourTable, ref: HourTable) -> None:
    for name in FIELDS:
        got, want = getattr(lean, name), getattr(ref, name)
        assert got == want, name
        assert repr(got) == repr(want), name  # (Python ints and bools, as the reference's)


@settings(max_examples=400, deadline=None)
@given(BARS, st.lists(st.integers(1, 10**12), min_size=1, max_size=50), st.integers(3, 4))
def test_the_table_from_ranks_is_the_reference_table(bars, prices, nsym):
    tape = _tape(bars, prices)
    lean = _table(True, tape, nsym)
    _same(lean, _table(False, tape, nsym))
    _same(lean, _table(False, tape, nsym, index=False))


#: bars by hand: (symbols of each bar), -1 a non-price event
CASES = {
    "no events": [],
    "no hour": [[0, 1], [0], [1]],
    "an hour and nothing else": [[-1]],
    "hours without gaps": [[-1], [-1, 0], [0, -1, 1]],
    "a symbol only after the first gap": [[0], [0], [-1], [1], [-1, 1], [0, 1]],
    "a symbol never priced": [[0], [-1], [0], [0, -1]],
    "prices after the hour's first non-price event": [[0, 1], [-1, 0, 1], [1], [0, -1, 0]],
    "the chunk ends inside a bar after an hour": [[0], [1, -1], [0, 1]],
    "the last hour at the chunk's end": [[0, 1], [0, 1], [0, 1, -1]],
}


@pytest.mark.parametrize("bars", CASES.values(), ids=CASES.keys())
@pytest.mark.parametrize("nsym", [2, 3])
def test_the_table_from_ranks_on_edge_tapes(bars, nsym):
    tape = _tape(bars, [7, 3, 11, 5, 2])
    lean = _table(True, tape, nsym)
    _same(lean, _table(False, tape, nsym))
    if any(-1 in bar for bar in bars):
        assert lean.head  # (an hour to compare)


def test_the_lean_table_reads_the_ranks_and_the_reference_does_not(monkeypatch):
    calls = {"ranks": 0, "segments": 0}
    for name in ("_own_ranks", "_own_segments"):
        real = getattr(stretch, name)

        def spy(*args, _real=real, _key=name[5:]):
            calls[_key] += 1
            return _real(*args)

        monkeypatch.setattr(stretch, name, spy)
    tape = _tape([[0, 1], [-1, 0], [1]], [5])
    _table(True, tape, 2)
    assert calls == {"ranks": 2, "segments": 0}
    _table(False, tape, 2)
    assert calls == {"ranks": 2, "segments": 2}
