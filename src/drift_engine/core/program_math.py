"""Drift's margin calculation as the on-chain program does it, in integers.

Why this module exists: margin decides liquidations, i.e. real money, and the program
(drift-labs/protocol-v2, `programs/drift/src/`) is the only truth. driftpy's math is the
reference implementation we call wherever it computes the same integers; where it does
not (see ../shared/drift-notes.md, "Where driftpy's math differs"), the function here
follows the program and its comment names the Rust file. Every such function is tested
against driftpy's own number on a case where the two differ (tests/core/test_margin_*).

The structure mirrors `math/margin.rs::calculate_margin_requirement_and_total_collateral_
and_liability_info`: one pass over the spot positions, one over the perp positions,
adding to `total_collateral` and `margin_requirement` exactly where the program does.

Rust read (stored versions; commits as named by the source index):
- math/margin.rs, state/user.rs, state/margin_calculation.rs
  @ 006ba85ca242aeadc28c4c0423bdcb6609ce264b (margin.rs also
  @ 1c28629c7a1d4953f52ab9400abdacce499a3a3e: same rules)
- state/perp_market.rs @ 00139c4ea1073417fdb71388ce2964cdee00eb8c (margin ratio, high
  leverage mode, unrealized-pnl asset weight)
- state/spot_market.rs @ 0015e4a4288780b8ae46bdadc6d186e71878da4a (asset/liability weight)
- math/spot_balance.rs @ 086891c7e58fbff5b8e1060994fb37ec6f64c45b (token amount/value)
- math/funding.rs @ 027745731c4dbf2efb6812af5caaddb98217cab0 (funding payment)
- math/amm.rs (net user pnl), state/oracle.rs (StrictOraclePrice), math/margin.rs
  (`calculate_user_equity`, Settlement valuation) @ 0ae3e3b1 (2026-04-01)
- math/position.rs @ 01b1f613d138e66e02713bdf167a5e1c64da00f6
- math/constants.rs @ 01597ba434b0a335d59b071d98bcfff962de8d12
  (MAX_POSITIVE_UPNL_FOR_INITIAL_MARGIN = 100 * QUOTE_PRECISION, OPEN_ORDER_MARGIN_REQUIREMENT
  = QUOTE_PRECISION / 100, DEFAULT_LIQUIDATION_MARGIN_BUFFER_RATIO = MARGIN_PRECISION / 50)

Not modelled (raise or ignore, as noted): LP shares (the program simulates settling them;
we raise), oracle validity beyond non-positive prices and TWAPs (`InvalidOracleError`),
isolated-tier checks, fuel. Nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from math import isqrt
from typing import Any

from driftpy.constants.numeric_constants import (
    AMM_RESERVE_PRECISION,
    MARGIN_PRECISION,
    PRICE_PRECISION,
    QUOTE_PRECISION,
    SPOT_IMF_PRECISION,
    SPOT_WEIGHT_PRECISION,
)
from driftpy.math.margin import (
    MarginCategory,
    calc_high_leverage_mode_initial_margin_ratio_from_size,
)
from driftpy.math.perp_position import calculate_perp_liability_value
from driftpy.math.spot_position import get_strict_token_value
from driftpy.types import SpotBalanceType, UserStatus

from drift_engine.core.errors import DriftEngineError
from drift_engine.core.frozen import set_by_slots
from drift_engine.core.funding import funding_payment as _program_funding_payment
from drift_engine.core.types import is_variant

__all__ = [
    "AMM_TO_QUOTE_PRECISION_RATIO",
    "DEFAULT_LIQUIDATION_MARGIN_BUFFER_RATIO",
    "InvalidOracleError",
    "MAX_POSITIVE_UPNL_FOR_INITIAL_MARGIN",
    "OPEN_ORDER_MARGIN_REQUIREMENT",
    "QUOTE_SPOT_MARKET_INDEX",
    "MarginCalculation",
    "MarginCategory",
    "MarketSnapshot",
    "OrderFillSimulation",
    "PerpExposure",
    "PerpPositionValue",
    "StrictOraclePrice",
    "calculate_margin",
    "calculate_margins",
    "cap_initial_unrealized_pnl",
    "funding_payment",
    "is_being_liquidated",
    "is_high_leverage_mode",
    "perp_exposure",
    "perp_margin_ratio",
    "perp_position_value_and_pnl",
    "perp_value_of_exposure",
    "signed_token_amount",
    "token_amount_at",
    "size_discount_asset_weight",
    "size_premium_liability_weight",
    "spot_asset_weight",
    "spot_fill_simulation",
    "spot_liability_weight",
    "spot_size_in_amm_precision",
    "token_amount",
    "trunc_div",
    "unrealized_pnl_asset_weight",
    "user_equity",
]

# Integer constants (driftpy defines some of these as floats, e.g. 1000.0, 10000.0).
QUOTE_SPOT_MARKET_INDEX = 0
AMM_TO_QUOTE_PRECISION_RATIO = AMM_RESERVE_PRECISION // QUOTE_PRECISION  # 1e3
PRICE_TIMES_AMM_TO_QUOTE_PRECISION_RATIO = PRICE_PRECISION * AMM_TO_QUOTE_PRECISION_RATIO  # 1e9
OPEN_ORDER_MARGIN_REQUIREMENT = QUOTE_PRECISION // 100  # $0.01 per open order
MAX_POSITIVE_UPNL_FOR_INITIAL_MARGIN = 100 * QUOTE_PRECISION  # $100 per position
DEFAULT_LIQUIDATION_MARGIN_BUFFER_RATIO = MARGIN_PRECISION // 50  # 2%


class InvalidOracleError(DriftEngineError):
    """The program's `ErrorCode::InvalidOracle`: a price (or, in a strict calculation, a
    5-minute TWAP) that is not positive. The program fails the instruction."""


@set_by_slots
@dataclass(frozen=True, slots=True)
class StrictOraclePrice:
    """state/oracle.rs `StrictOraclePrice`: the current oracle price and, in a strict
    calculation, the stored 5-minute TWAP; assets take the lower, liabilities the higher.

    driftpy 0.8.89's class of the same name tests the TWAP for truthiness, so a TWAP of 0
    silently means "no TWAP"; the program's `Option` means a strict TWAP of 0 is a value
    (`min()` is 0) and `validate()` rejects it as an invalid oracle.
    """

    current: int
    twap_5min: int | None = None

    @classmethod
    def of(cls, price: int, twap_5min: int, strict: bool) -> StrictOraclePrice:
        return cls(price, twap_5min if strict else None)

    def max(self) -> int:
        return self.current if self.twap_5min is None else max(self.current, self.twap_5min)

    def min(self) -> int:
        return self.current if self.twap_5min is None else min(self.current, self.twap_5min)

    def validate(self, what: str = "") -> None:
        where = f" ({what})" if what else ""
        if self.current <= 0:
            raise InvalidOracleError(f"oracle price {self.current} <= 0{where}")
        if self.twap_5min is not None and self.twap_5min <= 0:
            raise InvalidOracleError(f"oracle price twap {self.twap_5min} <= 0{where}")


def trunc_div(a: int, b: int) -> int:
    """Integer division rounding toward zero: Rust's `/` on signed ints and BN.js `div`.

    Python's `//` floors, which differs for a negative quotient.
    """
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


# --------------------------------------------------------------------------- market data


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """The market accounts and oracle prices (PRICE 1e6) one margin calculation reads."""

    perp_markets: Mapping[int, Any]
    spot_markets: Mapping[int, Any]
    perp_prices: Mapping[int, int]
    spot_prices: Mapping[int, int]

    def perp(self, market_index: int) -> Any:
        try:
            return self.perp_markets[market_index]
        except KeyError:
            raise KeyError(f"perp market {market_index} is not loaded") from None

    def spot(self, market_index: int) -> Any:
        try:
            return self.spot_markets[market_index]
        except KeyError:
            raise KeyError(f"spot market {market_index} is not loaded") from None

    def perp_price(self, market_index: int) -> int:
        return int(self.perp_prices[market_index])

    def spot_price(self, market_index: int) -> int:
        return int(self.spot_prices[market_index])


# --------------------------------------------------------------------------- spot balances


#: a spot balance's type tested once per signed amount, by identity with driftpy's
#: `SpotBalanceType` classes first (`is_deposit`: each variant is its own class named as
#: the variant, so `is_variant` answers the same; any other value still goes to
#: `is_variant`). False: `signed_token_amount` through `token_amount`, `is_variant` twice
#: (the reference).
DEPOSIT_BY_CLASS = True
_DEPOSIT, _BORROW = SpotBalanceType.Deposit, SpotBalanceType.Borrow


def is_deposit(balance_type: Any) -> bool:
    """`is_variant(balance_type, "Deposit")`, driftpy's two classes answered by identity."""
    if DEPOSIT_BY_CLASS:
        cls = type(balance_type)
        if cls is _DEPOSIT:
            return True
        if cls is _BORROW:
            return False
    return is_variant(balance_type, "Deposit")


