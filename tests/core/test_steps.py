"""The one rounding-to-a-step rule (`core/steps.py`) against the program's unit tests
(protocol-v2 `programs/drift/src/math/orders/tests.rs`) and its defining properties.

The rule replaced three twins (`strategies.carry.round_down`,
`core.validation.round_down_to_step`, `sim.rules.standardize`/`standardize_ceil`) that
used Python's flooring `%`, which rounds a negative amount away from zero where the
program rounds it toward zero."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drift_engine.core.steps import round_down_to_step, round_up_to_step

AMOUNTS = st.integers(min_value=-(2**63), max_value=2**64 - 1)
STEPS = st.integers(min_value=1, max_value=10**12)


def test_standardize_base_asset_amount_program_vectors():
    assert round_down_to_step(200_001, 100_000) == 200_000
    assert round_down_to_step(250_001, 100_000) == 200_000
    assert round_down_to_step(0, 100_000) == 0


def test_standardize_base_asset_amount_with_remainder_i128_program_vectors():
    # (base, step) -> standardized, as the program's tests assert
    cases = {(-90, 50): -50, (-20, 50): 0, (90, 50): 50, (20, 50): 0, (100, 50): 100}
    assert {k: round_down_to_step(*k) for k in cases} == cases


def test_standardize_base_asset_amount_with_remainder_i128_rounds_a_negative_toward_zero():
    """Where the program and Python's `%` part: -15 at step 10 is -10 on chain; the old
    twins' `amount - amount % step` gave -20 (a whole step more)."""
    assert round_down_to_step(-15, 10) == -10
    assert -15 - (-15 % 10) == -20


def test_standardize_base_asset_amount_ceil_rounds_up():
    assert round_up_to_step(1_234_567_891, 10**7) == 1_240_000_000
    assert round_up_to_step(1_230_000_000, 10**7) == 1_230_000_000
    assert round_up_to_step(0, 10**7) == 0


@given(AMOUNTS, STEPS)
def test_round_down_is_the_nearest_whole_step_toward_zero(amount, step):
    got = round_down_to_step(amount, step)
    assert got % step == 0
    assert abs(got) <= abs(amount)
    assert abs(amount) - abs(got) < step
    assert got == 0 or (got > 0) == (amount > 0)
    assert round_down_to_step(-amount, step) == -got


@given(st.integers(min_value=0, max_value=2**64 - 1), STEPS)
def test_round_down_of_an_unsigned_amount_is_the_u64_rule(amount, step):
    """On u64 amounts (`standardize_base_asset_amount`) flooring and truncating agree."""
    assert round_down_to_step(amount, step) == amount - amount % step


@given(st.integers(min_value=0, max_value=2**64 - 1), STEPS)
def test_round_up_is_the_nearest_whole_step_at_or_above(amount, step):
    got = round_up_to_step(amount, step)
    assert got % step == 0
    assert amount <= got < amount + step
    assert got - round_down_to_step(amount, step) in (0, step)


def test_a_step_of_zero_leaves_the_amount_and_a_negative_step_is_refused():
    assert round_down_to_step(-7, 0) == -7 and round_up_to_step(7, 0) == 7
    with pytest.raises(ValueError, match="step -10"):
        round_down_to_step(7, -10)
    with pytest.raises(ValueError, match="step -10"):
        round_up_to_step(7, -10)


def test_rounding_a_negative_amount_up_is_refused_naming_it():
    with pytest.raises(ValueError, match="-15"):
        round_up_to_step(-15, 10)
