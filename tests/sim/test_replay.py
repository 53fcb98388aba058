"""Synthetic and real data streams replay through `DriftSimulator.apply`."""

from __future__ import annotations

from drift_engine.core.types import MarketType, OrderIntent, PositionDirection
from drift_engine.data.synthetic import SyntheticMarket
from drift_engine.sim import DriftSimulator, FundingPaymentRecord, FundingRateRecord

QUOTE = 10**6


def test_synthetic_month_of_1_minute_ticks_with_hourly_funding():
    # The year-long replay is bench/sim_throughput.py; a month keeps the suite quick.
    market = SyntheticMarket(3)
    start = market.origin
    days = 30
    sim = None
    n = 0
    funding_events = 0
    for event in market.events(["SOL-PERP", "SOL", "USDC"], start, start + days * 86_400):
        if sim is None:
            sim = DriftSimulator({"SOL-PERP": event.price, "SOL": event.price}, ts=start)
            k = sim.open_account()
            sim.deposit(k, "USDC", 10_000 * QUOTE, start)
            sim.place_order(
                k, OrderIntent(0, MarketType.PERP, PositionDirection.SHORT, 10 * 10**9), start
            )
        sim.apply(event)
        n += 1
        funding_events += event.kind == "funding"
    assert n > days * 1440  # SOL and SOL-PERP ticks every minute plus funding
    rate_updates = [r for r in sim.records if isinstance(r, FundingRateRecord)]
    # hourly funding at 01:00 .. 23:00 of the last day: 30 x 24 - 1 updates, each applied once
    assert len(rate_updates) == funding_events == days * 24 - 1
    paid = [r for r in sim.records if isinstance(r, FundingPaymentRecord)]
    assert len(paid) == funding_events
    assert sim.user(k).cumulative_perp_funding == sum(r.funding_payment for r in paid)
    assert sim.spot_market("USDC").cumulative_deposit_interest > 10**10  # rates from the data
