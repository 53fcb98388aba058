"""Throughput of the synthetic market: one year of 1-minute SOL-PERP data (525,600 ticks).

Prints figures only (no assertions). All data here is labelled "synthetic".

    python bench/synthetic_data.py [--days 365] [--seed 7] [--interval 60]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time

from drift_engine.data import FundingRecord, LocalStore, OracleTick, symbols
from drift_engine.data.synthetic import SyntheticMarket, bundled_funding_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--interval", type=int, default=60)
    parser.add_argument("--market", default="SOL-PERP")
    args = parser.parse_args()

    t = time.perf_counter()
    bundled_funding_model(args.market)
    print(
        f"calibration ({args.market}, from the bundled daily file): {time.perf_counter() - t:.2f} s"
    )

    sm = SyntheticMarket(args.seed, interval=args.interval)
    start, end = sm.origin, sm.origin + args.days * 86_400

    symbols.perp_index(args.market)  # import driftpy's constants before measuring memory
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    ticks = funding = 0
    for event in sm.events([args.market], start, end):
        if isinstance(event, OracleTick):
            ticks += 1
        elif isinstance(event, FundingRecord):
            funding += 1
    dt = time.perf_counter() - t
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    print(
        f"event stream      : {ticks:>9,} ticks + {funding:,} funding records in {dt:6.2f} s "
        f"= {ticks / dt:>10,.0f} ticks/s, {(ticks + funding) / dt:,.0f} events/s "
        f"(peak RSS growth {rss_growth / 1024:.1f} MiB: streamed, not held)"
    )

    t = time.perf_counter()
    ts, prices = sm.price_path(args.market, start, end)
    dt = time.perf_counter() - t
    print(
        f"price path arrays : {len(ts):>9,} ticks in {dt:6.2f} s = {len(ts) / dt:>12,.0f} ticks/s"
    )

    with tempfile.TemporaryDirectory() as tmp:
        store = LocalStore(tmp)
        t = time.perf_counter()
        with store.transaction() as txn:
            entry = txn.put(
                args.market, "oracle", sm.label, sm.oracle_events(args.market, start, end)
            )
        dt = time.perf_counter() - t
        print(
            f"store CSV write   : {entry.rows:>9,} ticks in {dt:6.2f} s "
            f"= {entry.rows / dt:>12,.0f} ticks/s"
        )
        t = time.perf_counter()
        n = sum(1 for _ in store.read(entry))
        dt = time.perf_counter() - t
        print(f"store CSV read    : {n:>9,} ticks in {dt:6.2f} s = {n / dt:>12,.0f} ticks/s")


if __name__ == "__main__":
    main()
