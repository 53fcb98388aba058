"""Trading fees as the Drift program charges them today, in integers.

Why this module exists: fees are charged on every fill of every paper and live engine,
so they must be the program's integers. driftpy has no fee functions; these follow
drift-labs/protocol-v2 `programs/drift/src/math/fees.rs` at `0ae3e3b1` (2026-04-01), and
its Rust unit tests are reproduced in tests/core/test_fees.py.

The rules (since August 2024):
- The perp fee tier is chosen by the 30-day volume (taker + maker) crossing
  $2M / $10M / $20M / $80M / $200M (`determine_perp_fee_tier`); users in high leverage
  mode always take tier 0 and pay twice its taker fee.
- Staked DRIFT (≥ 999 / 9,999 / 49,999 / 99,999 / 249,995) discounts the tier's taker
  numerator by 5/10/20/30/40 % and raises its maker-rebate numerator by as much. The
  5/10/20 % cases subtract `ceil(numerator / k)`; the 30/40 % cases take
  `ceil(numerator x (100 - x) / 100)`: the program rounds the discounted fee *up* there,
  where a floor (what driftpy's and most ports' percentage arithmetic gives) is one unit
  cheaper (tests/core/test_fees.py shows the difference).
- Taker fee = ceil(quote x numerator / denominator), maker rebate floored; then the
  market's `fee_adjustment` (-100 … +100 %) scales both, each rounded its own way.
- The numerators themselves live in the State account (`FeeStructure`), which an admin
  sets; `mainnet_perp_fee_structure()` builds it from the fee table Drift documents
  today (core/params/state.json says where each number comes from).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from functools import cache
from importlib import resources
from math import isqrt
from typing import Any

__all__ = [
    "FEE_ADJUSTMENT_MAX",
    "FEE_DENOMINATOR",
    "FEE_PERCENTAGE_DENOMINATOR",
    "STAKE_BENEFIT_PCT",
    "STAKE_THRESHOLDS",
    "VOLUME_THRESHOLDS",
    "FeeStructure",
    "FeeTier",
    "FillFees",
    "FillerRewardStructure",
    "determine_perp_fee_tier",
    "determine_user_fee_tier",
    "fee_for_fulfillment_with_amm",
    "fee_for_fulfillment_with_match",
    "filler_reward",
    "load_state_params",
    "maker_rebate",
    "mainnet_perp_fee_structure",
    "mainnet_spot_fee_structure",
    "program_default_perp_fee_structure",
    "referee_fee_and_referrer_reward",
    "taker_fee",
]

QUOTE_PRECISION = 10**6
PERCENTAGE_PRECISION = 10**6
#: math/constants.rs
FEE_DENOMINATOR = 100_000  # 10 x ONE_BPS_DENOMINATOR
FEE_PERCENTAGE_DENOMINATOR = 100
FEE_ADJUSTMENT_MAX = 100
TEN_BPS = PERCENTAGE_PRECISION // 1000

#: 30-day volume above which each next perp fee tier applies (QUOTE 1e6).
VOLUME_THRESHOLDS = tuple(
    v * QUOTE_PRECISION for v in (2_000_000, 10_000_000, 20_000_000, 80_000_000, 200_000_000)
)
#: Staked DRIFT (gov token, 1e6) from which each stake benefit applies: the program
#: subtracts a little from the round numbers (1,000 - 1, …, 250,000 - 5).
STAKE_THRESHOLDS = (
    1_000 * QUOTE_PRECISION - QUOTE_PRECISION,
    10_000 * QUOTE_PRECISION - QUOTE_PRECISION,
    50_000 * QUOTE_PRECISION - QUOTE_PRECISION,
    100_000 * QUOTE_PRECISION - QUOTE_PRECISION,
    250_000 * QUOTE_PRECISION - 5 * QUOTE_PRECISION,
)
#: Taker discount and maker bonus in percent for each stake level (0 = below the first).
STAKE_BENEFIT_PCT = (0, 5, 10, 20, 30, 40)


def _ceil_div(a: int, b: int) -> int:
    """`safe_div_ceil` on unsigned operands."""
    return -(-a // b)


# --------------------------------------------------------------------------- structures


@dataclass(frozen=True, slots=True)
class FeeTier:
    """state/state.rs `FeeTier`: one tier's numerators and denominators."""

    fee_numerator: int
    fee_denominator: int = FEE_DENOMINATOR
    maker_rebate_numerator: int = 0
    maker_rebate_denominator: int = FEE_DENOMINATOR
    referrer_reward_numerator: int = 0
    referrer_reward_denominator: int = FEE_PERCENTAGE_DENOMINATOR
    referee_fee_numerator: int = 0
    referee_fee_denominator: int = FEE_PERCENTAGE_DENOMINATOR

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"fee tier {f.name} must be a non-negative integer, got {value!r}")
        for name in (
            "fee_denominator",
            "maker_rebate_denominator",
            "referrer_reward_denominator",
            "referee_fee_denominator",
        ):
            if getattr(self, name) == 0:
                raise ValueError(f"fee tier {name} must be positive")

    @property
    def taker_fee_pct(self) -> float:
        """The taker fee in percent, for display only."""
        return 100 * self.fee_numerator / self.fee_denominator

    @property
    def maker_rebate_pct(self) -> float:
        return 100 * self.maker_rebate_numerator / self.maker_rebate_denominator


