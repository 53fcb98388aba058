"""Market events as columns: chunks of numpy arrays instead of one Python object per tick.

A backtest replays a year of minute prices; the fast replay (`tape.EventTape`, ADR-0020)
plans over arrays (time, symbol, price) and touches an event object only where a real
tick pulls it. Building a million `OracleTick`s only to turn them back into arrays cost
about a tenth of the replay, so the sources that hold their prices as arrays (the
synthetic market, the Brownian bridge) hand them over as `Columns` chunks, and the tape
makes an `OracleTick` only for a row it is asked for (`LazyEvents`). Every other event
(funding, spot rates, candles: one an hour at most) travels as its own object beside
the arrays. Sources that only have objects are chunked from them (`from_events`).

`EventStream` is what `data.pipeline.open_market_data` returns as `events`: iterated, it
yields the source's own objects, exactly as before (live, per-bar stepping, tests); asked
for `columns()` before that, it yields the same events as chunks. The two are one stream:
tests/data/test_columns.py holds them equal, and a backtest through either gives the same
report.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from drift_engine.core import frozen
from drift_engine.data.models import KIND_ORACLE, MarketEvent, OracleTick

#: rows per chunk a converter aims at (a day of minute prices is 1,440)
CHUNK_ROWS = 16_384

#: `LazyEvents` makes a row's `OracleTick` through its slots (`_tick`: the object made
#: by `object.__new__`, each field stored by its slot's descriptor, as
#: `core.frozen.set_by_slots` does) instead of the frozen dataclass's `__init__`, and a
#: slice reads its rows in one loop; the same objects (issue 14: two ticks an hour of a
#: quiet replay); False: `OracleTick(...)` per row and `_row` per sliced row (the
#: reference)
TICK_SLOTS = True

_new_object = object.__new__
_set_ts, _set_market, _set_price, _set_source = (
    OracleTick.__dict__[name].__set__ for name in ("ts", "market", "price", "source")
)


#: an `OracleTick` made through its twin (`core.frozen.TWIN_BUILD`: a plain slotted
#: class of its layout whose `__init__` stores each slot, then takes the tick's class)
_TICK_TWIN = frozen.twin_of(OracleTick)


def _tick(ts: int, market: str, price: int, source: str) -> OracleTick:
    """`OracleTick(ts, market, price, source)` without the generated `__init__`: a
    frozen dataclass stores each field through `object.__setattr__`, ~2x the slot's own
    store (the class is slotted, has no `__post_init__` and no other field). With
    `frozen.TWIN_BUILD` through the tick's twin: plain slot stores, not the slots'
    descriptor calls (two ticks a replayed hour)."""
    if frozen.TWIN_BUILD:
        return _TICK_TWIN(ts, market, price, source)
    tick = _new_object(OracleTick)
    _set_ts(tick, ts)
    _set_market(tick, market)
    _set_price(tick, price)
    _set_source(tick, source)
    return tick


class Codes:
    """Market names and source labels of one stream, numbered as they first appear."""

    def __init__(self) -> None:
        self.markets: list[str] = []
        self.sources: list[str] = []
        self._market: dict[str, int] = {}
        self._source: dict[str, int] = {}

    def market(self, name: str) -> int:
        code = self._market.get(name)
        if code is None:
            code = self._market[name] = len(self.markets)
            self.markets.append(name)
        return code

    def source(self, label: str) -> int:
        code = self._source.get(label)
        if code is None:
            code = self._source[label] = len(self.sources)
            self.sources.append(label)
        return code

    def market_order(self) -> np.ndarray:
        """code -> position of its name in sorted order (the merge's tie-break)."""
        out = np.zeros(max(len(self.markets), 1), np.int32)
        for pos, code in enumerate(sorted(range(len(self.markets)), key=self.markets.__getitem__)):
            out[code] = pos
        return out


@dataclass
class Columns:
    """Consecutive events of a stream. Row i: `time` (when it is known), `rank` (its
    kind's rank in `models.event_sort_key`; 0: an oracle tick), `market` and `source`
    (codes of the stream's `Codes`), `price` (an oracle tick's, else 0); `objects` holds
    the rows that are not oracle ticks as their own events (row -> event)."""

    time: np.ndarray
    rank: np.ndarray
    market: np.ndarray
    source: np.ndarray
    price: np.ndarray
    objects: dict[int, MarketEvent] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.time)

    def rows(self, lo: int, hi: int) -> Columns:
        """Rows [lo, hi) (views of the arrays)."""
        objects = {i - lo: e for i, e in self.objects.items() if lo <= i < hi}
        return Columns(
            self.time[lo:hi],
            self.rank[lo:hi],
            self.market[lo:hi],
            self.source[lo:hi],
            self.price[lo:hi],
            objects,
        )

    def take(self, order: np.ndarray) -> Columns:
        """The rows in `order` (distinct indices)."""
        objects: dict[int, MarketEvent] = {}
        if self.objects:
            new_row = np.full(len(self), -1, np.int64)
            new_row[order] = np.arange(len(order))
            for old, e in self.objects.items():
                row = int(new_row[old])
                if row >= 0:
                    objects[row] = e
        return Columns(
            self.time[order],
            self.rank[order],
            self.market[order],
            self.source[order],
            self.price[order],
            objects,
        )


