"""The replay's read-ahead of market events (ADR-0020): `EventTape` holds the upcoming
events in chunks with numpy arrays beside them (time, tick boundary, symbol, price,
is-a-price-event), `TapeRows` the same facts as Python lists for one-at-a-time reads.
Fast stepping (`fastforward`) plans its skips over them.

The tape reads either event objects or, when the stream offers them
(`data.columns.EventStream.columns`), column chunks: then the arrays come straight from
the source's arrays and `buf` makes an event object only for a row that is read
(`data.columns.LazyEvents`). Both give the same arrays, chunk for chunk."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterator
from functools import cached_property
from typing import Any

import numpy as np

CHUNK = 16_384


class EventTape:
    """Upcoming market events, read ahead in chunks, with their arrays."""

    def __init__(self, events: Iterator[Any], interval_s: int) -> None:
        self._events = events
        self.interval_s = interval_s
        self.buf: Any = []  # a list, or `LazyEvents` when read as columns
        offered = getattr(events, "columns", None)
        self._columns = offered() if offered is not None else None
        if self._columns is not None:
            from drift_engine.data.columns import LazyEvents, empty

            self._spill = empty()  # rows read from the chunks, not on the tape yet
            self.buf = LazyEvents(self._columns[0], empty())
            self._sym_of = np.zeros(0, np.int32)  # stream market code -> symbol id
        self.pos = 0
        self.exhausted = False
        self.symbols: dict[str, int] = {}
        self.time = np.zeros(0, np.int64)
        self.bound = np.zeros(0, np.int64)
        self.sym = np.zeros(0, np.int32)
        self.price = np.zeros(0, np.int64)
        self.is_price = np.zeros(0, bool)
        self._index: Any = None
        self._rows: TapeRows | TapeItems | None = None

    def index(self) -> Any:
        """The `sim.stretch.TapeIndex` of the arrays as they stand (built once per chunk)."""
        if self._index is None:
            from drift_engine.sim.stretch import TapeIndex

            self._index = TapeIndex(self.bound, self.sym, self.price, len(self.symbols))
        return self._index

    def rows(self) -> TapeRows | TapeItems:
        """`TapeRows` of the arrays as they stand (built once per chunk; `TapeItems`
        when `ROWS_BY_ITEM`)."""
        if self._rows is None:
            if ROWS_BY_ITEM:
                self._rows = TapeItems(self.bound, self.sym, self.index())
            else:
                self._rows = TapeRows(self.bound, self.sym, self.index().next_other)
        return self._rows

    def __len__(self) -> int:
        return len(self.buf) - self.pos

    def refill(self, want: int = CHUNK) -> None:
        """Keep at least `want` events ahead (unless the data ends) with their arrays:
        when fewer than `want // 4` are left, read `want` more (column chunks under
        `LONG_READ`: `LONG_READS` times that)."""
        if self.exhausted or len(self.buf) - self.pos >= max(1, want // 4):
            return
        if self._columns is not None:
            self._refill_columns(LONG_READS * want if LONG_READ else want)
            return
        pos = self.pos
        more = list(itertools.islice(self._events, want))
        if len(more) < want:
            self.exhausted = True
        # arrays of the new events only (list comprehensions: ~1 us per event), joined to
        # the arrays of the events not consumed yet
        time = np.fromiter(map(_TIME, more), np.int64, len(more))
        ids = self.symbols
        sym = np.full(len(more), -1, np.int32)
        price = np.zeros(len(more), np.int64)
        oracle = [i for i, e in enumerate(more) if e.kind == "oracle"]
        if oracle:
            k = len(oracle)
            ticks = [more[i] for i in oracle]
            markets = list(map(_MARKET, ticks))
            for m in dict.fromkeys(markets):  # (first seen first: the same ids every run)
                if m not in ids:
                    ids[m] = len(ids)
            at = np.fromiter(oracle, np.int64, k)  # (fromiter: no list-to-array pass)
            sym[at] = np.fromiter(map(ids.__getitem__, markets), np.int32, k)
            price[at] = np.fromiter(map(_PRICE, ticks), np.int64, k)
        self.buf = self.buf[pos:] + more
        self._extend(pos, time, sym, price)

    def _extend(self, pos: int, time: np.ndarray, sym: np.ndarray, price: np.ndarray) -> None:
        """Drop the consumed first `pos` rows of the arrays and append the new events'
        (`buf` is already joined the same way); the index and rows are built anew."""
        interval = self.interval_s
        self.pos = 0
        self.time = np.concatenate([self.time[pos:], time])
        self.bound = np.concatenate([self.bound[pos:], -(-time // interval) * interval])
        self.sym = np.concatenate([self.sym[pos:], sym])
        self.price = np.concatenate([self.price[pos:], price])
        self.is_price = self.sym >= 0
        self._index = None
        self._rows = None

    def _refill_columns(self, want: int) -> None:
        """`refill` from column chunks: the same `want` events, arrays from arrays."""
        from drift_engine.data.columns import LazyEvents, join

        if REFILL_ONCE:
            self._refill_joined(want)
            return
        codes, chunks = self._columns
        parts, have = [self._spill], len(self._spill)
        while have < want:
            chunk = next(chunks, None)
            if chunk is None:
                break
            parts.append(chunk)
            have += len(chunk)
        ready = join(parts)
        more = ready.rows(0, min(want, len(ready)))
        self._spill = ready.rows(len(more), len(ready))
        if len(more) < want:
            self.exhausted = True
        pos = self.pos
        time = more.time
        oracle = more.rank == 0
        codes_at = more.market[oracle]
        sym = self._symbols(codes, oracle, codes_at)
        price = np.where(oracle, more.price, 0)
        old = self.buf.cols
        self.buf = LazyEvents(codes, join([old.rows(pos, len(old)), more]))
        self._extend(pos, time, sym, price)

    def _symbols(self, codes: Any, oracle: np.ndarray, codes_at: np.ndarray) -> np.ndarray:
        """Each row's symbol id (-1: not a price) from its market code (`codes_at`: the
        codes of the `oracle` rows): a market not seen before gets the next id, first
        seen first (the same ids every run), kept in `symbols` and `_sym_of`."""
        sym = np.full(len(oracle), -1, np.int32)
        if len(codes_at):
            ids = self.symbols
            sym_of = self._sym_of
            if len(sym_of) < len(codes.markets):
                sym_of = np.concatenate(
                    [sym_of, np.full(len(codes.markets) - len(sym_of), -1, np.int32)]
                )
            if SYMBOLS_ONCE and self._known_symbols(sym, oracle, codes_at, sym_of):
                return sym
            if (sym_of[codes_at] < 0).any():  # (a refill's unread rows all have ids)
                seen, first = np.unique(codes_at, return_index=True)
                for code in seen[np.argsort(first)].tolist():  # first seen first
                    name = codes.markets[code]
                    if name not in ids:
                        ids[name] = len(ids)
                    sym_of[code] = ids[name]
            self._sym_of = sym_of
            sym[oracle] = sym_of[codes_at]
        return sym

    def _known_symbols(
        self, sym: np.ndarray, oracle: np.ndarray, codes_at: np.ndarray, sym_of: np.ndarray
    ) -> bool:
        """`_symbols` when every market of `codes_at` has its id (`SYMBOLS_ONCE`): each
        row's id read once, by `take`, and written into `sym`; False (nothing written)
        when a market is new: then the reference's way gives it its id."""
        mapped = sym_of.take(codes_at)
        if (mapped < 0).any():
            return False
        self._sym_of = sym_of
        sym[oracle] = mapped
        return True

    def _refill_joined(self, want: int) -> None:
        """`_refill_columns` with one copy of the rows (`REFILL_ONCE`): the unread rows
        and the `want` new ones (from the spill and the chunks read) joined at once; the
        rest of the last piece read stays a view of it (the spill, copied when it goes on
        the tape); the arrays made over all the tape's rows from its columns (`time` is
        the columns' own). The unread rows' symbols, prices and bounds come out as they
        were: a market's symbol id never changes once given."""
        from drift_engine.data.columns import LazyEvents, join

        codes, chunks = self._columns
        old, pos = self.buf.cols, self.pos
        last = self._spill
        parts, have = [old.rows(pos, len(old))], len(last)
        while have < want:
            chunk = next(chunks, None)
            if chunk is None:
                break
            parts.append(last)
            last = chunk
            have += len(chunk)
        # (the last piece's rows past the `want` new ones stay where they are: the spill)
        cut = len(last) - max(have - want, 0)
        parts.append(last.rows(0, cut))
        self._spill = last.rows(cut, len(last))
        if have < want:
            self.exhausted = True
        cols = join(parts)
        oracle = cols.rank == 0
        codes_at = cols.market[oracle]
        sym = self._symbols(codes, oracle, codes_at)
        self.buf = LazyEvents(codes, cols)
        time = cols.time
        interval = self.interval_s
        self.pos = 0
        self.time = time
        self.bound = -(-time // interval) * interval
        self.sym = sym
        self.price = np.where(oracle, cols.price, 0)
        self.is_price = sym >= 0
        self._index = None
        self._rows = None


#: `EventTape._refill_columns` copies each row once (`_refill_joined`: the unread rows
#: and the new ones joined together, the arrays made over the result; the spill left a
#: view of its chunk), not three or four times (the spill and the chunks joined, that
#: joined to the unread rows, `_extend`'s four arrays joined to theirs, and the spill
#: copied again at the next refill); False: the reference
REFILL_ONCE = True

#: a refill from column chunks reads `LONG_READS` times `want` new rows (still when fewer
#: than `want // 4` are left, so `fastforward`'s tests of "no refill on the way" hold as
#: they are): the rows left unread at a refill (a quarter of each read of `want`) were
#: joined, indexed and put in the chunk's `HourTable` again at the next one, and each
#: chunk's fixed work (the table, its plan, ~100 numpy calls) was done 65 times in the
#: bench's year, ~17 with four; False: reads of `want` rows (the reference)
LONG_READ = True

#: how many times `want` rows a long read (`LONG_READ`) takes
LONG_READS = 4

#: `EventTape._symbols` reads each price row's symbol id once, by `take`, when every
#: market of the refill has its id (every refill but the first few): the reference's
#: fancy indexing of a refill's ~20k rows twice (the check and the write) cost ~0.9M
#: instructions a chunk; False: `sym_of[codes_at]` twice (the reference)
SYMBOLS_ONCE = True

_TIME = operator.attrgetter("time")
_MARKET = operator.attrgetter("market")
_PRICE = operator.attrgetter("price")


class TapeRows:
    """The tape's per-event facts a quiet stretch reads one at a time, as Python lists
    (an element of a list costs a fraction of a numpy scalar read): each event's tick
    time (`bound`), symbol id (`sym`, -1: not a price), the end (exclusive) of its tick
    within the chunk (`tick_end`), its tick's number in the chunk (`tick_no`) and the
    next event that is not a price (`next_other`)."""

    def __init__(self, bound: np.ndarray, sym: np.ndarray, next_other: np.ndarray) -> None:
        n = len(bound)
        starts = np.flatnonzero(bound[1:] != bound[:-1]) + 1  # first event of each new tick
        ends = np.append(starts, n)
        tick = np.zeros(n, np.int64)
        tick[starts] = 1
        tick_no = np.cumsum(tick)
        self.bound: list[int] = bound.tolist()
        self.sym: list[int] = sym.tolist()
        self.tick_no: list[int] = tick_no.tolist()
        self.tick_end: list[int] = ends[tick_no].tolist() if n else []
        self.next_other: list[int] = next_other.tolist()


#: `EventTape.rows` is a `TapeItems`: the same facts read an element at a time from the
#: tape's arrays (a chunk's rows are read at a few events near its edges: ~10 chunks of
#: a year's 65, a few reads each), not five lists of every event of the chunk
#: (`tolist`: a Python int per event, ~5M instructions a build); False: `TapeRows`
#: (the reference)
ROWS_BY_ITEM = True


class _Items:
    """A read-only list view of a 1-d integer array: an element is the array's
    `item(i)` (a Python int, as `tolist` makes it), a slice its `tolist()`. What the
    readers of `TapeRows`' lists do with them: index, slice, `len`, `bisect`."""

    __slots__ = ("_array",)

    def __init__(self, array: np.ndarray) -> None:
        self._array = array

    def __len__(self) -> int:
        return len(self._array)

    def __getitem__(self, i: Any) -> Any:
        if type(i) is int:
            return self._array.item(i)
        return self._array[i].tolist()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._array.tolist())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Items):
            other = other._array.tolist()
        return self._array.tolist() == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"_Items({self._array.tolist()!r})"


