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

`HourTable` (session 6) plans the quiet hours of a whole chunk together: for every tick
holding a non-price event (a funding hour), computed in one vectorised pass when first
asked, the gap of price ticks before it (from the end of the previous such tick), its
bar count, last bar, each symbol's last event in it and each symbol's price extremes
over the gap and over the hour tick's prices before its first non-price event. A quiet
hour's skip is then a few list reads (`fastforward.plan_hour`) instead of bisects and
range queries.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

I64_MIN = np.iinfo(np.int64).min
I64_MAX = np.iinfo(np.int64).max


class TapeIndex:
    """Range queries over one snapshot of the tape's arrays (see module doc)."""

    def __init__(self, bound: np.ndarray, sym: np.ndarray, price: np.ndarray, nsym: int) -> None:
        n = len(bound)
        self.n = n
        self.bound = bound
        self.sym = sym
        self.price = price
        self.nsym = nsym
        self._hours: HourTable | None = None
        self._bar_ends: dict[tuple[int, ...], BarEnds] = {}
        if LEAN_INDEX:
            return  # (each array built when first read)
        self._next_other()
        self._tick_no()
        self._per_symbol()

    # (`LEAN_INDEX`: built when first read; a quiet hour's `HourTable` reads `tick_no`
    # alone. The reference builds each with the index: then the instance's own value is
    # read, not these)
    @functools.cached_property
    def next_other(self) -> np.ndarray:
        self._next_other()
        return self.__dict__["next_other"]

    @functools.cached_property
    def tick_no(self) -> np.ndarray:
        self._tick_no()
        return self.__dict__["tick_no"]

    @functools.cached_property
    def last(self) -> list[np.ndarray]:
        self._per_symbol()
        return self.__dict__["last"]

    @functools.cached_property
    def lo(self) -> list[list[np.ndarray]]:
        self._per_symbol()
        return self.__dict__["lo"]

    @functools.cached_property
    def hi(self) -> list[list[np.ndarray]]:
        self._per_symbol()
        return self.__dict__["hi"]

    def _next_other(self) -> None:
        # the next non-price event: the k-th of them, k counting those before (a cumsum
        # of the contiguous mask: cheaper than a minimum.accumulate over the reversed)
        sym, n = self.sym, self.n
        is_other = sym < 0
        before = np.cumsum(is_other, dtype=np.int64)
        before -= is_other
        self.__dict__["next_other"] = np.append(np.flatnonzero(is_other), n)[before]

    def _tick_no(self) -> None:
        bound, n = self.bound, self.n
        changes = np.empty(n, np.int64)
        if n:
            changes[0] = 0
            np.not_equal(bound[1:], bound[:-1], out=changes[1:])
        self.__dict__["tick_no"] = np.cumsum(changes)

    def _per_symbol(self) -> None:
        sym, price = self.sym, self.price
        last: list[np.ndarray] = []
        lo: list[list[np.ndarray]] = []
        hi: list[list[np.ndarray]] = []
        for sid in range(self.nsym):
            mine = sym == sid
            last.append(_last_of(mine))
            lo.append([np.where(mine, price, I64_MAX)])
            hi.append([np.where(mine, price, I64_MIN)])
        self.__dict__.update(last=last, lo=lo, hi=hi)

    def price_range(self, sid: int, a: int, b: int) -> tuple[int, int]:
        """(lowest, highest) price of symbol `sid` over events [a, b) (b > a); (I64_MAX,
        I64_MIN) if it has none there."""
        return _extremes(self.lo[sid], self.hi[sid], a, b)

    def bar_ends(self, movers: tuple[int, ...]) -> BarEnds:
        """The `BarEnds` of the symbols `movers` (built once per chunk and set)."""
        got = self._bar_ends.get(movers)
        if got is None:
            got = self._bar_ends[movers] = BarEnds(self, movers)
        return got

    def hours(self) -> HourTable:
        """The chunk's `HourTable` (built once, when a quiet hour first asks)."""
        if self._hours is None:
            self._hours = HourTable(self)
        return self._hours


