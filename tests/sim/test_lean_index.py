"""A chunk's `HourTable` read from each symbol's events alone (`sim.stretch.LEAN_INDEX`)
and its gaps' bar-end extremes all at once (`HourTable.gap_ends`,
`sim.stretch.HOUR_BAR_ENDS`) against the references: the table built from the
`TapeIndex`'s full-length arrays, and `BarEnds.range` over each hour's gap.

Drawn tapes: events of up to three symbols and non-price events (-1), in bars of one to
four events (a bar's events share its bound), so that hours have gaps of any length or
none, symbols missing from a gap, an hour tick or the whole chunk, hour ticks with
several non-price events and prices before and after them, and a chunk that ends inside
a bar. Every field of the table is compared, and the lazy index's arrays with the eager
ones."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from drift_engine.sim import stretch
from drift_engine.sim.stretch import BarEnds, HourTable, TapeIndex

FIELDS = (
    "head",
    "tick_start",
    "gap_start",
    "ticks",
    "last_tick",
    "at_start",
    "at_tick",
    "time",
    "tick_end",
    "first_sym",
    "in_tick",
    "gap_lo",
    "gap_hi",
    "tick_lo",
    "tick_hi",
    "apply",
    "apply_sids",
)

#: a bar: its events' symbols (-1: not a price)
BARS = st.lists(st.lists(st.integers(-1, 2), min_size=1, max_size=4), max_size=80)


def _tape(bars: list[list[int]], prices: list[int]) -> tuple[np.ndarray, ...]:
    sym = np.array([s for bar in bars for s in bar], np.int32)
    bound = np.array([60 * (i + 1) for i, bar in enumerate(bars) for _ in bar], np.int64)
    price = np.array([prices[i % len(prices)] for i in range(len(sym))], np.int64)
    price[sym < 0] = 0
    return bound, sym, price


def _table(lean: bool, bound, sym, price, nsym: int) -> HourTable:
    old = stretch.LEAN_INDEX
    stretch.LEAN_INDEX = lean
    try:
        return HourTable(TapeIndex(bound, sym, price, nsym))
    finally:
        stretch.LEAN_INDEX = old


@settings(max_examples=300, deadline=None)
@given(BARS, st.lists(st.integers(1, 10**12), min_size=1, max_size=50))
def test_the_lean_table_is_the_reference_table(bars, prices):
    bound, sym, price = _tape(bars, prices)
    lean = _table(True, bound, sym, price, 3)
    ref = _table(False, bound, sym, price, 3)
    for name in FIELDS:
        assert getattr(lean, name) == getattr(ref, name), name


@settings(max_examples=200, deadline=None)
@given(BARS, st.lists(st.integers(1, 10**12), min_size=1, max_size=50))
def test_a_lazy_index_builds_the_eager_arrays(bars, prices):
    bound, sym, price = _tape(bars, prices)
    old = stretch.LEAN_INDEX
    try:
        stretch.LEAN_INDEX = True
        lazy = TapeIndex(bound, sym, price, 3)
        stretch.LEAN_INDEX = False
        eager = TapeIndex(bound, sym, price, 3)
    finally:
        stretch.LEAN_INDEX = old
    assert "next_other" not in lazy.__dict__ and "lo" not in lazy.__dict__
    assert lazy.next_other.tolist() == eager.next_other.tolist()
    assert lazy.tick_no.tolist() == eager.tick_no.tolist()
    assert [a.tolist() for a in lazy.last] == [a.tolist() for a in eager.last]
    if len(bound):
        assert lazy.price_range(0, 0, len(bound)) == eager.price_range(0, 0, len(bound))


@settings(max_examples=300, deadline=None)
@given(
    BARS,
    st.lists(st.integers(1, 10**12), min_size=1, max_size=50),
    st.sampled_from([(), (0,), (1,), (2,), (0, 1), (0, 2), (0, 1, 2)]),
    st.booleans(),
)
def test_gap_ends_are_bar_ends_over_each_gap(bars, prices, movers, lean):
    bound, sym, price = _tape(bars, prices)
    table = _table(lean, bound, sym, price, 3)
    index = TapeIndex(bound, sym, price, 3)
    lows, highs, stands = table.gap_ends(movers)
    assert table.gap_ends(movers) == (lows, highs, stands)  # (kept)
    ends = BarEnds(index, movers)
    assert len(lows) == len(highs) == len(stands) == len(table.head)
    for h, (a, b) in enumerate(zip(table.gap_start, table.tick_start, strict=True)):
        if b > a:  # (`range` is asked of a gap with bars only)
            assert (lows[h], highs[h], stands[h]) == ends.range(a, b), h
            assert all(type(x) is int for x in (lows[h], highs[h]))
            assert type(stands[h]) is bool
