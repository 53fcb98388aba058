"""The variant tests answered by class identity (`core.types.STATUS_BY_CLASS`,
`core.program_math.DEPOSIT_BY_CLASS`) answer what `is_variant` answers (the reference,
the flags False): for every variant of driftpy's `OrderStatus` and `SpotBalanceType` in
every form `is_variant` takes (an instance, the class, the name, another library's class
of the same name, a non-variant), on drawn accounts; and a delta-neutral backtest of the
real SOL year reports the same with both flags off.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from driftpy.types import OrderStatus, SpotBalanceType
from hypothesis import given, settings
from hypothesis import strategies as st

from drift_engine.core import program_math as pm
from drift_engine.core import types as core_types
from tests.core.test_margin_one_pass import _real_year_report
from tests.core.test_margin_support import markets, new_user


def _forms(variant: type) -> list[Any]:
    """Every form of a variant `is_variant` reads: instance, class, name, a foreign class
    of the same name (anchorpy-generated types are other classes) and its instance."""
    name = variant.__name__
    foreign = type(name, (), {})
    return [variant(), variant, name, foreign, foreign()]


_STATUSES = [
    form
    for v in (OrderStatus.Init, OrderStatus.Open, OrderStatus.Filled, OrderStatus.Canceled)
    for form in _forms(v)
] + ["open", object(), None]
_BALANCES = [
    form for v in (SpotBalanceType.Deposit, SpotBalanceType.Borrow) for form in _forms(v)
] + ["deposit", object()]


def test_driftpy_variants_are_their_own_classes_named_as_the_variant():
    """What the identity tests rely on: each variant's instance has the variant as its
    class, named as the variant, and is neither a string nor a class (so `is_variant`
    answers by that name)."""
    for enum in (OrderStatus, SpotBalanceType):
        names = enum._sumtype_constructor_names
        assert set(names) >= {"Init", "Open"} or set(names) == {"Deposit", "Borrow"}
        for name in names:
            variant = getattr(enum, name)
            instance = variant()
            assert type(instance) is variant and variant.__name__ == name
            assert not isinstance(instance, str | type)


@pytest.mark.parametrize("form", _BALANCES, ids=repr)
def test_is_deposit_is_is_variant(form, monkeypatch):
    for flag in (True, False):
        monkeypatch.setattr(pm, "DEPOSIT_BY_CLASS", flag)
        assert pm.is_deposit(form) == core_types.is_variant(form, "Deposit")


def _signed_and_plain(position: Any, market: Any) -> tuple[int, int]:
    return (
        pm.signed_token_amount(position, market),
        pm.token_amount(position.scaled_balance, market, position.balance_type),
    )


@settings(max_examples=200, derandomize=True, deadline=None)
@given(
    st.sampled_from(range(len(_BALANCES))),
    st.integers(0, 10**20),
    st.integers(10**10, 10**12),
    st.integers(10**10, 10**12),
    st.sampled_from((0, 1)),
)
def test_token_amounts_are_the_reference(form, scaled, deposit_rate, borrow_rate, index):
    market = markets()[1][index]
    market.cumulative_deposit_interest = deposit_rate
    market.cumulative_borrow_interest = borrow_rate
    position = new_user().spot_positions[0]
    position.balance_type, position.scaled_balance = _BALANCES[form], scaled
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(pm, "DEPOSIT_BY_CLASS", True)
        fast = _signed_and_plain(position, market)
        monkeypatch.setattr(pm, "DEPOSIT_BY_CLASS", False)
        assert fast == _signed_and_plain(position, market)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.lists(st.sampled_from(range(len(_STATUSES))), min_size=32, max_size=32))
def test_open_orders_are_the_reference(statuses):
    user = new_user()
    for i, (order, status) in enumerate(zip(user.orders, statuses, strict=True)):
        order.status, order.order_id = _STATUSES[status], i + 1
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(core_types, "STATUS_BY_CLASS", True)
        fast = core_types.open_orders_from_user(user)
        monkeypatch.setattr(core_types, "STATUS_BY_CLASS", False)
        assert fast == core_types.open_orders_from_user(user)


@pytest.mark.slow
def test_the_real_sol_year_delta_neutral_without_the_identity_tests(monkeypatch):
    fast = _real_year_report()
    monkeypatch.setattr(core_types, "STATUS_BY_CLASS", False)
    monkeypatch.setattr(pm, "DEPOSIT_BY_CLASS", False)
    reference = _real_year_report()
    assert fast.fills > 0
    for f in dataclasses.fields(fast):
        if f.name not in {"wall_seconds", "events_per_second"}:
            assert getattr(fast, f.name) == getattr(reference, f.name), f.name