#: The program's `FeeTier::default()`: zero numerators, non-zero denominators.
EMPTY_TIER = FeeTier(0)


@dataclass(frozen=True, slots=True)
class FillerRewardStructure:
    """state/state.rs `OrderFillerRewardStructure`."""

    reward_numerator: int = 10
    reward_denominator: int = FEE_PERCENTAGE_DENOMINATOR
    time_based_reward_lower_bound: int = 10_000


@dataclass(frozen=True, slots=True)
class FeeStructure:
    """state/state.rs `FeeStructure`: up to 10 tiers (the perp rule uses the first 6)."""

    fee_tiers: tuple[FeeTier, ...]
    filler_reward_structure: FillerRewardStructure = FillerRewardStructure()
    flat_filler_fee: int = 10_000
    referrer_reward_epoch_upper_bound: int = 150_000 * QUOTE_PRECISION
    #: Where the numbers come from (shown by `drift-engine markets`).
    source: str = ""

    def __post_init__(self) -> None:
        if not 1 <= len(self.fee_tiers) <= 10:
            raise ValueError(f"a fee structure has 1 to 10 tiers, got {len(self.fee_tiers)}")

    def tier(self, index: int) -> FeeTier:
        """The program reads a fixed array of 10: missing tiers are `FeeTier::default()`."""
        return self.fee_tiers[index] if index < len(self.fee_tiers) else EMPTY_TIER

    @classmethod
    def from_percentages(
        cls,
        taker_pct: list[str] | tuple[str, ...],
        maker_rebate_pct: list[str] | tuple[str, ...],
        *,
        denominator: int = 10 * FEE_DENOMINATOR,
        referrer_reward_pct: int = 0,
        referee_discount_pct: int = 0,
        source: str = "",
        **kwargs: Any,
    ) -> FeeStructure:
        """Tiers from percent strings ("0.0350" = 3.5 bps), exact at `denominator`.

        A percentage that is not a whole number of 1/`denominator` is an error (no
        silent rounding of a fee numerator)."""
        from decimal import Decimal

        if len(taker_pct) != len(maker_rebate_pct):
            raise ValueError("give as many maker rebates as taker fees")

        def numerator(pct: str, what: str) -> int:
            value = Decimal(str(pct)) * denominator / 100
            if value != value.to_integral_value() or value < 0:
                raise ValueError(
                    f"{what} {pct}% is not a whole number of 1/{denominator} (got {value})"
                )
            return int(value)

        tiers = tuple(
            FeeTier(
                fee_numerator=numerator(t, "taker fee"),
                fee_denominator=denominator,
                maker_rebate_numerator=numerator(m, "maker rebate"),
                maker_rebate_denominator=denominator,
                referrer_reward_numerator=referrer_reward_pct,
                referee_fee_numerator=referee_discount_pct,
            )
            for t, m in zip(taker_pct, maker_rebate_pct, strict=True)
        )
        return cls(tiers, source=source, **kwargs)

    @classmethod
    def from_account(cls, structure: Any, source: str = "account") -> FeeStructure:
        """From a driftpy/anchorpy `FeeStructure` (e.g. `State.perp_fee_structure`)."""
        tiers = [
            FeeTier(**{f.name: getattr(t, f.name) for f in fields(FeeTier)})
            for t in structure.fee_tiers
        ]
        while len(tiers) > 1 and tiers[-1].fee_numerator == 0 and tiers[-1] == EMPTY_TIER:
            tiers.pop()
        filler = structure.filler_reward_structure
        return cls(
            tuple(tiers),
            FillerRewardStructure(
                filler.reward_numerator,
                filler.reward_denominator,
                filler.time_based_reward_lower_bound,
            ),
            structure.flat_filler_fee,
            structure.referrer_reward_epoch_upper_bound,
            source,
        )

    def write_to(self, target: Any) -> None:
        """Set a driftpy/anchorpy `FeeStructure` (all 10 tier slots) to these values."""
        for i, slot in enumerate(target.fee_tiers):
            tier = self.tier(i)
            for f in fields(FeeTier):
                setattr(slot, f.name, getattr(tier, f.name))
        filler = target.filler_reward_structure
        filler.reward_numerator = self.filler_reward_structure.reward_numerator
        filler.reward_denominator = self.filler_reward_structure.reward_denominator
        filler.time_based_reward_lower_bound = (
            self.filler_reward_structure.time_based_reward_lower_bound
        )
        target.flat_filler_fee = self.flat_filler_fee
        target.referrer_reward_epoch_upper_bound = self.referrer_reward_epoch_upper_bound


