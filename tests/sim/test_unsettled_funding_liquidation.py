"""A funding update that is not settled into the positions (the local chain's mode,
`settle_funding_on_update = False`) still moves their maintenance collateral: the
liquidation check after it must not decide from the check kept before it."""

from __future__ import annotations

from drift_engine.data.models import FundingRecord
from drift_engine.sim import LiquidationRecord

from .conftest import BASE, PRICE, QUOTE, T0, make_sim, perp


def test_an_unsettled_funding_update_is_seen_by_the_liquidation_check():
    sim = make_sim()
    sim.settle_funding_on_update = False
    k = sim.open_account()
    sim.deposit(k, "USDC", 1_000 * QUOTE, T0)
    sim.place_order(k, perp("long", 80 * BASE), T0)  # ~8x long
    assert sim.liquidate_if_needed(T0 + 1) == []  # healthy: the check is kept
    assert sim._account(k).safe is not None
    ts = T0 + 3600
    rate = 10 * 10**9  # longs pay $10 per SOL: unsettled, but counted by the program
    sim.update_funding(
        "SOL-PERP",
        FundingRecord(ts, "SOL-PERP", 0, rate, rate, rate, 0, 0, 100 * PRICE, 100 * PRICE),
    )
    tc, req = sim.maintenance(k)
    assert tc < req
    assert sim.maintenance_now(k) == (tc, req)
    out = sim.liquidate_if_needed(ts)
    assert out and isinstance(out[0], LiquidationRecord)
    assert out[0].total_collateral == tc
