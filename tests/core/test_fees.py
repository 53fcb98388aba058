"""core/fees.py against the program: `programs/drift/src/math/fees/tests.rs` (protocol-v2
`0ae3e3b1`, 2026-04-01) reproduced case by case, the documented mainnet tiers, and the
places where driftpy's fee tier differs from the program.

Not reproduced: the Rust module `calculate_fee_for_fulfillment_with_serum` (fills against
an external order book, which no engine of ours makes).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drift_engine.core.fees import (
    FEE_DENOMINATOR,
    FEE_PERCENTAGE_DENOMINATOR,
    FeeStructure,
    FeeTier,
    FillerRewardStructure,
    FillFees,
    determine_perp_fee_tier,
    determine_user_fee_tier,
    fee_for_fulfillment_with_amm,
    fee_for_fulfillment_with_match,
    mainnet_perp_fee_structure,
    maker_rebate,
    program_default_perp_fee_structure,
    taker_fee,
)

QUOTE = 10**6


def stats(taker_volume=0, maker_volume=0, staked=0) -> SimpleNamespace:
    """The UserStats fields the fee rules read (`UserStats::default()` when empty)."""
    return SimpleNamespace(
        taker_volume30d=taker_volume,
        maker_volume30d=maker_volume,
        if_staked_gov_token_amount=staked,
    )


def test_default(**filler) -> FeeStructure:
    """`FeeStructure::test_default()` (state/state.rs): 10 bps taker, 6 bps maker rebate,
    10 % referrer reward and referee discount; the rest from `perps_default()`."""
    base = program_default_perp_fee_structure()
    tier0 = FeeTier(
        fee_numerator=100,
        fee_denominator=FEE_DENOMINATOR,
        maker_rebate_numerator=60,
        maker_rebate_denominator=FEE_DENOMINATOR,
        referrer_reward_numerator=10,
        referrer_reward_denominator=FEE_PERCENTAGE_DENOMINATOR,
        referee_fee_numerator=10,
        referee_fee_denominator=FEE_PERCENTAGE_DENOMINATOR,
    )
    structure = FillerRewardStructure(
        **{"reward_numerator": 10, "reward_denominator": 100, **filler}
    )
    return FeeStructure(
        (tier0,),
        structure,
        base.flat_filler_fee,
        base.referrer_reward_epoch_upper_bound,
    )


test_default.__test__ = False  # a fixture builder, not a test


def match(quote=100 * QUOTE, *, structure=None, slot=0, filler=0, referrer=False, adj=0, hlm=False):
    """`calculate_fee_for_fulfillment_with_match` with the Rust tests' argument order."""
    return fee_for_fulfillment_with_match(
        stats(),
        stats(),
        quote,
        structure or test_default(),
        order_slot=0,
        clock_slot=slot,
        filler_multiplier=filler,
        reward_referrer=referrer,
        fee_adjustment=adj,
        user_high_leverage_mode=hlm,
    )


def amm(quote=100 * QUOTE, *, slot=60, filler=False, referrer=False, adj=0, hlm=False):
    return fee_for_fulfillment_with_amm(
        stats(),
        quote,
        test_default(),
        order_slot=0,
        clock_slot=slot,
        reward_filler=filler,
        reward_referrer=referrer,
        fee_adjustment=adj,
        user_high_leverage_mode=hlm,
    )


def fees(user, rebate, to_market, filler, referrer, discount) -> FillFees:
    return FillFees(user, rebate, to_market, 0, filler, referrer, discount)


# ------------------------------------------------- mod calculate_fee_for_taker_and_maker


def test_no_filler():
    assert match() == fees(100000, 60000, 40000, 0, 0, 0)


def test_filler_size_reward():
    structure = test_default(time_based_reward_lower_bound=10_000_000_000_000_000)
    assert match(structure=structure, filler=1) == fees(100000, 60000, 30000, 10000, 0, 0)


def test_time_reward_no_time_passed():
    structure = test_default(reward_numerator=1, reward_denominator=1)
    assert match(structure=structure, filler=1) == fees(100000, 60000, 30000, 10000, 0, 0)