@cache
def load_state_params() -> dict[str, Any]:
    """core/params/state.json: the State account values we ship, with their sources."""
    text = resources.files("drift_engine.core").joinpath("params/state.json").read_text()
    return json.loads(text)


def _structure_from_params(section: dict[str, Any]) -> FeeStructure:
    filler = section.get("filler_reward_structure", {})
    kwargs = {
        "filler_reward_structure": FillerRewardStructure(**filler),
        "flat_filler_fee": section.get("flat_filler_fee", 10_000),
        "referrer_reward_epoch_upper_bound": section.get(
            "referrer_reward_epoch_upper_bound", 150_000 * QUOTE_PRECISION
        ),
    }
    if "fee_tiers" in section:
        tiers = tuple(FeeTier(**t) for t in section["fee_tiers"])
        return FeeStructure(tiers, source=section["source"], **kwargs)
    return FeeStructure.from_percentages(
        section["taker_fee_pct"],
        section["maker_rebate_pct"],
        denominator=section["denominator"],
        referrer_reward_pct=section.get("referrer_reward_pct", 0),
        referee_discount_pct=section.get("referee_discount_pct", 0),
        source=section["source"],
        **kwargs,
    )


def mainnet_perp_fee_structure() -> FeeStructure:
    """Perp fee tiers at the percentages Drift documents today (docs 2026: 3.5 bps taker
    in tier 1 down to 2 bps at $200M; 0.25 bps maker rebate)."""
    return _structure_from_params(load_state_params()["perp_fee_structure"])


def mainnet_spot_fee_structure() -> FeeStructure:
    return _structure_from_params(load_state_params()["spot_fee_structure"])


def program_default_perp_fee_structure() -> FeeStructure:
    """`FeeStructure::perps_default()` (state/state.rs): what `initialize` writes."""
    return _structure_from_params(load_state_params()["program_default_perp_fee_structure"])


# --------------------------------------------------------------------------- tiers


def _stake_benefit(staked_gov_token_amount: int) -> int:
    for i, threshold in enumerate(STAKE_THRESHOLDS):
        if staked_gov_token_amount < threshold:
            return STAKE_BENEFIT_PCT[i]
    return STAKE_BENEFIT_PCT[-1]


def determine_perp_fee_tier(
    total_30d_volume: int, staked_gov_token_amount: int, fee_structure: FeeStructure
) -> FeeTier:
    """math/fees.rs `determine_perp_fee_tier`: the volume tier, then the stake benefit."""
    index = len(VOLUME_THRESHOLDS)
    for i, threshold in enumerate(VOLUME_THRESHOLDS):
        if total_30d_volume < threshold:
            index = i
            break
    tier = fee_structure.tier(index)
    benefit = _stake_benefit(staked_gov_token_amount)
    if benefit == 0:
        return tier
    divisor = {5: 20, 10: 10, 20: 5}.get(benefit)
    if divisor is not None:  # the program's "fast path": no multiplication
        fee = max(0, tier.fee_numerator - _ceil_div(tier.fee_numerator, divisor))
        rebate = tier.maker_rebate_numerator + tier.maker_rebate_numerator // divisor
    else:  # 30 %, 40 %: the fee numerator rounds *up*
        fee = _ceil_div(tier.fee_numerator * (100 - benefit), 100)
        rebate = tier.maker_rebate_numerator * (100 + benefit) // 100
    return replace(tier, fee_numerator=fee, maker_rebate_numerator=rebate)


