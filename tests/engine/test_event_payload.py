"""An engine event's data is stored as its JSON round trip (`json.loads(json.dumps(data,
default=str))`); `json_payload` skips the round trip when the data is plain JSON already
and must give the same value either way, never sharing a mutable object with the data
(ADR-0020, session 6)."""

from __future__ import annotations

import enum
import json
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from drift_engine.engine.store import json_payload


class Side(enum.IntEnum):
    LONG = 1


class Kind(enum.StrEnum):
    FILL = "fill"


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.sampled_from([Side.LONG, Kind.FILL, Decimal("1.25"), (1, 2), b"x"]),
)
keys = st.one_of(st.text(max_size=6), st.integers(-5, 5), st.sampled_from([Kind.FILL, True, None]))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(keys, inner, max_size=4),
    ),
    max_leaves=20,
)


def _ids(value: Any) -> set[int]:
    if isinstance(value, dict):
        return {id(value)}.union(*(_ids(v) for v in value.values()))
    if isinstance(value, list):
        return {id(value)}.union(*(_ids(v) for v in value))
    return set()


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, values, max_size=5))
def test_the_payload_is_the_json_round_trip(data: dict) -> None:
    want = json.loads(json.dumps(data, default=str))
    got = json_payload(data)
    assert got == want
    assert json.dumps(got) == json.dumps(want)  # same types (bool vs int, float vs int)
    assert not _ids(got) & _ids(data)  # a copy: the caller may change its data later


def test_an_order_event_is_copied_not_round_tripped() -> None:
    data = {"reason": "enter", "fills": 2, "orders": [{"market": "perp", "size": 1.5}]}
    got = json_payload(data)
    assert got == data and got is not data and got["orders"][0] is not data["orders"][0]