def test_time_reward_time_passed():
    structure = test_default(reward_numerator=1, reward_denominator=1)
    # fourth root of 60 slots x 1e8 = 278; x 10_000 / 100 = 27_800
    got = match(structure=structure, slot=60, filler=1)
    assert got == fees(100000, 60000, 12200, 27800, 0, 0)


def test_referrer():
    assert match(referrer=True) == fees(90000, 60000, 20000, 0, 10000, 10000)


def test_fee_adjustment():
    assert match(adj=-50) == fees(50000, 30000, 20000, 0, 0, 0)
    assert match(adj=50) == fees(150000, 90000, 60000, 0, 0, 0)
    assert match(adj=-50, referrer=True) == fees(45000, 30000, 10000, 0, 5000, 5000)
    assert match(adj=-50, referrer=True, filler=1) == fees(45000, 30000, 5500, 4500, 5000, 5000)


def test_fee_adjustment_free():
    zero = fees(0, 0, 0, 0, 0, 0)
    assert match(adj=-100) == zero
    assert match(adj=-100, hlm=True) == zero
    assert match(adj=-100, referrer=True) == zero
    assert match(adj=-100, referrer=True, filler=1) == zero


def test_high_leverage_mode_with_match():
    # the taker pays twice the (halved) tier-0 fee; the maker's rebate is not doubled
    assert match(adj=-50, hlm=True, filler=1) == fees(100000, 30000, 60000, 10000, 0, 0)


# ------------------------------------------ mod calculate_fee_for_order_fulfill_against_amm


def test_amm_referrer():
    got = amm(referrer=True)
    assert (got.user_fee, got.fee_to_market, got.filler_reward) == (90000, 80000, 0)
    assert (got.referrer_reward, got.referee_discount) == (10000, 10000)


def test_amm_fee_adjustment():
    got = amm(adj=-50)
    assert (got.user_fee, got.fee_to_market, got.filler_reward, got.referrer_reward) == (
        50000,
        50000,
        0,
        0,
    )
    got = amm(adj=50)
    assert (got.user_fee, got.fee_to_market) == (150000, 150000)
    got = amm(adj=-50, referrer=True)
    assert (got.user_fee, got.fee_to_market, got.referrer_reward, got.referee_discount) == (
        45000,
        40000,
        5000,
        5000,
    )
    got = amm(adj=-50, referrer=True, filler=True)
    assert (got.user_fee, got.fee_to_market, got.filler_reward) == (45000, 35500, 4500)
    assert (got.referrer_reward, got.referee_discount) == (5000, 5000)


def test_amm_high_leverage_mode():
    got = amm(adj=-50, hlm=True)
    assert (got.user_fee, got.fee_to_market, got.filler_reward, got.referrer_reward) == (
        100000,
        100000,
        0,
        0,
    )


# ------------------------------------------------------------- mod calcuate_fee_tiers


def _rust_test_tiers() -> FeeStructure:
    """The tiers of `test_calc_taker_tiers`: 3.5 / 3 / 2.75 / 2.5 / 2.25 / 2 bps taker,
    0.25 bps maker rebate, 10 % referrer, 5 % referee."""
    numerators = [(35, FEE_DENOMINATOR), (30, FEE_DENOMINATOR), (275, FEE_DENOMINATOR * 10)]
    numerators += [(25, FEE_DENOMINATOR), (225, FEE_DENOMINATOR * 10), (20, FEE_DENOMINATOR)]
    tiers = tuple(
        FeeTier(
            fee_numerator=n,
            fee_denominator=d,
            maker_rebate_numerator=25,
            maker_rebate_denominator=FEE_DENOMINATOR * 10,
            referrer_reward_numerator=10,
            referee_fee_numerator=5,
        )
        for n, d in numerators
    )
    return FeeStructure(tiers, FillerRewardStructure(10, 100, 10_000), 10_000, 150_000 * QUOTE)


