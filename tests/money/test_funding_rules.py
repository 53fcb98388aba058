"""Funding payments by the program's rule, at values where rounding and sign show.

Program (`math/funding.rs::calculate_funding_payment`, `controller/funding.rs`):
payment = -sign(base x delta) x trunc(floor(|delta| x |base| / 1e9) / 1e3), QUOTE 1e6,
delta = the market's cumulative rate for the position's side - the position's last one.
The magnitude is floored, then the signed division by AMM_TO_QUOTE_PRECISION_RATIO
truncates toward zero: a payer pays floor(|delta x base| / 1e12), never one more.

Case used throughout: 1.23 SOL, delta 1_234_567 (FUNDING_RATE 1e9 per SOL):
|delta x base| = 1_234_567 x 1_230_000_000 = 1_518_517_410_000_000
-> / 1e9 = 1_518_517.41 -> floor 1_518_517 -> / 1e3 = 1518.517 -> toward zero 1518.
A floor of the signed value would make a payer pay 1519; round-half-up would too.
"""

from __future__ import annotations

import pytest

from drift_engine.core import funding as f
from drift_engine.core.program import new_account
from drift_engine.sim import FundingPaymentRecord, rules

from .conftest import BASE, QUOTE, T0, H, discriminates, funded, perp

SIZE = 1_230_000_000  # 1.23 SOL (on the 0.01 SOL step)
DELTA = 1_234_567
MAGNITUDE = 1518  # worked out in the module docstring


def test_case_discriminates_truncation_from_floor():
    assert DELTA * SIZE == 1_518_517_410_000_000
    assert discriminates(DELTA * SIZE, 10**12)
    assert DELTA * SIZE // 10**12 == MAGNITUDE


def _long_and_short():
    sim, long_key = funded()
    short_key = sim.open_account(sub_account_id=1)
    sim.deposit(short_key, "USDC", 10_000 * QUOTE, T0)
    sim.place_order(long_key, perp("long", SIZE), T0 + 60)
    sim.place_order(short_key, perp("short", SIZE), T0 + 60)
    return sim, long_key, short_key


def _payments(records, key) -> list[int]:
    return [
        r.funding_payment
        for r in records
        if isinstance(r, FundingPaymentRecord) and r.sub_account_id == key[1]
    ]


def test_funding_payment_truncates_toward_zero_when_the_long_pays():
    sim, long_key, short_key = _long_and_short()
    paid = sim.update_funding("SOL-PERP", ts=T0 + H, funding_rate=DELTA)
    assert _payments(paid, long_key) == [-MAGNITUDE]  # floor would say -1519
    assert _payments(paid, short_key) == [MAGNITUDE]
    assert sim.user(long_key).cumulative_perp_funding == -MAGNITUDE
    assert sim.user(short_key).cumulative_perp_funding == MAGNITUDE


def test_funding_payment_sign_flips_with_a_negative_rate():
    sim, long_key, short_key = _long_and_short()
    paid = sim.update_funding("SOL-PERP", ts=T0 + H, funding_rate=-DELTA)
    assert _payments(paid, long_key) == [MAGNITUDE]  # longs receive when the rate is < 0
    assert _payments(paid, short_key) == [-MAGNITUDE]  # the short pays, truncated too


def test_funding_uses_each_sides_own_cumulative_rate():
    # capped-imbalance hours: longs and shorts move by different rates
    sim, long_key, short_key = _long_and_short()
    paid = sim.update_funding(
        "SOL-PERP",
        ts=T0 + H,
        funding_rate=DELTA,
        funding_rate_long=DELTA,
        funding_rate_short=999_999,
    )
    # short: 999_999 x 1_230_000_000 = 1_229_998_770_000_000 / 1e12 = 1229.99877 -> gets 1229
    assert 999_999 * SIZE == 1_229_998_770_000_000
    assert _payments(paid, long_key) == [-MAGNITUDE]
    assert _payments(paid, short_key) == [1229]
    # a rate too small to move a micro-USDC still settles (the program emits a 0 record)
    paid = sim.update_funding(
        "SOL-PERP", ts=T0 + 2 * H, funding_rate=7, funding_rate_long=7, funding_rate_short=7
    )
    assert _payments(paid, long_key) == [0] and _payments(paid, short_key) == [0]
    assert sim.user(short_key).cumulative_perp_funding == 1229


