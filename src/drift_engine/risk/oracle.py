"""`OracleGuard`: no new risk in a market whose oracle the program would not trust.

The program values positions at the oracle and refuses to use an oracle for margin when
it is non-positive, too volatile, too uncertain (confidence wider than the State's
`confidence_interval_max_size` × the market's tier multiplier) or stale (posted more
than `slots_before_stale_for_margin` slots ago): `math/oracle.rs::oracle_validity`,
`is_oracle_valid_for_action(.., MarginCalc)`. Sizing an entry on such a price sizes it on
a number nobody can check, so an order that would increase the position in such a market
is refused here, before anything is sent, with the reason the board carries
(`MarketSnapshot.oracle_invalid` / `spot_oracle_invalid`, set from the chain by
`live.start.ChainMarketData`). Reduce-only orders, the kill switch's closes and
deleveraging orders pass: getting out is always allowed.

Paper boards never set the reasons (their oracle is the data), so the guard is silent
there.
"""

from __future__ import annotations

from collections.abc import Sequence

from drift_engine.core.types import MarketType, OrderIntent
from drift_engine.strategies.base import StrategySnapshot


def _reasons(snap: StrategySnapshot) -> dict[tuple[MarketType, int], str]:
    out: dict[tuple[MarketType, int], str] = {}
    for m in snap.markets.values():
        if m.oracle_invalid:
            out[(MarketType.PERP, m.perp_market_index)] = m.oracle_invalid
        if m.spot_oracle_invalid and m.spot_market_index is not None:
            out[(MarketType.SPOT, m.spot_market_index)] = m.spot_oracle_invalid
    return out


def increases_risk(order: OrderIntent, holding: int) -> bool:
    """True when filling `order` leaves a larger position (or the other side) in its
    market than `holding`; reduce-only orders never do."""
    if order.reduce_only:
        return False
    after = holding + order.signed_base
    return abs(after) > abs(holding) or (holding != 0 and (after > 0) != (holding > 0))


class OracleGuard:
    """Refuses risk-increasing orders in markets whose oracle is invalid for margin."""

    name = "oracle"

    def check(self, orders: Sequence[OrderIntent], snap: StrategySnapshot) -> str | None:
        reasons = _reasons(snap)
        if not reasons:
            return None
        holdings = {(p.market_type, p.market_index): p.base_asset_amount for p in snap.positions}
        for o in orders:
            key = (o.market_type, o.market_index)
            reason = reasons.get(key)
            if reason and increases_risk(o, holdings.get(key, 0)):
                return reason
        return None

    def describe(self) -> str:
        return "no new risk in a market whose oracle is stale or too uncertain (math/oracle.rs)"


__all__ = ["OracleGuard", "increases_risk"]