def test_calc_taker_tiers():
    structure = _rust_test_tiers()
    s = stats()

    def tier(hlm=False):
        t = determine_user_fee_tier(s, structure, spot=False, high_leverage_mode=hlm)
        return (t.fee_numerator, t.fee_denominator, t.maker_rebate_numerator)

    assert tier() == (35, 100000, 25)
    s.taker_volume30d = 70_000_000 * QUOTE
    assert tier() == (25, 100000, 25)
    s.if_staked_gov_token_amount = 50_000 * QUOTE - 8970  # still counts for the 50K tier
    assert tier() == (20, 100000, 30)
    s.if_staked_gov_token_amount = 150_000 * QUOTE - 8970  # still counts for the 100K tier
    assert tier() == (18, 100000, 32)
    s.if_staked_gov_token_amount = 800_000 * QUOTE
    assert tier() == (15, 100000, 35)
    s.taker_volume30d = 280_000_000 * QUOTE
    assert tier() == (12, 100000, 35)
    assert tier(hlm=True) == (35, 100000, 25)


# --------------------------------------------------------------------- mainnet tiers


@pytest.mark.parametrize(
    ("volume_usd", "taker_bps_x100"),
    [
        (0, 350),
        (1_999_999, 350),
        (2_000_000, 300),  # "> $2M" in the docs: the program's `volume < threshold` check
        (10_000_000, 275),
        (20_000_000, 250),
        (80_000_000, 225),
        (200_000_000, 200),
        (10_000_000_000, 200),
    ],
)
def test_documented_mainnet_tiers(volume_usd, taker_bps_x100):
    structure = mainnet_perp_fee_structure()
    tier = determine_perp_fee_tier(volume_usd * QUOTE, 0, structure)
    assert (tier.fee_numerator, tier.fee_denominator) == (taker_bps_x100, 1_000_000)
    assert (tier.maker_rebate_numerator, tier.maker_rebate_denominator) == (25, 1_000_000)
    # $10,000 taker fill: 3.5 bps -> $3.50
    assert taker_fee(10_000 * QUOTE, tier) == 10_000 * QUOTE * taker_bps_x100 // 1_000_000
    assert maker_rebate(10_000 * QUOTE, tier) == 250_000  # 0.25 bps: $0.25


def test_mainnet_structure_records_its_source():
    structure = mainnet_perp_fee_structure()
    assert "docs.drift.trade" in structure.source
    assert len(structure.fee_tiers) == 6


@pytest.mark.parametrize(
    ("staked", "fee", "rebate"),
    [
        (998 * QUOTE, 350, 25),  # below 999 DRIFT
        (999 * QUOTE, 332, 26),  # 5 %: 350 - ceil(350 / 20) = 332; 25 + 25 // 20 = 26
        (9_999 * QUOTE, 315, 27),  # 10 %: 350 - 35
        (49_999 * QUOTE, 280, 30),  # 20 %: 350 - 70
        (99_999 * QUOTE, 245, 32),  # 30 %: ceil(350 x 70 / 100) = 245; 25 x 130 // 100
        (249_995 * QUOTE, 210, 35),  # 40 %: ceil(350 x 60 / 100) = 210
    ],
)
def test_stake_benefits_on_mainnet_tier_one(staked, fee, rebate):
    tier = determine_perp_fee_tier(0, staked, mainnet_perp_fee_structure())
    assert (tier.fee_numerator, tier.maker_rebate_numerator) == (fee, rebate)


