"""The tape's per-event facts read an element at a time from its arrays
(`tape.ROWS_BY_ITEM`, `TapeItems`) against the reference `TapeRows` (five lists of every
event): on drawn tapes of up to three symbols and non-price events, in bars of one to
four events, every index (negative ones too), every slice, `len`, `bisect` over the
bounds, iteration and equality give the same Python values and the same errors; and
`EventTape.rows` gives the one its flag says. Whole backtests: tests/backtest/
test_rows_by_item.py."""

from __future__ import annotations

import bisect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drift_engine import tape as tape_module
from drift_engine.sim.stretch import TapeIndex
from drift_engine.tape import EventTape, TapeItems, TapeRows

FIELDS = ("bound", "sym", "tick_no", "tick_end", "next_other")

#: a bar: its events' symbols (-1: not a price)
BARS = st.lists(st.lists(st.integers(-1, 2), min_size=1, max_size=4), max_size=60)


def _tape(bars: list[list[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sym = np.array([s for bar in bars for s in bar], np.int32)
    bound = np.array([60 * (i + 1) for i, bar in enumerate(bars) for _ in bar], np.int64)
    price = np.where(sym >= 0, 1_000 + np.arange(len(sym), dtype=np.int64), 0)
    return bound, sym, price


def _both(bars: list[list[int]]) -> tuple[TapeItems, TapeRows]:
    bound, sym, price = _tape(bars)
    index = TapeIndex(bound, sym, price, 3)
    ref = TapeRows(bound, sym, TapeIndex(bound, sym, price, 3).next_other)
    return TapeItems(bound, sym, index), ref


@settings(max_examples=300, deadline=None)
@given(BARS, st.data())
def test_items_read_as_the_reference_lists(bars, data):
    items, ref = _both(bars)
    for name in FIELDS:
        got, want = getattr(items, name), getattr(ref, name)
        n = len(want)
        assert len(got) == n, name
        for i in range(-n, n):
            value = got[i]
            assert type(value) is int and value == want[i], (name, i)
        for i in (n, -n - 1):
            with pytest.raises(IndexError):
                got[i]
        start = data.draw(st.integers(-n - 2, n + 2), label="start")
        stop = data.draw(st.integers(-n - 2, n + 2), label="stop")
        piece = got[start:stop]
        assert piece == want[start:stop] and all(type(v) is int for v in piece), name
        assert got[:] == want and list(got) == want and got == want, name
        assert got == getattr(_both(bars)[0], name), name  # an equal view
        if n:
            other = list(want)
            other[-1] += 1
            assert got != other, name
    n = len(ref.bound)
    for value in [0, 59, 60, 61, *ref.bound, 60 * len(bars) + 1]:
        lo = data.draw(st.integers(0, n), label="lo")
        hi = data.draw(st.integers(lo, n), label="hi")
        for find in (bisect.bisect_left, bisect.bisect_right):
            assert find(items.bound, value, lo, hi) == find(ref.bound, value, lo, hi)
            assert find(items.bound, value) == find(ref.bound, value)


def test_items_are_read_only_views_with_a_repr():
    items, ref = _both([[0, -1], [1], [-1, 2, 0]])
    assert repr(items.sym) == f"_Items({ref.sym!r})"
    with pytest.raises(TypeError):
        hash(items.bound)
    with pytest.raises(TypeError):
        items.bound[0] = 1  # type: ignore[index]
    # a numpy integer index reads as an int index does
    assert items.bound[np.int64(2)] == ref.bound[2]
    assert items.tick_end == [2, 2, 3, 6, 6, 6] and items.tick_no == [0, 0, 1, 2, 2, 2]
    assert items.next_other == ref.next_other


def test_an_empty_tape_has_empty_items():
    items, ref = _both([])
    for name in FIELDS:
        assert getattr(items, name) == getattr(ref, name) == [], name


@pytest.mark.parametrize("by_item", [True, False])
def test_the_tape_gives_the_rows_its_flag_says(by_item, monkeypatch):
    monkeypatch.setattr(tape_module, "ROWS_BY_ITEM", by_item)
    tape = EventTape(iter([]), 60)
    tape.bound = np.array([60, 60, 120], np.int64)
    tape.sym = np.array([0, -1, 0], np.int32)
    tape.price = np.array([5, 0, 6], np.int64)
    tape.symbols = {"SOL-PERP": 0}
    rows = tape.rows()
    assert type(rows) is (TapeItems if by_item else TapeRows)
    assert rows is tape.rows()  # once per chunk
    assert rows.bound == [60, 60, 120] and rows.next_other == [1, 1, 3]
    assert rows.tick_end == [2, 2, 3] and rows.tick_no == [0, 0, 1]
