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


def test_simulators_share_the_structure_built_for_the_same_values() -> None:
    """Paper cells each have a simulator with the same State: the second builds nothing
    (ADR-0020, session 6); one whose tiers differ gets its own, equal to a fresh read."""
    one, two, other = make_sim(), make_sim(), make_sim()
    other.state.perp_fee_structure.fee_tiers[0].fee_numerator *= 3
    built = [one._fee_structure(s.state.perp_fee_structure, False) for s in (one,)]
    assert two._fee_structure(two.state.perp_fee_structure, False) is built[0]
    theirs = other._fee_structure(other.state.perp_fee_structure, False)
    assert theirs == fees.FeeStructure.from_account(other.state.perp_fee_structure)
    assert theirs != built[0]
    for sim in (one, two):  # spot too, and equal to what each would read alone
        spot = sim._fee_structure(sim.state.spot_fee_structure, True)
        assert spot == fees.FeeStructure.from_account(sim.state.spot_fee_structure)
