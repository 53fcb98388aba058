"""`core.frozen.twin_of` (`TWIN_BUILD`): a record made through its class's twin is
exactly the record its class makes.

Every class `set_by_slots` is used on (`test_frozen_init.CLASSES`) is made both ways
from drawn values, by position and by keyword, with defaults left out: the object's
class is the record's own, its fields, equality, hash, repr, pickle, `copy` and
`replace` are the class-made record's, it is still frozen, and the twin takes the
class's parameters. The classes `twin_of` cannot serve are refused when the twin is
made. The funding hour's call sites (`sim.funding_interest`, `PaperVenue`) take the
twin with the flag on and the class with it off: tests/sim/test_twin_records.py and
tests/backtest/test_pull_flags.py.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drift_engine.core import frozen
from drift_engine.core.frozen import set_by_slots, twin_of
from tests.core.test_frozen_init import CLASSES

TWINS = {cls: twin_of(cls) for cls in CLASSES}


def _params(f) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(f).parameters.values()]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_the_twin_takes_the_class_parameters(cls):
    assert _params(TWINS[cls]) == _params(cls)
    assert TWINS[cls].__slots__ == cls.__slots__


@given(st.data())
def test_a_record_made_by_its_twin_is_the_class_made_one(data):
    cls = data.draw(st.sampled_from(CLASSES))
    fields = dataclasses.fields(cls)
    required = [f for f in fields if f.default is dataclasses.MISSING]
    values = data.draw(
        st.lists(
            st.integers() | st.text(max_size=4) | st.none() | st.floats(allow_nan=False),
            min_size=len(fields),
            max_size=len(fields),
        )
    )
    n_pos = data.draw(st.integers(len(required), len(fields)))
    args = values[:n_pos]
    kwargs = {f.name: v for f, v in zip(fields[n_pos:], values[n_pos:], strict=True)}
    if data.draw(st.booleans()):  # every field by keyword instead
        kwargs = {f.name: v for f, v in zip(fields[:n_pos], args, strict=True)} | kwargs
        args = []
    if data.draw(st.booleans()):  # the defaulted fields left out
        kwargs = {k: v for k, v in kwargs.items() if k in {f.name for f in required}}
    want = cls(*args, **kwargs)
    got = TWINS[cls](*args, **kwargs)
    assert type(got) is cls
    assert [getattr(got, f.name) for f in fields] == [getattr(want, f.name) for f in fields]
    assert dataclasses.astuple(got) == dataclasses.astuple(want)
    assert got == want and hash(got) == hash(want) and repr(got) == repr(want)
    assert pickle.loads(pickle.dumps(got)) == want
    assert copy.copy(got) == want and copy.deepcopy(got) == want
    assert dataclasses.replace(got) == want
    name = fields[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(got, name, 1)
    errors = []
    for record in (got, want):  # (no __dict__; whatever Python says, the same both ways)
        try:
            record.not_a_field = 1
        except Exception as exc:  # noqa: BLE001
            errors.append(type(exc))
    assert len(errors) == 2 and errors[0] is errors[1]


def test_a_twin_misses_no_argument_the_class_asks_for():
    cls = CLASSES[0]
    with pytest.raises(TypeError) as twin_error:
        TWINS[cls]()
    with pytest.raises(TypeError) as class_error:
        cls()
    assert str(twin_error.value).split("()")[1] == str(class_error.value).split("()")[1]


@dataclasses.dataclass(frozen=True, slots=True)
class _Base:
    a: int


@dataclasses.dataclass(frozen=True, slots=True)
class _Derived(_Base):
    b: int


@dataclasses.dataclass(frozen=True, slots=True)
class _Later:
    a: int

    def __post_init__(self) -> None:
        pass


@dataclasses.dataclass(frozen=True, slots=True)
class _Factory:
    a: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True, slots=True)
class _NotInit:
    a: int = dataclasses.field(default=0, init=False)


@dataclasses.dataclass(frozen=True)
class _NoSlots:
    a: int


@dataclasses.dataclass(slots=True)
class _NotFrozen:
    a: int


@pytest.mark.parametrize(
    "cls", [_Derived, _Later, _Factory, _NotInit, _NoSlots, _NotFrozen], ids=lambda c: c.__name__
)
def test_twin_of_refuses_a_class_it_cannot_serve(cls):
    with pytest.raises(TypeError):
        twin_of(cls)


def test_a_twin_of_a_class_on_object_with_defaults_fills_them():
    @set_by_slots
    @dataclasses.dataclass(frozen=True, slots=True)
    class Two:
        a: int
        b: str = "x"

    twin = twin_of(Two)
    assert twin(1) == Two(1) and type(twin(1)) is Two
    assert twin(1, b="y") == Two(1, "y")
    assert twin(a=2) == Two(2, "x")


def test_the_flag_is_on():
    assert frozen.TWIN_BUILD is True
