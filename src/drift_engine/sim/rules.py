"""Drift's on-chain rules as pure integer functions over driftpy account objects.

Each function follows one place of drift-labs/protocol-v2 (`programs/drift/src/`), named in
its docstring; the code is ours, written from the rule. Integer semantics matter: Rust's
signed division truncates toward zero (`div_trunc` here), unsigned division floors, and
`safe_div_ceil` rounds up (`div_ceil`). Python's `//` floors, so it is only used where the
program's operands are unsigned.

Where driftpy has the same rule in floats (e.g. `get_token_amount` divides with `/`), the
program's integer version here is the one the simulator uses.
"""

from __future__ import annotations

from typing import Any

# Precisions (programs/drift/src/math/constants.rs), as driftpy publishes them; the two
# ratios driftpy computes with `/` (floats there) are the program's integers below.
from driftpy.constants.numeric_constants import (
    AMM_TO_QUOTE_PRECISION_RATIO,
    BASE_PRECISION,
    FUNDING_RATE_BUFFER,
    LIQUIDATION_FEE_PRECISION,
    LIQUIDATION_PCT_PRECISION,
    MARGIN_PRECISION,
    ONE_YEAR,
    PRICE_PRECISION,
    QUOTE_PRECISION,
    SPOT_RATE_PRECISION,
)

from drift_engine.core.program_math import token_amount_at

PRICE_TIMES_AMM_TO_QUOTE_PRECISION_RATIO = PRICE_PRECISION * AMM_TO_QUOTE_PRECISION_RATIO
LIQUIDATION_FEE_TO_MARGIN_PRECISION_RATIO = LIQUIDATION_FEE_PRECISION // MARGIN_PRECISION
THIRTY_DAYS = 30 * 24 * 3600


