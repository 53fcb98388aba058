"""Taker fees round up, maker rebates round down (`math/fees.rs`), at quotes where it shows.

The fee structure is set in the test (the State account's `FeeTier` numerators, the
program's `FeeStructure::perps_default()` tier 0: taker 100 / 100_000, maker rebate
20 / 100_000) and the market's `fee_adjustment` is 0, so the numbers below are the rule's
and nothing else's.

Fill used: 1.23 SOL at $123.4567 (on the $0.0001 tick and the 0.01 SOL step):
quote = 123_456_700 x 1_230_000_000 / 1e9 = 151_851_741 (exact).
taker fee = ceil(151_851_741 x 100 / 100_000) = ceil(151_851.741) = 151_852 (floor: 151_851)
maker rebate = floor(151_851_741 x 20 / 100_000) = floor(30_370.3482) = 30_370 (ceil: 30_371)
"""

from __future__ import annotations

from drift_engine.sim import rules

from .conftest import QUOTE, T0, discriminates, funded, limit, perp, spot

PRICE_X = 123_456_700
SIZE = 1_230_000_000
QUOTE_X = 151_851_741


def set_tier(tier, *, taker: int, rebate: int, den: int = 100_000) -> None:
    tier.fee_numerator, tier.fee_denominator = taker, den
    tier.maker_rebate_numerator, tier.maker_rebate_denominator = rebate, den


def fee_sim(price: int = PRICE_X):
    """A funded account with tier 0 = taker 100 / rebate 20 per 100_000 on perps and spot."""
    sim, k = funded(price, usdc=10_000 * QUOTE)
    set_tier(sim.state.perp_fee_structure.fee_tiers[0], taker=100, rebate=20)
    set_tier(sim.state.spot_fee_structure.fee_tiers[0], taker=100, rebate=20)
    for market in (sim.perp_market("SOL-PERP"), sim.spot_market("SOL")):
        if hasattr(market, "fee_adjustment"):
            market.fee_adjustment = 0
    return sim, k


def test_case_discriminates_ceil_from_floor():
    assert PRICE_X * SIZE // 10**9 == QUOTE_X and PRICE_X * SIZE % 10**9 == 0
    assert discriminates(QUOTE_X * 100, 100_000) and discriminates(QUOTE_X * 20, 100_000)


def test_taker_fee_rounds_up():
    sim, k = fee_sim()
    (fill,) = sim.place_order(k, perp("long", SIZE), T0 + 1).fills
    assert fill.quote_asset_amount == QUOTE_X and not fill.is_maker
    assert fill.fee == 151_852
    assert sim.user_stats().fees.total_fee_paid == 151_852
    # the fee leaves the position's quote (and break-even) at once
    pos = sim.perp_position(k, "SOL-PERP")
    assert pos.quote_break_even_amount == -QUOTE_X - 151_852


def test_taker_fee_on_a_sell_rounds_up_too():
    sim, k = fee_sim()
    (fill,) = sim.place_order(k, perp("short", SIZE), T0 + 1).fills
    assert fill.quote_asset_amount == QUOTE_X
    assert fill.fee == 151_852


def test_maker_rebate_rounds_down():
    sim, k = fee_sim(125 * 10**6)
    resting = sim.place_order(k, limit("long", SIZE, PRICE_X), T0 + 1)
    assert resting.status == "open" and not resting.fills
    (fill,) = sim.set_oracle_price("SOL", 123_400_000, T0 + 2)  # crosses the bid
    assert fill.is_maker and fill.fill_price == PRICE_X and fill.quote_asset_amount == QUOTE_X
    assert fill.fee == -30_370  # a rebate: negative fee
    assert sim.user_stats().fees.total_fee_rebate == 30_370


def test_spot_taker_fee_rounds_up_and_comes_out_of_usdc():
    sim, k = fee_sim()
    (fill,) = sim.place_order(k, spot("long", SIZE), T0 + 1).fills  # SOL has 9 decimals
    assert fill.quote_asset_amount == QUOTE_X and fill.fee == 151_852
    assert sim.token_amount(k, "USDC") == 10_000 * QUOTE - QUOTE_X - 151_852
    assert sim.user(k).cumulative_spot_fees == -151_852


def test_quote_of_a_fill_floors_for_the_buyer_and_ceils_for_the_seller():
    # math/orders.rs::calculate_quote_asset_amount_for_maker_order, on a price x size that
    # does not divide: 123_456_789 x 1_000_000_001 / 1e9 = 123_456_789.123456789
    assert discriminates(123_456_789 * 1_000_000_001, 10**9)
    assert rules.quote_for_fill(1_000_000_001, 123_456_789, 9, long=True) == 123_456_789
    assert rules.quote_for_fill(1_000_000_001, 123_456_789, 9, long=False) == 123_456_790
    # 6-decimal token: 2_500_001 x 1_999_999 / 1e6 = 5_000_001.4999...
    assert rules.quote_for_fill(2_500_001, 1_999_999, 6, long=True) == 4_999_999
    assert rules.quote_for_fill(2_500_001, 1_999_999, 6, long=False) == 5_000_000


