"""`store.JsonPieces` writes `json.dumps`'s text: heartbeat rows reach SQLite as text built
from kept pieces, so the stored bytes must be the encoder's, call after call, whatever
the values (NaN, infinities, -0.0, non-ASCII text, non-str keys, nested lists) and
whichever items a call shares with the one before (the kept texts are found again by
identity)."""

from __future__ import annotations

import json
import math
from contextlib import contextmanager

from hypothesis import given, settings
from hypothesis import strategies as st

from drift_engine.engine import store
from drift_engine.engine.store import JsonPieces

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-5, -1.5e-7]),
    st.text(max_size=6),
)
#: (ts, long, short)-like tuples, and other items a long list may hold
ITEMS = st.one_of(
    st.tuples(st.integers(), st.floats(allow_nan=True), st.floats(allow_nan=True)),
    st.tuples(SCALARS, SCALARS),
    st.lists(SCALARS, max_size=3),
    st.tuples(st.lists(SCALARS, max_size=2)),
    SCALARS,
)
JSON = st.recursive(
    SCALARS | st.lists(ITEMS, min_size=14, max_size=24).map(tuple),
    lambda inner: st.one_of(
        st.lists(inner, max_size=20),
        st.dictionaries(st.text(max_size=5), inner, max_size=4),
        st.dictionaries(st.integers(0, 3) | st.booleans(), inner, max_size=2),
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(JSON, min_size=1, max_size=4), st.lists(ITEMS, min_size=16, max_size=20))
def test_the_text_is_json_dumps_call_after_call(values, shared):
    pieces = JsonPieces()
    for i, value in enumerate(values):
        # each call also holds a long list sharing most items with the call before
        # (the board's funding tuples: the same objects, one more, one fewer)
        window = tuple(shared[i % 3 :]) + tuple(shared[: i % 3])
        row = {"SOL-PERP": {"rate": 1e-5, "funding_sides": window, "x": value}, "v": value}
        assert pieces.encode(row) == json.dumps(row)
        assert pieces.encode(value) == json.dumps(value)


def test_a_kept_text_is_not_used_for_an_equal_value_of_another_object():
    pieces = JsonPieces()
    zeros = tuple((i, 0.0, 0.0) for i in range(20))
    negative = tuple((i, -0.0, -0.0) for i in range(20))  # == zeros, other text
    assert pieces.encode(zeros) == json.dumps(zeros)
    assert pieces.encode(negative) == json.dumps(negative)
    assert pieces.encode(zeros) == json.dumps(zeros)


#: the pool's tuples of scalars (a long list of only these is kept as a run)
POOL_TUPLES = st.one_of(
    st.tuples(st.integers(), st.floats(allow_nan=True), st.floats(allow_nan=True)),
    st.tuples(SCALARS, SCALARS),
    st.tuples(),
    st.tuples(st.sampled_from([0.0, -0.0])),
)
#: items that stop a long list being kept as a run
OTHER_ITEMS = st.one_of(
    st.lists(SCALARS, max_size=2), st.tuples(st.lists(SCALARS, max_size=2)), SCALARS
)


@st.composite
def calls_sharing_items(draw):
    """Calls whose long lists are drawn from one pool of objects: sliding windows (the
    board's funding tuples a day on), stretches in another order, items repeated, some
    replaced by equal tuples of other objects, lists and tuples, nested long lists."""
    pool = draw(st.lists(POOL_TUPLES, min_size=20, max_size=60))
    for _ in range(draw(st.integers(0, 2))):
        pool.insert(draw(st.integers(0, len(pool))), draw(OTHER_ITEMS))
    # an equal tuple of other objects, its text other where it can be (0.0 == -0.0,
    # 1 == 1.0): found by equality it would bring the wrong text
    twins = [_twin(v) for v in pool]
    calls = []
    for _ in range(draw(st.integers(1, 5))):
        lists = []
        for _ in range(draw(st.integers(1, 3))):
            if draw(st.booleans()):
                start = draw(st.integers(0, len(pool) - 16))
                indices = list(range(start, min(len(pool), start + draw(st.integers(16, 40)))))
            else:
                index = st.integers(0, len(pool) - 1)
                indices = draw(st.lists(index, min_size=14, max_size=40))
            swapped = draw(st.sets(st.integers(0, len(indices) - 1), max_size=4))
            picked = [(twins if k in swapped else pool)[i] for k, i in enumerate(indices)]
            lists.append(tuple(picked) if draw(st.booleans()) else list(picked))
        calls.append({"SOL-PERP": {"sides": lists[0], "rate": 1e-5}, "more": lists[1:]})
    return calls


def _twin(value):
    """A tuple equal to `value` (a new object), its zeros' signs flipped and its ints
    made floats where that keeps it equal."""
    if type(value) is not tuple:
        return value

    def other(v):
        if type(v) is float and v == 0.0:
            return -v
        if type(v) is int and float(v) == v:
            return float(v)
        return v

    return tuple([other(v) for v in value])


@settings(max_examples=400, deadline=None)
@given(calls_sharing_items())
def test_kept_runs_write_the_text_the_items_path_writes(calls):
    """`HEARTBEAT_RUNS`: the same text, call after call, as the reference path (each
    item's own kept text) and as `json.dumps`."""
    runs, items = JsonPieces(), JsonPieces()
    for value in calls:
        expected = json.dumps(value)
        with _runs(True):
            assert runs.encode(value) == expected
        with _runs(False):
            assert items.encode(value) == expected


@contextmanager
def _runs(on: bool):
    kept = store.HEARTBEAT_RUNS
    store.HEARTBEAT_RUNS = on
    try:
        yield
    finally:
        store.HEARTBEAT_RUNS = kept


def test_a_window_a_day_on_is_one_slice_and_the_new_tuples():
    """The board's 7-day funding tuples a day later: the text is json.dumps's, and the
    144 shared tuples are taken from the kept run (no tuple's text is written again)."""
    hours = [(ts, ts * 1e-7, -ts * 1e-7) for ts in range(200)]
    pieces = JsonPieces()
    first = {"sides": tuple(hours[:168])}
    assert pieces.encode(first) == json.dumps(first)
    written = []
    real = store._tuple_text
    with _runs(True):
        store._tuple_text = lambda item: written.append(item) or real(item)
        try:
            later = {"sides": tuple(hours[24:192])}
            assert pieces.encode(later) == json.dumps(later)
        finally:
            store._tuple_text = real
    assert written == hours[168:192]


#: a float and values next to it in a tuple: its equal twin (another object of the same
#: value), the other zero, NaN, the infinities, an int and a bool of an equal value
_TWINNED = st.floats(allow_nan=True, allow_infinity=True).flatmap(
    lambda f: st.lists(
        st.sampled_from(
            [f, float(repr(f)) if f == f else f, -f, 0.0, -0.0, math.nan, math.inf, -math.inf]
            + ([int(f), bool(f)] if math.isfinite(f) else [])
        ),
        min_size=1,
        max_size=5,
    ).map(tuple)
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_TWINNED, min_size=1, max_size=30))
def test_a_float_twin_takes_the_text_of_the_float_before_it(items):
    """`FLOAT_TWINS`: a tuple's float equal to the one before it, nonzero, takes its text;
    both ways the text is `json.dumps`'s, alone and as a long list's items."""
    for on in (True, False):
        kept = store.FLOAT_TWINS
        store.FLOAT_TWINS = on
        try:
            for item in items:
                assert store._tuple_text(item) == json.dumps(item)
            value = {"sides": tuple(items) * 14}
            assert JsonPieces().encode(value) == json.dumps(value)
        finally:
            store.FLOAT_TWINS = kept


def test_a_funding_tuple_formats_its_twin_rate_once(monkeypatch):
    """The (ts, long, short) tuple of an hour whose two rates are equal (two objects)
    formats one rate."""
    formatted = []
    real = store._float_text

    def counting(value: float) -> str:
        formatted.append(value)
        return real(value)

    monkeypatch.setattr(store, "_float_text", counting)
    monkeypatch.setitem(store._SCALAR_TEXT, float, counting)
    rate = -2.2919120392292363e-05
    item = (1769731200, rate, float(repr(rate)))
    assert store._tuple_text(item) == json.dumps(item)
    assert formatted == [rate]