def test_30_and_40_percent_stake_discounts_round_up_where_driftpy_floors():
    """drift-notes.md: with 30 %/40 % discounts the program rounds the fee numerator up
    (`safe_div_ceil`), driftpy's `DriftUser.get_user_fee_tier` floors it: with a 2.75 bps
    tier (275 / 1e6) the program keeps ceil(192.5) = 193, driftpy 192."""
    from driftpy.types import MarketType as DpMarketType

    from drift_engine.sim import DriftSimulator

    structure = mainnet_perp_fee_structure()  # tier index 2: 275 / 1e6
    sim = DriftSimulator({"SOL-PERP": 100 * QUOTE}, ts=0, perp_fee_structure=structure)
    key = sim.open_account()
    user_stats = sim.user_stats()
    user_stats.taker_volume30d = 10_000_000 * QUOTE
    user_stats.last_taker_volume30d_ts = user_stats.last_maker_volume30d_ts = 1_000
    user_stats.if_staked_gov_token_amount = 100_000 * QUOTE  # 30 %
    ours = determine_user_fee_tier(user_stats, structure, spot=False)
    assert ours.fee_numerator == 193  # ceil(275 x 70 / 100)

    drift_user = sim.drift_user(key)
    # driftpy's DriftUser reads UserStats through its client: hand it the same account
    client = drift_user.drift_client
    client.user_stats[client.authority] = SimpleNamespace(get_account=lambda: user_stats)
    theirs = drift_user.get_user_fee_tier(DpMarketType.Perp(), now=1_000)
    assert theirs.fee_numerator == 192  # floor(275 x 70 / 100)
    # on a $1M fill the program charges $193, driftpy's tier says $192
    assert taker_fee(1_000_000 * QUOTE, ours) == 193 * QUOTE
    assert taker_fee(1_000_000 * QUOTE, FeeTier(192, 1_000_000)) == 192 * QUOTE


# --------------------------------------------------------------------- rounding and config


def test_taker_fee_rounds_up_and_maker_rebate_down():
    tier = FeeTier(
        fee_numerator=350,
        fee_denominator=1_000_000,
        maker_rebate_numerator=25,
        maker_rebate_denominator=1_000_000,
    )
    assert taker_fee(1, tier) == 1  # ceil(350 / 1e6)
    assert maker_rebate(39_999, tier) == 0  # floor(0.999975)
    # fee adjustment: a discount floors what it removes, a surcharge ceils what it adds
    assert taker_fee(3 * QUOTE, FeeTier(fee_numerator=100_000)) == 3 * QUOTE
    assert taker_fee(3, FeeTier(fee_numerator=100_000), -50) == 2  # 3 - floor(1.5)
    assert taker_fee(3, FeeTier(fee_numerator=100_000), 50) == 5  # 3 + ceil(1.5)
    rebate_tier = FeeTier(0, maker_rebate_numerator=100_000)
    assert maker_rebate(3, rebate_tier, -50) == 1  # 3 - ceil(1.5)
    assert maker_rebate(3, rebate_tier, 50) == 4  # 3 + floor(1.5)


def test_fee_structure_from_percentages_is_exact_or_refuses():
    s = FeeStructure.from_percentages(["0.0275"], ["0.0025"])
    assert (s.fee_tiers[0].fee_numerator, s.fee_tiers[0].fee_denominator) == (275, 1_000_000)
    with pytest.raises(ValueError, match="whole number"):
        FeeStructure.from_percentages(["0.00001"], ["0"])
    with pytest.raises(ValueError, match="1 to 10 tiers"):
        FeeStructure(())


def test_fee_structure_round_trips_through_the_state_account():
    from drift_engine.core.accounts import make_state

    structure = mainnet_perp_fee_structure()
    state = make_state(perp_fee_structure=structure)
    back = FeeStructure.from_account(state.perp_fee_structure, structure.source)
    assert back == structure
    # the program reads a fixed array of 10 tiers: the rest are FeeTier::default()
    assert state.perp_fee_structure.fee_tiers[6].fee_numerator == 0
    assert state.perp_fee_structure.fee_tiers[6].fee_denominator == FEE_DENOMINATOR


