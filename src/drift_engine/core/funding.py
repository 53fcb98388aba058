"""Drift's hourly funding, computed as the on-chain program computes it, in integers.

Why this module exists: every paper and backtest result of a funding strategy is the sum
of these numbers, so they must be the program's integers, not an approximation of them.
driftpy has no funding-update function at all (it only reads the program's results), so
the rules below are written from drift-labs/protocol-v2 `programs/drift/src/` at
`0ae3e3b1` (2026-04-01), each function naming its Rust source; their Rust unit tests are
reproduced in tests/core/test_funding.py, and every one of the 15,547 real hourly
records we ship is re-derived from its own TWAPs there.

The update (`controller/funding.rs::update_funding_rate`), for a period `p` (3600 s):

    spread   = mark_twap - oracle_twap + |oracle_twap| / 5000      (a 7.3 %/yr offset)
    spread   = clamp(spread, ±max_divergence(contract_tier, oracle_twap))
    rate     = spread * 1000 / (24 h / max(1 h, p))                 FUNDING_RATE 1e9

with Rust's signed division (truncation toward zero) everywhere. When the AMM's net
position would make the protocol pay, the receiving side is capped to what the paying
side pays plus a third of the fee pool (`math/funding.rs::calculate_funding_rate_long_
short`). Nothing here reads a clock: timestamps are arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "FUNDING_RATE_BUFFER",
    "FUNDING_RATE_OFFSET_DENOMINATOR",
    "ONE_HOUR",
    "QUOTE_TO_BASE_AMT_FUNDING_PRECISION",
    "FundingRates",
    "InvalidFundingProfitabilityError",
    "fee_pool",
    "funding_payment",
    "funding_payment_in_quote_precision",
    "funding_rate",
    "funding_rate_long_short",
    "max_price_divergence_for_funding_rate",
    "new_twap",
    "on_the_hour_update",
    "total_fee_lower_bound",
    "weighted_average",
]

#: math/constants.rs
PRICE_PRECISION = 10**6
QUOTE_PRECISION = 10**6
AMM_RESERVE_PRECISION = 10**9
FUNDING_RATE_BUFFER = 10**3
FUNDING_RATE_PRECISION = PRICE_PRECISION * FUNDING_RATE_BUFFER  # 1e9
AMM_TO_QUOTE_PRECISION_RATIO = AMM_RESERVE_PRECISION // QUOTE_PRECISION  # 1e3
QUOTE_TO_BASE_AMT_FUNDING_PRECISION = (
    AMM_RESERVE_PRECISION * FUNDING_RATE_PRECISION // QUOTE_PRECISION
)  # 1e12
#: 5000 => an offset of oracle/5000 per hour, 7.3 % a year at hourly funding.
FUNDING_RATE_OFFSET_DENOMINATOR = 5000
ONE_HOUR = 3600
TWENTY_FOUR_HOUR = 24 * ONE_HOUR
#: SHARE_OF_FEES_ALLOCATED_TO_DRIFT_NUMERATOR / _DENOMINATOR: the market keeps half of
#: its exchange fees out of reach of funding payments.
SHARE_OF_FEES_ALLOCATED_TO_DRIFT = (1, 2)


class InvalidFundingProfitabilityError(ValueError):
    """The program's `ErrorCode::InvalidFundingProfitability`: the capped payment would
    take the market's fees below their lower bound (the update fails on chain)."""