#: a `TapeIndex` builds its arrays when first read and a `HourTable` reads each symbol's
#: events alone (its extremes over the symbol's prices, its last events by bisection),
#: not the index's full-length per-symbol arrays (`last`, `lo`, `hi`) nor `next_other`,
#: which a quiet hour does not read; False: every array built with the index and the
#: table read from them (the reference)
LEAN_INDEX = True

#: `TapeIndex.last` by counting (`_last_of`: a cumsum and a gather); False: a running
#: maximum of the positions (`np.maximum.accumulate`, ~5x slower: the reference)
LAST_BY_COUNT = True


def _last_of(mine: np.ndarray) -> np.ndarray:
    """Per event, the position of the last event at or before it where `mine` holds (-1
    before the first): the `c`-th such event, `c` counting them up to it (a cumsum of the
    mask), read from their positions with -1 in front for `c` = 0."""
    if not LAST_BY_COUNT:
        pos = np.arange(len(mine), dtype=np.int64)
        return np.maximum.accumulate(np.where(mine, pos, -1))
    at = np.flatnonzero(mine)
    return np.concatenate((np.array([-1], np.int64), at))[np.cumsum(mine)]


class HourTable:
    """Every funding hour of one chunk, planned together (see module doc). Hour `h` is
    the tick of the `h`-th first-non-price event `head[h]`; its tick starts at
    `tick_start[h]`; its gap is the events [gap_start[h], tick_start[h]) (from the end
    of the previous hour's tick, or the chunk's start). Per hour: `ticks` (bars in the
    gap), `last_tick` (the gap's last bar time; None without a bar), `apply` (each
    symbol's last event in the gap, ascending) with `apply_sids` (their symbols), and per
    symbol `gap_lo/gap_hi` (price extremes over the gap) and `tick_lo/tick_hi` (over
    [tick_start, head): the hour tick's prices before its first non-price event);
    (I64_MAX, I64_MIN) over none. The hour tick itself (session 7): `time` (its bar
    time), `tick_end` (its end within the chunk, exclusive), `first_sym` (the symbol of
    its first event; -1: not a price) and per symbol `in_tick` (it has a price in the
    tick). `at_start` maps a gap start to its hour, `at_tick` a tick start."""

    def __init__(self, index: TapeIndex) -> None:
        bound = index.bound
        other = np.flatnonzero(index.sym < 0)  # (the events `next_other` points at)
        if len(other):
            first = np.ones(len(other), bool)
            first[1:] = bound[other[1:]] != bound[other[:-1]]
            head = other[first]
        else:
            head = other
        tick_start = np.searchsorted(bound, bound[head], "left")
        tick_end = np.searchsorted(bound, bound[head], "right")
        gap_start = np.zeros(len(head), np.int64)
        gap_start[1:] = tick_end[:-1]
        has_gap = tick_start > gap_start
        last_bar = np.maximum(tick_start - 1, 0)
        tick_no = index.tick_no
        ticks = np.where(has_gap, tick_no[last_bar] - tick_no[gap_start] + 1, 0)
        self.head: list[int] = head.tolist()
        self.tick_start: list[int] = tick_start.tolist()
        self.gap_start: list[int] = gap_start.tolist()
        self.ticks: list[int] = ticks.tolist()
        gaps = has_gap.tolist()
        self.last_tick: list[int | None] = [
            b if g else None for b, g in zip(bound[last_bar].tolist(), gaps, strict=True)
        ]
        self.at_start: dict[int, int] = {g: h for h, g in enumerate(self.gap_start)}
        self.at_tick: dict[int, int] = {t: h for h, t in enumerate(self.tick_start)}
        # `fastforward.HourPlan` for one simulator, made on first use (`_hour_plan`)
        self.plan: Any = None
        self.time: list[int] = bound[head].tolist()
        self.tick_end: list[int] = tick_end.tolist()
        sym = index.sym
        self.first_sym: list[int] = sym[tick_start].tolist()
        # a symbol has a price in [tick_start, tick_end) iff its last event at or before
        # the tick's last is inside the tick (the tick is never empty: it holds `head`)
        tick_last = tick_end - 1
        self.in_tick: list[list[bool]] = []
        # segment bounds for reduceat: [gap_start, tick_start), [tick_start, head), then
        # [head, next gap_start) (unused); every bound < n, non-decreasing
        cuts = np.stack([gap_start, tick_start, head], axis=1).ravel()
        lean = LEAN_INDEX
        ranks = lean and TABLE_LEAN
        if not ranks:  # (the reference's segments alone read it)
            empty = np.append(cuts[1:] == cuts[:-1], True)
        self.gap_lo: list[list[int]] = []
        self.gap_hi: list[list[int]] = []
        self.tick_lo: list[list[int]] = []
        self.tick_hi: list[list[int]] = []
        apply: list[list[int]] = [[] for _ in self.head]
        apply_sid: dict[int, int] = {}  # event -> its symbol
        for sid in range(index.nsym):
            if ranks:  # (`_own_ranks`: `lean`'s, read from the cuts' ranks)
                lo, hi, in_tick, last = _own_ranks(index, sid, cuts, tick_end)
            elif lean:  # (`_own_segments`: the symbol's events alone)
                lo, hi, last_at = _own_segments(index, sid, cuts)
                in_tick = last_at(tick_last) >= tick_start
                last = np.where(has_gap, last_at(last_bar), -1)
            else:
                lo = _segments(np.minimum, index.lo[sid][0], cuts, empty, I64_MAX)
                hi = _segments(np.maximum, index.hi[sid][0], cuts, empty, I64_MIN)
                in_tick = index.last[sid][tick_last] >= tick_start
                last = np.where(has_gap, index.last[sid][last_bar], -1)
            self.gap_lo.append(lo[0::3].tolist())
            self.tick_lo.append(lo[1::3].tolist())
            self.gap_hi.append(hi[0::3].tolist())
            self.tick_hi.append(hi[1::3].tolist())
            self.in_tick.append(in_tick.tolist())
            mine = last >= gap_start
            for h, i in zip(np.flatnonzero(mine).tolist(), last[mine].tolist(), strict=True):
                apply[h].append(i)
                apply_sid[i] = sid
        for a in apply:
            a.sort()
        self.apply = apply
        self.apply_sids: list[list[int]] = [[apply_sid[i] for i in a] for a in apply]
        # (the index's arrays, not the index: the index holds the table)
        self._tape = (index.bound, index.sym, index.price)
        self._gap_ends: dict[tuple[int, ...], tuple[list[int], list[int], list[bool]]] = {}

    def gap_ends(self, movers: tuple[int, ...]) -> tuple[list[int], list[int], list[bool]]:
        """Per hour, `BarEnds(index, movers).range(gap_start[h], tick_start[h])` of its
        gap (lowest, highest, standing; (I64_MAX, I64_MIN, True) for an empty one), all
        hours at once (`HOUR_BAR_ENDS`; built once per chunk and set). A gap is whole
        bars, so the bar-end events in it are those of the symbols' events in it whose
        next one is in another bar or is none (the chunk's last): `BarEnds`' set."""
        got = self._gap_ends.get(movers)
        if got is None:
            got = self._gap_ends[movers] = _gap_ends(self, movers)
        return got


