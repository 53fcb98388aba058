"""Funding by the program's rules (controller/funding.rs, math/funding.rs).

payment = -sign(base x delta) x floor(|delta x base| / 1e12) QUOTE, delta = market
cumulative rate (long or short side) - the position's last cumulative rate; longs pay
when the rate is positive. Funding is settled before every position change and on every
funding tick, so a change between funding times neither double counts nor drops funding
(the Freqtrade #13263 bug class).
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

from drift_engine.data.bundled import BundledSource
from drift_engine.sim import FundingPaymentRecord

from .conftest import BASE, PRICE, QUOTE, SOL, T0, make_sim, perp, spot

H = 3600


def payments(sim, since=0):
    return [r.funding_payment for r in sim.records[since:] if isinstance(r, FundingPaymentRecord)]


def test_funding_over_hours_with_increase_reduce_and_flip_between_funding_times():
    sim = make_sim()
    k = sim.open_account()
    sim.deposit(k, "USDC", 10_000 * QUOTE, T0)
    sim.place_order(k, perp("long", 10 * BASE), T0 + 60)  # long 10 SOL
    # hour 1: rate 1_000_000 (0.001%/h of $100 = $0.001 per SOL)
    # long 10 pays floor(1e6 x 10e9 / 1e12) = 10_000
    assert [
        r.funding_payment for r in sim.update_funding("SOL-PERP", ts=T0 + H, funding_rate=1_000_000)
    ] == [-10_000]
    sim.place_order(k, perp("long", 10 * BASE), T0 + H + 60)  # increase to 20 mid-hour
    # hour 2: rate 2_000_000, long 20 pays floor(2e6 x 20e9 / 1e12) = 40_000 (not 10 x 2e6 twice)
    assert [
        r.funding_payment
        for r in sim.update_funding("SOL-PERP", ts=T0 + 2 * H, funding_rate=2_000_000)
    ] == [-40_000]
    sim.place_order(k, perp("short", 15 * BASE), T0 + 2 * H + 60)  # reduce to 5
    # hour 3: rate -3_000_000: the long 5 receives floor(3e6 x 5e9 / 1e12) = 15_000
    assert [
        r.funding_payment
        for r in sim.update_funding("SOL-PERP", ts=T0 + 3 * H, funding_rate=-3_000_000)
    ] == [15_000]
    sim.place_order(k, perp("short", 10 * BASE), T0 + 3 * H + 60)  # flip to short 5
    # hour 4: rate 4_000_000: the short 5 receives floor(4e6 x 5e9 / 1e12) = 20_000
    assert [
        r.funding_payment
        for r in sim.update_funding("SOL-PERP", ts=T0 + 4 * H, funding_rate=4_000_000)
    ] == [20_000]
    # total -10_000 - 40_000 + 15_000 + 20_000 = -15_000, once each
    assert sum(payments(sim)) == -15_000
    assert sim.user(k).cumulative_perp_funding == -15_000
    amm = sim.perp_market("SOL-PERP").amm
    assert amm.cumulative_funding_rate_long == 1_000_000 + 2_000_000 - 3_000_000 + 4_000_000
    pos = sim.perp_position(k, "SOL-PERP")
    assert pos.last_cumulative_funding_rate == amm.cumulative_funding_rate_short


def test_unsettled_funding_is_settled_before_a_position_change():
    sim = make_sim(auto_settle_pnl=False)
    k = sim.open_account()
    sim.deposit(k, "USDC", 10_000 * QUOTE, T0)
    sim.place_order(k, perp("long", 10 * BASE), T0 + 1)
    # cumulative rates move without a settlement of this account (another keeper's update)
    amm = sim.perp_market("SOL-PERP").amm
    amm.cumulative_funding_rate_long += 5_000_000
    amm.cumulative_funding_rate_short += 5_000_000
    n = len(sim.records)
    sim.place_order(k, perp("long", 10 * BASE), T0 + 2)
    # settled with the *old* size first: floor(5e6 x 10e9 / 1e12) = 50_000, then the fill
    kinds = [type(r).__name__ for r in sim.records[n:]]
    assert kinds[:2] == ["FundingPaymentRecord", "FillRecord"]
    assert payments(sim, n) == [-50_000]
    pos = sim.perp_position(k, "SOL-PERP")
    assert pos.last_cumulative_funding_rate == amm.cumulative_funding_rate_long
    # no second charge for the same period at the next settlement
    assert sim.settle_funding(T0 + 3) == []


def test_each_funding_time_applies_once():
    sim = make_sim()
    sim.update_funding("SOL-PERP", ts=T0 + H, funding_rate=1)
    import pytest

    from drift_engine.sim import SimulationError

    with pytest.raises(SimulationError):
        sim.update_funding("SOL-PERP", ts=T0 + H, funding_rate=1)


def test_real_37_day_funding_file_hedged_sol_matches_direct_computation():
    """A fixed hedge (long 100 SOL spot, short 100 SOL-PERP) held through the real file.

    Simulator: the bundled data source expands each day's average hourly rate into 24
    hourly FundingRecords (rate = avg_hourly_rate x $100 reference x 1e3, exact integers);
    the simulator settles every hour. Direct: the same integer rule from the CSV rows.
    """
    source = BundledSource()
    records = source.funding_records("SOL-PERP")
    start = records[0].ts
    sim = make_sim(ts=start - H)
    k = sim.open_account()
    sim.deposit(k, "USDC", 20_000 * QUOTE, start - H)
    sim.place_order(k, spot("long", 100 * SOL), start - H + 1)
    sim.place_order(k, perp("short", 100 * BASE), start - H + 2)
    n = len(sim.records)
    for rec in records:
        sim.apply(rec)
    simulated = sum(payments(sim, n))

    # direct: short 100 SOL receives floor(rate x 100e9 / 1e12) per hour when rate > 0,
    # pays ceil-free floor(|rate| x 100e9 / 1e12) when rate < 0 (the program's integer rule)
    path = Path(__file__).resolve().parents[2] / "src/drift_engine/data/bundled"
    rows = [
        r
        for r in csv.DictReader((path / "drift_funding_daily_2026-01-10_02-15.csv").open())
        if r["market"] == "SOL-PERP"
    ]
    assert len(rows) == 37
    direct = 0
    for r in rows:
        rate = Decimal(r["avg_hourly_rate"]) * 100 * PRICE * 1000
        assert rate == rate.to_integral_value()
        rate = int(rate)
        per_hour = abs(rate) * 100 * BASE // 10**12
        direct += 24 * (per_hour if rate > 0 else -per_hour)
    assert simulated == direct
    assert sim.user(k).cumulative_perp_funding == direct
    assert len(payments(sim, n)) == 37 * 24
    # SOL funding turned negative in February 2026: this short paid on net
    assert direct < 0
