"""core/funding.py against the program: its Rust unit tests, reproduced, and every real
hourly funding record we ship re-derived from its own TWAPs.

Rust cases: drift-labs/protocol-v2 `programs/drift/src/math/funding/tests.rs` at
`0ae3e3b1` (2026-04-01). Where a Rust test drives parts we do not model (the AMM's
reserve-price TWAP update, oracle validity blocks), the test starts from the TWAPs the
program computed there and checks everything downstream of them.
"""

from __future__ import annotations

import csv
import gzip
from decimal import Decimal
from importlib import resources

import pytest
from driftpy.types import ContractTier
from hypothesis import given
from hypothesis import strategies as st

from drift_engine.core.funding import (
    FundingRates,
    InvalidFundingProfitabilityError,
    funding_payment_in_quote_precision,
    funding_rate,
    funding_rate_long_short,
    max_price_divergence_for_funding_rate,
    new_twap,
    on_the_hour_update,
)
from drift_engine.core.markets import MarketCatalog
from drift_engine.core.program import new_account

AMM_RESERVE_PRECISION = 10**9
PRICE_PRECISION = 10**6
QUOTE_PRECISION = 10**6


def _market(**amm_fields) -> object:
    """A zeroed PerpMarket (the Rust tests' `PerpMarket::default()`: tier
    HighlySpeculative) with the AMM fields a test sets."""
    market = new_account("PerpMarket")
    market.contract_tier = ContractTier.HighlySpeculative()
    market.amm.funding_period = 3600
    for name, value in amm_fields.items():
        setattr(market.amm, name, value)
    return market


def _rust_test_helper_rate(mark_twap: int, oracle_twap: int, period: int = 3600) -> int:
    """The Rust test file's own `calculate_funding_rate` helper (an older formula: no
    offset, 3 % clamp), used by its first tests to produce their input rate."""
    period_adjustment = 24 * 3600 // period
    spread = mark_twap - oracle_twap
    max_spread = oracle_twap // 33
    clamped = max(-max_spread, min(spread, max_spread))
    q = abs(clamped * 1000) // period_adjustment
    return q if clamped >= 0 else -q


# --------------------------------------------------------------------------- Rust cases