#: `HourTable` reads a symbol's extremes, last event in each gap and presence in each
#: hour tick from the ranks of the hours' cuts among the symbol's events
#: (`_own_ranks`), not two more bisections of every hour (`_own_segments`' `last_at`),
#: and takes its prices without an `append` copy, nor a copy of its positions with -1
#: in front; the reference's `empty` cuts are not made; False: `_own_segments` (the
#: reference)
TABLE_LEAN = True

#: `fastforward._hour_equity` reads a gap's bar-end extremes from the chunk's `HourTable`
#: (`HourTable.gap_ends`: every hour's at once, from the movers' events alone); False:
#: `BarEnds` (full-length arrays of the chunk and sparse tables: the reference)
HOUR_BAR_ENDS = True


def _gap_ends(table: HourTable, movers: tuple[int, ...]) -> tuple[list[int], list[int], list[bool]]:
    """`HourTable.gap_ends`: the movers' events (`at`), those that end a bar for them
    (`ends`, their prices `end_price`), each gap's slice of them found by bisection, its
    extremes by `reduceat` and the standing price by the first mover event at or after
    the gap's start."""
    bound, sym, price = table._tape
    n = len(bound)
    mover = sym == movers[0] if movers else np.zeros(n, bool)
    for sid in movers[1:]:
        mover |= sym == sid
    at = np.flatnonzero(mover)
    if len(at):
        at_bound = bound.take(at)
        ends = at[np.append(at_bound[1:] != at_bound[:-1], True)]
    else:
        ends = at
    gap_start = np.asarray(table.gap_start, np.int64)
    gap_stop = np.asarray(table.tick_start, np.int64)
    first = np.searchsorted(ends, gap_start, "left")
    stop = np.searchsorted(ends, gap_stop, "left")
    empty = first >= stop
    # (a sentinel after the last end: every cut a valid index; its segments unused)
    end_price = np.append(price.take(ends), 0)
    if len(first):
        cuts = np.stack([first, stop], axis=1).ravel()
        low = np.minimum.reduceat(end_price, cuts)[0::2]
        high = np.maximum.reduceat(end_price, cuts)[0::2]
        low[empty] = I64_MAX
        high[empty] = I64_MIN
    else:
        low = high = np.zeros(0, np.int64)
    # the first mover event at or after each gap's start (n: none)
    k = np.searchsorted(at, gap_start, "left")
    nxt = np.append(at, n)[k]
    at_gap = np.minimum(nxt, max(n - 1, 0))
    standing = (nxt >= gap_stop) | (
        bound.take(at_gap) != bound.take(np.minimum(gap_start, max(n - 1, 0)))
    )
    return low.tolist(), high.tolist(), standing.tolist()