def test_funding_is_settled_into_quote_before_the_position_grows():
    sim, long_key, _ = _long_and_short()
    sim.update_funding("SOL-PERP", ts=T0 + H, funding_rate=DELTA)
    # doubling mid-hour must not charge the first hour's rate on the new half
    sim.place_order(long_key, perp("long", SIZE), T0 + H + 60)
    paid = sim.update_funding("SOL-PERP", ts=T0 + 2 * H, funding_rate=DELTA)
    # 2.46 SOL x 1_234_567 = 3_037_034_820_000_000 / 1e12 = 3037.03 -> 3037
    assert 2 * SIZE * DELTA == 3_037_034_820_000_000
    assert _payments(paid, long_key) == [-3037]
    assert sim.user(long_key).cumulative_perp_funding == -MAGNITUDE - 3037


def test_funding_payment_rule_on_a_position_object():
    """The rule itself, on the program's position fields (no simulator around it)."""
    sim, long_key, _ = _long_and_short()
    pos = sim.perp_position(long_key, "SOL-PERP")
    last = pos.last_cumulative_funding_rate
    assert rules.funding_payment(last + DELTA, pos) == -MAGNITUDE
    assert rules.funding_payment(last - DELTA, pos) == MAGNITUDE
    assert rules.funding_payment(last, pos) == 0
    pos.base_asset_amount = -SIZE
    assert rules.funding_payment(last + DELTA, pos) == MAGNITUDE
    assert rules.funding_payment(last - DELTA, pos) == -MAGNITUDE
    pos.base_asset_amount = SIZE


def test_funding_rate_from_an_hourly_fraction_truncates_toward_zero():
    # rate = numerator / denominator of notional per hour at the oracle TWAP:
    # 1 / 8_760_000 x 123_456_700 x 1e3 = 14_093.2305... -> 14_093; negative -> -14_093
    twap = 123_456_700
    assert discriminates(twap * 1000, 8_760_000)
    assert rules.funding_rate_from_hourly_fraction(1, 8_760_000, twap) == 14_093
    assert rules.funding_rate_from_hourly_fraction(-1, 8_760_000, twap) == -14_093


def test_open_then_close_between_funding_times_pays_no_funding():
    sim, k = funded()
    sim.place_order(k, perp("long", SIZE), T0 + 60)
    sim.place_order(k, perp("short", SIZE), T0 + 120)
    assert sim.update_funding("SOL-PERP", ts=T0 + H, funding_rate=DELTA) == []
    assert sim.user(k).cumulative_perp_funding == 0
    assert sim.perp_position(k, "SOL-PERP") is None or (
        sim.perp_position(k, "SOL-PERP").base_asset_amount == 0
    )
    assert BASE  # (precision constant used by the helpers)


def test_funding_payment_is_an_integer_and_tiny_rates_or_sizes_keep_their_sign():
    sim, long_key, _ = _long_and_short()
    pos = sim.perp_position(long_key, "SOL-PERP")
    last = pos.last_cumulative_funding_rate
    # the smallest rate step on 2,000 SOL: 1 x 2e12 / 1e12 = 2 micro-USDC, longs pay
    pos.base_asset_amount = 2_000 * BASE
    assert rules.funding_payment(last + 1, pos) == -2
    assert rules.funding_payment(last - 1, pos) == 2
    # the smallest position (1 base unit) at a huge rate: 2e15 x 1 / 1e12 = 2000
    pos.base_asset_amount = 1
    assert rules.funding_payment(last + 2 * 10**15, pos) == -2000
    pos.base_asset_amount = -1
    assert rules.funding_payment(last + 2 * 10**15, pos) == 2000
    # money is integers: never a float, whatever the operands
    pos.base_asset_amount = SIZE
    for delta in (DELTA, -DELTA, 1, -1, 10**18):
        assert type(rules.funding_payment(last + delta, pos)) is int
    pos.base_asset_amount = SIZE