def _trunc_div(a: int, b: int) -> int:
    """Rust's signed `/` (and `safe_div`): rounds toward zero; Python's `//` floors."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _tier_name(contract_tier: Any) -> str:
    return contract_tier if isinstance(contract_tier, str) else type(contract_tier).__name__


#: ContractTier in the program's order of safety (`state/perp_market.rs`): A is safest.
_TIER_ORDER = ("A", "B", "C", "Speculative", "HighlySpeculative", "Isolated")


def max_price_divergence_for_funding_rate(contract_tier: Any, oracle_price_twap: int) -> int:
    """`state/perp_market.rs::get_max_price_divergence_for_funding_rate`: the clamp on the
    mark/oracle spread, 3 % (oracle/33) for tiers A and B, 5 % (/20) for C, 10 % (/10)
    for the rest. `contract_tier` is a driftpy ContractTier or its name."""
    name = _tier_name(contract_tier)
    if name not in _TIER_ORDER:
        raise ValueError(f"unknown contract tier {name!r} (known: {', '.join(_TIER_ORDER)})")
    rank = _TIER_ORDER.index(name)
    divisor = 33 if rank <= 1 else 20 if rank == 2 else 10
    return _trunc_div(oracle_price_twap, divisor)


def funding_rate(
    mark_price_twap: int,
    oracle_price_twap: int,
    contract_tier: Any,
    funding_period: int = ONE_HOUR,
) -> int:
    """The funding rate (FUNDING_RATE 1e9, quote per base unit) of one update from the
    period's mark and oracle TWAPs (PRICE 1e6).

    Program: `controller/funding.rs::update_funding_rate` (offset, tier clamp, period
    adjustment, all truncating). Positive: longs pay shorts.
    """
    period_adjustment = TWENTY_FOUR_HOUR // max(ONE_HOUR, funding_period)
    spread = mark_price_twap - oracle_price_twap
    spread_with_offset = spread + abs(oracle_price_twap) // FUNDING_RATE_OFFSET_DENOMINATOR
    max_spread = max_price_divergence_for_funding_rate(contract_tier, oracle_price_twap)
    clamped = max(-max_spread, min(spread_with_offset, max_spread))
    return _trunc_div(clamped * FUNDING_RATE_BUFFER, period_adjustment)


# --------------------------------------------------------------------------- payments


def _funding_payment(funding_rate_delta: int, base_asset_amount: int) -> int:
    """`math/funding.rs::_calculate_funding_payment` (FUNDING 1e9 x BASE 1e9 / 1e9):
    unsigned magnitude floored, then the sign (longs pay when the delta is positive)."""
    delta_sign = 1 if funding_rate_delta > 0 else -1
    magnitude = abs(funding_rate_delta) * abs(base_asset_amount) // PRICE_PRECISION
    magnitude //= FUNDING_RATE_BUFFER
    payment_sign = -1 if base_asset_amount > 0 else 1
    return magnitude * payment_sign * delta_sign


def funding_payment_in_quote_precision(funding_rate_delta: int, base_asset_amount: int) -> int:
    """`math/funding.rs::calculate_funding_payment_in_quote_precision` (QUOTE 1e6)."""
    return _trunc_div(
        _funding_payment(funding_rate_delta, base_asset_amount), AMM_TO_QUOTE_PRECISION_RATIO
    )


def funding_payment(amm_cumulative_funding_rate: int, perp_position: Any) -> int:
    """A position's unsettled funding (QUOTE 1e6; negative: the user pays).

    Program: `math/funding.rs::calculate_funding_payment`. driftpy 0.8.89's
    `calculate_position_funding_pnl` returns a float instead.
    """
    delta = amm_cumulative_funding_rate - perp_position.last_cumulative_funding_rate
    if delta == 0:
        return 0
    return funding_payment_in_quote_precision(delta, perp_position.base_asset_amount)


# --------------------------------------------------------------------------- fee pool cap


def total_fee_lower_bound(perp_market: Any) -> int:
    """`math/repeg.rs::get_total_fee_lower_bound`: half of the exchange fees stay."""
    num, den = SHARE_OF_FEES_ALLOCATED_TO_DRIFT
    return perp_market.amm.total_exchange_fee * num // den


def fee_pool(perp_market: Any) -> int:
    """`math/repeg.rs::calculate_fee_pool`: fees above the lower bound (plus liquidation
    fees, minus withdrawals), never negative."""
    amm = perp_market.amm
    bound = total_fee_lower_bound(perp_market) + amm.total_liquidation_fee - amm.total_fee_withdrawn
    if amm.total_fee_minus_distributions > bound:
        return amm.total_fee_minus_distributions - bound
    return 0


def _funding_rate_from_pnl_limit(pnl_limit: int, base_asset_amount: int) -> int:
    """`math/funding.rs::calculate_funding_rate_from_pnl_limit`."""
    if base_asset_amount == 0:
        return 0
    biased = pnl_limit + 1 if pnl_limit < 0 else pnl_limit
    return _trunc_div(biased * QUOTE_TO_BASE_AMT_FUNDING_PRECISION, base_asset_amount)


def _capped_funding_rate(perp_market: Any, uncapped_funding_pnl: int, rate: int) -> tuple[int, int]:
    """`math/funding.rs::calculate_capped_funding_rate`: (capped rate, capped pnl)."""
    amm = perp_market.amm
    pnl_limit = -_trunc_div(fee_pool(perp_market), 3)
    capped_pnl = max(uncapped_funding_pnl, pnl_limit)
    if uncapped_funding_pnl >= pnl_limit:
        return rate, capped_pnl
    paying_side = amm.base_asset_amount_long if rate > 0 else amm.base_asset_amount_short
    from_users = funding_payment_in_quote_precision(rate, paying_side)
    pnl_limit -= abs(from_users)
    receiving_side = amm.base_asset_amount_long if rate < 0 else amm.base_asset_amount_short
    return _funding_rate_from_pnl_limit(pnl_limit, receiving_side), capped_pnl


@dataclass(frozen=True, slots=True)
class FundingRates:
    """The rates one update adds to the cumulative long and short rates, and what the
    protocol earns (> 0) or pays (< 0) on its net position (QUOTE 1e6)."""

    long: int
    short: int
    imbalance_revenue: int


def funding_rate_long_short(perp_market: Any, rate: int) -> FundingRates:
    """Split one funding rate into the long and short rates, as the program does.

    Program: `math/funding.rs::calculate_funding_rate_long_short`. The AMM's net position
    (`amm.base_asset_amount_with_amm`) pays or receives; when it would pay more than a
    third of the fee pool, the receiving side's rate is capped. Like the program it
    updates `amm.total_fee_minus_distributions` and `amm.net_revenue_since_last_funding`
    of `perp_market` in place, and raises `InvalidFundingProfitabilityError` where the
    program fails the update.
    """
    amm = perp_market.amm
    net_payment = funding_payment_in_quote_precision(rate, amm.base_asset_amount_with_amm)
    uncapped_pnl = -net_payment
    if uncapped_pnl >= 0:
        amm.total_fee_minus_distributions += uncapped_pnl
        amm.net_revenue_since_last_funding += uncapped_pnl
        return FundingRates(rate, rate, uncapped_pnl)
    capped_rate, capped_pnl = _capped_funding_rate(perp_market, uncapped_pnl, rate)
    new_total = amm.total_fee_minus_distributions + capped_pnl
    if capped_pnl != 0 and new_total < total_fee_lower_bound(perp_market):
        raise InvalidFundingProfitabilityError(
            f"funding would take total_fee_minus_distributions to {new_total}, below its "
            f"lower bound {total_fee_lower_bound(perp_market)}"
        )
    amm.total_fee_minus_distributions = new_total
    amm.net_revenue_since_last_funding -= abs(capped_pnl)
    rate_long = capped_rate if rate < 0 else rate
    rate_short = capped_rate if rate > 0 else rate
    return FundingRates(rate_long, rate_short, uncapped_pnl)


# --------------------------------------------------------------------------- timing, twaps


def on_the_hour_update(now: int, last_update_ts: int, update_period: int) -> int:
    """Seconds until the next funding update may run (0: now).

    Program: `math/helpers.rs::on_the_hour_update` — updates land on the hour; an update
    later than a third of a period past the hour waits for the following hour.
    """
    since_last = now - last_update_ts
    wait = update_period
    if update_period > 1:
        delay = last_update_ts % update_period  # rem_euclid: non-negative
        if delay != 0:
            two_periods = 2 * update_period
            # too late for the next hour: wait for the one after
            late = delay > update_period // 3
            wait = two_periods - delay if late else update_period - delay
            if wait > two_periods:
                wait -= update_period
    return max(wait - since_last, 0)


def weighted_average(data1: int, data2: int, weight1: int, weight2: int) -> int:
    """`math/stats.rs::calculate_weighted_average` with its default bias (a step of one
    unit toward the newer value when the older weight exceeds 1)."""
    if weight1 == 0:
        return data2
    if weight2 == 0:
        return data1
    prev, latest = data1 * weight1, data2 * weight2
    bias = 0
    if weight2 > 1:
        bias = -1 if latest < prev else 1 if latest > prev else 0
    twap = _trunc_div(prev + latest, weight1 + weight2)
    if twap == 0 and bias < 0:
        return twap
    return twap + bias


def new_twap(current_price: int, current_ts: int, last_twap: int, last_ts: int, period: int) -> int:
    """`math/stats.rs::calculate_new_twap` (e.g. `last_24h_avg_funding_rate`)."""
    since_last = max(0, current_ts - last_ts)
    from_start = max(1, period - since_last)
    return weighted_average(current_price, last_twap, since_last, from_start)
