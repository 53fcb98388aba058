"""Perp fee tiers and DRIFT-stake discounts by the program's rule (since August 2024).

`math/fees.rs::determine_perp_fee_tier` (protocol-v2 0ae3e3b1): the 30-day volume (taker
+ maker) picks the tier, moving up when it reaches $2M / $10M / $20M / $80M / $200M
(`volume < threshold` stays below); staked DRIFT (`if_staked_gov_token_amount`) reaching
999 / 9,999 / 49,999 / 99,999 / 249,995 DRIFT cuts the taker numerator by 5/10/20/30/40 %
and raises the maker-rebate numerator by as much. 5/10/20 %: numerator - ceil(n / k) and
rebate + floor(r / k) (k = 20, 10, 5); 30/40 %: ceil(n x (100 - x) / 100) and
floor(r x (100 + x) / 100).

Numerators are set in the test so that every percentage is inexact: taker 35, rebate 25
per 100_000 on the tier under test (tier numbers elsewhere are distinct, so a wrong tier
shows). On the fill of test_fee_rules (quote 151_851_741):
- 35 (no stake):     ceil(151_851_741 x 35 / 1e5) = ceil(53_148.10935) = 53_149
- 5 %:  35 - ceil(35 / 20) = 33 -> ceil(50_111.07453) = 50_112  (floor of 35/20: 34)
- 30 %: ceil(35 x 70 / 100) = ceil(24.5) = 25 -> ceil(37_962.93525) = 37_963  (floor: 24)
- 40 %: ceil(35 x 60 / 100) = 21 -> ceil(31_888.86561) = 31_889
- rebate 25 + 5 %: 25 + floor(25 / 20) = 26; 30 %: floor(25 x 130 / 100) = floor(32.5) = 32
"""

from __future__ import annotations

from .conftest import QUOTE, T0, ceil_div, funded, limit, perp

QUOTE_X = 151_851_741
SIZE = 1_230_000_000
PRICE_X = 123_456_700
DRIFT = 10**6  # the gov token has 6 decimals


def tier_sim(tier_index: int, volume: int = 0, staked: int = 0, price: int = PRICE_X):
    sim, k = funded(price, usdc=100_000 * QUOTE)
    tiers = sim.state.perp_fee_structure.fee_tiers
    for i, tier in enumerate(tiers[:6]):
        tier.fee_numerator, tier.fee_denominator = 100 + i, 100_000  # distinct per tier
        tier.maker_rebate_numerator, tier.maker_rebate_denominator = 10 + i, 100_000
    tiers[tier_index].fee_numerator, tiers[tier_index].maker_rebate_numerator = 35, 25
    sim.perp_market("SOL-PERP").fee_adjustment = 0
    stats = sim.user_stats()
    stats.taker_volume30d = volume
    stats.last_taker_volume30d_ts = T0 + 1
    stats.if_staked_gov_token_amount = staked
    return sim, k


def taker_fee_at(tier_index: int, volume: int = 0, staked: int = 0) -> int:
    sim, k = tier_sim(tier_index, volume, staked)
    (fill,) = sim.place_order(k, perp("long", SIZE), T0 + 1).fills
    return fill.fee


VOLUME_CASES = [  # (30-day volume in USD, tier it selects)
    (1_999_999, 0),
    (2_000_000, 1),
    (9_999_999, 1),
    (10_000_000, 2),
    (20_000_000, 3),
    (79_999_999, 3),
    (80_000_000, 4),
    (200_000_000, 5),
]
STAKE_CASES = [  # (staked DRIFT, taker fee of the fill)
    (999 * DRIFT - 1, 53_149),  # just below: no benefit
    (999 * DRIFT, 50_112),  # 5 %
    (99_999 * DRIFT, 37_963),  # 30 %: the program rounds the discounted numerator up
    (249_995 * DRIFT, 31_889),  # 40 %
]


def test_volume_picks_the_tier_at_its_threshold():
    assert ceil_div(QUOTE_X * 35, 10**5) == 53_149
    got = [(usd, taker_fee_at(tier, volume=usd * QUOTE)) for usd, tier in VOLUME_CASES]
    assert got == [(usd, 53_149) for usd, _ in VOLUME_CASES]


def test_staked_drift_discounts_the_taker_fee():
    got = [(staked, taker_fee_at(0, staked=staked)) for staked, _ in STAKE_CASES]
    assert got == STAKE_CASES


def test_staked_drift_raises_the_maker_rebate_rounding_down():
    for staked, rebate_numerator in [(999 * DRIFT, 26), (99_999 * DRIFT, 32)]:
        sim, k = tier_sim(0, staked=staked, price=125 * 10**6)
        sim.place_order(k, limit("long", SIZE, PRICE_X), T0 + 1)
        (fill,) = sim.set_oracle_price("SOL", 123_400_000, T0 + 2)
        assert fill.is_maker
        assert fill.fee == -(QUOTE_X * rebate_numerator // 100_000)