class TapeItems:
    """`TapeRows`' facts (`bound`, `sym`, `tick_no`, `tick_end`, `next_other`: the same
    values) as `_Items` over numpy arrays, each made when first read (`ROWS_BY_ITEM`)."""

    def __init__(self, bound: np.ndarray, sym: np.ndarray, index: Any) -> None:
        self.bound = _Items(bound)
        self.sym = _Items(sym)
        self._index = index  # (`next_other` is built by the index when first read)

    @cached_property
    def next_other(self) -> _Items:
        return _Items(self._index.next_other)

    @cached_property
    def _ticks(self) -> tuple[_Items, _Items]:
        bound = self.bound._array
        n = len(bound)
        starts = np.flatnonzero(bound[1:] != bound[:-1]) + 1  # first event of each new tick
        ends = np.append(starts, n)
        tick = np.zeros(n, np.int64)
        tick[starts] = 1
        tick_no = np.cumsum(tick)
        tick_end = ends[tick_no] if n else np.zeros(0, np.int64)
        return _Items(tick_no), _Items(tick_end)

    @property
    def tick_no(self) -> _Items:
        return self._ticks[0]

    @property
    def tick_end(self) -> _Items:
        return self._ticks[1]


__all__ = ["CHUNK", "EventTape", "TapeItems", "TapeRows"]
