"""The liquidation math against the program's own unit tests
(protocol-v2 0ae3e3b1, `programs/drift/src/math/liquidation/tests.rs`), plus the edges
the program returns early on.

The simulator's insurance fee used to miss the program's 95 % factor
(`calculate_perp_if_fee`: "multiply by 95% to avoid situation where fee leads to
deposits == negative pnl") and its acceleration of shortages under $50
(`calculate_max_pct_to_liquidate`); these vectors show both.
"""

from __future__ import annotations

from drift_engine.core.steps import round_down_to_step, round_up_to_step
from drift_engine.sim import rules

QUOTE = PRICE = 10**6
BASE = 10**9
U64_MAX = 2**64 - 1
PCT = 10_000  # LIQUIDATION_PCT_PRECISION


def test_base_to_cover_margin_shortage_program_vectors():
    # zero_percent_liquidation_fee: $10 shortage, 10x, $100 -> must lose 1 base
    assert rules.base_to_cover_margin_shortage(10 * QUOTE, 1000, 0, 0, 100 * PRICE) == BASE
    # usdc_not_one: USDC at $0.99 / $1.01
    assert (
        rules.base_to_cover_margin_shortage(10 * QUOTE, 1000, 0, 0, 100 * PRICE, 990_000)
        == 1_010_101_010
    )
    assert (
        rules.base_to_cover_margin_shortage(10 * QUOTE, 1000, 0, 0, 100 * PRICE, 1_010_000)
        == 990_099_009
    )
    # one_percent_liquidation_fee: must lose 10/9 base
    assert rules.base_to_cover_margin_shortage(10 * QUOTE, 1000, 10_000, 0, 100 * PRICE) == (
        BASE * 10 // 9
    )
    # one_percent_liquidation_fee_and_one_percent_if_liquidation_fee
    assert (
        rules.base_to_cover_margin_shortage(10 * QUOTE, 1000, 10_000, 10_000, 100 * PRICE)
        == 1_250_000_000
    )


def test_base_to_cover_margin_shortage_cannot_be_covered():
    assert rules.base_to_cover_margin_shortage(10 * QUOTE, 1000, 0, 0, 0) == U64_MAX
    # the liquidator fee eats the whole margin ratio (10 % = 100_000 in fee precision)
    assert rules.base_to_cover_margin_shortage(10 * QUOTE, 1000, 100_000, 0, PRICE) == U64_MAX
    assert rules.base_to_cover_margin_shortage(10 * QUOTE, 1000, 99_999, 0, PRICE) != U64_MAX
    # the insurance fee eats the rest: no amount frees anything
    assert rules.base_to_cover_margin_shortage(10 * QUOTE, 1000, 0, 100_000, PRICE) == U64_MAX


def test_perp_if_fee_program_vectors():
    # $20 shortage, $100, USDC $1, 1 % liquidator fee, 5 % margin, 10 base, max 5 %
    args = dict(margin_ratio=500, liquidator_fee=10_000, oracle_price=100 * PRICE)
    assert rules.perp_if_fee(20 * QUOTE, 10 * BASE, max_if_liquidation_fee=50_000, **args) == (
        19_000  # 2 % x .95
    )
    assert rules.perp_if_fee(QUOTE, 10 * BASE, max_if_liquidation_fee=50_000, **args) == (
        37_050  # 3.9 % x .95
    )
    assert rules.perp_if_fee(1000 * QUOTE, 10 * BASE, max_if_liquidation_fee=50_000, **args) == 0
    # capped by the market's maximum
    assert rules.perp_if_fee(QUOTE, 10 * BASE, max_if_liquidation_fee=37_049, **args) == 37_049
    big_fee = dict(args, liquidator_fee=100_000)  # 10 %: nothing left of 5 %
    assert rules.perp_if_fee(20 * QUOTE, 10 * BASE, max_if_liquidation_fee=50_000, **big_fee) == 0
    zero_oracle = dict(args, oracle_price=0)
    assert (
        rules.perp_if_fee(20 * QUOTE, 10 * BASE, max_if_liquidation_fee=50_000, **zero_oracle) == 0
    )
    assert (
        rules.perp_if_fee(
            20 * QUOTE, 10 * BASE, max_if_liquidation_fee=50_000, quote_oracle_price=0, **args
        )
        == 0
    )
    assert rules.perp_if_fee(20 * QUOTE, 0, max_if_liquidation_fee=50_000, **args) == 0