def test_thirty_day_volume_decays_pro_rata_and_floors():
    # state/user.rs update_taker_volume_30d: kept = floor(v x (30d - dt) / 30d) + new quote
    sim, k = fee_sim()
    stats = sim.user_stats()
    stats.taker_volume30d = 1_000_000_000_001
    stats.last_taker_volume30d_ts = T0 - 3_599
    sim.place_order(k, perp("long", SIZE), T0 + 1)  # dt = 3_600 s
    kept = 1_000_000_000_001 * (2_592_000 - 3_600) // 2_592_000
    assert discriminates(1_000_000_000_001 * (2_592_000 - 3_600), 2_592_000)
    assert kept == 998_611_111_112
    assert stats.taker_volume30d == kept + QUOTE_X
    assert stats.last_taker_volume30d_ts == T0 + 1


def test_a_markets_fee_adjustment_rounds_each_way_against_the_user():
    # math/fees.rs: +x % adds ceil(fee x x / 100); -x % removes floor(fee x x / 100); for the
    # maker rebate a cut removes ceil(...) and a bonus adds floor(...). The smallest step:
    # taker 151_852: +1 % -> + ceil(1518.52) = 153_371; -1 % -> - floor(1518.52) = 150_334
    # rebate 30_370: +1 % -> + floor(303.7) = 30_673; -1 % -> - ceil(303.7) = 30_066
    expected = {1: (153_371, -30_673), -1: (150_334, -30_066)}
    for adjustment, (taker, maker) in expected.items():
        sim, k = fee_sim(125 * 10**6)
        sim.perp_market("SOL-PERP").fee_adjustment = adjustment
        sim.place_order(k, limit("long", SIZE, PRICE_X), T0 + 1)
        (made,) = sim.set_oracle_price("SOL", 123_400_000, T0 + 2)
        sim.set_oracle_price("SOL", PRICE_X, T0 + 3)
        (taken,) = sim.place_order(k, perp("short", SIZE), T0 + 4).fills
        assert (taken.fee, made.fee) == (taker, maker), adjustment


def test_fee_adjustment_rule_at_a_third_off_a_third_on_and_a_full_waiver():
    # core.fees directly (math/fees.rs), tier 100 / 20 per 100_000, quote 151_851_741:
    # taker 151_852, rebate 30_370 before the adjustment (module docstring).
    # -37 %: taker - floor(151_852 x 37 / 100 = 56_185.24) = 95_667;
    #        rebate - ceil(30_370 x 37 / 100 = 11_236.9) = 19_133
    # +37 %: taker + ceil(56_185.24) = 208_038; rebate + floor(11_236.9) = 41_606
    # -100 %: both waived entirely: 0 (never below, never a 1-unit remainder)
    from drift_engine.core.fees import FeeTier, maker_rebate, taker_fee

    tier = FeeTier(100, 100_000, 20, 100_000)
    expected = {0: (151_852, 30_370), -37: (95_667, 19_133), 37: (208_038, 41_606), -100: (0, 0)}
    assert discriminates(151_852 * 37, 100) and discriminates(30_370 * 37, 100)
    for adjustment, (taker, rebate) in expected.items():
        got = (taker_fee(QUOTE_X, tier, adjustment), maker_rebate(QUOTE_X, tier, adjustment))
        assert got == (taker, rebate), adjustment
        assert all(type(v) is int for v in got), got  # integers, never a float on the way


# ----------------------------------------------- core/fees.py: fills against the AMM and a maker
# math/fees.rs `calculate_fee_for_fulfillment_with_amm` / `_with_match` (protocol-v2 0ae3e3b1),
# at the fill above (quote 151_851_741) and numerators set here: tier 0 taker 100 / rebate 20,
# tier 1 (30-day volume >= $2M) taker 90 / rebate 25, per 100_000.
#   tier 0: taker ceil(151_851.741) = 151_852, rebate floor(30_370.3482) = 30_370
#   tier 1: taker ceil(136_666.5669) = 136_667, rebate floor(37_962.93525) = 37_962


def _two_tier_structure():
    from drift_engine.core.fees import FeeStructure, FeeTier

    return FeeStructure((FeeTier(100, 100_000, 20, 100_000), FeeTier(90, 100_000, 25, 100_000)))


def _stats(volume_usd: int = 0):
    from types import SimpleNamespace

    # the UserStats fields the fee rule reads
    return SimpleNamespace(
        taker_volume30d=volume_usd * QUOTE, maker_volume30d=0, if_staked_gov_token_amount=0
    )