def test_high_leverage_maintenance_mode_keeps_the_volume_tier_where_driftpy_drops_it():
    """controller/orders.rs reads the user's mode for the Initial requirement:
    `HighLeverageMaintenance` is not high leverage there, so the volume tier applies and
    the fee is not doubled. driftpy's `get_user_fee_tier` asks with Maintenance and falls
    back to tier 0."""
    from driftpy.types import MarginMode
    from driftpy.types import MarketType as DpMarketType

    from drift_engine.sim import DriftSimulator
    from drift_engine.sim.pricing import PriceModel

    sim = DriftSimulator({"SOL-PERP": 100 * QUOTE}, ts=1_000, default_price_model=PriceModel(0, 0))
    key = sim.open_account()
    sim.deposit(key, "USDC", 10_000 * QUOTE, 1_000)
    user_stats = sim.user_stats()
    user_stats.taker_volume30d = 200_000_000 * QUOTE  # VIP: 2 bps
    user_stats.last_taker_volume30d_ts = 1_000
    sim.user(key).margin_mode = MarginMode.HighLeverageMaintenance()
    from drift_engine.core.types import MarketType, OrderIntent, PositionDirection

    order = OrderIntent(0, MarketType.PERP, PositionDirection.LONG, 10 * 10**9)
    (fill,) = sim.place_order(key, order, 1_000).fills
    assert fill.fee == 1_000 * QUOTE * 200 // 1_000_000  # $0.20: the VIP tier, not doubled

    drift_user = sim.drift_user(key)
    client = drift_user.drift_client
    client.user_stats[client.authority] = SimpleNamespace(get_account=lambda: user_stats)
    theirs = drift_user.get_user_fee_tier(DpMarketType.Perp(), now=1_000)
    assert (theirs.fee_numerator, theirs.fee_denominator) == (350, 1_000_000)  # tier 0


# --------------------------------------------------------------------- properties


@given(
    volume=st.integers(0, 10**15),
    staked=st.integers(0, 10**12),
    quote=st.integers(0, 10**13),
    adjustment=st.integers(-100, 100),
)
def test_stake_never_raises_the_fee_and_fees_stay_in_bounds(volume, staked, quote, adjustment):
    structure = mainnet_perp_fee_structure()
    plain = determine_perp_fee_tier(volume, 0, structure)
    staked_tier = determine_perp_fee_tier(volume, staked, structure)
    assert staked_tier.fee_numerator <= plain.fee_numerator
    assert staked_tier.maker_rebate_numerator >= plain.maker_rebate_numerator
    fee = taker_fee(quote, staked_tier, adjustment)
    base_fee = taker_fee(quote, staked_tier)
    assert 0 <= fee <= 2 * base_fee
    if adjustment == -100:
        assert fee == 0
    rebate = maker_rebate(quote, staked_tier, adjustment)
    assert 0 <= rebate <= quote * staked_tier.maker_rebate_numerator * 2 // 10**6


# ------------------------------------------- by hand: tiers by volume, referrer cap, post-only

TIER0 = FeeTier(100, maker_rebate_numerator=60, referrer_reward_numerator=10,
                referee_fee_numerator=10)  # fmt: skip
TIER1 = FeeTier(80, maker_rebate_numerator=70, referrer_reward_numerator=20,
                referee_fee_numerator=5)  # fmt: skip
FILLER = FillerRewardStructure(10, 100, 10_000)
ODD_QUOTE = 123_456_789  # $123.456789: no fee below divides exactly


def two_tiers(**kw) -> FeeStructure:
    return FeeStructure((TIER0, TIER1), FILLER, **kw)


def tier1_stats():
    # 1.5M + 0.6M = $2.1M of 30-day volume: tier 1 (from $2M); taker - maker would be tier 0
    return stats(taker_volume=1_500_000 * QUOTE, maker_volume=600_000 * QUOTE)


def test_amm_fill_with_only_the_required_arguments():
    # ceil(100e6 x 100 / 1e5) = 100_000, all to the market (and its LP share)
    got = fee_for_fulfillment_with_amm(stats(), 100 * QUOTE, two_tiers())
    assert got == FillFees(100_000, 0, 100_000, 100_000, 0, 0, 0)


