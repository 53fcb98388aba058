"""A refused order leaves a reused position slot as it was: the simulator re-initializes
a free slot for a new position (`_perp_position`, `_spot_position`), and the order's undo
keeps the slot's fields from before that (a closed position's leftovers: its settled pnl,
a repaid borrow's balance type), not from after."""

from __future__ import annotations

import pytest

from drift_engine.sim.state import InsufficientCollateralError

from .conftest import QUOTE, SOL, T0, make_sim, spot


def test_a_refused_spot_buy_puts_back_a_repaid_borrows_slot():
    sim = make_sim()
    k = sim.open_account()
    sim.deposit(k, "USDC", 1_000 * QUOTE, T0)
    sim.place_order(k, spot("short", SOL), T0 + 1)  # borrows 1 SOL
    sim.place_order(k, spot("long", SOL), T0 + 2)  # repays it: a free slot, left a borrow
    slot = next(p for p in sim.user(k).spot_positions if p.market_index == 1)
    assert slot.scaled_balance == 0 and type(slot.balance_type).__name__ == "Borrow"
    before = sim.account_bytes()
    with pytest.raises(InsufficientCollateralError):
        sim.place_order(k, spot("long", 1_000 * SOL), T0 + 3)
    assert sim.account_bytes() == before