class BarEnds:
    """A market's price at the end of each bar, as range extremes (session 7). The
    simulator market a set of symbols `movers` moves holds, at the end of a bar, the
    price of the bar's last event of those symbols, or the price it held before when
    the bar has none. Over a skip [a, b) (whole bars) those values are the prices of the
    events that are their symbols' last in their bar (`range`: lowest, highest; sparse
    tables as `TapeIndex`'s), plus the price standing before the skip when its first
    bar has no such event (`range`'s third answer)."""

    def __init__(self, index: TapeIndex, movers: tuple[int, ...]) -> None:
        n, bound = index.n, index.bound
        mover = np.isin(index.sym, np.asarray(movers, np.int32)) if movers else np.zeros(n, bool)
        at = np.flatnonzero(mover)
        last = np.zeros(n, bool)
        if len(at):
            last[at[np.append(bound.take(at[1:]) != bound.take(at[:-1]), True)]] = True
        self.bound = bound
        pos = np.arange(n, dtype=np.int64)
        self.next_mover = np.minimum.accumulate(np.where(mover, pos, n)[::-1])[::-1]
        self.lo = [np.where(last, index.price, I64_MAX)]
        self.hi = [np.where(last, index.price, I64_MIN)]

    def range(self, a: int, b: int) -> tuple[int, int, bool]:
        """(lowest, highest) bar-end price of events [a, b) (b > a, whole bars; (I64_MAX,
        I64_MIN) over none) and whether the price standing before `a` is one too."""
        low, high = _extremes(self.lo, self.hi, a, b)
        j = self.next_mover.item(a)
        standing = j >= b or self.bound.item(j) != self.bound.item(a)
        return low, high, standing


