"""An amount rounded to a whole number of order steps, as the program rounds it.

Why this module exists: strategies (sizing an order), the order checks (`round_to_step`),
the simulator (reduce-only sizes, volume caps, liquidation amounts) and the local keeper
all round a base amount to a market's order step, and must round it the same way the
program does. It imports nothing, so strategies (kept light and pure) can use it as
freely as the simulator.

The program (drift-labs/protocol-v2 `programs/drift/src/math/orders.rs`, read at
01a468b2) rounds unsigned amounts with `standardize_base_asset_amount` (down) and
`standardize_base_asset_amount_ceil` (up); a signed amount only in
`standardize_base_asset_amount_with_remainder_i128`, which takes the remainder of its
absolute value, so a negative amount rounds toward zero. Python's `%` floors toward
-inf, so `amount - amount % step` would round a negative amount away from zero; the
rounding down here follows the program instead. A step of 0 is "no step" (as the order
checks and `sim.rules.update_position` treat it); the program would refuse it.
"""

from __future__ import annotations

__all__ = ["round_down_to_step", "round_up_to_step"]


def round_down_to_step(amount: int, step: int) -> int:
    """`amount` toward zero to a whole number of `step`s: `standardize_base_asset_amount`
    for amount >= 0, `standardize_base_asset_amount_with_remainder_i128` for a signed one
    (-15 at step 10 is -10, not Python's -20). A step of 0: the amount as it is."""
    if step <= 0:
        return _no_step(amount, step)
    if amount >= 0:
        return amount - amount % step
    return amount + -amount % step


def round_up_to_step(amount: int, step: int) -> int:
    """`amount` up to a whole number of `step`s: `standardize_base_asset_amount_ceil`.

    The program has it on u64 only, and no caller rounds a signed amount up, so a negative
    amount is refused (ValueError naming it) rather than given a meaning the program lacks.
    """
    if amount < 0:
        raise ValueError(f"round_up_to_step: amount {amount} is negative (the program's is u64)")
    if step <= 0:
        return _no_step(amount, step)
    return amount + -amount % step


def _no_step(amount: int, step: int) -> int:
    """A step of 0 leaves `amount` as it is; a negative step is an error naming it."""
    if step < 0:
        raise ValueError(f"step {step} is negative (rounding {amount})")
    return amount