def test_max_pct_to_liquidate_program_vector_and_pacing():
    # the program's test: a $49 shortage is liquidated at once whatever the pacing
    assert rules.max_pct_to_liquidate(49 * QUOTE, 0, 1, PCT // 10, 10) == PCT
    # $100 shortage, 2 of 10 slots elapsed, 10 % up front: 30 % of the total may be freed
    assert rules.max_pct_to_liquidate(100 * QUOTE, 0, 2, PCT // 10, 10) == 3_000
    # $30 already freed of $130: max 30 % of 130 = 39, 9 more of the 100 left -> 9 %
    assert rules.max_pct_to_liquidate(100 * QUOTE, 30 * QUOTE, 2, PCT // 10, 10) == 900
    # freed more than the pace allows: nothing now
    assert rules.max_pct_to_liquidate(100 * QUOTE, 60 * QUOTE, 2, PCT // 10, 10) == 0
    # no pacing configured (duration 0): all of it; far past the duration: capped at 100 %
    assert rules.max_pct_to_liquidate(100 * QUOTE, 0, 0, 0, 0) == PCT
    assert rules.max_pct_to_liquidate(100 * QUOTE, 0, 1_000, PCT // 10, 10) == PCT
    # exactly $50 is paced: 1 of 3 slots, no initial share -> floor(1e4 / 3) = 3_333
    assert rules.max_pct_to_liquidate(50 * QUOTE, 0, 1, 0, 3) == 3_333


def test_standardize_rounds_to_the_step_each_way():
    assert round_down_to_step(1_234_567_891, 10**7) == 1_230_000_000
    assert round_up_to_step(1_234_567_891, 10**7) == 1_240_000_000
    assert round_up_to_step(1_230_000_000, 10**7) == 1_230_000_000
    assert round_down_to_step(1_230_000_000, 10**7) == 1_230_000_000
    assert round_down_to_step(9_999_999, 10**7) == 0 and round_up_to_step(1, 10**7) == 10**7


def test_liquidation_math_stays_in_integers():
    """Money and percentages are integers: no operand mix may turn a result into a float
    (a float that happens to equal the integer would pass an == check)."""
    results = [
        rules.perp_if_fee(20 * QUOTE, 10 * BASE, 500, 10_000, 100 * PRICE, 50_000),
        rules.perp_if_fee(QUOTE, 3 * BASE, 500, 10_000, 123_456_789, 50_000, 999_987),
        rules.max_pct_to_liquidate(100 * QUOTE, 30 * QUOTE, 2, PCT // 10, 10),
        rules.max_pct_to_liquidate(77 * QUOTE, 0, 3, 0, 7),
        rules.base_to_cover_margin_shortage(10 * QUOTE, 1000, 10_000, 10_000, 100 * PRICE),
        rules.base_to_cover_margin_shortage(7 * QUOTE, 500, 5_000, 0, 123_456_789, 999_987),
    ]
    assert all(type(r) is int for r in results), results
    # and the odd ones by hand: implied = 1e6 x 1e9 // 3e9 x 1e6 // floor(123_456_789 x
    # 999_987 / 1e6) = 333_333 x 1e6 // 123_455_184 = 2_700; (50_000 - 10_000 - 2_700) x 19 // 20
    assert results[1] == 35_435
    # 3 of 7 slots: floor(30_000 / 7) = 4_285; 77e6 x 4_285 // 1e4 = 32_994_500 -> back: 4_285
    assert results[3] == 4_285