def empty() -> Columns:
    z = np.zeros(0, np.int64)
    return Columns(z, np.zeros(0, np.int8), np.zeros(0, np.int32), np.zeros(0, np.int32), z)


def join(parts: Sequence[Columns]) -> Columns:
    """One chunk of `parts` one after the other."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty()
    if len(parts) == 1:
        return parts[0]
    objects: dict[int, MarketEvent] = {}
    at = 0
    for p in parts:
        objects.update({i + at: e for i, e in p.objects.items()})
        at += len(p)
    return Columns(
        np.concatenate([p.time for p in parts]),
        np.concatenate([p.rank for p in parts]),
        np.concatenate([p.market for p in parts]),
        np.concatenate([p.source for p in parts]),
        np.concatenate([p.price for p in parts]),
        objects,
    )


def oracle_columns(
    codes: Codes, market: str, source: str, ts: np.ndarray, prices: np.ndarray
) -> Columns:
    """Oracle ticks of one market and label (arrays of times and prices)."""
    n = len(ts)
    return Columns(
        np.asarray(ts, np.int64),
        np.zeros(n, np.int8),
        np.full(n, codes.market(market), np.int32),
        np.full(n, codes.source(source), np.int32),
        np.asarray(prices, np.int64),
    )


def event_columns(codes: Codes, events: Sequence[MarketEvent]) -> Columns:
    """Columns of event objects (oracle ticks become rows, the rest stay objects)."""
    n = len(events)
    time = np.fromiter((e.time for e in events), np.int64, n)
    rank = np.fromiter((e.rank for e in events), np.int8, n)
    market = np.fromiter((codes.market(e.market) for e in events), np.int32, n)
    source = np.zeros(n, np.int32)
    price = np.zeros(n, np.int64)
    objects: dict[int, MarketEvent] = {}
    for i, e in enumerate(events):
        if e.kind == KIND_ORACLE:
            source[i] = codes.source(e.source)
            price[i] = e.price
        else:
            objects[i] = e
    return Columns(time, rank, market, source, price, objects)


def from_events(
    codes: Codes, events: Iterable[MarketEvent], rows: int = CHUNK_ROWS
) -> Iterator[Columns]:
    """Chunks of a stream that has objects only (stored series, files, rates)."""
    it = iter(events)
    while True:
        part = list(itertools.islice(it, rows))
        if part:
            yield event_columns(codes, part)
        if len(part) < rows:
            return


def batched(chunks: Iterable[Columns], rows: int = CHUNK_ROWS) -> Iterator[Columns]:
    """Consecutive chunks joined up to about `rows` rows (fewer merge and sort steps)."""
    parts: list[Columns] = []
    have = 0
    for chunk in chunks:
        parts.append(chunk)
        have += len(chunk)
        if have >= rows:
            yield join(parts)
            parts, have = [], 0
    if parts:
        yield join(parts)


def merge_columns(codes: Codes, streams: Sequence[Iterator[Columns]]) -> Iterator[Columns]:
    """`models.merge_events` of chunked streams: the same order (time, rank, market;
    equal keys in stream order), chunk by chunk. A row is let out once every stream
    that may still hold an earlier or equal one has read past it."""
    if len(streams) == 1:
        yield from streams[0]
        return
    its = list(streams)
    held = [empty() for _ in its]
    live = [True] * len(its)
    while True:
        for k, it in enumerate(its):  # every live stream holds at least one row
            while live[k] and not len(held[k]):
                nxt = next(it, None)
                if nxt is None:
                    live[k] = False
                else:
                    held[k] = nxt
        ends = [int(h.time[-1]) for k, h in enumerate(held) if live[k]]
        if not ends:
            out = [h for h in held if len(h)]
            if out:
                yield _ordered(codes, out)
            return
        horizon = min(ends)  # rows before it are final; rows at it may have peers to come
        out = []
        for k, h in enumerate(held):
            cut = int(np.searchsorted(h.time, horizon, "left"))
            if cut:
                out.append(h.rows(0, cut))
                held[k] = h.rows(cut, len(h))
        if out:
            yield _ordered(codes, out)
        for k, it in enumerate(its):  # the streams ending at the horizon read on
            h = held[k]
            if live[k] and len(h) and int(h.time[-1]) == horizon:
                nxt = next(it, None)
                if nxt is None:
                    live[k] = False
                else:
                    held[k] = join([h, nxt])


def _ordered(codes: Codes, parts: list[Columns]) -> Columns:
    whole = join(parts)
    if len(parts) == 1:
        return whole
    order = np.lexsort((codes.market_order()[whole.market], whole.rank, whole.time))
    return whole.take(order)


class LazyEvents:
    """A chunk's events as a sequence: an `OracleTick` is made when its row is read.

    A fast replay reads a few rows an hour out of thousands, so a row is read from the
    arrays (`item`: a Python int) rather than from lists made of the whole chunk
    (`tolist` of four arrays cost ~1 ms per chunk, ~10 us per replayed hour); iterating
    (`prepared` streams read as objects) makes the lists once."""

    def __init__(self, codes: Codes, cols: Columns) -> None:
        self.codes = codes
        self.cols = cols

    def __len__(self) -> int:
        return len(self.cols.time)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            if TICK_SLOTS:
                return self._rows(i)
            return [self._row(j) for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
            if i < 0:
                raise IndexError("LazyEvents index out of range")
        return self._row(i)

    def _rows(self, s: slice) -> list[Any]:
        """`[self._row(j) for j in the slice]` in one loop (`TICK_SLOTS`): the columns
        and codes read once, each tick made by `_tick`."""
        cols, codes = self.cols, self.codes
        objects, time, market, price, source = (
            cols.objects,
            cols.time,
            cols.market,
            cols.price,
            cols.source,
        )
        markets, sources = codes.markets, codes.sources
        get = objects.get
        out = []
        for j in range(*s.indices(len(time))):
            e = get(j)
            out.append(
                e
                if e is not None
                else _tick(
                    time.item(j), markets[market.item(j)], price.item(j), sources[source.item(j)]
                )
            )
        return out

    def _row(self, i: int) -> Any:
        cols = self.cols
        e = cols.objects.get(i)
        if e is not None:
            return e
        codes = self.codes
        if TICK_SLOTS:
            return _tick(
                cols.time.item(i),
                codes.markets[cols.market.item(i)],
                cols.price.item(i),
                codes.sources[cols.source.item(i)],
            )
        return OracleTick(
            cols.time.item(i),
            codes.markets[cols.market.item(i)],
            cols.price.item(i),
            codes.sources[cols.source.item(i)],
        )

    def __iter__(self) -> Iterator[MarketEvent]:
        cols, codes = self.cols, self.codes
        objects, markets, sources = cols.objects, codes.markets, codes.sources
        rows = zip(
            cols.time.tolist(),
            cols.market.tolist(),
            cols.price.tolist(),
            cols.source.tolist(),
            strict=True,
        )
        for i, (time, market, price, source) in enumerate(rows):
            e = objects.get(i)
            yield e if e is not None else OracleTick(time, markets[market], price, sources[source])


class EventStream(Iterator[MarketEvent]):
    """A source's events: iterated, its own objects (`objects()`); or, asked before
    that, the same events as `Columns` chunks (`columns()`), never both."""

    def __init__(
        self,
        objects: Callable[[], Iterator[MarketEvent]],
        columns: Callable[[Codes], Iterator[Columns]] | None = None,
        *,
        codes: Codes | None = None,
    ) -> None:
        self._objects = objects
        self._columns = columns
        self._codes = codes  # (the codes of chunks made already: `prepared`)
        self._it: Iterator[MarketEvent] | None = None
        self._taken = False
        self.count: int | None = None  # the events, when known (`prepared`)

    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> MarketEvent:
        if self._it is None:
            if self._taken:
                raise RuntimeError("this event stream was read as columns")
            self._it = self._objects()
        return next(self._it)

    def columns(self) -> tuple[Codes, Iterator[Columns]] | None:
        """(codes, chunks) of the events, or None once read as objects."""
        if self._it is not None or self._taken:
            return None
        self._taken = True
        codes = self._codes or Codes()
        if self._columns is None:
            return codes, from_events(codes, self._objects())
        return codes, self._columns(codes)

    def prepared(self) -> EventStream:
        """The same events made now and held in memory as chunks, read once as columns
        or objects (a bench times a replay apart from the making of its data, as the
        other engines it compares with are timed)."""
        got = self.columns()
        if got is None:
            raise RuntimeError("this event stream was read as objects")
        codes, chunks = got
        held = list(chunks)

        def objects() -> Iterator[MarketEvent]:
            for chunk in held:
                yield from LazyEvents(codes, chunk)

        out = EventStream(objects, lambda _: iter(held), codes=codes)
        out.count = sum(len(chunk) for chunk in held)
        return out


__all__ = [
    "CHUNK_ROWS",
    "Codes",
    "Columns",
    "EventStream",
    "LazyEvents",
    "batched",
    "event_columns",
    "from_events",
    "join",
    "merge_columns",
    "oracle_columns",
]
