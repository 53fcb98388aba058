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
    #: `kept_terms`: what `_legs` reads of these slots besides their amounts (`_terms_of`);
    #: None: not kept (`refresh_legs` reads them)
    terms: Any = None


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


def _slots_current(sim: Any, user_key: Any, slots: LegSlots) -> bool:
    """No slot of `slots` can have come into use since they were read: the same account
    and slot lists, and every record written since their mark a payment
    (`_SLOTS_KEPT`). `refresh_legs` and `kept_terms` read the kept slots only then."""
    records = sim.records
    user = sim.user(user_key)
    if (
        user is not slots.user
        or user.spot_positions is not slots.spot_list
        or user.perp_positions is not slots.perp_list
        or len(records) < slots.mark
    ):
        return False
    kept = _SLOTS_KEPT
    # (a loop, not `all` of a generator: this runs every quiet hour)
    for rec in records[slots.mark :]:  # noqa: SIM110
        if rec.kind not in kept:
            return False
    return True


def refresh_legs(
    sim: Any, user_key: Any, slots: LegSlots | None
) -> tuple[EquityLegs | None, LegSlots | None]:
    """`kept_legs(sim, user_key)`, the same legs, reading only the positions of `slots`
    (the account's available slots when they were taken) when no slot can have come into
    use since: the same account and slot lists, and every record written since a
    payment (`_SLOTS_KEPT`). Each kept slot is read as `kept_legs` reads it (its
    availability and amount again), so a slot that went out of use is left out."""
    if slots is None or not _slots_current(sim, user_key, slots):
        return kept_legs(sim, user_key)
    records = sim.records
    markets = sim.market_snapshot()
    if markets.spot_price(QUOTE_INDEX) != PRICE_PRECISION:
        return None, None
    slots.mark = len(records)  # the same slots, read at this record count
    return _legs(markets, slots.spots, slots.perps), slots


#: a quiet hour's equity legs are read from the slots `refresh_legs` would read with
#: what those slots' terms read besides them kept (`kept_terms`: each slot's market,
#: leg key, balance type and decimals' powers, checked as unchanged); False:
#: `refresh_legs` finds them again per slot (the reference)
KEPT_TERMS = True


def kept_terms(
    sim: Any, user_key: Any, slots: LegSlots | None
) -> tuple[EquityLegs | None, LegSlots | None]:
    """`refresh_legs(sim, user_key, slots)`, the same legs, with each kept slot's term
    computed from what `_terms_of` kept of it when `refresh_legs` last read the slots
    (`_from_terms`: `_legs`' arithmetic, inline); anything it cannot answer so (no terms
    kept, another slot list or market, a record that is not a payment, a market in
    settlement) takes `refresh_legs`, whose slots' terms are then kept."""
    terms = None if slots is None else slots.terms
    if terms is not None:
        legs = _from_terms(sim, user_key, slots, terms)
        if legs is not None:
            return legs, slots
    legs, slots = refresh_legs(sim, user_key, slots)
    if slots is not None:
        slots.terms = None if legs is None else _terms_of(sim, slots)
    return legs, slots


def _terms_of(sim: Any, slots: LegSlots) -> tuple | None:
    """(the market snapshot, per spot slot (position, market index, market, balance type,
    deposit, decimals, 10^decimals, 10^(19 - decimals), leg key), per perp slot
    (position, market index, market, status, leg key)): what `_legs` reads of the slots
    besides their amounts. None when a slot's market is not loaded (`_legs` raises)."""
    markets = sim.market_snapshot()
    spots = []
    for sp in slots.spots:
        index = sp.market_index
        market = markets.spot_markets.get(index)
        if market is None:
            return None
        kind, decimals = sp.balance_type, market.decimals
        deposit = program_math.is_deposit(kind)
        pd = 10 ** (19 - decimals)
        spots.append((sp, index, market, kind, deposit, decimals, 10**decimals, pd, (_SPOT, index)))
    perps = []
    for pp in slots.perps:
        index = pp.market_index
        market = markets.perp_markets.get(index)
        if market is None:
            return None
        perps.append((pp, index, market, market.status, (_PERP, index)))
    return markets, tuple(spots), tuple(perps)


def _from_terms(sim: Any, user_key: Any, slots: LegSlots, terms: tuple) -> EquityLegs | None:
    """`refresh_legs`' legs from the kept `terms` (`_terms_of`), or None when it cannot
    answer so: `refresh_legs`' tests of the account, its slot lists and the records since
    (payments only), then `_legs` per slot with the market, balance type and decimals
    checked as the kept ones (a market in settlement, LP shares or another quote market
    give None: `_legs`' None, which `refresh_legs` gives then)."""
    if not _slots_current(sim, user_key, slots):
        return None
    records = sim.records
    markets, spots, perps = terms
    if sim.market_snapshot() is not markets or markets.spot_price(QUOTE_INDEX) != PRICE_PRECISION:
        return None
    const = 0
    spot_legs = []
    spot_markets = markets.spot_markets
    for sp, index, market, kind, deposit, decimals, scale, pd, key in spots:
        scaled = sp.scaled_balance
        if scaled == 0 and sp.open_orders == 0:  # `_spot_position_is_available`
            continue
        if (
            sp.market_index != index
            or spot_markets.get(index) is not market
            or sp.balance_type is not kind
            or market.decimals != decimals
        ):
            return None
        # `signed_token_amount` (`token_amount_at`: deposits floor, borrows ceil)
        if deposit:
            amount = scaled * market.cumulative_deposit_interest // pd
        else:
            amount = -(-(scaled * market.cumulative_borrow_interest) // pd)
            amount = -amount
        if amount == 0:
            continue
        if index == QUOTE_INDEX:
            const += amount * PRICE_PRECISION // scale
            continue
        spot_legs.append((key, amount, scale))
    perp_legs = []
    perp_markets = markets.perp_markets
    payment = program_math.funding_payment
    for pp, index, market, status, key in perps:
        base = pp.base_asset_amount
        if base == 0 and _perp_position_is_available(pp):
            continue
        if (
            pp.market_index != index
            or perp_markets.get(index) is not market
            or market.status is not status
            or pp.lp_shares > 0
            or market.quote_spot_market_index != QUOTE_INDEX
        ):
            return None
        amm = market.amm
        cumulative = (
            amm.cumulative_funding_rate_long if base > 0 else amm.cumulative_funding_rate_short
        )
        const += pp.quote_asset_amount
        if cumulative != pp.last_cumulative_funding_rate:  # (else `funding_payment` is 0)
            const += payment(cumulative, pp)
        if base != 0:
            perp_legs.append((key, base))
    slots.mark = len(records)
    return EquityLegs(const, tuple(perp_legs), tuple(spot_legs))


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


__all__ = [
    "EquityLegs",
    "LegSlots",
    "equity_legs",
    "kept_legs",
    "kept_terms",
    "quiet_bands",
    "refresh_legs",
]