def div_trunc(a: int, b: int) -> int:
    """Rust's signed integer division (`i128::safe_div`): rounds toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def div_ceil(a: int, b: int) -> int:
    """`safe_div_ceil` on unsigned operands."""
    return -(-a // b)


def variant(value: Any) -> str:
    """Name of an anchorpy enum variant instance ("Long", "Deposit", ...)."""
    return type(value).__name__


# --------------------------------------------------------------------------- perp positions

OPEN, INCREASE, REDUCE, CLOSE, FLIP = "open", "increase", "reduce", "close", "flip"


def position_update_type(base: int, delta_base: int) -> str:
    """`math/position.rs::get_position_update_type`."""
    if base == 0:
        return OPEN
    if (base > 0) == (delta_base > 0):
        return INCREASE
    if abs(base) > abs(delta_base):
        return REDUCE
    if abs(base) == abs(delta_base):
        return CLOSE
    return FLIP


def is_perp_position_available(pos: Any) -> bool:
    """`PerpPosition::is_available` (state/user.rs)."""
    return (
        pos.base_asset_amount == 0
        and pos.quote_asset_amount == 0
        and pos.open_orders == 0
        and pos.lp_shares == 0
    )


def update_quote_asset_amount(pos: Any, market: Any, delta: int) -> None:
    """`controller/position.rs::update_quote_asset_amount`."""
    if delta == 0:
        return
    if pos.quote_asset_amount == 0 and pos.base_asset_amount == 0:
        market.number_of_users += 1
    pos.quote_asset_amount += delta
    market.amm.quote_asset_amount += delta
    if pos.quote_asset_amount == 0 and pos.base_asset_amount == 0:
        market.number_of_users = max(0, market.number_of_users - 1)


def update_quote_break_even_amount(pos: Any, market: Any, delta: int) -> None:
    """`controller/position.rs::update_quote_break_even_amount`."""
    if delta == 0 or pos.base_asset_amount == 0:
        return
    pos.quote_break_even_amount += delta
    if pos.base_asset_amount > 0:
        market.amm.quote_break_even_amount_long += delta
    else:
        market.amm.quote_break_even_amount_short += delta


def update_quote_asset_and_break_even_amount(pos: Any, market: Any, delta: int) -> None:
    """`controller/position.rs::update_quote_asset_and_break_even_amount`."""
    update_quote_asset_amount(pos, market, delta)
    update_quote_break_even_amount(pos, market, delta)


def update_position_and_market(pos: Any, market: Any, delta_base: int, delta_quote: int) -> int:
    """Apply a fill's (base, quote) delta to a perp position; return the realized PnL.

    `controller/position.rs::update_position_and_market` with `math/position.rs`: open and
    increase add the quote delta to entry and break-even; reduce and close remove the
    pro-rata share of entry/break-even (Rust truncating division) and realize
    `entry_removed + delta_quote`; a flip realizes against the whole old entry and starts
    the new side at the flipped part's share of the delta. The position's funding rate
    must already be settled (the program validates it); the new side's cumulative rate is
    stamped on open/increase/flip and cleared on close.
    """
    if delta_base == 0:
        update_quote_asset_amount(pos, market, delta_quote)
        return delta_quote
    amm = market.amm
    base = pos.base_asset_amount
    kind = position_update_type(base, delta_base)
    new_base = base + delta_base
    new_quote = pos.quote_asset_amount + delta_quote
    entry, break_even = pos.quote_entry_amount, pos.quote_break_even_amount
    if kind in (OPEN, INCREASE):
        new_entry = entry + delta_quote
        new_break_even = break_even + delta_quote
        pnl = 0
    elif kind in (REDUCE, CLOSE):
        cur, db = abs(base), abs(delta_base)
        new_entry = entry - div_trunc(entry * db, cur)
        new_break_even = break_even - div_trunc(break_even * db, cur)
        pnl = entry - new_entry + delta_quote
    else:  # FLIP
        cur, db = abs(base), abs(delta_base)
        new_break_even = delta_quote - div_trunc(delta_quote * cur, db)
        new_entry = new_break_even
        pnl = entry + (delta_quote - new_break_even)

    # market aggregates (user side; the AMM / counterparty side is not modelled)
    if kind == OPEN:
        if pos.quote_asset_amount == 0 and base == 0:
            market.number_of_users += 1
        market.number_of_users_with_base += 1
    elif kind == CLOSE:
        if new_base == 0 and new_quote == 0:
            market.number_of_users = max(0, market.number_of_users - 1)
        market.number_of_users_with_base = max(0, market.number_of_users_with_base - 1)
    amm.quote_asset_amount += delta_quote
    if kind in (OPEN, INCREASE):
        if new_base > 0:
            amm.base_asset_amount_long += delta_base
            amm.quote_entry_amount_long += delta_quote
            amm.quote_break_even_amount_long += delta_quote
        else:
            amm.base_asset_amount_short += delta_base
            amm.quote_entry_amount_short += delta_quote
            amm.quote_break_even_amount_short += delta_quote
    elif kind in (REDUCE, CLOSE):
        if base > 0:
            amm.base_asset_amount_long += delta_base
            amm.quote_entry_amount_long -= entry - new_entry
            amm.quote_break_even_amount_long -= break_even - new_break_even
        else:
            amm.base_asset_amount_short += delta_base
            amm.quote_entry_amount_short -= entry - new_entry
            amm.quote_break_even_amount_short -= break_even - new_break_even
    else:
        if new_base > 0:
            amm.base_asset_amount_short -= base
            amm.base_asset_amount_long += new_base
            amm.quote_entry_amount_short -= entry
            amm.quote_entry_amount_long += new_entry
            amm.quote_break_even_amount_short -= break_even
            amm.quote_break_even_amount_long += new_break_even
        else:
            amm.base_asset_amount_long -= base
            amm.base_asset_amount_short += new_base
            amm.quote_entry_amount_long -= entry
            amm.quote_entry_amount_short += new_entry
            amm.quote_break_even_amount_long -= break_even
            amm.quote_break_even_amount_short += new_break_even

    if base > 0 and pos.last_cumulative_funding_rate != amm.cumulative_funding_rate_long:
        raise AssertionError("funding must be settled before a position changes (long)")
    if base < 0 and pos.last_cumulative_funding_rate != amm.cumulative_funding_rate_short:
        raise AssertionError("funding must be settled before a position changes (short)")
    if kind == CLOSE:
        pos.last_cumulative_funding_rate = 0
    elif kind in (OPEN, INCREASE, FLIP):
        pos.last_cumulative_funding_rate = (
            amm.cumulative_funding_rate_long if new_base > 0 else amm.cumulative_funding_rate_short
        )
    step = amm.order_step_size
    if step and new_base % step:
        raise AssertionError(f"position {new_base} is not a multiple of the step size {step}")

    pos.base_asset_amount = new_base
    pos.quote_asset_amount = new_quote
    pos.quote_entry_amount = new_entry
    pos.quote_break_even_amount = new_break_even
    return pnl


def quote_for_fill(base_asset_amount: int, fill_price: int, decimals: int, long: bool) -> int:
    """`math/orders.rs::calculate_quote_asset_amount_for_maker_order`: a long pays the
    floored quote, a short receives the ceiled quote (price x base / 10^decimals)."""
    n = fill_price * base_asset_amount
    d = 10**decimals
    return n // d if long else div_ceil(n, d)


def unrealized_pnl(pos: Any, oracle_price: int) -> int:
    """`math/position.rs::calculate_base_asset_value_and_pnl_with_oracle_price` (the pnl)."""
    if pos.base_asset_amount == 0:
        return pos.quote_asset_amount
    price = max(oracle_price, 0)
    return div_trunc(pos.base_asset_amount * price, BASE_PRECISION) + pos.quote_asset_amount


def claimable_pnl(pos: Any, oracle_price: int, pnl_pool_excess: int) -> int:
    """`PerpPosition::get_claimable_pnl` (state/user.rs): positive PnL is capped at the
    realized part (quote - quote_entry) plus the pnl pool's excess."""
    pnl = unrealized_pnl(pos, oracle_price)
    if pnl > 0:
        max_positive = max(pos.quote_asset_amount - pos.quote_entry_amount, 0) + max(
            pnl_pool_excess, 0
        )
        return min(pnl, max_positive)
    return pnl


