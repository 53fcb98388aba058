"""Whole quiet stretches in O(1): an index over the event tape's arrays (ADR-0020,
session-4 amendment).

Planning a skip used to scan each hour's ~120 events with a dozen numpy calls on small
arrays (~0.35 ms an hour). `TapeIndex` is built once per chunk of the tape (16k events,
~5 days of minutes) and answers, for any range of events, with a few Python integer
operations:

- the next event at or after a position that is not a price (`next_other`): funding
  records and rate updates end a bar skip;
- each symbol's lowest and highest price over a range (`price_range`, sparse tables:
  levels of pairwise min/max, each built when a range that long is first asked), to
  check a whole range against a price band at once: a range inside the band has no
  event outside it;
- each symbol's last event at or before a position (`last_of`): the prices a skip
  applies;
- the tick number of each event (`tick_no`): how many bars a range spans.

Everything here only *bounds*: a range whose extremes stay inside the bands is skipped
as the vectorised scan would have skipped it; any doubt goes back to that scan.
"""

from __future__ import annotations

import numpy as np

I64_MIN = np.iinfo(np.int64).min
I64_MAX = np.iinfo(np.int64).max


class TapeIndex:
    """Range queries over one snapshot of the tape's arrays (see module doc)."""

    def __init__(self, bound: np.ndarray, sym: np.ndarray, price: np.ndarray, nsym: int) -> None:
        n = len(bound)
        self.n = n
        pos = np.arange(n, dtype=np.int64)
        other = np.where(sym < 0, pos, n)
        self.next_other = np.minimum.accumulate(other[::-1])[::-1]
        changes = np.empty(n, np.int64)
        if n:
            changes[0] = 0
            np.not_equal(bound[1:], bound[:-1], out=changes[1:])
        self.tick_no = np.cumsum(changes)
        self.last: list[np.ndarray] = []
        self.lo: list[list[np.ndarray]] = []
        self.hi: list[list[np.ndarray]] = []
        for sid in range(nsym):
            mine = sym == sid
            self.last.append(np.maximum.accumulate(np.where(mine, pos, -1)))
            self.lo.append([np.where(mine, price, I64_MAX)])
            self.hi.append([np.where(mine, price, I64_MIN)])

    def price_range(self, sid: int, a: int, b: int) -> tuple[int, int]:
        """(lowest, highest) price of symbol `sid` over events [a, b) (b > a); (I64_MAX,
        I64_MIN) if it has none there."""
        k = (b - a).bit_length() - 1
        lo, hi = self.lo[sid], self.hi[sid]
        if k >= len(lo):
            _grow(lo, k, np.minimum)
            _grow(hi, k, np.maximum)
        low, high = lo[k], hi[k]
        c = b - (1 << k)
        # `item` gives Python ints: comparing numpy scalars costs ~3x more
        l1, l2, h1, h2 = low.item(a), low.item(c), high.item(a), high.item(c)
        return (l1 if l1 < l2 else l2), (h1 if h1 > h2 else h2)


def _grow(levels: list[np.ndarray], k: int, op: np.ufunc) -> None:
    """Extend a sparse table to level `k`: level j holds op over [i, i + 2^j) at index
    i. Built when a range that long is first asked (an hour of minutes needs 7 levels,
    not the 15 of a whole chunk)."""
    while len(levels) <= k:
        width = 1 << (len(levels) - 1)
        prev = levels[-1]
        levels.append(op(prev[: len(prev) - width], prev[width:]))


__all__ = ["TapeIndex"]