def token_amount(scaled_balance: int, spot_market: Any, balance_type: Any) -> int:
    """Token amount (market decimals) of a scaled spot balance.

    Program: math/spot_balance.rs `get_token_amount` — deposits
    `balance * cumulative_deposit_interest / 10^(19 - decimals)` floored, borrows rounded
    up. driftpy 0.8.89 computes deposits through a float division (`int(a / b)`), which is
    off by one for large balances; we keep integers.
    """
    return _token_amount(scaled_balance, spot_market, is_deposit(balance_type))


def _token_amount(scaled_balance: int, spot_market: Any, deposit: bool) -> int:
    cumulative = (
        spot_market.cumulative_deposit_interest
        if deposit
        else spot_market.cumulative_borrow_interest
    )
    return token_amount_at(scaled_balance, cumulative, spot_market.decimals, deposit)


def token_amount_at(
    scaled_balance: int, cumulative_interest: int, decimals: int, deposit: bool
) -> int:
    """`token_amount` at a given cumulative interest (the market's, or the one it had
    before an accrual: the simulator's interest pass asks both): deposits floor, borrows
    ceil."""
    precision_decrease = 10 ** (19 - decimals)
    product = scaled_balance * cumulative_interest
    if deposit:
        return product // precision_decrease
    return -(-product // precision_decrease)


def signed_token_amount(spot_position: Any, spot_market: Any) -> int:
    """Deposits positive, borrows negative (state/user.rs `get_signed_token_amount`)."""
    if not DEPOSIT_BY_CLASS:
        amount = token_amount(spot_position.scaled_balance, spot_market, spot_position.balance_type)
        return amount if is_variant(spot_position.balance_type, "Deposit") else -amount
    deposit = is_deposit(spot_position.balance_type)
    amount = _token_amount(spot_position.scaled_balance, spot_market, deposit)
    return amount if deposit else -amount


def _token_value(amount: int, decimals: int, price: int) -> int:
    """math/spot_balance.rs `get_token_value`: negative values floor, positive truncate."""
    if amount == 0:
        return 0
    return amount * price // 10**decimals


# --------------------------------------------------------------------------- weights


def spot_size_in_amm_precision(size: int, decimals: int) -> int:
    """A token amount rescaled to AMM_RESERVE_PRECISION (1e9), as the weight functions take it."""
    size_precision = 10**decimals
    if size_precision > AMM_RESERVE_PRECISION:
        return size // (size_precision // AMM_RESERVE_PRECISION)
    return size * AMM_RESERVE_PRECISION // size_precision


def size_discount_asset_weight(size: int, imf_factor: int, asset_weight: int) -> int:
    """IMF size discount of an asset weight (size in AMM precision).

    Program: math/margin.rs `calculate_size_discount_asset_weight` —
    `isqrt(size*10 + 1)` and a floored division. driftpy 0.8.89 uses
    `ceil(sqrt(size*10)) + 1` and rounds the weight up (one unit too high at times).
    """
    if imf_factor == 0:
        return asset_weight
    size_sqrt = isqrt(abs(size) * 10 + 1)
    imf_numerator = SPOT_IMF_PRECISION + SPOT_IMF_PRECISION // 10
    discount_weight = (
        imf_numerator
        * SPOT_WEIGHT_PRECISION
        // (SPOT_IMF_PRECISION + size_sqrt * imf_factor // 100_000)
    )
    return min(asset_weight, discount_weight)


def size_premium_liability_weight(
    size: int, imf_factor: int, liability_weight: int, precision: int, bounded: bool = True
) -> int:
    """IMF size premium of a liability weight / margin ratio (size in AMM precision).

    Program: math/margin.rs `calculate_size_premium_liability_weight` — integer
    `isqrt(size*10 + 1)`. driftpy 0.8.89 takes a float square root and returns a float.
    `bounded=False` is the high-leverage-mode variant (state/perp_market.rs).
    """
    if imf_factor == 0:
        return liability_weight
    size_sqrt = isqrt(abs(size) * 10 + 1)
    numerator = liability_weight - liability_weight // 5
    premium = numerator + size_sqrt * imf_factor // (100_000 * SPOT_IMF_PRECISION // precision)
    return max(liability_weight, premium) if bounded else premium


def _scaled_initial_asset_weight(spot_market: Any, oracle_price: int) -> int:
    """state/spot_market.rs `get_scaled_initial_asset_weight`."""
    start = spot_market.scale_initial_asset_weight_start
    if start == 0:
        return spot_market.initial_asset_weight
    deposits = token_amount(spot_market.deposit_balance, spot_market, SpotBalanceType.Deposit())
    deposit_value = _token_value(deposits, spot_market.decimals, oracle_price)
    if deposit_value < start:
        return spot_market.initial_asset_weight
    return spot_market.initial_asset_weight * start // deposit_value


def spot_asset_weight(
    spot_market: Any, size: int, oracle_price: int, category: MarginCategory
) -> int:
    """state/spot_market.rs `get_asset_weight` (size: token amount, market decimals)."""
    size_amm = spot_size_in_amm_precision(abs(size), spot_market.decimals)
    if category == MarginCategory.INITIAL:
        default = _scaled_initial_asset_weight(spot_market, oracle_price)
    else:
        default = spot_market.maintenance_asset_weight
    return min(size_discount_asset_weight(size_amm, spot_market.imf_factor, default), default)


def spot_liability_weight(spot_market: Any, size: int, category: MarginCategory) -> int:
    """state/spot_market.rs `get_liability_weight` (size: token amount, market decimals)."""
    size_amm = spot_size_in_amm_precision(abs(size), spot_market.decimals)
    if category == MarginCategory.INITIAL:
        default = spot_market.initial_liability_weight
    else:
        default = spot_market.maintenance_liability_weight
    weight = size_premium_liability_weight(
        size_amm, spot_market.imf_factor, default, SPOT_WEIGHT_PRECISION
    )
    return max(weight, default)


# --------------------------------------------------------------------------- spot orders


@set_by_slots
@dataclass(frozen=True, slots=True)
class OrderFillSimulation:
    """state/user.rs `OrderFillSimulation`: a spot position after its open orders fill."""

    token_amount: int
    orders_value: int
    token_value: int
    weighted_token_value: int
    free_collateral_contribution: int


def _weighted_token_value(
    spot_market: Any, amount: int, value: int, oracle_price: int, category: MarginCategory
) -> int:
    if value > 0:
        weight = spot_asset_weight(spot_market, amount, oracle_price, category)
    elif value < 0:
        weight = spot_liability_weight(spot_market, amount, category)
    else:
        return 0
    return trunc_div(value * weight, SPOT_WEIGHT_PRECISION)


def spot_fill_simulation(
    spot_position: Any,
    spot_market: Any,
    strict_price: StrictOraclePrice,
    amount: int,
    category: MarginCategory,
) -> OrderFillSimulation:
    """The riskier of "all bids fill" and "all asks fill" (state/user.rs
    `get_worst_case_fill_simulation`).

    An order's quote side (`orders_value`, negative for bids) is returned separately: the
    margin calculation counts it at weight 1 and does not net it against the USDC balance
    (see `calculate_margin`).
    """
    value = get_strict_token_value(amount, spot_market.decimals, strict_price)
    return _fill_simulation(spot_position, spot_market, strict_price, amount, value, category)


def _fill_simulation(
    spot_position: Any,
    spot_market: Any,
    strict_price: StrictOraclePrice,
    amount: int,
    value: int,
    category: MarginCategory,
) -> OrderFillSimulation:
    """`spot_fill_simulation` given the position's strict token value (`value`), which
    does not depend on the category: `calculate_margins` computes it once for both."""
    if spot_position.open_bids == 0 and spot_position.open_asks == 0:
        weighted = _weighted_token_value(spot_market, amount, value, strict_price.current, category)
        return OrderFillSimulation(amount, 0, value, weighted, weighted)

    def side(open_orders: int) -> OrderFillSimulation:
        orders_value = _token_value(-open_orders, spot_market.decimals, strict_price.max())
        amount_after = amount + open_orders
        value_after = value - orders_value
        weighted = _weighted_token_value(
            spot_market, amount_after, value_after, strict_price.current, category
        )
        return OrderFillSimulation(
            amount_after, orders_value, value_after, weighted, weighted + orders_value
        )

    bids, asks = side(spot_position.open_bids), side(spot_position.open_asks)
    # OrderFillSimulation::riskier_side(ask, bid): the ask side wins ties.
    return asks if asks.free_collateral_contribution <= bids.free_collateral_contribution else bids


def _apply_user_custom_margin_ratio(
    sim: OrderFillSimulation, spot_market: Any, oracle_price: int, custom_margin_ratio: int
) -> OrderFillSimulation:
    """state/user.rs `OrderFillSimulation::apply_user_custom_margin_ratio` (Initial only)."""
    if custom_margin_ratio == 0 or sim.weighted_token_value == 0:
        return sim
    if sim.weighted_token_value < 0:
        weight = max(
            spot_liability_weight(spot_market, sim.token_amount, MarginCategory.INITIAL),
            custom_margin_ratio + SPOT_WEIGHT_PRECISION,
        )
    else:
        weight = min(
            spot_asset_weight(spot_market, sim.token_amount, oracle_price, MarginCategory.INITIAL),
            max(SPOT_WEIGHT_PRECISION - custom_margin_ratio, 0),
        )
    weighted = trunc_div(sim.token_value * weight, SPOT_WEIGHT_PRECISION)
    return OrderFillSimulation(
        sim.token_amount, sim.orders_value, sim.token_value, weighted, weighted + sim.orders_value
    )


# --------------------------------------------------------------------------- perps


def funding_payment(amm_cumulative_funding_rate: int, perp_position: Any) -> int:
    """Unsettled funding of a perp position in QUOTE precision (negative: the user pays).

    Program: math/funding.rs `calculate_funding_payment` (core/funding.py) —
    `-sign(base) * sign(delta) * floor(|delta * base| / 1e9)` then `/ 1e3` toward zero,
    i.e. an integer. driftpy 0.8.89 (`calculate_position_funding_pnl`) returns a float.
    """
    return _program_funding_payment(amm_cumulative_funding_rate, perp_position)


def is_high_leverage_mode(user: Any, category: MarginCategory) -> bool:
    """state/user.rs `is_high_leverage_mode`: HighLeverage always, HighLeverageMaintenance
    only for the Maintenance requirement."""
    mode = getattr(user, "margin_mode", None)
    if mode is None:
        return False
    return is_variant(mode, "HighLeverage") or (
        category == MarginCategory.MAINTENANCE and is_variant(mode, "HighLeverageMaintenance")
    )


def is_being_liquidated(user: Any) -> bool:
    return bool(user.status & (UserStatus.BEING_LIQUIDATED | UserStatus.BANKRUPT))


def perp_margin_ratio(
    perp_market: Any, size: int, category: MarginCategory, high_leverage: bool = False
) -> int:
    """Margin ratio (MARGIN 1e4) of a perp position of `size` base (BASE 1e9).

    Program: state/perp_market.rs `get_margin_ratio`, including high leverage mode.
    driftpy's DriftUser never passes the user's high leverage mode to its equivalent.
    """
    if is_variant(perp_market.status, "Settlement"):
        return 0
    size = abs(size)
    is_hlm = (
        high_leverage
        and perp_market.high_leverage_margin_ratio_initial > 0
        and perp_market.high_leverage_margin_ratio_maintenance > 0
    )
    if is_hlm:
        initial = perp_market.high_leverage_margin_ratio_initial
        maintenance = perp_market.high_leverage_margin_ratio_maintenance
    else:
        initial, maintenance = (
            perp_market.margin_ratio_initial,
            perp_market.margin_ratio_maintenance,
        )
    default = initial if category == MarginCategory.INITIAL else maintenance
    if is_hlm and category == MarginCategory.INITIAL:
        pre_size_adj = perp_market.margin_ratio_initial
        size_adj = size_premium_liability_weight(
            size, perp_market.imf_factor, pre_size_adj, MARGIN_PRECISION, bounded=False
        )
        return calc_high_leverage_mode_initial_margin_ratio_from_size(
            pre_size_adj, size_adj, default
        )
    size_adj = size_premium_liability_weight(
        size, perp_market.imf_factor, default, MARGIN_PRECISION
    )
    return max(default, size_adj)


def _net_user_pnl(perp_market: Any) -> int:
    """math/amm.rs `calculate_net_user_pnl` at the market's last oracle price: the users'
    base (incl. LPs' unsettled base) at the oracle plus their cost basis
    (`calculate_net_user_cost_basis`: quote, LPs' unsettled quote and the funding users
    are owed but have not settled, `amm.net_unsettled_funding_pnl`). driftpy 0.8.89's
    version has only `base_asset_amount_with_amm` and `quote_asset_amount`."""
    amm = perp_market.amm
    price = amm.historical_oracle_data.last_oracle_price
    if price <= 0:
        raise InvalidOracleError(f"perp market {perp_market.market_index}: oracle_price <= 0")
    base = amm.base_asset_amount_with_amm + amm.base_asset_amount_with_unsettled_lp
    cost_basis = (
        amm.quote_asset_amount
        + amm.quote_asset_amount_with_unsettled_lp
        + amm.net_unsettled_funding_pnl
    )
    return trunc_div(base * price, PRICE_TIMES_AMM_TO_QUOTE_PRECISION_RATIO) + cost_basis


def unrealized_pnl_asset_weight(
    perp_market: Any, unrealized_pnl: int, category: MarginCategory
) -> int:
    """Asset weight (1e4) of a position's unrealized pnl (QUOTE 1e6).

    Program: state/perp_market.rs `get_unrealized_asset_weight` — for positive pnl in the
    Initial category the IMF discount takes the pnl scaled ×1000 (to AMM precision), and a
    zero weight short-circuits. driftpy 0.8.89 passes the pnl unscaled (and rounds the
    discount up, see `size_discount_asset_weight`).
    """
    if category == MarginCategory.INITIAL:
        weight = perp_market.unrealized_pnl_initial_asset_weight
    else:
        weight = perp_market.unrealized_pnl_maintenance_asset_weight
    if (
        weight > 0
        and category == MarginCategory.INITIAL
        and perp_market.unrealized_pnl_max_imbalance > 0
    ):
        net_pnl = _net_user_pnl(perp_market)
        if net_pnl > perp_market.unrealized_pnl_max_imbalance:
            weight = weight * perp_market.unrealized_pnl_max_imbalance // abs(net_pnl)
    if unrealized_pnl <= 0:
        return SPOT_WEIGHT_PRECISION
    if category != MarginCategory.INITIAL:
        return perp_market.unrealized_pnl_maintenance_asset_weight
    if weight == 0:
        return 0
    return size_discount_asset_weight(
        unrealized_pnl * AMM_TO_QUOTE_PRECISION_RATIO, perp_market.unrealized_pnl_imf_factor, weight
    )


def cap_initial_unrealized_pnl(weighted_pnl: int, category: MarginCategory) -> int:
    """Cap a position's weighted positive pnl at $100 in the Initial category.

    Program: math/margin.rs `calculate_perp_position_value_and_pnl` —
    `weighted_unrealized_pnl.min(MAX_POSITIVE_UPNL_FOR_INITIAL_MARGIN)` ("safety guard for
    dangerously configured perp market"). driftpy 0.8.89 has no cap: a +$5,000 position
    adds $5,000 of initial collateral there and $100 on chain.
    """
    if category == MarginCategory.INITIAL:
        return min(weighted_pnl, MAX_POSITIVE_UPNL_FOR_INITIAL_MARGIN)
    return weighted_pnl


def _perp_position_is_available(pp: Any) -> bool:
    """state/user.rs `PerpPosition::is_available`."""
    has_open_order = pp.open_orders != 0 or pp.open_bids != 0 or pp.open_asks != 0
    has_unsettled_pnl = pp.base_asset_amount == 0 and pp.quote_asset_amount != 0
    return (
        pp.base_asset_amount == 0
        and not has_open_order
        and not has_unsettled_pnl
        and pp.lp_shares == 0
    )


def _spot_position_is_available(sp: Any) -> bool:
    return sp.scaled_balance == 0 and sp.open_orders == 0


def _worst_case_base_asset_amount(pp: Any) -> int:
    """state/user.rs `worst_case_base_asset_amount`: the larger |base| of all-bids / all-asks."""
    all_bids = pp.base_asset_amount + pp.open_bids
    all_asks = pp.base_asset_amount + pp.open_asks
    return all_bids if abs(all_bids) > abs(all_asks) else all_asks


def perp_base_value_and_pnl(perp_position: Any, oracle_price: int) -> tuple[int, int]:
    """math/position.rs `calculate_base_asset_value_and_pnl_with_oracle_price`: |base| x
    price and the pnl `trunc(base x price / 1e9) + quote` (signed division toward zero,
    so a short's value rounds toward zero, not down)."""
    base = perp_position.base_asset_amount
    if base == 0:
        return 0, perp_position.quote_asset_amount
    price = max(oracle_price, 0)
    signed_value = trunc_div(base * price, AMM_RESERVE_PRECISION)
    return abs(signed_value), signed_value + perp_position.quote_asset_amount


@set_by_slots
@dataclass(frozen=True, slots=True)
class PerpPositionValue:
    """math/margin.rs `calculate_perp_position_value_and_pnl` for one position."""

    margin_requirement: int
    weighted_unrealized_pnl: int
    worst_case_liability_value: int
    unrealized_pnl: int  # unweighted, funding included, in quote at the quote oracle price
    base_asset_value: int


@set_by_slots
@dataclass(frozen=True, slots=True)
class PerpExposure:
    """The part of `calculate_perp_position_value_and_pnl` that does not depend on the
    margin category: the funding-inclusive pnl, the worst-case base and liability value,
    and the quote price the pnl is valued at. `calculate_margins` computes it once for
    the Initial and the Maintenance requirement."""

    settlement: bool
    total_unrealized_pnl: int  # unweighted, funding included, in quote
    worst_case_base: int
    worst_case_liability_value: int
    quote_price: int
    unrealized_pnl: int  # total_unrealized_pnl at the quote price (PerpPositionValue's)
    base_asset_value: int


def perp_exposure(
    perp_position: Any,
    perp_market: Any,
    oracle_price: int,
    strict_quote_price: StrictOraclePrice,
) -> PerpExposure:
    if perp_position.lp_shares > 0:
        raise NotImplementedError(
            f"perp market {perp_position.market_index}: LP shares are not modelled"
        )
    # math/margin.rs: in Settlement the pnl is valued at the expiry price, but the
    # (worst-case) liability stays at the oracle price.
    settlement = is_variant(perp_market.status, "Settlement")
    valuation_price = perp_market.expiry_price if settlement else oracle_price
    amm = perp_market.amm
    cumulative = (
        amm.cumulative_funding_rate_long
        if perp_position.base_asset_amount > 0
        else amm.cumulative_funding_rate_short
    )
    unrealized_funding = funding_payment(cumulative, perp_position)

    unrealized_pnl = perp_base_value_and_pnl(perp_position, valuation_price)[1]
    base_value_signed = unrealized_pnl - perp_position.quote_asset_amount
    total_unrealized_pnl = unrealized_pnl + unrealized_funding

    worst_case_base = _worst_case_base_asset_amount(perp_position)
    liability_value = calculate_perp_liability_value(
        worst_case_base, max(oracle_price, 0), is_variant(perp_market.contract_type, "Prediction")
    )
    liability_value = liability_value * strict_quote_price.max() // PRICE_PRECISION

    if total_unrealized_pnl > 0:
        quote_price = strict_quote_price.min()
    elif total_unrealized_pnl < 0:
        quote_price = strict_quote_price.max()
    else:
        quote_price = strict_quote_price.current
    pnl_in_quote = total_unrealized_pnl
    if quote_price != PRICE_PRECISION:
        pnl_in_quote = trunc_div(pnl_in_quote * quote_price, PRICE_PRECISION)
    return PerpExposure(
        settlement=settlement,
        total_unrealized_pnl=total_unrealized_pnl,
        worst_case_base=worst_case_base,
        worst_case_liability_value=liability_value,
        quote_price=quote_price,
        unrealized_pnl=pnl_in_quote,
        base_asset_value=abs(base_value_signed),
    )


def perp_position_value_and_pnl(
    perp_position: Any,
    perp_market: Any,
    oracle_price: int,
    strict_quote_price: StrictOraclePrice,
    category: MarginCategory,
    custom_margin_ratio: int = 0,
    high_leverage: bool = False,
) -> PerpPositionValue:
    exposure = perp_exposure(perp_position, perp_market, oracle_price, strict_quote_price)
    return perp_value_of_exposure(
        exposure, perp_position, perp_market, category, custom_margin_ratio, high_leverage
    )


def perp_value_of_exposure(
    exposure: PerpExposure,
    perp_position: Any,
    perp_market: Any,
    category: MarginCategory,
    custom_margin_ratio: int = 0,
    high_leverage: bool = False,
) -> PerpPositionValue:
    """The category's part of `calculate_perp_position_value_and_pnl`: the margin ratio,
    the pnl's asset weight and the Initial cap."""
    margin_ratio = max(
        custom_margin_ratio,
        perp_margin_ratio(perp_market, exposure.worst_case_base, category, high_leverage),
    )
    liability_value = exposure.worst_case_liability_value
    margin_requirement = (
        0 if exposure.settlement else liability_value * margin_ratio // MARGIN_PRECISION
    )
    margin_requirement += perp_position.open_orders * OPEN_ORDER_MARGIN_REQUIREMENT

    total_unrealized_pnl = exposure.total_unrealized_pnl
    weight = unrealized_pnl_asset_weight(perp_market, total_unrealized_pnl, category)
    quote_price = exposure.quote_price
    weighted = total_unrealized_pnl
    if weight != SPOT_WEIGHT_PRECISION:
        weighted = trunc_div(weighted * weight, SPOT_WEIGHT_PRECISION)
    if quote_price != PRICE_PRECISION:
        weighted = trunc_div(weighted * quote_price, PRICE_PRECISION)
    weighted = cap_initial_unrealized_pnl(weighted, category)
    return PerpPositionValue(
        margin_requirement=margin_requirement,
        weighted_unrealized_pnl=weighted,
        worst_case_liability_value=liability_value,
        unrealized_pnl=exposure.unrealized_pnl,
        base_asset_value=exposure.base_asset_value,
    )


# --------------------------------------------------------------------------- account


def user_equity(user: Any, markets: MarketSnapshot) -> int:
    """Net account value in QUOTE (1e6), as the program computes it.

    Program: math/margin.rs `calculate_user_equity` — every spot balance at its oracle
    price (`get_token_value`: a borrow floors, a deposit truncates) plus every perp
    position's pnl at the oracle (the expiry price in Settlement) *including its unsettled
    funding*, times the quote oracle price. A short's value divides toward zero
    (`perp_base_value_and_pnl`), not down.
    """
    total = 0
    for sp in user.spot_positions:
        if _spot_position_is_available(sp):
            continue
        market = markets.spot(sp.market_index)
        amount = signed_token_amount(sp, market)
        total += _token_value(amount, market.decimals, markets.spot_price(sp.market_index))
    for pp in user.perp_positions:
        if _perp_position_is_available(pp):
            continue
        market = markets.perp(pp.market_index)
        settlement = is_variant(market.status, "Settlement")
        price = market.expiry_price if settlement else markets.perp_price(pp.market_index)
        amm = market.amm
        cumulative = (
            amm.cumulative_funding_rate_long
            if pp.base_asset_amount > 0
            else amm.cumulative_funding_rate_short
        )
        pnl = perp_base_value_and_pnl(pp, price)[1] + funding_payment(cumulative, pp)
        quote_price = markets.spot_price(market.quote_spot_market_index)
        total += trunc_div(pnl * quote_price, PRICE_PRECISION)
    return total


@set_by_slots
@dataclass(frozen=True, slots=True)
class MarginCalculation:
    """state/margin_calculation.rs `MarginCalculation` (the fields we use), plus the
    unweighted components the SDK's leverage and margin ratio are built from."""

    category: MarginCategory
    total_collateral: int
    margin_requirement: int
    margin_requirement_plus_buffer: int
    total_spot_asset_value: int
    total_spot_liability_value: int
    total_perp_liability_value: int
    total_perp_pnl: int  # unweighted, funding included
    num_spot_liabilities: int
    num_perp_liabilities: int

    @property
    def meets_margin_requirement(self) -> bool:
        return self.total_collateral >= self.margin_requirement

    @property
    def free_collateral(self) -> int:
        """margin_calculation.rs `get_free_collateral`: floored at 0."""
        return max(self.total_collateral - self.margin_requirement, 0)


#: `calculate_margins` (the Initial and the Maintenance calculation `compute_from` reads)
#: in one pass over the positions: each position's market, prices, token amount, strict
#: value, pnl and liability value computed once, the weights and margin ratios per
#: category (issue #14). False: `calculate_margin` once per category, the reference.
MARGIN_ONE_PASS = True


def calculate_margin(
    user: Any,
    markets: MarketSnapshot,
    category: MarginCategory,
    *,
    strict: bool = False,
    margin_buffer: int = 0,
) -> MarginCalculation:
    """Total collateral and margin requirement of a User account, as the program computes.

    Program: math/margin.rs `calculate_margin_requirement_and_total_collateral_and_
    liability_info`. `strict` uses the markets' *stored* 5-minute oracle TWAPs (the program
    does; driftpy recomputes a TWAP from the wall clock). `margin_buffer` (MARGIN 1e4) is the
    liquidation buffer: `margin_requirement_plus_buffer` adds `liability × buffer` per item,
    as in `MarginCalculation::add_margin_requirement`.
    """
    totals = _MarginTotals(user, category, margin_buffer)
    _margin_pass(user, markets, strict, (totals,))
    return totals.result()


def calculate_margins(
    user: Any, markets: MarketSnapshot, *, strict: bool = False, maintenance_buffer: int = 0
) -> tuple[MarginCalculation, MarginCalculation]:
    """`calculate_margin` for the Initial category and for the Maintenance one (with
    `maintenance_buffer` as its `margin_buffer`), computed in one pass (`MARGIN_ONE_PASS`)."""
    if not MARGIN_ONE_PASS:
        return (
            calculate_margin(user, markets, MarginCategory.INITIAL, strict=strict),
            calculate_margin(
                user,
                markets,
                MarginCategory.MAINTENANCE,
                strict=strict,
                margin_buffer=maintenance_buffer,
            ),
        )
    initial = _MarginTotals(user, MarginCategory.INITIAL, 0)
    maintenance = _MarginTotals(user, MarginCategory.MAINTENANCE, maintenance_buffer)
    _margin_pass(user, markets, strict, (initial, maintenance))
    return initial.result(), maintenance.result()


def _margin_pass(
    user: Any, markets: MarketSnapshot, strict: bool, totals: tuple[_MarginTotals, ...]
) -> None:
    """The program's pass over the spot positions, then the perp positions: what does not
    depend on the category once per position, the rest in each of `totals`."""
    for sp in user.spot_positions:
        if _spot_position_is_available(sp):
            continue
        market = markets.spot(sp.market_index)
        price = markets.spot_price(sp.market_index)
        # math/margin.rs: StrictOraclePrice::new(price, twap_5min, strict).validate()?
        strict_price = StrictOraclePrice.of(
            price, market.historical_oracle_data.last_oracle_price_twap5min, strict
        )
        strict_price.validate(f"spot market {sp.market_index}")
        amount = signed_token_amount(sp, market)
        value = get_strict_token_value(amount, market.decimals, strict_price)
        if market.market_index == QUOTE_SPOT_MARKET_INDEX:
            deposit = is_deposit(sp.balance_type)
            for t in totals:
                t.add_quote_balance(value, deposit)
            continue
        for t in totals:
            t.add_spot(sp, market, strict_price, amount, value)

    for pp in user.perp_positions:
        if _perp_position_is_available(pp):
            continue
        market = markets.perp(pp.market_index)
        quote_market = markets.spot(market.quote_spot_market_index)
        # math/margin.rs: the quote price is not validated here (a strict TWAP of 0 makes
        # `min()` 0, so positive pnl counts nothing)
        strict_quote = StrictOraclePrice.of(
            markets.spot_price(market.quote_spot_market_index),
            quote_market.historical_oracle_data.last_oracle_price_twap5min,
            strict,
        )
        exposure = perp_exposure(pp, market, markets.perp_price(pp.market_index), strict_quote)
        for t in totals:
            t.add_perp(pp, market, exposure)


class _MarginTotals:
    """One category's sums of a `calculate_margin` pass (state/margin_calculation.rs
    `MarginCalculation`'s `add_*` methods), built into a `MarginCalculation` by `result`."""

    __slots__ = (
        "category",
        "custom_margin_ratio",
        "high_leverage",
        "margin_buffer",
        "tc",
        "mr",
        "mr_buffer",
        "spot_assets",
        "spot_liabilities",
        "perp_liabilities",
        "perp_pnl",
        "num_spot_liab",
        "num_perp_liab",
    )

    def __init__(self, user: Any, category: MarginCategory, margin_buffer: int) -> None:
        self.category = category
        self.custom_margin_ratio = (
            user.max_margin_ratio if category == MarginCategory.INITIAL else 0
        )
        self.high_leverage = is_high_leverage_mode(user, category)
        self.margin_buffer = margin_buffer
        self.tc = self.mr = self.mr_buffer = 0
        self.spot_assets = self.spot_liabilities = self.perp_liabilities = self.perp_pnl = 0
        self.num_spot_liab = self.num_perp_liab = 0

    def add_requirement(self, requirement: int, liability_value: int) -> None:
        self.mr += requirement
        if self.margin_buffer > 0:
            self.mr_buffer += requirement + liability_value * self.margin_buffer // MARGIN_PRECISION

    def add_quote_balance(self, value: int, deposit: bool) -> None:
        """The quote market's balance: its strict value at weight 1."""
        if deposit:
            self.tc += value
            self.spot_assets += value
        else:
            self.add_requirement(abs(value), abs(value))
            self.spot_liabilities += abs(value)
            self.num_spot_liab += 1

    def add_spot(
        self,
        sp: Any,
        market: Any,
        strict_price: StrictOraclePrice,
        amount: int,
        value: int,
    ) -> None:
        """Another market's balance after its worst-case fill, weighted."""
        sim = _fill_simulation(sp, market, strict_price, amount, value, self.category)
        sim = _apply_user_custom_margin_ratio(
            sim, market, strict_price.current, self.custom_margin_ratio
        )
        self.add_requirement(sp.open_orders * OPEN_ORDER_MARGIN_REQUIREMENT, 0)
        if sim.token_value > 0:
            self.tc += sim.weighted_token_value
            self.spot_assets += sim.token_value
        elif sim.token_value < 0:
            self.add_requirement(abs(sim.weighted_token_value), abs(sim.token_value))
            self.spot_liabilities += abs(sim.token_value)
            self.num_spot_liab += 1
        elif sp.open_bids != 0 or sp.open_asks != 0 or sp.open_orders != 0:
            self.num_spot_liab += 1
        # Program: the orders' quote side counts at weight 1 and is not netted against the
        # USDC balance (math/margin.rs); driftpy nets it into the quote position.
        if sim.orders_value > 0:
            self.tc += sim.orders_value
            self.spot_assets += sim.orders_value
        elif sim.orders_value < 0:
            self.add_requirement(abs(sim.orders_value), abs(sim.orders_value))
            self.spot_liabilities += abs(sim.orders_value)

    def add_perp(self, pp: Any, market: Any, exposure: PerpExposure) -> None:
        custom = self.custom_margin_ratio
        if self.category == MarginCategory.INITIAL:
            custom = max(custom, getattr(pp, "max_margin_ratio", 0))
        value = perp_value_of_exposure(
            exposure, pp, market, self.category, custom, self.high_leverage
        )
        self.add_requirement(value.margin_requirement, value.worst_case_liability_value)
        self.tc += value.weighted_unrealized_pnl
        self.perp_liabilities += value.worst_case_liability_value
        self.perp_pnl += value.unrealized_pnl
        has_open_order = pp.open_orders != 0 or pp.open_bids != 0 or pp.open_asks != 0
        if pp.base_asset_amount != 0 or pp.quote_asset_amount < 0 or has_open_order:
            self.num_perp_liab += 1

    def result(self) -> MarginCalculation:
        return MarginCalculation(
            category=self.category,
            total_collateral=self.tc,
            margin_requirement=self.mr,
            margin_requirement_plus_buffer=self.mr_buffer if self.margin_buffer > 0 else self.mr,
            total_spot_asset_value=self.spot_assets,
            total_spot_liability_value=self.spot_liabilities,
            total_perp_liability_value=self.perp_liabilities,
            total_perp_pnl=self.perp_pnl,
            num_spot_liabilities=self.num_spot_liab,
            num_perp_liabilities=self.num_perp_liab,
        )
