"""`store.JsonPieces` writes `json.dumps`'s text: heartbeat rows reach SQLite as text built
from kept pieces, so the stored bytes must be the encoder's, call after call, whatever
the values (NaN, infinities, -0.0, non-ASCII text, non-str keys, nested lists) and
whichever items a call shares with the one before (the kept texts are found again by
identity)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

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