def test_amm_fill_by_volume_tier_with_a_surplus():
    # tier 1: ceil(123_456_789 x 80 / 1e5) = ceil(98_765.43) = 98_766; the AMM's surplus
    # 3_333 goes to the market on top, not to its LP share
    got = fee_for_fulfillment_with_amm(
        tier1_stats(), ODD_QUOTE, two_tiers(), quote_asset_amount_surplus=3_333
    )
    assert got == FillFees(98_766, 0, 102_099, 98_766, 0, 0, 0)
    # high leverage mode: tier 0 whatever the volume, doubled: 2 x ceil(123_456.789)
    got = fee_for_fulfillment_with_amm(
        tier1_stats(),
        ODD_QUOTE,
        two_tiers(),
        quote_asset_amount_surplus=3_333,
        user_high_leverage_mode=True,
    )
    assert got == FillFees(246_914, 0, 250_247, 246_914, 0, 0, 0)


def test_amm_fill_referrer_reward_capped_by_the_epoch_room():
    structure = two_tiers()
    bound = structure.referrer_reward_epoch_upper_bound
    # tier 1 fee 98_766: referee discount floor(5 %) = 4_938 -> 93_828; the referrer's 20 %
    # (19_753) is capped at the 3_000 left in the epoch
    got = fee_for_fulfillment_with_amm(
        tier1_stats(),
        ODD_QUOTE,
        structure,
        reward_referrer=True,
        referrer_current_epoch_reward=bound - 3_000,
    )
    assert got == FillFees(93_828, 0, 90_828, 90_828, 0, 3_000, 4_938)
    # an epoch already past its bound leaves no room (not a negative one)
    got = fee_for_fulfillment_with_amm(
        tier1_stats(),
        ODD_QUOTE,
        structure,
        reward_referrer=True,
        referrer_current_epoch_reward=bound + 5,
    )
    assert got == FillFees(93_828, 0, 93_828, 93_828, 0, 0, 4_938)


def test_post_only_order_filled_by_the_amm_earns_the_rebate_from_the_surplus():
    # tier 1 rebate floor(123_456_789 x 70 / 1e5) = 86_419; surplus 100_000 -> 13_581 to the
    # market; the filler takes min(10 % = 1_358, time reward 278 x 10_000 / 100 = 27_800)
    got = fee_for_fulfillment_with_amm(
        tier1_stats(),
        ODD_QUOTE,
        two_tiers(),
        quote_asset_amount_surplus=100_000,
        is_post_only=True,
        reward_filler=True,
        order_slot=0,
        clock_slot=60,
    )
    assert got == FillFees(0, 86_419, 12_223, 0, 1_358, 0, 0)
    got = fee_for_fulfillment_with_amm(
        tier1_stats(), ODD_QUOTE, two_tiers(), quote_asset_amount_surplus=100_000, is_post_only=True
    )
    assert got == FillFees(0, 86_419, 13_581, 0, 0, 0, 0)
    # a surplus exactly the rebate leaves the market nothing; one less fails like the program
    got = fee_for_fulfillment_with_amm(
        tier1_stats(), ODD_QUOTE, two_tiers(), quote_asset_amount_surplus=86_419, is_post_only=True
    )
    assert got == FillFees(0, 86_419, 0, 0, 0, 0, 0)
    with pytest.raises(ValueError, match="surplus 86418 below the maker rebate 86419"):
        fee_for_fulfillment_with_amm(
            tier1_stats(),
            ODD_QUOTE,
            two_tiers(),
            quote_asset_amount_surplus=86_418,
            is_post_only=True,
        )


def test_match_with_only_the_required_arguments_uses_the_takers_stats_for_the_maker():
    # both tier 1: fee 80_000, rebate 70_000, 10_000 to the market
    got = fee_for_fulfillment_with_match(tier1_stats(), None, 100 * QUOTE, two_tiers())
    assert got == FillFees(80_000, 70_000, 10_000, 0, 0, 0, 0)