# --------------------------------------------------------------------------- the update
# The rest of the program's funding update, worked out by hand at values where a wrong
# comparison, sign or side gives a different integer: the capped split of a rate between
# longs and shorts (`math/funding.rs::calculate_funding_rate_long_short` and
# `calculate_capped_funding_rate`, `math/repeg.rs::calculate_fee_pool`), the weighted
# average behind every TWAP (`math/stats.rs::calculate_weighted_average`,
# `calculate_new_twap`) and the on-the-hour timing (`math/helpers.rs::on_the_hour_update`).
# Markets are zeroed PerpMarket accounts from the IDL with the AMM fields each case sets.

RATE = 123_456_789  # FUNDING_RATE 1e9 per base unit


def _market(**amm) -> object:
    market = new_account("PerpMarket")
    for name, value in amm.items():
        setattr(market.amm, name, value)
    return market


def _fee_pool_market(**amm) -> object:
    """Exchange fees 2_000_001 (lower bound: floor(/2) = 1_000_000), liquidation fees
    300_000, withdrawn 100_000: bound 1_200_000; fees 2_100_002 -> a pool of 900_002, a
    third of it trunc(300_000.67) = 300_000."""
    base = dict(
        total_exchange_fee=2_000_001,
        total_liquidation_fee=300_000,
        total_fee_withdrawn=100_000,
        total_fee_minus_distributions=2_100_002,
        net_revenue_since_last_funding=1_000_000,
    )
    return _market(**{**base, **amm})


def test_fee_pool_and_its_lower_bound():
    market = _fee_pool_market()
    assert f.total_fee_lower_bound(market) == 1_000_000  # 2_000_001 / 2, floored, an int
    assert type(f.total_fee_lower_bound(market)) is int
    assert f.fee_pool(market) == 900_002  # 2_100_002 - (1_000_000 + 300_000 - 100_000)
    market.amm.total_fee_minus_distributions = 1_200_000  # exactly at the bound: empty
    assert f.fee_pool(market) == 0
    market.amm.total_fee_minus_distributions = 1_100_000  # below it: still 0, never < 0
    assert f.fee_pool(market) == 0


def test_amm_receiving_adds_its_revenue_uncapped():
    market = _fee_pool_market(base_asset_amount_with_amm=5 * 10**9)
    # users net long 5 pay 123_456_789 x 5e9 / 1e9 / 1e3 = 617_283.945 -> 617_283 to the AMM
    assert discriminates(RATE * 5 * 10**9, 10**12)
    rates = f.funding_rate_long_short(market, RATE)
    assert rates == f.FundingRates(RATE, RATE, 617_283)
    assert market.amm.total_fee_minus_distributions == 2_100_002 + 617_283
    assert market.amm.net_revenue_since_last_funding == 1_000_000 + 617_283


def _capped_long_pays():
    # users: longs 16 SOL, shorts 21 SOL (net short 5): at +RATE the AMM pays 617_283,
    # more than a third of the pool (300_000): the shorts' rate is capped
    return _fee_pool_market(
        base_asset_amount_with_amm=-5 * 10**9,
        base_asset_amount_long=16 * 10**9,
        base_asset_amount_short=-21 * 10**9,
    )