# --------------------------------------------------------------------------- funding


def funding_payment(amm_cumulative_funding_rate: int, pos: Any) -> int:
    """`math/funding.rs::calculate_funding_payment`: QUOTE the position receives (>0) or
    pays (<0): -sign(base x delta) x floor(|delta x base| / 1e9), then a truncating
    division by AMM_TO_QUOTE_PRECISION_RATIO. One implementation: core/funding.py."""
    from drift_engine.core.funding import funding_payment as program_funding_payment

    return program_funding_payment(amm_cumulative_funding_rate, pos)


def funding_rate_from_hourly_fraction(numerator: int, denominator: int, oracle_twap: int) -> int:
    """FUNDING_RATE (1e9, quote per base) for an hourly rate numerator/denominator of notional
    at `oracle_twap` (PRICE 1e6): rate x twap x FUNDING_RATE_BUFFER, truncated toward zero."""
    return div_trunc(numerator * oracle_twap * FUNDING_RATE_BUFFER, denominator)


# --------------------------------------------------------------------------- fees
# Fee tiers, taker fees and maker rebates: core/fees.py (math/fees.rs).


def rolling_30d(previous: int, since_last: int, amount: int) -> int:
    """30-day volume decay (state/user.rs `update_taker_volume_30d` via
    `math/stats.rs::calculate_rolling_sum`): the old sum is scaled by the part of the
    window still covered, then the new amount is added."""
    since_last = max(1, since_last)
    kept = previous * max(0, THIRTY_DAYS - since_last) // THIRTY_DAYS
    return kept + amount


# --------------------------------------------------------------------------- spot balances


def _cumulative(market: Any, deposit: bool) -> int:
    return market.cumulative_deposit_interest if deposit else market.cumulative_borrow_interest


def get_spot_balance(token_amount: int, market: Any, deposit: bool, round_up: bool) -> int:
    """`math/spot_balance.rs::get_spot_balance`: token amount -> scaled balance."""
    precision_increase = 10 ** (19 - market.decimals)
    balance = token_amount * precision_increase // _cumulative(market, deposit)
    if round_up and balance != 0:
        balance += 1
    return balance