def test_match_taker_and_maker_each_on_their_own_tier():
    # taker tier 0 (no volume): 100_000; maker tier 1: 70_000
    got = fee_for_fulfillment_with_match(stats(), tier1_stats(), 100 * QUOTE, two_tiers())
    assert got == FillFees(100_000, 70_000, 30_000, 0, 0, 0, 0)
    # spot: both tier 0 whatever their volume
    got = fee_for_fulfillment_with_match(
        tier1_stats(), tier1_stats(), 100 * QUOTE, two_tiers(), spot=True
    )
    assert got == FillFees(100_000, 60_000, 40_000, 0, 0, 0, 0)
    # a high-leverage taker: tier 0 doubled; the maker keeps its volume tier
    got = fee_for_fulfillment_with_match(
        tier1_stats(), None, 100 * QUOTE, two_tiers(), user_high_leverage_mode=True
    )
    assert got == FillFees(200_000, 70_000, 130_000, 0, 0, 0, 0)


def test_match_referrer_reward_capped_by_the_epoch_room():
    structure = two_tiers()
    # tier 1 taker 80_000: discount 4_000 -> 76_000; reward min(16_000, room 2_500)
    got = fee_for_fulfillment_with_match(
        tier1_stats(),
        None,
        100 * QUOTE,
        structure,
        reward_referrer=True,
        referrer_current_epoch_reward=structure.referrer_reward_epoch_upper_bound - 2_500,
    )
    assert got == FillFees(76_000, 70_000, 3_500, 0, 0, 2_500, 4_000)


def test_match_refuses_a_rebate_above_the_fee():
    structure = FeeStructure((FeeTier(50, maker_rebate_numerator=60),), FILLER)
    with pytest.raises(ValueError, match=r"fee to market would be negative \(-10000\)"):
        fee_for_fulfillment_with_match(stats(), None, 100 * QUOTE, structure)


def test_fee_structure_from_a_params_section_with_and_without_the_optional_keys():
    from drift_engine.core.fees import _structure_from_params

    full = _structure_from_params(
        {
            "source": "test",
            "fee_tiers": [{"fee_numerator": 100}],
            "filler_reward_structure": {
                "reward_numerator": 7,
                "reward_denominator": 70,
                "time_based_reward_lower_bound": 123,
            },
            "flat_filler_fee": 9_999,
            "referrer_reward_epoch_upper_bound": 42,
        }
    )
    assert full == FeeStructure(
        (FeeTier(100),), FillerRewardStructure(7, 70, 123), 9_999, 42, "test"
    )
    bare = _structure_from_params(
        {"source": "pct", "taker_fee_pct": ["0.0350"], "maker_rebate_pct": ["0.0020"],
         "denominator": 100_000}
    )  # fmt: skip
    assert bare == FeeStructure(
        (FeeTier(35, 100_000, 2, 100_000),),
        FillerRewardStructure(10, 100, 10_000),
        10_000,
        150_000 * QUOTE,
        "pct",
    )
    referred = _structure_from_params(
        {"source": "pct", "taker_fee_pct": ["0.0350"], "maker_rebate_pct": ["0.0020"],
         "denominator": 100_000, "referrer_reward_pct": 15, "referee_discount_pct": 5,
         "flat_filler_fee": 9_999}
    )  # fmt: skip
    assert referred.tier(0) == FeeTier(35, 100_000, 2, 100_000, 15, 100, 5, 100)
    assert referred.flat_filler_fee == 9_999