@pytest.mark.parametrize("count", [0, 1])
def test_balanced_funding_small_price(count):
    """balanced_funding_test, first loop: a balanced market pays both sides the rate."""
    px = 32_513_929 + count
    market = _market(
        base_asset_amount_with_amm=0,
        base_asset_amount_long=12295081967,
        base_asset_amount_short=-12295081967,
        total_exchange_fee=(count * 1000000783) // 2888,
        total_fee_minus_distributions=count * 1000000783,
        last_mark_price_twap=px * 999 // 1000,
    )
    market.amm.historical_oracle_data.last_oracle_price_twap = px * 1001 // 1000
    rate = _rust_test_helper_rate(px * 999 // 1000, px * 1001 // 1000)
    assert rate == -2709458
    assert funding_rate_long_short(market, rate) == FundingRates(-2709458, -2709458, 0)


@pytest.mark.parametrize("count", [0, 1])
def test_balanced_funding_large_price(count):
    """balanced_funding_test, second loop (oracle TWAP 11 % under the mark: clamped)."""
    px = 19_902_513_929 + count
    mark, oracle = px * 999 // 1000, px * 888 // 1000
    market = _market(
        base_asset_amount_with_amm=0,
        base_asset_amount_long=7845926098328,
        base_asset_amount_short=-7845926098328,
        total_exchange_fee=(count * 1000000783) // 2888,
        total_fee_minus_distributions=count * 1000000783,
    )
    rate = _rust_test_helper_rate(mark, oracle)
    assert rate < oracle * 1000  # "funding CAN'T be larger than oracle twap price"
    assert mark > oracle
    rates = funding_rate_long_short(market, rate)
    assert (rate, rates.long, rates.short) == (22_314_939_833,) * 3


def test_capped_sym_funding_shorts_capped_by_a_third_of_the_fee_pool():
    """capped_sym_funding_test, first case: more shorts than longs, positive funding, the
    protocol pays the imbalance but only a third of its fee pool."""
    market = _market(
        base_asset_reserve=512295081967,
        quote_asset_reserve=488 * AMM_RESERVE_PRECISION,
        sqrt_k=500 * AMM_RESERVE_PRECISION,
        peg_multiplier=50000000,
        base_asset_amount_with_amm=-12295081967,
        base_asset_amount_long=12295081967,
        base_asset_amount_short=-12295081967 * 2,
        total_exchange_fee=QUOTE_PRECISION // 2,
        total_fee_minus_distributions=QUOTE_PRECISION // 2,
        last_mark_price_twap=50 * PRICE_PRECISION,
    )
    market.amm.historical_oracle_data.last_oracle_price_twap = 49 * PRICE_PRECISION
    rate = _rust_test_helper_rate(50 * PRICE_PRECISION, 49 * PRICE_PRECISION)
    assert rate == 41666666
    rates = funding_rate_long_short(market, rate)
    assert rates.long == rate
    assert rates.long > rates.short
    assert rates.short == 24222164
    # only 1/3 of the fee pool is spent
    assert market.amm.total_fee_minus_distributions == 416667


def test_capped_sym_funding_amm_earns():
    """capped_sym_funding_test, second case: more longs than shorts, the AMM earns."""
    market = _market(
        base_asset_amount_with_amm=12295081967,
        base_asset_amount_long=12295081967 * 2,
        base_asset_amount_short=-12295081967,
        total_exchange_fee=QUOTE_PRECISION // 2,
        total_fee_minus_distributions=QUOTE_PRECISION // 2,
    )
    rates = funding_rate_long_short(market, 41666666)
    assert rates.long == rates.short == 41666666
    assert market.amm.total_fee_minus_distributions == 1012295  # made over $.50


def test_max_funding_rates_by_contract_tier():
    """max_funding_rates: the clamp is 10 % for the default tier, 3 % for tier B."""
    twap = 49 * PRICE_PRECISION
    assert max_price_divergence_for_funding_rate(ContractTier.HighlySpeculative(), twap) == 4900000
    assert max_price_divergence_for_funding_rate(ContractTier.B(), twap) == 1484848
    assert max_price_divergence_for_funding_rate("A", twap) == 1484848
    assert max_price_divergence_for_funding_rate("C", twap) == 2450000
    assert max_price_divergence_for_funding_rate("Speculative", twap) == 4900000


def test_unsettled_funding_pnl_update_from_twaps():
    """unsettled_funding_pnl: from the TWAPs the program reached (mark 47.629736 after its
    AMM update, oracle 51), the rate, the protocol's revenue on its net short, the fee
    total and the 24 h average the program asserts."""
    assert on_the_hour_update(0, 0, 3600) == 3600
    assert on_the_hour_update(3600, 0, 3600) == 0
    market = _market(
        base_asset_amount_with_amm=-12295081967 - AMM_RESERVE_PRECISION * 500,
        base_asset_amount_long=12295081967,
        base_asset_amount_short=-12295081967 * 2,
        total_exchange_fee=QUOTE_PRECISION // 2,
        total_fee_minus_distributions=QUOTE_PRECISION * 99999,
    )
    rate = funding_rate(47629736, 51000000, market.contract_tier, market.amm.funding_period)
    assert rate == -140002666  # negative funding
    rates = funding_rate_long_short(market, rate)
    assert (rates.long, rates.short) == (-140002666, -140002666)
    assert market.amm.total_fee_minus_distributions == 100070722677  # $71.722677 gained
    # controller/funding.rs: net_unsettled_funding_pnl -= funding_imbalance_revenue
    assert -rates.imbalance_revenue == -71722677  # users up
    # last_24h_avg_funding_rate == -140002666 / 24 + 1 in Rust (truncating division)
    assert new_twap(rate, 3600, 0, 0, 24 * 3600) == -5833443


# --------------------------------------------------------------------------- edges


def test_rate_truncates_toward_zero_and_clamps():
    # spread -1 + offset 0 -> -1000/24 = -41.67 -> -41 (Python's // would give -42)
    assert funding_rate(999, 1000, "A") == -41
    # a 10 % premium on tier A is clamped to oracle/33
    assert funding_rate(110_000_000, 100_000_000, "A") == 3030303 * 1000 // 24
    assert funding_rate(90_000_000, 100_000_000, "A") == -(3030303 * 1000 // 24)
    # tier C clamps at 5 %, speculative at 10 %
    assert funding_rate(120_000_000, 100_000_000, "C") == 5_000_000 * 1000 // 24
    assert funding_rate(120_000_000, 100_000_000, "Speculative") == 10_000_000 * 1000 // 24


def test_funding_period_adjustment():
    # an 8 h period pays 8 hours' worth of premium per update: 24 h / 8 h = 3
    assert funding_rate(100_100_000, 100_000_000, "A", 8 * 3600) == (100_000 + 20_000) * 1000 // 3


def test_late_update_waits_for_the_following_hour():
    # last update 1,300 s past the hour (more than a third): wait for the hour after next
    assert on_the_hour_update(3600 + 1300, 3600 + 1300, 3600) == 2 * 3600 - 1300
    # exactly a third past the hour still updates on the next hour
    assert on_the_hour_update(3600 + 1200, 3600 + 1200, 3600) == 3600 - 1200
    # last update 10 min past the hour: the next may run on the next hour
    assert on_the_hour_update(3600 + 600, 3600 + 600, 3600) == 3600 - 600


def test_empty_fee_pool_pays_receivers_only_what_payers_pay():
    market = _market(
        base_asset_amount_with_amm=-10 * AMM_RESERVE_PRECISION,
        base_asset_amount_long=AMM_RESERVE_PRECISION,
        base_asset_amount_short=-11 * AMM_RESERVE_PRECISION,
        total_exchange_fee=10 * QUOTE_PRECISION,
        total_fee_minus_distributions=QUOTE_PRECISION,  # below half of the exchange fees
    )
    rates = funding_rate_long_short(market, 41666666)
    assert rates.long == 41666666
    # longs pay 1 x 41666666 / 1e12 = $0.041666; 11 shorts share it: (-41666 + 1) x 1e12 / -11e9
    assert rates.short == 3787727
    assert market.amm.total_fee_minus_distributions == QUOTE_PRECISION


def test_capped_payment_below_fee_lower_bound_fails_like_the_program():
    market = _market(
        base_asset_amount_with_amm=-10 * AMM_RESERVE_PRECISION,
        base_asset_amount_long=AMM_RESERVE_PRECISION,
        base_asset_amount_short=-11 * AMM_RESERVE_PRECISION,
        total_exchange_fee=10 * QUOTE_PRECISION,  # lower bound $5
        total_fee_withdrawn=5 * QUOTE_PRECISION,  # fee pool = all $5.20 below
        total_fee_minus_distributions=5_200_000,
    )
    # the protocol would pay $0.416666 of the imbalance: $5.20 - 0.42 < $5
    with pytest.raises(InvalidFundingProfitabilityError):
        funding_rate_long_short(market, 41666666)


def test_payment_in_quote_precision_rounds_the_magnitude_down():
    # 1 base x rate 1_999 (1e9): 1999e9 / 1e9 = 1999 -> /1e3 toward zero = 1
    assert funding_payment_in_quote_precision(1_999, -AMM_RESERVE_PRECISION) == 1
    assert funding_payment_in_quote_precision(1_999, AMM_RESERVE_PRECISION) == -1
    assert funding_payment_in_quote_precision(-1_999, AMM_RESERVE_PRECISION) == 1


# --------------------------------------------------------------------------- real records

REAL_FILES = {
    "SOL-PERP": "drift_funding_hourly_SOL-PERP_2025-04-14_2026-04-01.csv.gz",
    "BTC-PERP": "drift_funding_hourly_BTC-PERP_2025-04-14_2026-02-02.csv.gz",
}


def _scaled(text: str, scale: int) -> int:
    value = Decimal(text) * scale
    assert value == value.to_integral_value(), text
    return int(value)


def test_every_shipped_hourly_rate_is_rederived_from_its_twaps():
    """All 15,547 shipped FundingRateRecords (Drift's Data API, SOL-PERP and BTC-PERP):
    the program's formula with the market's contract tier from the mainnet catalog gives
    each record's fundingRate exactly, as an integer (FUNDING_RATE 1e9)."""
    catalog = MarketCatalog.from_constants()
    real = resources.files("drift_engine.data").joinpath("bundled/real")
    total = 0
    for symbol, name in REAL_FILES.items():
        tier = catalog.by_symbol(symbol).perp.contract_tier
        with gzip.open(real.joinpath(name).open("rb"), "rt", newline="") as fh:
            rows = list(csv.DictReader(fh))
        mismatched = []
        for row in rows:
            oracle = _scaled(row["oraclePriceTwap"], PRICE_PRECISION)
            mark = _scaled(row["markPriceTwap"], PRICE_PRECISION)
            expected = _scaled(row["fundingRate"], 10**9)
            if funding_rate(mark, oracle, tier) != expected:
                mismatched.append(row["ts"])
            # no capped-imbalance hours in this span: long == short == rate
            assert row["fundingRateLong"] == row["fundingRateShort"] == row["fundingRate"]
        assert mismatched == [], f"{symbol}: {len(mismatched)} hours differ, e.g. {mismatched[:5]}"
        total += len(rows)
    assert total == 15_547


# --------------------------------------------------------------------- properties


TIERS = ("A", "B", "C", "Speculative", "HighlySpeculative", "Isolated")


@given(
    oracle=st.integers(1, 10**12),
    spread_ppm=st.integers(-500_000, 500_000),
    tier=st.sampled_from(TIERS),
)
def test_rate_is_bounded_by_the_tier_clamp_and_follows_the_premium(oracle, spread_ppm, tier):
    mark = max(1, oracle + oracle * spread_ppm // 10**6)
    rate = funding_rate(mark, oracle, tier)
    bound = max_price_divergence_for_funding_rate(tier, oracle) * 1000 // 24
    assert -bound <= rate <= bound
    premium = mark - oracle + oracle // 5000
    assert (rate > 0) <= (premium > 0) and (rate < 0) <= (premium < 0)


@given(delta=st.integers(-(10**12), 10**12), base=st.integers(-(10**15), 10**15))
def test_payment_is_an_integer_against_the_position_and_never_rounds_up(delta, base):
    paid = funding_payment_in_quote_precision(delta, base) if delta else 0
    exact = -delta * base  # in units of 1e-12 QUOTE
    assert isinstance(paid, int)
    assert abs(paid) * 10**12 <= abs(exact)  # the magnitude is floored
    assert paid == 0 or (paid > 0) == (exact > 0)