def test_capped_rate_when_longs_pay_goes_to_the_shorts():
    market = _capped_long_pays()
    rates = f.funding_rate_long_short(market, RATE)
    # longs pay trunc(floor(123_456_789 x 16e9 / 1e9) / 1e3) = 1_975_308.6... -> 1_975_308;
    # shorts may receive 300_000 + 1_975_308 = 2_275_308, less one (the program's bias):
    # 2_275_307 x 1e12 / 21e9 = 108_347_952.38 -> toward zero 108_347_952 per SOL
    assert discriminates(2_275_307 * 10**12, 21 * 10**9)
    assert rates == f.FundingRates(RATE, 108_347_952, -617_283)
    assert market.amm.total_fee_minus_distributions == 2_100_002 - 300_000
    assert market.amm.net_revenue_since_last_funding == 1_000_000 - 300_000


def test_capped_rate_when_shorts_pay_goes_to_the_longs():
    # the mirror: users longs 21, shorts 16 (net long 5) at -RATE: shorts pay 1_975_308
    market = _fee_pool_market(
        base_asset_amount_with_amm=5 * 10**9,
        base_asset_amount_long=21 * 10**9,
        base_asset_amount_short=-16 * 10**9,
    )
    rates = f.funding_rate_long_short(market, -RATE)
    assert rates == f.FundingRates(-108_347_952, -RATE, -617_283)
    assert market.amm.total_fee_minus_distributions == 2_100_002 - 300_000


def test_a_payment_exactly_at_the_cap_is_not_capped():
    market = _capped_long_pays()
    # 60_000_000 x 5e9 / 1e12 = 300_000 exactly: the AMM pays a third of the pool, allowed
    rates = f.funding_rate_long_short(market, 60_000_000)
    assert rates == f.FundingRates(60_000_000, 60_000_000, -300_000)
    assert market.amm.total_fee_minus_distributions == 2_100_002 - 300_000


def test_the_smallest_rate_is_capped_on_the_right_sides():
    # rate 1 (1e-9 per SOL): users net short 3000 SOL receive trunc(3e12 / 1e12) = 3; the
    # pool holds 6, a third is 2 -> capped. Longs (1000 SOL) pay 1; shorts (4000) may get
    # 2 + 1 - 1 = 2: 2 x 1e12 / 4e12 = 0.5 -> 0
    market = _market(
        base_asset_amount_with_amm=-3 * 10**12,
        base_asset_amount_long=10**12,
        base_asset_amount_short=-4 * 10**12,
        total_fee_minus_distributions=6,
    )
    assert f.funding_rate_long_short(market, 1) == f.FundingRates(1, 0, -3)
    assert market.amm.total_fee_minus_distributions == 4


def test_capped_pnl_may_reach_the_lower_bound_but_not_go_below():
    # bound 1_000_000 + 0 - 1_000_000 = 0: the pool is all the fees, the lower bound stays
    # 1_000_000; fees 1_500_000: a third is 500_000 -> exactly at the lower bound: allowed
    market = _capped_long_pays()
    market.amm.total_exchange_fee = 2_000_000
    market.amm.total_liquidation_fee = 0
    market.amm.total_fee_withdrawn = 1_000_000
    market.amm.total_fee_minus_distributions = 1_500_000
    f.funding_rate_long_short(market, RATE)
    assert market.amm.total_fee_minus_distributions == 1_000_000
    # fees 1_400_000: a third is 466_666 -> 933_334, below: the program fails the update
    market.amm.total_fee_minus_distributions = 1_400_000
    with pytest.raises(
        f.InvalidFundingProfitabilityError,
        match="total_fee_minus_distributions to 933334, below its lower bound 1000000",
    ):
        f.funding_rate_long_short(market, RATE)


def test_funding_rate_from_pnl_limit_biases_a_negative_limit_by_one():
    # -1_000_001 + 1 = -1_000_000; x 1e12 / -3e9 = 333_333_333.3 -> 333_333_333
    assert f._funding_rate_from_pnl_limit(-1_000_001, -3 * 10**9) == 333_333_333
    # a positive limit keeps its value: 1_000_001 x 1e12 / 3e9 = 333_333_666.9 -> 333_333_666
    assert f._funding_rate_from_pnl_limit(1_000_001, 3 * 10**9) == 333_333_666
    assert f._funding_rate_from_pnl_limit(0, 3 * 10**9) == 0
    assert f._funding_rate_from_pnl_limit(-1_000_001, 0) == 0  # no receivers
    # a single base unit receives the whole limit: (-5 + 1) x 1e12 / -1 = 4e12
    assert f._funding_rate_from_pnl_limit(-5, -1) == 4 * 10**12


