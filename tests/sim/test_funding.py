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


# --------------------------------------------------------------------- funding from TWAPs


def _real_hours(n: int) -> list[dict[str, int]]:
    """The first `n` shipped real SOL-PERP hours, in on-chain integers."""
    import gzip
    from importlib import resources

    name = "bundled/real/drift_funding_hourly_SOL-PERP_2025-04-14_2026-04-01.csv.gz"
    path = resources.files("drift_engine.data").joinpath(name)
    out = []
    with gzip.open(path.open("rb"), "rt", newline="") as fh:
        for row in csv.DictReader(fh):
            out.append(
                {
                    "ts": int(row["ts"]),
                    "rate": int(Decimal(row["fundingRate"]) * 10**9),
                    "oracle": int(Decimal(row["oraclePriceTwap"]) * PRICE),
                    "mark": int(Decimal(row["markPriceTwap"]) * PRICE),
                }
            )
            if len(out) == n:
                break
    return out


def _hedged_short(first_ts: int):
    sim = make_sim(ts=first_ts - H)
    k = sim.open_account()
    sim.deposit(k, "USDC", 20_000 * QUOTE, first_ts - H)
    sim.place_order(k, perp("short", 10 * BASE), first_ts - H + 1)
    return sim, k


def test_simulator_derives_funding_from_a_price_path_of_twaps():
    """A week of real hours given only as mark and oracle TWAPs: the simulator computes
    each rate as the program does and books exactly the funding the real rates book."""
    hours = _real_hours(24 * 7)
    from_rates, k = _hedged_short(hours[0]["ts"])
    from_twaps, k2 = _hedged_short(hours[0]["ts"])
    n = len(from_rates.records)
    for h in hours:
        from_rates.update_funding("SOL-PERP", ts=h["ts"], funding_rate=h["rate"])
        from_twaps.update_funding(
            "SOL-PERP", ts=h["ts"], oracle_price_twap=h["oracle"], mark_price_twap=h["mark"]
        )
    derived = [
        r.funding_rate for r in from_twaps.records if type(r).__name__ == "FundingRateRecord"
    ]
    assert derived == [h["rate"] for h in hours]
    assert payments(from_twaps, n) == payments(from_rates, n)
    assert from_twaps.user(k2).cumulative_perp_funding == from_rates.user(k).cumulative_perp_funding
    amm = from_twaps.perp_market("SOL-PERP").amm
    assert amm.last_funding_rate == hours[-1]["rate"]
    assert amm.last_mark_price_twap == hours[-1]["mark"]


def test_derive_mode_recomputes_a_records_rate_from_its_twaps():
    hours = _real_hours(3)
    sim, k = _hedged_short(hours[0]["ts"])
    sim.derive_funding = True
    # a record whose rate disagrees with its TWAPs: the TWAPs win in derive mode
    h = hours[0]
    sim.update_funding(
        "SOL-PERP",
        ts=h["ts"],
        funding_rate=h["rate"] + 1_000,
        oracle_price_twap=h["oracle"],
        mark_price_twap=h["mark"],
    )
    assert sim.perp_market("SOL-PERP").amm.last_funding_rate == h["rate"]
    restored = type(sim).load(sim.dump())
    assert restored.derive_funding


def test_imbalanced_market_caps_the_receiving_side_and_books_the_imbalance():
    """math/funding.rs calculate_funding_rate_long_short through the simulator: the AMM
    is net short, funding is positive, the fee pool is small; shorts receive the capped
    rate (the Rust capped_sym_funding_test numbers), and what the protocol received is
    booked in `net_unsettled_funding_pnl` (controller/funding.rs)."""
    sim = make_sim(sol_price=49 * PRICE)
    market = sim.perp_market("SOL-PERP")
    market.contract_tier = type(market.contract_tier).__mro__[1].HighlySpeculative()
    amm = market.amm
    amm.base_asset_amount_with_amm = -12295081967
    amm.base_asset_amount_long = 12295081967
    amm.base_asset_amount_short = -12295081967 * 2
    amm.total_exchange_fee = QUOTE // 2
    amm.total_fee_minus_distributions = QUOTE // 2
    # mark $50 vs oracle $49: spread 1 + 49/5000 = 1.0098 -> x 1000 / 24 = 42_075_000
    sim.update_funding(
        "SOL-PERP", ts=T0 + H, oracle_price_twap=49 * PRICE, mark_price_twap=50 * PRICE
    )
    assert amm.last_funding_rate == 42_075_000
    assert amm.last_funding_rate_long == 42_075_000
    assert 0 < amm.last_funding_rate_short < 42_075_000
    assert amm.cumulative_funding_rate_short == amm.last_funding_rate_short
    # the protocol paid a third of its fee pool (($0.50 - $0.25) / 3); the users' net
    # short is owed the uncapped 42,075,000 x 12.295081967 / 1e12 = $0.517315, booked in
    # net_unsettled_funding_pnl
    assert amm.total_fee_minus_distributions == QUOTE // 2 - 83_333
    assert amm.net_unsettled_funding_pnl == 517_315
