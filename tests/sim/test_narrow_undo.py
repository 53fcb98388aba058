"""`place_orders`' undo copy holds only what an order can write (the account, the orders'
markets and USDC, not the State nor the other markets), and a refused call still
leaves every account byte, record and resting order as before; a copy narrower than
that is caught by the same check."""

from __future__ import annotations

import pytest
from hypothesis import currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from drift_engine.core.types import MarketType, OrderIntent, PositionDirection
from drift_engine.sim import DriftSimulator
from drift_engine.sim import persistence as persistence_module

from .conftest import (
    AT_ORACLE,
    BASE,
    ORDER_LEG,
    PRICE,
    QUOTE,
    SOL,
    T0,
    limit,
    order_leg,
    perp,
    spot,
)

ETH_PERP = 2  # a market the legs never trade, in which the account holds a position


def _sim() -> tuple[DriftSimulator, tuple]:
    sim = DriftSimulator(
        {"SOL-PERP": 100 * PRICE, "SOL": 100 * PRICE, "ETH-PERP": 3_000 * PRICE},
        ts=T0,
        default_price_model=AT_ORACLE,
    )
    k = sim.open_account()
    sim.deposit(k, "USDC", 10_000 * QUOTE, T0)
    sim.place_orders(
        k,
        [
            spot("long", 3 * SOL),
            perp("short", 3 * BASE),
            OrderIntent(ETH_PERP, MarketType.PERP, PositionDirection.LONG, BASE // 10),
        ],
        T0 + 1,
    )
    sim.place_order(k, limit("long", 1 * BASE, 90 * PRICE), T0 + 2)
    sim.update_funding("SOL-PERP", ts=T0 + 3600, funding_rate=1_000_000)
    return sim, k


def _state(sim: DriftSimulator) -> tuple:
    return (
        sim.account_bytes(),
        list(sim.records),
        {m: list(v) for m, v in sim._resting.items()},
        {m: dict(v) for m, v in sim._exposed.items()},
        dict(sim._prices),
        sim._seq,
    )


def _refusal_undone(legs: list) -> bool | None:
    """None if the call was not refused; else whether it left everything as before."""
    sim, k = _sim()
    before = _state(sim)
    try:
        sim.place_orders(k, legs, T0 + 3601)
    except Exception as exc:  # noqa: BLE001 - any refusal must undo
        if currently_in_test_context():
            event(f"refused: {type(exc).__name__}")
        return _state(sim) == before
    return None


@settings(max_examples=40, deadline=None)
@given(legs=st.lists(ORDER_LEG, min_size=1, max_size=4))
def test_a_refused_call_restores_everything_with_the_narrow_copy(legs):
    assert _refusal_undone([order_leg(*leg) for leg in legs]) in (None, True)


def test_the_narrow_copy_leaves_out_the_state_and_untraded_markets():
    sim, k = _sim()
    snap = sim.snapshot([k], [(MarketType.PERP, 0)])
    kept = {id(obj) for obj, _ in snap.saved}
    assert id(sim.perp_markets[0]) in kept and id(sim.spot_markets[0]) in kept
    assert id(sim.state) not in kept
    assert id(sim.perp_markets[ETH_PERP]) not in kept
    assert id(sim.spot_markets[1]) not in kept


#: a spot buy that fills (SOL and USDC written), then a short far beyond the collateral
FILL_THEN_REFUSED = [spot("long", 2 * SOL), perp("short", 5_000 * BASE)]


@pytest.mark.parametrize(
    "too_narrow",
    [
        pytest.param(lambda self, markets: [], id="no-market"),
        pytest.param(
            lambda self, markets: [self.spot_markets[0]],
            id="without-the-traded-markets",
        ),
        pytest.param(
            lambda self, markets: [
                (self.perp_markets if t is MarketType.PERP else self.spot_markets)[i]
                for t, i in markets
            ],
            id="without-usdc",
        ),
    ],
)
def test_a_too_narrow_copy_is_caught(monkeypatch, too_narrow):
    """The check above is not vacuous: a copy leaving out a market the orders write
    leaves a refused call's changes behind, and the check says so."""
    assert _refusal_undone(FILL_THEN_REFUSED) is True
    monkeypatch.setattr(persistence_module.PersistenceMixin, "_order_markets", too_narrow)
    assert _refusal_undone(FILL_THEN_REFUSED) is False