def test_trunc_div_is_rusts_signed_division():
    assert f._trunc_div(7, 1) == 7
    assert f._trunc_div(-7, 2) == -3  # floor would be -4
    assert f._trunc_div(7, -2) == -3
    assert f._trunc_div(-7, -2) == 3
    assert f._trunc_div(0, 5) == 0


# --------------------------------------------------------------------------- TWAPs


def test_weighted_average_by_hand():
    # an empty weight takes the other value as it is
    assert f.weighted_average(100, 200, 0, 5) == 200
    assert f.weighted_average(100, 200, 5, 0) == 100
    # weight2 = 1: no bias. (300 + 200) / 4 = 125
    assert f.weighted_average(100, 200, 3, 1) == 125
    # (100 + 600) / 4 = 175, the newer side larger: +1
    assert f.weighted_average(100, 200, 1, 3) == 176
    # weight2 = 2 already biases: (300 + 400) / 5 = 140 + 1
    assert f.weighted_average(100, 200, 3, 2) == 141
    # the newer side smaller: (600 + 30) / 5 = 126 - 1
    assert f.weighted_average(300, 10, 2, 3) == 125
    # equal sides: (60 + 60) / 5 = 24, no bias
    assert f.weighted_average(30, 20, 2, 3) == 24
    # a twap of 0 is not pushed below 0; a twap of 1 is: (3 + 0) / 5 = 0; (6 + 0) / 5 = 1 - 1
    assert f.weighted_average(1, 0, 3, 2) == 0
    assert f.weighted_average(2, 0, 3, 2) == 0
    # negative values divide toward zero: (-7 + 0) / 2 = -3.5 -> -3
    assert f.weighted_average(-7, 0, 1, 1) == -3


def test_new_twap_weights_the_time_since_the_last_update():
    t = 1_767_225_600
    # 600 s of 3600: (200 x 600 + 100 x 3000) / 3600 = 116.67 -> 116, newer side larger +1
    assert f.new_twap(200, t + 600, 100, t, 3600) == 117
    # no time passed: the old twap stays
    assert f.new_twap(200, t, 100, t, 3600) == 100
    # a whole period passed: the old twap keeps weight 1 (no bias): 720_100 / 3601 = 199
    assert f.new_twap(200, t + 3600, 100, t, 3600) == 199
    # a clock that went back counts as no time
    assert f.new_twap(200, t - 5, 100, t, 3600) == 100


def test_on_the_hour_update_timing():
    hour = 1_767_225_600  # on the hour
    assert f.on_the_hour_update(hour + 10, hour, 3600) == 3590
    # last update 1 s past the hour: next on the next hour, 3599 s later
    assert f.on_the_hour_update(hour + 1, hour + 1, 3600) == 3599
    # 1200 s past (a third of the period): still the next hour; 1201 s: the one after
    assert f.on_the_hour_update(hour + 1200, hour + 1200, 3600) == 2400
    assert f.on_the_hour_update(hour + 1201, hour + 1201, 3600) == 5999
    assert f.on_the_hour_update(hour + 9000, hour, 3600) == 0  # overdue: now
    # a 2 s period, last update at an odd second: 1 > 2 // 3 = 0 -> late: wait 4 - 1 = 3
    assert f.on_the_hour_update(101, 101, 2) == 3


def test_an_unknown_contract_tier_is_named_with_the_known_ones():
    with pytest.raises(
        ValueError,
        match=r"unknown contract tier 'Z' \(known: A, B, C, Speculative, HighlySpeculative, "
        r"Isolated\)",
    ):
        f.max_price_divergence_for_funding_rate("Z", 100_000_000)
