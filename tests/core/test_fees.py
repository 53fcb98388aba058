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