def test_fee_structure_checks_with_their_messages():
    with pytest.raises(ValueError, match="give as many maker rebates as taker fees"):
        FeeStructure.from_percentages(["0.1"], [])
    with pytest.raises(ValueError, match=r"taker fee 0.00001% is not a whole number"):
        FeeStructure.from_percentages(["0.00001"], ["0"])
    with pytest.raises(ValueError, match=r"maker rebate 0.00001% is not a whole number"):
        FeeStructure.from_percentages(["0.1"], ["0.00001"])
    zero = FeeStructure.from_percentages(["0"], ["0"])  # a free tier is allowed
    assert zero.tier(0) == FeeTier(0, 1_000_000, 0, 1_000_000)
    assert zero.source == "" and zero.flat_filler_fee == 10_000
    assert len(FeeStructure((TIER0,) * 10).fee_tiers) == 10
    with pytest.raises(ValueError, match="a fee structure has 1 to 10 tiers, got 11"):
        FeeStructure((TIER0,) * 11)
    with pytest.raises(ValueError, match="fee tier fee_numerator must be a non-negative integer"):
        FeeTier(-1)
    with pytest.raises(ValueError, match="fee tier fee_numerator must be a non-negative integer"):
        FeeTier(True)
    with pytest.raises(ValueError, match="fee tier fee_numerator must be a non-negative integer"):
        FeeTier(1.5)
    with pytest.raises(ValueError, match="fee tier fee_denominator must be positive"):
        FeeTier(1, fee_denominator=0)
    assert FeeTier(1, fee_denominator=1).fee_denominator == 1


def test_filler_reward_by_hand():
    from drift_engine.core.fees import filler_reward

    # age 160 - 100 = 60 slots: fourth root of 60e8 = 278 (floor of 278.3)
    # multiplier 12_345 (between TEN_BPS and its 100x cap): 7 x 12_345 / 1_000 = 86.4 -> 86;
    # 278 x 86 / 100 = 239.08 -> 239, below the 100 % size share
    got = filler_reward(123_457, 100, 160, 12_345, FillerRewardStructure(1, 1, 7))
    assert got == 239 and type(got) is int
    # a multiplier above 100 x TEN_BPS is capped: 7 x 100_000 / 1_000 = 700 -> 278 x 7 = 1_946
    assert filler_reward(123_457, 100, 160, 250_000, FillerRewardStructure(1, 1, 7)) == 1_946
    # the size share binds: 100 x 1 / 3 = 33.3 -> 33
    got = filler_reward(100, 100, 160, 0, FillerRewardStructure(1, 3, 10**12))
    assert got == 33 and type(got) is int


def test_perp_fee_tier_stake_discounts_on_an_odd_numerator():
    structure = FeeStructure((FeeTier(33, maker_rebate_numerator=100),))
    drift = QUOTE  # DRIFT has 6 decimals
    # 10 %: 33 - ceil(3.3) = 29 (the program's fast path; 90 % rounded up would be 30)
    tier = determine_perp_fee_tier(0, 10_000 * drift, structure)
    assert (tier.fee_numerator, tier.maker_rebate_numerator) == (29, 110)
    # 20 %: 33 - ceil(6.6) = 26 (80 % rounded up would be 27)
    tier = determine_perp_fee_tier(0, 50_000 * drift, structure)
    assert (tier.fee_numerator, tier.maker_rebate_numerator) == (26, 120)
    # 30 %: ceil(33 x 70 / 100) = ceil(23.1) = 24; rebate 100 x 130 / 100 = 130
    tier = determine_perp_fee_tier(0, 100_000 * drift, structure)
    assert (tier.fee_numerator, tier.maker_rebate_numerator) == (24, 130)
    # a free tier stays free with a stake discount
    free = FeeStructure((FeeTier(0, maker_rebate_numerator=0),))
    assert determine_perp_fee_tier(0, 1_000 * drift, free).fee_numerator == 0


def test_fee_structure_from_the_state_account_keeps_one_tier_and_the_filler_bound():
    from drift_engine.core.accounts import make_state
    from drift_engine.core.fees import EMPTY_TIER

    one = FeeStructure((TIER0,), FillerRewardStructure(10, 100, 7_777), 9_000, 42)
    back = FeeStructure.from_account(make_state(perp_fee_structure=one).perp_fee_structure)
    # the 9 default slots after it are dropped; the source defaults to "account"
    assert back == FeeStructure(
        (TIER0,), FillerRewardStructure(10, 100, 7_777), 9_000, 42, "account"
    )
    # an all-default array still keeps its first tier
    empty = FeeStructure((EMPTY_TIER,))
    back = FeeStructure.from_account(make_state(perp_fee_structure=empty).perp_fee_structure)
    assert back.fee_tiers == (EMPTY_TIER,)