def _own_segments(index: TapeIndex, sid: int, cuts: np.ndarray) -> tuple[Any, Any, Any]:
    """`_segments` of `index.lo[sid][0]` and `index.hi[sid][0]` over `cuts` (min and max
    of the symbol's prices over each segment, (I64_MAX, I64_MIN) over none of them, the
    last segment none) and `index.last[sid]` read at given positions (the symbol's last
    event at or before each, -1 before its first), from the symbol's events alone
    (`at`, ascending): a segment [cuts[i], cuts[i+1]) holds its events at[c[i]:c[i+1]],
    `c` the cuts' ranks among them (`cuts` are non-decreasing, so `c` is)."""
    at = np.flatnonzero(index.sym == sid)
    if len(cuts) == 0:
        lo = hi = np.zeros(0, np.int64)
    else:
        c = np.searchsorted(at, cuts, "left")
        own = np.append(index.price.take(at), 0)  # (a sentinel: every rank a valid index)
        none = np.append(c[1:] == c[:-1], True)
        lo = np.minimum.reduceat(own, c)
        hi = np.maximum.reduceat(own, c)
        lo[none] = I64_MAX
        hi[none] = I64_MIN
    ranked = np.concatenate((np.array([-1], np.int64), at))

    def last_at(pos: np.ndarray) -> np.ndarray:
        return ranked[np.searchsorted(at, pos, "right")]

    return lo, hi, last_at


def _own_ranks(
    index: TapeIndex, sid: int, cuts: np.ndarray, tick_end: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`HourTable`'s `lo`, `hi`, `in_tick` and `last` of symbol `sid` as the lean path
    makes them with `_own_segments` (`TABLE_LEAN`), from the ranks `c` of the cuts
    among the symbol's events alone: a gap's last bar ends right before its hour's tick
    starts, so the symbol's last event before the tick start's rank (`c[1::3]`) is its
    last in the gap when that is at or after the gap's start (the table's test; an hour
    without a gap has none); the tick [tick_start, tick_end) has an event of the symbol
    iff the rank of its end is past its start's, and a tick ends where the next hour's
    gap starts (`c[3::3]`; the last hour's end ranked apart). The prices go straight
    into an array one longer than the events (no `append` copy): its last slot is read
    only into a segment that is empty or the unused last one, both overwritten or
    never read."""
    at = np.flatnonzero(index.sym == sid)
    if len(cuts) == 0:
        none = np.zeros(0, np.int64)
        return none, none, np.zeros(0, bool), none
    c = np.searchsorted(at, cuts, "left")
    own = np.empty(len(at) + 1, index.price.dtype)  # (every rank a valid index)
    index.price.take(at, out=own[:-1], mode="clip")  # (no buffer: `at` is in range)
    lo = np.minimum.reduceat(own, c)
    hi = np.maximum.reduceat(own, c)
    empty = c[1:] == c[:-1]  # (the last segment, [last head, end), is never read)
    lo[:-1][empty] = I64_MAX
    hi[:-1][empty] = I64_MIN
    start_rank = c[1::3]
    end_rank = np.append(c[3::3], at.searchsorted(tick_end[-1], "left"))
    in_tick = end_rank > start_rank
    if len(at):  # (rank 0: no event before; `take(-1)` then not read)
        last = np.where(start_rank > 0, at.take(start_rank - 1), -1)
    else:
        last = np.full(len(start_rank), -1, np.int64)
    return lo, hi, in_tick, last


def _segments(
    op: np.ufunc, values: np.ndarray, cuts: np.ndarray, empty: np.ndarray, none: int
) -> np.ndarray:
    """`op` over each segment [cuts[i], cuts[i+1]) (the last to the end); `none` for an
    empty one."""
    if len(cuts) == 0:
        return np.zeros(0, np.int64)
    out = op.reduceat(values, cuts)
    out[empty] = none
    return out


def _extremes(lo: list[np.ndarray], hi: list[np.ndarray], a: int, b: int) -> tuple[int, int]:
    """(min, max) over [a, b) (b > a) from the sparse tables `lo`/`hi` (grown to the
    range's level when first asked): two overlapping power-of-two windows."""
    k = (b - a).bit_length() - 1
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


__all__ = ["BarEnds", "HourTable", "TapeIndex"]