def get_token_amount(balance: int, market: Any, deposit: bool) -> int:
    """`math/spot_balance.rs::get_token_amount` in integers: deposits floor, borrows ceil.

    (driftpy's `get_token_amount` computes deposits with a float division.)
    """
    return token_amount_at(balance, _cumulative(market, deposit), market.decimals, deposit)


def signed_token_amount(pos: Any, market: Any) -> int:
    deposit = variant(pos.balance_type) == "Deposit"
    amount = get_token_amount(pos.scaled_balance, market, deposit)
    return amount if deposit else -amount


def update_spot_balances(
    token_amount: int, to_deposit: bool, market: Any, pos: Any, is_leaving_drift: bool = False
) -> None:
    """`controller/spot_balance.rs::update_spot_balances`.

    Moves `token_amount` into the position in direction Deposit (`to_deposit`) or Borrow,
    first reducing the opposite balance, and keeps the market's deposit/borrow totals.
    """
    from driftpy.types import SpotBalanceType

    pos_deposit = variant(pos.balance_type) == "Deposit"
    if to_deposit == pos_deposit:
        balance_delta = get_spot_balance(token_amount, market, to_deposit, not pos_deposit)
        pos.scaled_balance += balance_delta
        _increase_market_balance(market, balance_delta, to_deposit)
        return
    current = get_token_amount(pos.scaled_balance, market, pos_deposit)
    if current != 0:
        if current > token_amount:
            round_up = is_leaving_drift or not pos_deposit
            balance_delta = get_spot_balance(token_amount, market, pos_deposit, round_up)
            token_delta = token_amount
        else:
            token_delta, balance_delta = current, pos.scaled_balance
        _increase_market_balance(market, -balance_delta, pos_deposit)
        pos.scaled_balance -= balance_delta
        token_amount -= token_delta
    if token_amount > 0:
        pos.balance_type = SpotBalanceType.Deposit() if to_deposit else SpotBalanceType.Borrow()
        balance_delta = get_spot_balance(token_amount, market, to_deposit, not to_deposit)
        pos.scaled_balance += balance_delta
        _increase_market_balance(market, balance_delta, to_deposit)


def _increase_market_balance(market: Any, delta: int, deposit: bool) -> None:
    if deposit:
        market.deposit_balance += delta
    else:
        market.borrow_balance += delta


def accrue_spot_interest(market: Any, now: int, deposit_rate: int, borrow_rate: int) -> bool:
    """Advance a spot market's cumulative interest to `now` at given annual rates.

    Rates are SPOT_RATE precision (1e6 = 100% APR). The increments follow
    `math/spot_balance.rs::calculate_accumulated_interest`: cumulative x rate x dt /
    ONE_YEAR / 1e6, floored, borrow interest +1; and like
    `controller/spot_balance.rs::update_spot_market_cumulative_interest` nothing changes
    (and `last_interest_ts` stays, so time accumulates) until every positive rate yields a
    real increment (deposit > 0, borrow > 1). The program derives the deposit rate from the
    borrow rate and utilization (and keeps an insurance-fund share); here both rates come
    from data. Returns True when the market changed.
    """
    last = market.last_interest_ts
    if now <= last:
        return False
    if deposit_rate <= 0 and borrow_rate <= 0:
        market.last_interest_ts = now
        return False
    dt = now - last
    deposit_inc = borrow_inc = 0
    if deposit_rate > 0:
        deposit_inc = market.cumulative_deposit_interest * (deposit_rate * dt) // ONE_YEAR
        deposit_inc //= SPOT_RATE_PRECISION
        if deposit_inc == 0:
            return False
    if borrow_rate > 0:
        borrow_inc = market.cumulative_borrow_interest * (borrow_rate * dt) // ONE_YEAR
        borrow_inc = borrow_inc // SPOT_RATE_PRECISION + 1
        if borrow_inc <= 1:
            return False
    market.cumulative_deposit_interest += deposit_inc
    market.cumulative_borrow_interest += borrow_inc
    market.last_interest_ts = now
    return True


# --------------------------------------------------------------------------- liquidation


