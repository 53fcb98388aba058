"""Backtest throughput through the full stack: synthetic 1-minute data -> heartbeat ->
DriftSimulator -> DriftEngine (risk checks) -> DeltaNeutralStrategy -> vault ledger (SQLite).

    /work/venv/bin/python bench/backtest_throughput.py            # one year, 1 and 3 markets
    /work/venv/bin/python bench/backtest_throughput.py --days 30  # shorter

Prints events processed, heartbeat ticks, wall seconds and events/s. The strategy is set
to enter at once (entry_apr=-1) so every tick carries an open hedge (margin, rebalancing
checks) and funding is booked every hour; figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from drift_engine.backtest.runner import _fast_sqlite, market_events
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.engine.paper import PaperStack
from drift_engine.storage.database import Database
from drift_engine.strategies import DeltaNeutralStrategy

DAY = 86_400


def run(markets: list[str], days: int, interval_s: int) -> dict[str, float]:
    start = DEFAULT_ORIGIN
    end = start + days * DAY
    with tempfile.TemporaryDirectory() as tmp:
        db = Database.open(f"sqlite:///{Path(tmp) / 'bench.db'}")
        _fast_sqlite(db)
        stack = PaperStack(db, markets, start, epoch="bench")
        for m in markets:
            engine = stack.add_engine(
                f"dn-{m}",
                DeltaNeutralStrategy({"market": m, "entry_apr": -1.0, "exit_apr": -2.0}),
                10_000_000_000,
            )
            engine.venue.margin_refresh_move = 0.002
            engine.persist_every_s = DAY
            engine.start(start)
        events, _ = market_events("synthetic", markets, start, end)
        hb = stack.heartbeat(events, snapshot_every_s=DAY, record_every_s=DAY)
        t0 = time.perf_counter()
        hb.run_events(interval_s=interval_s, until=end)
        wall = time.perf_counter() - t0
        funding = sum(e.stats.funding for e in stack.engines)
        fills = sum(e.stats.fills for e in stack.engines)
        db.dispose()
    return {
        "events": hb.events_processed,
        "ticks": hb.ticks,
        "wall": wall,
        "eps": hb.events_processed / wall,
        "fills": fills,
        "funding": funding,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--interval", type=int, default=60, help="engine tick, seconds")
    ap.add_argument("--only", choices=["1", "3"], help="run only the 1- or 3-market case")
    args = ap.parse_args()
    cases = {"1": ["SOL-PERP"], "3": ["SOL-PERP", "BTC-PERP", "ETH-PERP"]}
    for key, markets in cases.items():
        if args.only and args.only != key:
            continue
        r = run(markets, args.days, args.interval)
        print(
            f"{len(markets)} market(s) {','.join(markets)}: {args.days} days of 1-minute "
            f"synthetic data: {r['events']:,} events, {r['ticks']:,} ticks, {r['fills']} fills, "
            f"funding {r['funding'] / 1e6:+,.2f} USDC, {r['wall']:.1f} s wall, "
            f"{r['eps']:,.0f} events/s",
            flush=True,
        )


if __name__ == "__main__":
    main()
