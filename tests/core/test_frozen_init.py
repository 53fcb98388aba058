"""`core.frozen.set_by_slots`: the faster `__init__` builds the same frozen records.

Every class it is applied to is compared with a dataclass made afresh from the same fields
(`make_dataclass(..., frozen=True, slots=True)`, the generated `__init__`): the same
parameters (names, order, kinds, defaults), the same field values from positional and
keyword calls, still frozen, equal and hashed alike, pickled and `replace`d alike.
"""

from __future__ import annotations

import dataclasses
import inspect
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drift_engine.core import program_math
from drift_engine.core.frozen import set_by_slots
from drift_engine.engine.ports import InterestEvent
from drift_engine.sim import records
from drift_engine.sim.quiet import EquityLegs
from drift_engine.strategies.base import FundingEvent

CLASSES = [
    *records._RECORD_TYPES.values(),
    program_math.StrictOraclePrice,
    program_math.OrderFillSimulation,
    program_math.PerpPositionValue,
    program_math.MarginCalculation,
    # a quiet funding hour's (engine.quiet, sim.quiet)
    EquityLegs,
    FundingEvent,
    InterestEvent,
]


def _reference(cls: type) -> type:
    specs = []
    for f in dataclasses.fields(cls):
        if f.default is dataclasses.MISSING:
            specs.append((f.name, f.type))
        else:
            specs.append((f.name, f.type, dataclasses.field(default=f.default)))
    return dataclasses.make_dataclass(cls.__name__, specs, frozen=True, slots=True)


def _params(cls: type) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(cls).parameters.values()]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_the_init_takes_the_dataclass_parameters(cls):
    assert _params(cls) == _params(_reference(cls))
    assert cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"


@given(st.data())
def test_records_built_by_slots_equal_the_dataclass_built_ones(data):
    cls = data.draw(st.sampled_from(CLASSES))
    ref = _reference(cls)
    fields = dataclasses.fields(cls)
    # fields with a default: left out (the default), given by position or by keyword
    required = [f for f in fields if f.default is dataclasses.MISSING]
    values = data.draw(st.lists(st.integers(), min_size=len(fields), max_size=len(fields)))
    n_pos = data.draw(st.integers(len(required), len(fields)))
    by_kw = data.draw(st.booleans())
    args = values[:n_pos]
    kwargs = {f.name: v for f, v in zip(fields[n_pos:], values[n_pos:], strict=True)}
    if by_kw:  # every field by keyword instead
        kwargs = {f.name: v for f, v in zip(fields[:n_pos], args, strict=True)} | kwargs
        args = []
    if data.draw(st.booleans()):  # omit the defaulted fields that were keywords
        kwargs = {k: v for k, v in kwargs.items() if k in {f.name for f in required}}
    got, want = cls(*args, **kwargs), ref(*args, **kwargs)
    assert dataclasses.astuple(got) == dataclasses.astuple(want)
    assert [getattr(got, f.name) for f in fields] == [getattr(want, f.name) for f in fields]
    twin = cls(*args, **kwargs)
    assert got == twin and hash(got) == hash(twin)
    assert pickle.loads(pickle.dumps(got)) == got
    name = fields[0].name
    assert getattr(dataclasses.replace(got, **{name: 12345}), name) == 12345
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(got, name, 1)


def test_missing_and_unknown_arguments_are_refused_as_before():
    cls = program_math.StrictOraclePrice
    for bad in ((), (1, 2, 3)):
        with pytest.raises(TypeError):
            cls(*bad)
    with pytest.raises(TypeError):
        cls(1, nope=2)


def test_only_frozen_slotted_dataclasses_without_post_init():
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Factory:
        a: list = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(frozen=True, slots=True)
    class Post:
        a: int

        def __post_init__(self) -> None:
            pass

    for cls in (NoSlots, Factory, Post):
        with pytest.raises(TypeError):
            set_by_slots(cls)
