"""`LazyEvents` with its ticks made through their slots (`columns.TICK_SLOTS`) against the
reference (`OracleTick(...)` per row, `_row` per sliced row): every index and slice of
drawn chunks (oracle ticks of several markets and sources, funding records, spot rates
and candles among them) gives equal events of the same types, in the same order, the
non-tick rows the chunk's own objects; a tick made the fast way is an `OracleTick` like
any other (equal, same hash, frozen, pickled, `replace`d, its properties). Both with the
tick made through its twin (`core.frozen.TWIN_BUILD`) and through its slots' descriptors."""

from __future__ import annotations

import dataclasses
import pickle
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drift_engine.core import frozen
from drift_engine.data import columns
from drift_engine.data.columns import Codes, LazyEvents, from_events
from drift_engine.data.models import Candle, FundingRecord, OracleTick, SpotRateRecord

T0 = 1_767_225_600


def _read(on: bool, lazy: LazyEvents, key, twin: bool = True) -> object:
    was, was_twin = columns.TICK_SLOTS, frozen.TWIN_BUILD
    columns.TICK_SLOTS, frozen.TWIN_BUILD = on, twin
    try:
        return lazy[key]
    finally:
        columns.TICK_SLOTS, frozen.TWIN_BUILD = was, was_twin


def _same(a: object, b: object) -> None:
    if isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
        return
    assert type(a) is type(b)
    assert a == b
    if type(a) is OracleTick:
        assert (a.ts, a.market, a.price, a.source) == (b.ts, b.market, b.price, b.source)
        assert type(a.ts) is type(b.ts) is int and type(a.price) is type(b.price) is int
        assert hash(a) == hash(b)


def _event(draw_kind: int, i: int, market: str, price: int, source: str) -> object:
    ts = T0 + 60 * i
    if draw_kind == 0:
        return OracleTick(ts, market, price, source)
    if draw_kind == 1:
        return FundingRecord(ts, "SOL-PERP", 0, 5, 5, 5, 0, 0, price, price)
    if draw_kind == 2:
        return SpotRateRecord(ts, "USDC", 0, Decimal("0.05"), Decimal("0.08"))
    return Candle(ts, market, 60, price, price, price, price, 1)


_rows = st.lists(
    st.tuples(
        st.sampled_from([0, 0, 0, 1, 2, 3]),
        st.sampled_from(["SOL", "SOL-PERP", "BTC"]),
        st.integers(1, 10**12),
        st.sampled_from(["real", "synthetic", "bridge"]),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(_rows, st.data())
def test_property_every_index_and_slice_is_the_reference(rows, data):
    events = [_event(k, i, m, p, s) for i, (k, m, p, s) in enumerate(rows)]
    codes = Codes()
    chunk = next(from_events(codes, events, rows=len(events))) if events else columns.empty()
    lazy = LazyEvents(codes, chunk)
    n = len(events)
    for i in list(range(-n, n)):
        _same(_read(True, lazy, i), _read(False, lazy, i))
        _same(_read(True, lazy, i, twin=False), _read(False, lazy, i))
        _same(_read(True, lazy, i), events[i])
    for _ in range(10):
        lo = data.draw(st.one_of(st.none(), st.integers(-n - 3, n + 3)))
        hi = data.draw(st.one_of(st.none(), st.integers(-n - 3, n + 3)))
        step = data.draw(st.sampled_from([None, 1, 2, 3, -1, -2]))
        key = slice(lo, hi, step)
        got, ref = _read(True, lazy, key), _read(False, lazy, key)
        _same(got, ref)
        _same(_read(True, lazy, key, twin=False), ref)
        _same(got, events[key])


@pytest.mark.parametrize("twin", [True, False], ids=["twin", "slots"])
def test_a_fast_tick_is_an_oracle_tick_like_any_other(twin):
    codes = Codes()
    events = [
        OracleTick(T0, "SOL", 98_352_586, "synthetic"),
        FundingRecord(T0, "SOL-PERP", 0, 5, 5, 5, 0, 0, 1, 1),
        OracleTick(T0 + 60, "SOL-PERP", 7),
    ]
    lazy = LazyEvents(codes, next(from_events(codes, events)))
    fast = _read(True, lazy, slice(None), twin=twin)
    assert fast[1] is lazy.cols.objects[1]  # (a chunk's own object, not a copy)
    tick = fast[0]
    assert tick == events[0] and hash(tick) == hash(events[0])
    assert tick.kind == "oracle" and tick.rank == 0 and tick.time == T0
    assert tick.price_decimal == events[0].price_decimal and tick.is_synthetic
    assert not fast[2].is_synthetic
    with pytest.raises(dataclasses.FrozenInstanceError):
        tick.price = 1  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(tick)) == tick
    assert dataclasses.replace(tick, price=1) == OracleTick(T0, "SOL", 1, "synthetic")
    assert repr(tick) == repr(events[0])
    with pytest.raises(IndexError):
        _read(True, lazy, -4)


def test_the_twin_makes_the_ticks_when_the_flag_is_on(monkeypatch):
    """With `TWIN_BUILD` the tick comes from its twin's `__init__`, not the slots' stores
    (a spy on the descriptor store path: never called); off, the reference's path."""
    codes = Codes()
    events = [OracleTick(T0, "SOL", 1, "real"), OracleTick(T0 + 60, "SOL", 2, "real")]
    lazy = LazyEvents(codes, next(from_events(codes, events)))
    calls = []
    monkeypatch.setattr(
        columns, "_new_object", lambda cls: calls.append(cls) or object.__new__(cls)
    )
    assert _read(True, lazy, slice(None)) == events and calls == []
    assert _read(True, lazy, slice(None), twin=False) == events and len(calls) == 2
