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
