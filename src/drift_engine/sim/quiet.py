"""What a sub-account's state allows between two steps: the price bands inside which
its margin cannot cross a threshold, and its equity as exact per-position terms.

Used by the fast backtest stepping (ADR-0020): between steps an account's positions,
balances and cumulative funding/interest do not change (every change is a record, and
every record wakes the engine), so only oracle prices move its numbers:

- `quiet_bands` — for each simulated market, a price band inside which the account
  (a) stays above maintenance margin (no liquidation: the same sensitivity bound as
  `DriftSimulator._possibly_liquidatable`) and (b) keeps its health at or above each
  of `health_floors`. The bound is conservative (a linear bound on |d(collateral)| and
  |d(requirement)| per unit of price, with a safety factor): a band that is too narrow
  only wakes the engine early, where it then takes the exact per-bar step.
- `EquityLegs` — the program's user equity (`core.program_math.user_equity`) split into
  a constant and one term per position (`trunc(base x price / 1e9)` per perp,
  `floor(tokens x price / 10^decimals)` per spot balance), so equity at any set of
  prices is exact integer arithmetic without the margin machinery; a float form of the
  same terms scans a whole price array at once (numpy) to find the bars worth checking.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from driftpy.types import UserStatus

from drift_engine.core import program_math
from drift_engine.core.frozen import set_by_slots
from drift_engine.core.program_math import (
    _perp_position_is_available,
    _spot_position_is_available,
)
from drift_engine.core.types import MarketType

MarketKey = tuple[MarketType, int]
PRICE_PRECISION = 10**6
BASE_PRECISION = 10**9
QUOTE_INDEX = 0
#: the market types read once: an enum member's look-up on its class costs ~80 ns on
#: Python 3.11 (`EnumType.__getattr__`), a module global's ~10; the same objects
_PERP, _SPOT = MarketType.PERP, MarketType.SPOT


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // b
    return q if a >= 0 else -q


@set_by_slots  # made at every quiet funding hour (`engine.quiet.passes_hour`)
@dataclass(frozen=True, slots=True)
class EquityLegs:
    """User equity = `const` + sum of the position terms, exactly (see module doc)."""

    const: int
    perps: tuple[tuple[MarketKey, int], ...]  # (key, base 1e9): trunc(base x p / 1e9)
    spots: tuple[tuple[MarketKey, int, int], ...]  # (key, tokens, 10^dec): floor(t x p / D)

    def at(self, prices: Mapping[MarketKey, int]) -> int:
        total = self.const
        for key, base in self.perps:
            total += _trunc_div(base * prices[key], BASE_PRECISION)
        for key, amount, scale in self.spots:
            total += amount * prices[key] // scale
        return total

    def at_price(self, price: int) -> int:
        """`at` with every term's market at `price` (legs on one market: its price)."""
        total = self.const
        for _, base in self.perps:
            total += _trunc_div(base * price, BASE_PRECISION)
        for _, amount, scale in self.spots:
            total += amount * price // scale
        return total

    def slopes(self) -> dict[MarketKey, float]:
        """d(equity)/d(price) per market key (micro-USDC per PRICE unit)."""
        out: dict[MarketKey, float] = {}
        for key, base in self.perps:
            out[key] = out.get(key, 0.0) + base / BASE_PRECISION
        for key, amount, scale in self.spots:
            out[key] = out.get(key, 0.0) + amount / scale
        return out

    @property
    def terms(self) -> int:
        return len(self.perps) + len(self.spots)


def equity_legs(sim: Any, user_key: Any) -> EquityLegs | None:
    """The account's equity as `EquityLegs`, or None when it is not that simple (a perp
    market in settlement, LP shares, a quote oracle away from $1)."""
    return kept_legs(sim, user_key)[0]


@dataclass(slots=True)
class LegSlots:
    """The positions `kept_legs` read the legs from (the account's available spot and
    perp slots, each list in its order) and the simulator's record count then."""

    user: Any
    spot_list: Any  # user.spot_positions, user.perp_positions (the lists themselves)
    perp_list: Any
    spots: tuple[Any, ...]
    perps: tuple[Any, ...]
    mark: int


def kept_legs(sim: Any, user_key: Any) -> tuple[EquityLegs | None, LegSlots | None]:
    """`equity_legs` and the slots it read (`refresh_legs` reads those again)."""
    user = sim.user(user_key)
    markets = sim.market_snapshot()
    if markets.spot_price(QUOTE_INDEX) != PRICE_PRECISION:
        return None, None
    spot_list, perp_list = user.spot_positions, user.perp_positions
    spots = tuple(sp for sp in spot_list if not _spot_position_is_available(sp))
    perps = tuple(pp for pp in perp_list if not _perp_position_is_available(pp))
    legs = _legs(markets, spots, perps)
    return legs, LegSlots(user, spot_list, perp_list, spots, perps, len(sim.records))


