"""`TapeIndex.price_range` (sparse tables, Python-int answers) equals min/max over the
slice of the tape it summarises."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from drift_engine.sim.stretch import I64_MAX, I64_MIN, TapeIndex


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(-1, 2), st.integers(1, 10**12)), min_size=1, max_size=300),
    data=st.data(),
)
def test_price_range_is_the_slices_min_and_max(rows, data):
    sym = np.array([s for s, _ in rows], dtype=np.int64)
    price = np.array([p for _, p in rows], dtype=np.int64)
    bound = np.arange(len(rows), dtype=np.int64) // 3
    index = TapeIndex(bound, sym, price, 3)
    for _ in range(5):
        a = data.draw(st.integers(0, len(rows) - 1))
        b = data.draw(st.integers(a + 1, len(rows)))
        for sid in range(3):
            mine = price[a:b][sym[a:b] == sid]
            want = (int(mine.min()), int(mine.max())) if len(mine) else (I64_MAX, I64_MIN)
            got = index.price_range(sid, a, b)
            assert got == want
            assert all(type(x) is int for x in got)
