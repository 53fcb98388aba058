"""Simulator throughput on a year of synthetic 1-minute data with hourly funding.

Replays `SyntheticMarket(seed)` (labelled "synthetic": seeded prices and funding
calibrated to the bundled real files) for SOL-PERP, SOL and USDC through
`DriftSimulator.apply` (oracle ticks, hourly funding, spot rates, a liquidation check
after every event) with a delta-neutral account (long SOL spot, short SOL-PERP) that
rebalances its perp leg every hour, then times a burst of taker fills. Prints figures;
asserts nothing about speed.

    /work/venv/bin/python bench/sim_throughput.py [--days 365] [--seed 7] [--fills 20000]
"""

from __future__ import annotations

import argparse
import time

from drift_engine.core.types import MarketType, OrderIntent, PositionDirection
from drift_engine.data.synthetic import SyntheticMarket
from drift_engine.sim import DriftSimulator, FillRecord

QUOTE = 10**6
STEP = 10**7


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--fills", type=int, default=20_000)
    args = ap.parse_args()

    market = SyntheticMarket(args.seed)
    start, end = market.origin, market.origin + args.days * 86_400
    t = time.perf_counter()
    events = list(market.events(["SOL-PERP", "SOL", "USDC"], start, end))
    gen_s = time.perf_counter() - t
    print(
        f"data: {len(events):,} events (synthetic, seed={args.seed}, {args.days} days, "
        f"1-minute ticks, hourly funding) generated in {gen_s:.1f} s"
    )

    first = next(e for e in events if e.kind == "oracle")
    sim = DriftSimulator({"SOL-PERP": first.price, "SOL": first.price}, ts=start - 60)
    k = sim.open_account()
    sim.deposit(k, "USDC", 100_000 * QUOTE, start - 60)
    base = (40_000 * QUOTE * 10**9 // first.price) // STEP * STEP
    sim.place_order(k, OrderIntent(1, MarketType.SPOT, PositionDirection.LONG, base), start - 60)
    sim.place_order(k, OrderIntent(0, MarketType.PERP, PositionDirection.SHORT, base), start - 60)

    fills = 0
    t = time.perf_counter()
    for i, event in enumerate(events):
        out = sim.apply(event)
        if event.kind == "funding":
            # hourly rebalance: nudge the perp leg by 0.1 SOL, alternating sides
            side = PositionDirection.LONG if i % 2 else PositionDirection.SHORT
            r = sim.place_order(k, OrderIntent(0, MarketType.PERP, side, 10 * STEP), event.ts)
            fills += len(r.fills)
        fills += sum(isinstance(x, FillRecord) for x in out)
    replay_s = time.perf_counter() - t
    print(
        f"replay: {len(events):,} events, {fills:,} fills in {replay_s:.1f} s -> "
        f"{len(events) / replay_s:,.0f} events/s"
    )
    tc, req = sim.maintenance(k)
    print(
        f"  end: collateral ${tc / QUOTE:,.2f}, maintenance requirement ${req / QUOTE:,.2f}, "
        f"health {sim.drift_user(k).get_health()}, records {len(sim.records):,}"
    )

    ts = sim.now
    t = time.perf_counter()
    for j in range(args.fills):
        side = PositionDirection.LONG if j % 2 else PositionDirection.SHORT
        sim.place_order(k, OrderIntent(0, MarketType.PERP, side, 10 * STEP), ts)
    fill_s = time.perf_counter() - t
    print(
        f"fills: {args.fills:,} taker perp fills (with funding/PnL settlement and margin "
        f"checks) in {fill_s:.2f} s -> {args.fills / fill_s:,.0f} fills/s"
    )


if __name__ == "__main__":
    main()