def base_liquidator_fee(perp_market: Any, user_high_leverage_mode: bool) -> int:
    """`state/perp_market.rs::get_base_liquidator_fee`: for a high-leverage-mode user of a
    market with the mode enabled, at most 80 % of the HL maintenance ratio (LIQUIDATION_FEE
    precision). The program then raises it with the user's inactivity
    (`math/liquidation.rs::get_liquidation_fee`, after a ~10 minute grace period); the
    simulator does not track user slots and keeps the base fee."""
    fee = perp_market.liquidator_fee
    enabled = (
        perp_market.high_leverage_margin_ratio_initial > 0
        and perp_market.high_leverage_margin_ratio_maintenance > 0
    )
    if user_high_leverage_mode and enabled:
        ratio = perp_market.high_leverage_margin_ratio_maintenance * (
            LIQUIDATION_FEE_TO_MARGIN_PRECISION_RATIO
        )
        fee = min(fee, ratio - ratio // 5)
    return fee


def base_to_cover_margin_shortage(
    margin_shortage: int,
    margin_ratio: int,
    liquidator_fee: int,
    if_liquidation_fee: int,
    oracle_price: int,
    quote_oracle_price: int = PRICE_PRECISION,
) -> int:
    """`math/liquidation.rs::calculate_base_asset_amount_to_cover_margin_shortage`
    (None when no amount can cover it)."""
    mr = margin_ratio * LIQUIDATION_FEE_TO_MARGIN_PRECISION_RATIO
    if oracle_price == 0 or mr <= liquidator_fee:
        return 2**64 - 1
    price = oracle_price * quote_oracle_price // PRICE_PRECISION
    divisor = price * (mr - liquidator_fee) // LIQUIDATION_FEE_PRECISION - (
        oracle_price * if_liquidation_fee // LIQUIDATION_FEE_PRECISION
    )
    if divisor <= 0:
        return 2**64 - 1
    return margin_shortage * PRICE_TIMES_AMM_TO_QUOTE_PRECISION_RATIO // divisor


def perp_if_fee(
    margin_shortage: int,
    user_base_asset_amount: int,
    margin_ratio: int,
    liquidator_fee: int,
    oracle_price: int,
    max_if_liquidation_fee: int,
    quote_oracle_price: int = PRICE_PRECISION,
) -> int:
    """`math/liquidation.rs::calculate_perp_if_fee`: the insurance fee shrinks so that the
    liquidation does not by itself make the user bankrupt, and takes 95 % of what is left
    ("to avoid situation where fee leads to deposits == negative pnl")."""
    mr = margin_ratio * LIQUIDATION_FEE_TO_MARGIN_PRECISION_RATIO
    if oracle_price == 0 or quote_oracle_price == 0 or mr <= liquidator_fee:
        return 0
    if user_base_asset_amount == 0:
        return 0
    price = oracle_price * quote_oracle_price // PRICE_PRECISION
    implied = margin_shortage * BASE_PRECISION // user_base_asset_amount * PRICE_PRECISION // price
    implied_if_fee = max(0, mr - liquidator_fee - min(implied, 2**32 - 1)) * 19 // 20
    return min(max_if_liquidation_fee, implied_if_fee)


def max_pct_to_liquidate(
    margin_shortage: int,
    liquidation_margin_freed: int,
    slots_elapsed: int,
    initial_pct_to_liquidate: int,
    liquidation_duration: int,
) -> int:
    """`math/liquidation.rs::calculate_max_pct_to_liquidate` (LIQUIDATION_PCT precision):
    a shortage under $50 is liquidated at once."""
    if margin_shortage < 50 * QUOTE_PRECISION:
        return LIQUIDATION_PCT_PRECISION
    if liquidation_duration == 0:
        pct = LIQUIDATION_PCT_PRECISION
    else:
        pct = slots_elapsed * LIQUIDATION_PCT_PRECISION // liquidation_duration
        pct = min(pct + initial_pct_to_liquidate, LIQUIDATION_PCT_PRECISION)
    total = margin_shortage + liquidation_margin_freed
    max_freed = total * pct // LIQUIDATION_PCT_PRECISION
    freeable = max(0, max_freed - liquidation_margin_freed)
    return freeable * LIQUIDATION_PCT_PRECISION // margin_shortage