#: records that move no account slot in or out of use: a funding rate update, a funding
#: settlement (the quote amount of a position with a base), interest (the token amount
#: of a balance; its scaled balance stays). A settle_pnl may open the quote spot slot;
#: fills, orders, deposits, liquidations change slots.
_SLOTS_KEPT = frozenset({"funding_rate", "funding", "interest"})


def refresh_legs(
    sim: Any, user_key: Any, slots: LegSlots | None
) -> tuple[EquityLegs | None, LegSlots | None]:
    """`kept_legs(sim, user_key)`, the same legs, reading only the positions of `slots`
    (the account's available slots when they were taken) when no slot can have come into
    use since: the same account and slot lists, and every record written since a
    payment (`_SLOTS_KEPT`). Each kept slot is read as `kept_legs` reads it (its
    availability and amount again), so a slot that went out of use is left out."""
    if slots is None:
        return kept_legs(sim, user_key)
    records = sim.records
    mark = slots.mark
    user = sim.user(user_key)
    if (
        user is not slots.user
        or user.spot_positions is not slots.spot_list
        or user.perp_positions is not slots.perp_list
        or len(records) < mark
    ):
        return kept_legs(sim, user_key)
    kept = _SLOTS_KEPT
    for rec in records[mark:]:
        if rec.kind not in kept:
            return kept_legs(sim, user_key)
    markets = sim.market_snapshot()
    if markets.spot_price(QUOTE_INDEX) != PRICE_PRECISION:
        return None, None
    slots.mark = len(records)  # the same slots, read at this record count
    return _legs(markets, slots.spots, slots.perps), slots


def _legs(markets: Any, spot_positions: Any, perp_positions: Any) -> EquityLegs | None:
    """The legs of these spot and perp positions (each skipped unless in use)."""
    const = 0
    perps: list[tuple[MarketKey, int]] = []
    spots: list[tuple[MarketKey, int, int]] = []
    for sp in spot_positions:
        if _spot_position_is_available(sp):
            continue
        market = markets.spot(sp.market_index)
        amount = program_math.signed_token_amount(sp, market)
        if amount == 0:
            continue
        scale = 10**market.decimals
        if sp.market_index == QUOTE_INDEX:
            const += amount * PRICE_PRECISION // scale
            continue
        spots.append(((_SPOT, sp.market_index), amount, scale))
    for pp in perp_positions:
        if _perp_position_is_available(pp):
            continue
        market = markets.perp(pp.market_index)
        if program_math.is_variant(market.status, "Settlement") or pp.lp_shares > 0:
            return None
        if market.quote_spot_market_index != QUOTE_INDEX:
            return None
        amm = market.amm
        cumulative = (
            amm.cumulative_funding_rate_long
            if pp.base_asset_amount > 0
            else amm.cumulative_funding_rate_short
        )
        const += pp.quote_asset_amount + program_math.funding_payment(cumulative, pp)
        if pp.base_asset_amount != 0:
            perps.append(((_PERP, pp.market_index), pp.base_asset_amount))
    return EquityLegs(const, tuple(perps), tuple(spots))


def quiet_bands(
    sim: Any, user_key: Any, health_floors: Iterable[int] = ()
) -> dict[MarketKey, tuple[int, int]] | None:
    """Per simulated market key: the oracle price band [low, high] inside which the
    account can neither be liquidated nor see its health fall below any of
    `health_floors`; {} when no price moves its margin; None when no band is safe (the
    account is being liquidated, is below a threshold now, or too close to one)."""
    acct = sim._account(user_key)
    if acct.user.status & UserStatus.BEING_LIQUIDATED:
        return None
    # the kept pair (exact at the kept prices) and the bound of the price moves since
    # (0 when it is exact now): every threshold's slack is that much smaller
    tc, req, sens, moved = sim.kept_margin(user_key)
    if tc < req:
        return None
    total = 0.0
    for _, s in sens.values():
        total += s
    prices = sim._prices
    quote = (_SPOT, QUOTE_INDEX)
    bands: dict[MarketKey, tuple[int, int]] = {quote: (prices[quote], prices[quote])}
    if total <= 0:
        return bands
    # liquidation: free maintenance collateral; |d(tc - req)| <= sum(s x |dp|)
    slack = float(tc - req)
    for h in health_floors:
        if h <= 0:
            continue
        if h >= 99:
            return None
        # health >= h if (100 - h) tc >= 100 req; one point kept for the SDK's rounding:
        # g = (99 - h) tc - 100 req >= 0, and |dg| <= 100 x sum(s x |dp|) (s >= 3 x |d|)
        g = (99 - h) * tc - 100 * req
        if g <= 0:
            return None
        slack = min(slack, g / 100)
    # |d(tc - req)| and |dg| / 100 since the kept prices are at most `moved`
    width = int((slack - moved) / total)  # every market may move this far at once
    if width < 1:
        return None
    for key in sens:  # markets the account holds nothing in may move freely
        if key == quote:
            continue
        p = prices[key]
        bands[key] = (p - width, p + width)
    return bands


__all__ = ["EquityLegs", "LegSlots", "equity_legs", "kept_legs", "quiet_bands", "refresh_legs"]