def determine_user_fee_tier(
    user_stats: Any, fee_structure: FeeStructure, spot: bool, high_leverage_mode: bool = False
) -> FeeTier:
    """math/fees.rs `determine_user_fee_tier` over a driftpy `UserStats`: spot markets
    and high-leverage-mode users take tier 0; perps follow volume and stake."""
    if spot or high_leverage_mode:
        return fee_structure.tier(0)
    volume = user_stats.taker_volume30d + user_stats.maker_volume30d
    return determine_perp_fee_tier(volume, user_stats.if_staked_gov_token_amount, fee_structure)


# --------------------------------------------------------------------------- fees


def taker_fee(quote_asset_amount: int, tier: FeeTier, fee_adjustment: int = 0) -> int:
    """math/fees.rs `calculate_taker_fee`: ceil(quote x num / den), then the market's
    adjustment (a discount floors what it removes, a surcharge ceils what it adds)."""
    fee = _ceil_div(quote_asset_amount * tier.fee_numerator, tier.fee_denominator)
    if fee_adjustment < 0:
        fee = max(0, fee - fee * -fee_adjustment // FEE_ADJUSTMENT_MAX)
    elif fee_adjustment > 0:
        fee += _ceil_div(fee * fee_adjustment, FEE_ADJUSTMENT_MAX)
    return fee


def maker_rebate(quote_asset_amount: int, tier: FeeTier, fee_adjustment: int = 0) -> int:
    """math/fees.rs `calculate_maker_rebate`: floor(quote x num / den), then the market's
    adjustment (a cut ceils what it removes, a bonus floors what it adds)."""
    rebate = quote_asset_amount * tier.maker_rebate_numerator // tier.maker_rebate_denominator
    if fee_adjustment < 0:
        rebate = max(0, rebate - _ceil_div(rebate * -fee_adjustment, FEE_ADJUSTMENT_MAX))
    elif fee_adjustment > 0:
        rebate += rebate * fee_adjustment // FEE_ADJUSTMENT_MAX
    return rebate


def _proportion(value: int, numerator: int, denominator: int) -> int:
    """math/helpers.rs `get_proportion_u128`: floor(value x num / den) in every branch."""
    return value if numerator == denominator else value * numerator // denominator


def referee_fee_and_referrer_reward(
    fee: int,
    tier: FeeTier,
    referrer_reward_epoch_upper_bound: int,
    referrer_current_epoch_reward: int | None = None,
) -> tuple[int, int, int]:
    """math/fees.rs `calculate_referee_fee_and_referrer_reward`:
    (fee after the referee discount, referee discount, referrer reward)."""
    discount = _proportion(fee, tier.referee_fee_numerator, tier.referee_fee_denominator)
    max_reward = _proportion(fee, tier.referrer_reward_numerator, tier.referrer_reward_denominator)
    reward = max_reward
    if referrer_current_epoch_reward is not None:
        room = max(0, referrer_reward_epoch_upper_bound - referrer_current_epoch_reward)
        reward = min(max_reward, room)
    return fee - discount, discount, reward


def filler_reward(
    fee: int,
    order_slot: int,
    clock_slot: int,
    multiplier: int,
    structure: FillerRewardStructure,
) -> int:
    """math/fees.rs `calculate_filler_reward`: the lesser of a share of the fee and a
    reward growing with the fourth root of the order's age in slots."""
    size_reward = fee * structure.reward_numerator // structure.reward_denominator
    scale = max(TEN_BPS, min(multiplier, TEN_BPS * 100))
    min_time_reward = structure.time_based_reward_lower_bound * scale // TEN_BPS
    slots = max(1, clock_slot - order_slot)
    fourth_root = isqrt(isqrt(slots * 100_000_000))  # num_integer nth_root(4): floor
    time_reward = fourth_root * min_time_reward // 100
    return min(size_reward, time_reward)


@dataclass(frozen=True, slots=True)
class FillFees:
    """math/fees.rs `FillFees` (QUOTE 1e6)."""

    user_fee: int
    maker_rebate: int
    fee_to_market: int
    fee_to_market_for_lp: int
    filler_reward: int
    referrer_reward: int
    referee_discount: int


def fee_for_fulfillment_with_match(
    taker_stats: Any,
    maker_stats: Any | None,
    quote_asset_amount: int,
    fee_structure: FeeStructure,
    *,
    order_slot: int = 0,
    clock_slot: int = 0,
    filler_multiplier: int = 0,
    reward_referrer: bool = False,
    referrer_current_epoch_reward: int | None = None,
    spot: bool = False,
    fee_adjustment: int = 0,
    user_high_leverage_mode: bool = False,
) -> FillFees:
    """math/fees.rs `calculate_fee_for_fulfillment_with_match`: a taker matched against
    a maker order (the maker's tier ignores high leverage mode)."""
    taker_tier = determine_user_fee_tier(taker_stats, fee_structure, spot, user_high_leverage_mode)
    maker_tier = determine_user_fee_tier(
        maker_stats if maker_stats is not None else taker_stats, fee_structure, spot, False
    )
    fee = taker_fee(quote_asset_amount, taker_tier, fee_adjustment)
    if user_high_leverage_mode:
        fee *= 2
    discount = reward = 0
    if reward_referrer:
        fee, discount, reward = referee_fee_and_referrer_reward(
            fee,
            taker_tier,
            fee_structure.referrer_reward_epoch_upper_bound,
            referrer_current_epoch_reward,
        )
    rebate = maker_rebate(quote_asset_amount, maker_tier, fee_adjustment)
    filler = 0
    if filler_multiplier != 0:
        filler = filler_reward(
            fee, order_slot, clock_slot, filler_multiplier, fee_structure.filler_reward_structure
        )
    to_market = fee - filler - reward - rebate
    if to_market < 0:
        raise ValueError(f"fee to market would be negative ({to_market}): the program fails")
    return FillFees(fee, rebate, to_market, 0, filler, reward, discount)


def fee_for_fulfillment_with_amm(
    user_stats: Any,
    quote_asset_amount: int,
    fee_structure: FeeStructure,
    *,
    order_slot: int = 0,
    clock_slot: int = 0,
    reward_filler: bool = False,
    reward_referrer: bool = False,
    referrer_current_epoch_reward: int | None = None,
    quote_asset_amount_surplus: int = 0,
    is_post_only: bool = False,
    fee_adjustment: int = 0,
    user_high_leverage_mode: bool = False,
) -> FillFees:
    """math/fees.rs `calculate_fee_for_fulfillment_with_amm`: a perp order filled by the
    AMM (a post-only order filled by it is a maker and earns the rebate)."""
    tier = determine_user_fee_tier(user_stats, fee_structure, False, user_high_leverage_mode)
    structure = fee_structure.filler_reward_structure
    if is_post_only:
        rebate = maker_rebate(quote_asset_amount, tier, fee_adjustment)
        fee = quote_asset_amount_surplus - rebate
        if fee < 0:
            raise ValueError(
                f"surplus {quote_asset_amount_surplus} below the maker rebate {rebate}"
            )
        filler = filler_reward(fee, order_slot, clock_slot, 0, structure) if reward_filler else 0
        return FillFees(0, rebate, fee - filler, 0, filler, 0, 0)
    fee = taker_fee(quote_asset_amount, tier, fee_adjustment)
    if user_high_leverage_mode:
        fee *= 2
    discount = reward = 0
    if reward_referrer:
        fee, discount, reward = referee_fee_and_referrer_reward(
            fee,
            tier,
            fee_structure.referrer_reward_epoch_upper_bound,
            referrer_current_epoch_reward,
        )
    filler = filler_reward(fee, order_slot, clock_slot, 0, structure) if reward_filler else 0
    to_market = fee - filler - reward + quote_asset_amount_surplus
    return FillFees(
        fee, 0, to_market, to_market - quote_asset_amount_surplus, filler, reward, discount
    )
