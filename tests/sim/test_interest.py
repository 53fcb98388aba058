"""Spot interest: cumulative deposit/borrow interest advance by the data's rates, and
balances grow through their scaled balances (math/spot_balance.rs, integer version).

token = scaled_balance x cumulative_interest / 10^(19 - decimals) (deposits floor, borrows
ceil); a deposit's scaled balance = token x 10^(19 - decimals) / cumulative (borrows +1).
USDC has 6 decimals: 10^(19-6) = 1e13; cumulative interest starts at 1e10.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from drift_engine.data.models import SpotRateRecord
from drift_engine.sim import InsufficientCollateralError, InterestRecord

from .conftest import PRICE, QUOTE, SOL, T0, make_sim

YEAR = 31_536_000  # math/constants.rs ONE_YEAR


def test_deposit_interest_for_one_year_at_5_percent():
    sim = make_sim(interest_rates={"USDC": (Decimal("0.05"), Decimal("0.08"))})
    k = sim.open_account()
    sim.deposit(k, "USDC", 10_000 * QUOTE, T0)
    # scaled = 10_000e6 x 1e13 / 1e10 = 1e13
    assert sim.user(k).spot_positions[0].scaled_balance == 10**13
    out = sim.accrue_interest(T0 + YEAR)
    # deposit interest = 1e10 x (50_000 x YEAR) / YEAR / 1e6 = 500_000_000 -> 1.05e10
    usdc = sim.spot_market("USDC")
    assert usdc.cumulative_deposit_interest == 10_500_000_000
    # borrow interest = 1e10 x 80_000 / 1e6 + 1 = 800_000_001
    assert usdc.cumulative_borrow_interest == 10_800_000_001
    # token = 1e13 x 1.05e10 / 1e13 = 10_500e6: $500 of interest
    assert sim.token_amount(k, "USDC") == 10_500 * QUOTE
    assert [(r.amount, type(r)) for r in out] == [(500 * QUOTE, InterestRecord)]


def test_hourly_accrual_compounds_and_rates_come_from_data():
    sim = make_sim()
    k = sim.open_account()
    sim.deposit(k, "USDC", 10_000 * QUOTE, T0)
    sim.apply(SpotRateRecord(T0, "USDC", 0, Decimal("0.05"), Decimal("0.08")))
    for h in range(1, 24 * 30 + 1):
        sim.accrue_interest(T0 + h * 3600)
    # simple interest over 30 days would be 10_000 x 0.05 x 30/365 = 41.095890 USDC;
    # hourly compounding earns a little more, floored each hour
    earned = sim.token_amount(k, "USDC") - 10_000 * QUOTE
    assert 41_095_890 < earned < 41_200_000


def test_a_borrow_grows_with_borrow_interest_and_counts_against_margin():
    sim = make_sim(interest_rates={"USDC": (Decimal("0.05"), Decimal("0.10"))})
    k = sim.open_account()
    sim.deposit(k, "SOL", 10 * SOL, T0)  # $1,000 of SOL, initial asset weight 80%
    # withdraw USDC that is not there: a borrow of $300
    sim.withdraw(k, "USDC", 300 * QUOTE, T0)  # same second: no interest accrued yet
    pos = next(p for p in sim.user(k).spot_positions if p.market_index == 0)
    # borrow scaled balance rounds up: 300e6 x 1e13 / 1e10 + 1
    assert pos.scaled_balance == 300_000_000_001
    # and the owed token amount rounds up: ceil(300_000_000_001 x 1e10 / 1e13) = 300_000_001
    assert sim.token_amount(k, "USDC") == -300_000_001
    # maintenance: SOL $1,000 x 0.9 = 900 collateral; USDC liability weight 1 -> 300.000001
    assert sim.maintenance(k) == (900 * QUOTE, 300_000_001)
    sim.accrue_interest(T0 + YEAR)
    # borrow cumulative = 1e10 + 1e10 x 100_000 / 1e6 + 1 = 11_000_000_001
    assert sim.spot_market("USDC").cumulative_borrow_interest == 11_000_000_001
    # owed = ceil(300_000_000_001 x 11_000_000_001 / 1e13) = ceil(330_000_000.4...) = 330_000_001
    owed = -(-300_000_000_001 * 11_000_000_001 // 10**13)
    assert owed == 330_000_001
    assert sim.token_amount(k, "USDC") == -owed
    # a borrow beyond the initial margin is refused and changes nothing
    before = sim.account_bytes()
    with pytest.raises(InsufficientCollateralError):
        sim.withdraw(k, "USDC", 600 * QUOTE, T0 + YEAR)
    assert sim.account_bytes() == before


def test_transfer_deposit_between_sub_accounts():
    sim = make_sim()
    a = sim.open_account(sub_account_id=0)
    b = sim.open_account(sub_account_id=1)
    sim.deposit(a, "USDC", 1_000 * QUOTE, T0)
    out, into = sim.transfer_deposit(a, b, "USDC", 400 * QUOTE, T0 + 1)
    assert (out.direction, into.direction) == ("transfer_out", "transfer_in")
    assert sim.token_amount(a, "USDC") == 600 * QUOTE
    assert sim.token_amount(b, "USDC") == 400 * QUOTE
    assert sim.oracle_price("SOL") == 100 * PRICE


def test_accrual_with_a_deposit_rate_and_no_borrow_rate():
    from drift_engine.sim import rules

    sim = make_sim()
    usdc = sim.spot_market("USDC")
    usdc.cumulative_deposit_interest = usdc.cumulative_borrow_interest = 10**10
    usdc.last_interest_ts = T0
    # deposit: 1e10 x (50_000 x 3600) / YEAR / 1e6 = 57_077.6 -> 57_077; no borrow rate:
    # the borrow index stays (no "+1")
    assert rules.accrue_spot_interest(usdc, T0 + 3600, 50_000, 0) is True
    assert usdc.cumulative_deposit_interest == 10**10 + 57_077
    assert usdc.cumulative_borrow_interest == 10**10
    assert usdc.last_interest_ts == T0 + 3600


def test_a_borrow_increment_of_two_is_applied():
    from drift_engine.sim import rules

    sim = make_sim()
    usdc = sim.spot_market("USDC")
    usdc.cumulative_deposit_interest = usdc.cumulative_borrow_interest = 10**10
    usdc.last_interest_ts = T0
    # borrow: 1e10 x (1_000 x 4) / YEAR = 1_268_391.68 -> 1_268_391; / 1e6 -> 1; + 1 = 2 > 1
    assert rules.accrue_spot_interest(usdc, T0 + 4, 0, 1_000) is True
    assert usdc.cumulative_borrow_interest == 10**10 + 2
    assert usdc.last_interest_ts == T0 + 4
    # 2 s later: 1e10 x 2_000 / YEAR = 634_195 -> 0; + 1 = 1: not yet, time accumulates
    assert rules.accrue_spot_interest(usdc, T0 + 6, 0, 1_000) is False
    assert usdc.cumulative_borrow_interest == 10**10 + 2 and usdc.last_interest_ts == T0 + 4