def test_post_only_fill_by_the_amm_scales_its_rebate_by_the_markets_fee_adjustment():
    # the post-only branch calls calculate_maker_rebate(quote, tier, fee_adjustment) too:
    # -37 %: 30_370 - ceil(11_236.9) = 19_133; surplus 50_000 -> 50_000 - 19_133 = 30_867
    # +37 %: 30_370 + floor(11_236.9) = 41_606 -> 50_000 - 41_606 = 8_394
    # (without the adjustment: 30_370 and 19_630)
    from drift_engine.core.fees import FillFees, fee_for_fulfillment_with_amm

    expected = {
        -37: FillFees(0, 19_133, 30_867, 0, 0, 0, 0),
        37: FillFees(0, 41_606, 8_394, 0, 0, 0, 0),
    }
    for adjustment, fees in expected.items():
        got = fee_for_fulfillment_with_amm(
            _stats(),
            QUOTE_X,
            _two_tier_structure(),
            quote_asset_amount_surplus=50_000,
            is_post_only=True,
            fee_adjustment=adjustment,
        )
        assert got == fees, adjustment


def test_high_leverage_mode_takes_tier_zero_against_the_amm_whatever_the_volume():
    # determine_user_fee_tier: a perp user in high leverage mode takes fee_tiers[0] and pays
    # twice its taker fee: 2 x 151_852 = 303_704 (on its $2M volume tier 1: 2 x 136_667 = 273_334)
    from drift_engine.core.fees import FillFees, fee_for_fulfillment_with_amm

    got = fee_for_fulfillment_with_amm(
        _stats(2_000_000), QUOTE_X, _two_tier_structure(), user_high_leverage_mode=True
    )
    assert got == FillFees(303_704, 0, 303_704, 303_704, 0, 0, 0)
    got = fee_for_fulfillment_with_amm(_stats(2_000_000), QUOTE_X, _two_tier_structure())
    assert got == FillFees(136_667, 0, 136_667, 136_667, 0, 0, 0)


def test_high_leverage_taker_against_a_maker_tier_zero_for_the_taker_only():
    # the taker in high leverage mode: tier 0 doubled = 303_704; the maker's tier ignores the
    # taker's mode: its $2M volume gives tier 1, rebate 37_962; the market keeps
    # 303_704 - 37_962 = 265_742
    from drift_engine.core.fees import FillFees, fee_for_fulfillment_with_match

    got = fee_for_fulfillment_with_match(
        _stats(2_000_000),
        _stats(2_000_000),
        QUOTE_X,
        _two_tier_structure(),
        user_high_leverage_mode=True,
    )
    assert got == FillFees(303_704, 37_962, 265_742, 0, 0, 0, 0)
    # a spot match takes tier 0 for both, whatever their volume: 151_852 - 30_370 = 121_482
    got = fee_for_fulfillment_with_match(
        _stats(2_000_000), _stats(2_000_000), QUOTE_X, _two_tier_structure(), spot=True
    )
    assert got == FillFees(151_852, 30_370, 121_482, 0, 0, 0, 0)


def test_filler_reward_floors_the_fourth_root_of_the_order_age_times_1e8():
    # calculate_filler_reward: time reward = nth_root(slots x 1e8, 4) x min_time_reward / 100.
    # An order 235_109 slots old (~26 h): slots x 1e8 = 23_510_900_000_000 sits 230_416 below
    # 2202^4 = 23_510_900_230_416, so the root floors to 2201: 2201 x 10_000 / 100 = 220_100
    # (a scale one unit above 1e8 would add 235_109 and reach 2202: 220_200).
    # The size share (10 % of the fee 10_000_000 = 1_000_000) does not bind.
    from drift_engine.core.fees import FillerRewardStructure, filler_reward

    assert 2201**4 <= 235_109 * 10**8 < 2202**4 == 235_109 * 10**8 + 230_416
    assert filler_reward(10_000_000, 1_000, 1_000 + 235_109, 0, FillerRewardStructure()) == 220_100


def test_fee_percentages_are_refused_with_the_exact_one_line_message():
    # a State fee table a user or a params file gets wrong is one clear line, word for word
    import pytest

    from drift_engine.core.fees import FeeStructure

    with pytest.raises(ValueError) as err:
        FeeStructure.from_percentages(["0.0350", "0.0300"], ["0.0025"])
    assert str(err.value) == "give as many maker rebates as taker fees"
    with pytest.raises(ValueError) as err:
        FeeStructure.from_percentages(["0.00001"], ["0"])
    assert str(err.value) == "taker fee 0.00001% is not a whole number of 1/1000000 (got 0.10000)"
