"""The simulator keeps the State's fee structure as read for fills while its values are
unchanged; a change to the State's fee tiers applies at the next fill."""

from __future__ import annotations

from drift_engine.core import fees

from .conftest import BASE, QUOTE, T0, make_sim, perp


def test_a_fee_tier_change_applies_at_the_next_fill() -> None:
    sim = make_sim()
    k = sim.open_account()
    sim.deposit(k, "USDC", 10_000 * QUOTE, T0)
    (first,) = sim.place_orders(k, [perp("short", 1 * BASE)], T0 + 1)[0].fills
    tiers = sim.state.perp_fee_structure.fee_tiers
    tiers[0].fee_numerator *= 2  # in place, as an operator's State change would
    (second,) = sim.place_orders(k, [perp("short", 1 * BASE)], T0 + 2)[0].fills
    structure = fees.FeeStructure.from_account(sim.state.perp_fee_structure)
    assert sim._fee_structure(sim.state.perp_fee_structure, False) == structure
    assert second.fee > first.fee > 0
