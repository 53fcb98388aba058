"""Properties of health: within 0–100, and non-increasing as the oracle moves against a
single unhedged SOL-PERP position (USDC collateral, real market parameters).

Why the long case needs leverage >= 1x at entry: with collateral C, base b and entry e,
health = 100 * (1 - b*p*m / (C + b*(p - e))), whose slope in p has the sign of
b*m*(b*e - C). Below 1x (C > b*e) a falling price *raises* health — such a long can never
be liquidated — so "moving against" only lowers health for longs at or above 1x. For a short
both the requirement and the loss grow with the price, so health falls for every short.
Runs are derandomized: the same examples every time.
"""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from drift_engine.core.margin import DriftMarginMonitor
from drift_engine.core.types import MarketType, RiskLevel
from tests.core.test_margin_support import (
    PRICE,
    SOL_PERP,
    USDC,
    deposit,
    markets,
    new_user,
    perp,
)

_SEVERITY = [RiskLevel.HEALTHY, RiskLevel.WARNING, RiskLevel.CRITICAL, RiskLevel.LIQUIDATABLE]
_PERPS, _SPOTS = markets()
_MONITOR = DriftMarginMonitor()

collateral_usdc = st.integers(min_value=10, max_value=1_000_000)
size_steps = st.integers(min_value=1, max_value=500_000)  # x 0.01 SOL (the step size)
entry_cents = st.integers(min_value=100, max_value=1_000_00)  # $1 .. $1,000


def _account(collateral: int, base: int, entry: int):
    user = new_user()
    deposit(user, 0, _SPOTS[0], collateral * USDC)
    perp(user, 0, SOL_PERP, base, entry)
    return user


def _metrics(user, price: int):
    prices = {(MarketType.PERP, SOL_PERP): price}
    return _MONITOR.compute_for(user, _PERPS, _SPOTS, oracle_prices=prices)


def _assert_gets_worse(user, path: list[int]) -> None:
    previous = None
    for price in path:
        m = _metrics(user, price)
        assert 0 <= m.health <= 100
        assert m.is_liquidatable is (
            m.maintenance_total_collateral < m.maintenance_margin_requirement
        )
        if previous is not None:
            assert m.health <= previous.health, (price, m, previous)
            assert _SEVERITY.index(m.risk_level) >= _SEVERITY.index(previous.risk_level)
        previous = m


@settings(max_examples=150, derandomize=True, deadline=None)
@given(
    collateral=collateral_usdc,
    steps=size_steps,
    entry=entry_cents,
    moves=st.lists(st.integers(min_value=0, max_value=2_000_000), min_size=2, max_size=8),
)
def test_health_falls_as_price_rises_against_a_short(collateral, steps, entry, moves):
    base = -steps * 10_000_000
    entry_price = entry * 10_000
    user = _account(collateral, base, entry_price)
    # Prices from entry/2 upward: each move adds up to $20 (PRICE 1e6 units / 100).
    start = entry_price // 2
    path = [start + sum(moves[: i + 1]) * 10 for i in range(len(moves))]
    _assert_gets_worse(user, path)


@settings(max_examples=150, derandomize=True, deadline=None)
@given(
    collateral=collateral_usdc,
    steps=size_steps,
    entry=entry_cents,
    cuts=st.lists(st.integers(min_value=0, max_value=1_000), min_size=2, max_size=8),
)
def test_health_falls_as_price_falls_against_a_long(collateral, steps, entry, cuts):
    base = steps * 10_000_000
    entry_price = entry * 10_000
    assume(collateral * USDC * PRICE <= base * entry_price // 1_000)  # leverage >= 1x
    user = _account(collateral, base, entry_price)
    # Prices from 2x entry downward, each cut taking up to half of the price.
    path, price = [], 2 * entry_price
    for cut in cuts:
        price = max(1, price - price * cut // 2_000)
        path.append(price)
    _assert_gets_worse(user, path)


@settings(max_examples=150, derandomize=True, deadline=None)
@given(
    collateral=collateral_usdc,
    steps=size_steps,
    entry=entry_cents,
    short=st.booleans(),
    price=st.integers(min_value=1, max_value=100_000 * PRICE),
)
def test_health_is_always_between_0_and_100(collateral, steps, entry, short, price):
    base = steps * 10_000_000 * (-1 if short else 1)
    m = _metrics(_account(collateral, base, entry * 10_000), price)
    assert 0 <= m.health <= 100
    if m.is_liquidatable:
        assert m.health == 0
