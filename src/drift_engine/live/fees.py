"""What a transaction pays to land: its priority fee and its compute-unit limit.

On a busy mainnet a leader orders transactions by priority fee per compute unit, and a
transaction asking for more compute units than it needs pays for them and is scheduled
later; one asking for fewer fails. So both are measured, not configured:

* the **priority fee** (micro-lamports per compute unit) is a percentile of the fees
  that landed in the recent slots touching the transaction's *writable* accounts
  (`getRecentPrioritizationFees`: the local fee market of those accounts), capped by a
  configured maximum so a fee spike never spends more than the operator allowed;
* the **compute-unit limit** is what `simulateTransaction` consumed plus a margin
  (state moves between the simulation and the landing), within the runtime's bounds.

Pure functions over integers: the client fetches, these decide.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from solders.instruction import Instruction
from solders.pubkey import Pubkey

#: The runtime's bound on a transaction's compute units.
MAX_COMPUTE_UNIT_LIMIT = 1_400_000
#: What the compute-budget instructions themselves and a tiny instruction cost at least.
MIN_COMPUTE_UNIT_LIMIT = 1_000


def writable_accounts(instructions: Iterable[Instruction]) -> list[Pubkey]:
    """The accounts the instructions write, in first-seen order (the fee market key)."""
    seen: dict[Pubkey, None] = {}
    for ix in instructions:
        for meta in ix.accounts:
            if meta.is_writable:
                seen.setdefault(meta.pubkey, None)
    return list(seen)


def priority_fee(fees: Sequence[int], percentile: int, cap: int) -> int:
    """The nearest-rank `percentile` (1-100) of recent per-slot fees, at most `cap`.

    No recent fee (an idle market, a node without data) gives 0: nothing to outbid."""
    if not 1 <= percentile <= 100:
        raise ValueError(f"percentile must be 1..100, not {percentile}")
    if cap < 0:
        raise ValueError(f"cap must be >= 0, not {cap}")
    if not fees:
        return 0
    ordered = sorted(int(f) for f in fees)
    rank = -(-percentile * len(ordered) // 100)  # ceil(p/100 * n), 1-based
    return min(ordered[max(rank, 1) - 1], cap)


def compute_unit_limit(units_consumed: int, margin_pct: int) -> int:
    """The simulated units plus `margin_pct` percent, rounded up, within the runtime's
    bounds."""
    if units_consumed < 0 or margin_pct < 0:
        raise ValueError("units and margin must be >= 0")
    with_margin = -(-units_consumed * (100 + margin_pct) // 100)
    return max(MIN_COMPUTE_UNIT_LIMIT, min(MAX_COMPUTE_UNIT_LIMIT, with_margin))


__all__ = [
    "MAX_COMPUTE_UNIT_LIMIT",
    "MIN_COMPUTE_UNIT_LIMIT",
    "compute_unit_limit",
    "priority_fee",
    "writable_accounts",
]
