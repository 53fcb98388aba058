"""`DriftSimulator.place_orders`: Drift's place_orders instruction places all orders or none."""

from __future__ import annotations

import pytest

from drift_engine.core.errors import OrderValidationError
from drift_engine.sim import InsufficientCollateralError

from .conftest import BASE, QUOTE, SOL, T0, make_sim, perp, spot


def _funded(usdc: int = 1_000 * QUOTE):
    sim = make_sim()
    k = sim.open_account()
    sim.deposit(k, "USDC", usdc, T0)
    return sim, k


def test_both_legs_fill_in_one_call():
    sim, k = _funded()
    results = sim.place_orders(k, [spot("long", 2 * SOL), perp("short", 2 * BASE)], T0 + 1)
    assert [r.status for r in results] == ["filled", "filled"]
    assert sim.token_amount(k, "SOL") == 2 * SOL
    assert sim.perp_position(k, "SOL-PERP").base_asset_amount == -2 * BASE
    assert [r.order_id for r in results] == [1, 2]


def test_a_refused_second_leg_undoes_the_first():
    sim, k = _funded()
    before, records = sim.account_bytes(), list(sim.records)
    # leg 2 is far too big for the collateral left after leg 1: refused on initial margin
    with pytest.raises(InsufficientCollateralError):
        sim.place_orders(k, [spot("long", 5 * SOL), perp("short", 500 * BASE)], T0 + 1)
    assert sim.account_bytes() == before
    assert sim.records == records
    assert sim.token_amount(k, "SOL") == 0
    # the order ids and record sequence continue as if nothing had been tried
    (r,) = sim.place_orders(k, [spot("long", 1 * SOL)], T0 + 2)
    assert r.order_id == 1 and sim.records[-1].seq == records[-1].seq + 2


def test_a_validation_error_in_any_leg_places_nothing():
    sim, k = _funded()
    before, n = sim.account_bytes(), len(sim.records)
    with pytest.raises(OrderValidationError):
        # 0.001 SOL-PERP is below the market's minimum order size: the builder refuses it
        sim.place_orders(k, [spot("long", 1 * SOL), perp("short", BASE // 1000)], T0 + 1)
    assert sim.account_bytes() == before and len(sim.records) == n


def test_refusal_restores_resting_orders_and_exposure():
    from .conftest import limit

    sim, k = _funded()
    with pytest.raises(InsufficientCollateralError):
        sim.place_orders(k, [limit("long", 1 * BASE, 90 * 10**6), perp("short", 500 * BASE)], T0)
    assert sim.user(k).open_orders == 0
    # the refused resting bid is not matched when the price falls through it
    assert sim.set_oracle_price("SOL", 80 * 10**6, T0 + 5) == []
    assert sim.perp_position(k, "SOL-PERP") is None


def test_snapshot_restore_round_trip_of_everything():
    sim, k = _funded()
    snap = sim.snapshot()
    before = sim.account_bytes()
    sim.place_orders(k, [spot("long", 2 * SOL), perp("short", 2 * BASE)], T0 + 1)
    sim.set_oracle_price("SOL", 120 * 10**6, T0 + 2)
    b = sim.open_account(sub_account_id=1)
    sim.deposit(b, "USDC", 5 * QUOTE, T0 + 2)
    sim.restore(snap)
    assert sim.account_bytes() == before
    assert sim.accounts == [k] and sim.oracle_price("SOL-PERP") == 100 * 10**6
    assert sim.now == T0
