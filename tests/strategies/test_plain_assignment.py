"""A strategy state's assignment of a value of its field's exact plain type is written
without pydantic's `validate_assignment` (`strategies.base.PLAIN_ASSIGNMENT`); every
other value, field and class is validated as before.

Each assignment is made with the flag on and off on equal states and must leave the
same state: the same values (and their types), the same fields set, or the same
validation error naming the same field. The states are the shipped ones and a user's
(tests/strategies/user_strategy.py), plus classes a user could write that must not take
the fast path: a constrained field, a field or model validator, a config of its own.
Whole backtests flag on and off: `flag_runs` (tests/backtest/flag_scenarios.py)."""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from drift_engine.strategies import base
from drift_engine.strategies.base import StrategyState
from drift_engine.strategies.carry import CarryState
from drift_engine.strategies.delta_neutral import DeltaNeutralState
from drift_engine.strategies.funding_spread import FundingSpreadState
from tests.backtest.flag_scenarios import flag_runs
from tests.strategies.user_strategy import ShortFundingState


class Level(enum.IntEnum):
    LOW = 1


class Name(str):
    pass


class Constrained(StrategyState):
    count: int = Field(0, ge=0)
    label: str = Field("", max_length=3)
    plain: int = 0


class FieldChecked(StrategyState):
    count: int = 0
    other: int = 0

    @field_validator("count")
    @classmethod
    def _even(cls, v: int) -> int:
        if v % 2:
            raise ValueError("count must be even")
        return v


class ModelChecked(StrategyState):
    low: int = 0
    high: int = 0

    @model_validator(mode="after")
    def _ordered(self) -> ModelChecked:
        if self.low > self.high:
            raise ValueError("low above high")
        return self


class Strict(StrategyState):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True)
    count: int = 0


class Mixed(StrategyState):
    count: int = 0
    ratio: float = 0.0
    on: bool = False
    note: str = ""
    since: int | None = None
    mode: Literal["a", "b"] = "a"
    amount: Decimal = Decimal(0)
    level: Level = Level.LOW
    items: list[int] = []


STATES = [
    DeltaNeutralState,
    FundingSpreadState,
    CarryState,
    ShortFundingState,
    Constrained,
    FieldChecked,
    ModelChecked,
    Strict,
    Mixed,
]

VALUES = st.one_of(
    st.integers(-(10**30), 10**30),
    st.booleans(),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    st.none(),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
    st.just(Level.LOW),
    st.builds(Name, st.text(max_size=3)),
    st.just("b"),
    st.just("12"),
    st.lists(st.integers(-5, 5), max_size=2),
)


def _assign(cls: type[StrategyState], name: str, value: object, plain: bool):
    """The state after `state.name = value` with `PLAIN_ASSIGNMENT = plain` (or the
    error's class and its `errors()`), with the values' types and the fields set."""
    state = cls()
    old = base.PLAIN_ASSIGNMENT
    base.PLAIN_ASSIGNMENT = plain
    try:
        setattr(state, name, value)
    except (ValidationError, ValueError, TypeError) as exc:
        errors = exc.errors(include_context=False) if isinstance(exc, ValidationError) else str(exc)
        return ("error", type(exc), errors, state.model_dump())
    finally:
        base.PLAIN_ASSIGNMENT = old
    values = {k: (type(v), v) for k, v in state.__dict__.items()}
    return ("ok", values, state.model_fields_set, state.model_dump_json())


@settings(max_examples=400, deadline=None)
@given(data=st.data(), value=VALUES)
def test_an_assignment_leaves_the_state_pydantic_leaves(data, value):
    cls = data.draw(st.sampled_from(STATES))
    name = data.draw(st.sampled_from(sorted(cls.model_fields)))
    assert _assign(cls, name, value, True) == _assign(cls, name, value, False)


def test_the_plain_fields_are_those_whose_validation_returns_the_value():
    assert Mixed._plain == {
        "count": (int,),
        "ratio": (float,),
        "on": (bool,),
        "note": (str,),
        "since": (int, type(None)),
    }
    assert Constrained._plain == {"plain": (int,)}  # (a bound or a length: validated)
    assert FieldChecked._plain == {"other": (int,)}
    assert ModelChecked._plain == {}  # (a model validator sees every assignment)
    assert Strict._plain == {}  # (a config of its own: all validated)
    assert "side" not in DeltaNeutralState._plain  # (a Literal narrows CarryState's str)
    assert DeltaNeutralState._plain["hedges"] == (int,)
    assert DeltaNeutralState._plain["last_settle_ts"] == (int, type(None))


def test_the_validators_still_refuse_a_bad_value_and_name_the_field():
    state = DeltaNeutralState()
    state.hedges = 3  # (the fast path)
    assert state.hedges == 3 and "hedges" in state.model_fields_set
    with pytest.raises(ValidationError, match="hedges"):
        state.hedges = "three"
    with pytest.raises(ValidationError, match="side"):
        state.side = "sideways"
    checked = FieldChecked()
    with pytest.raises(ValidationError, match="even"):
        checked.count = 3  # (an int, but the field has a validator)
    ordered = ModelChecked()
    with pytest.raises(ValidationError, match="low above high"):
        ordered.low = 5
    with pytest.raises(ValidationError, match="unknown"):
        state.unknown = 1


def test_an_int_for_a_float_field_is_still_converted():
    state = Mixed()
    state.ratio = 2
    assert type(state.ratio) is float and state.ratio == 2.0


@pytest.mark.parametrize("name", ["bench", "sol-hours-delta-neutral"])
def test_a_backtest_is_the_same_with_plain_assignments(tmp_path, name):
    flag_runs(tmp_path, name, base, "PLAIN_ASSIGNMENT")
