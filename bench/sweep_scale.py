"""Wall time of N backtests through the sweep machinery: on the local cores (process
pool) and on a Ray cluster (a local one unless DRIFT_ENGINE_RAY_ADDRESS names one).

    .venv/bin/python bench/sweep_scale.py                    # 100 one-year runs, both
    .venv/bin/python bench/sweep_scale.py --runs 20 --no-ray
    .venv/bin/python bench/sweep_scale.py --start 2026-01-10 --end 2026-02-15

Defaults: the real SOL-PERP year of the bundled data (2025-04-14 -> 2026-04-01),
delta-neutral with `entry_apr` spread over N values so the runs differ. Prints the
data load time, the pool start time and the wall time of the runs, runs per minute and
the speed-up over one worker's mean run time. Figures depend on the machine and load.
"""

from __future__ import annotations

import argparse
import time

from drift_engine.backtest.runner import parse_date
from drift_engine.research.data import load_market_data, resolve_source
from drift_engine.research.pools import open_pool, ray_address
from drift_engine.research.runs import RunSpec
from drift_engine.strategies import StrategyRef, strategy_class


def bench(label: str, data, specs, *, workers: int | None, ray: str | None) -> None:
    t0 = time.perf_counter()
    pool = open_pool(data, workers=workers, ray=ray)
    up = time.perf_counter() - t0
    t1 = time.perf_counter()
    for spec in specs:
        pool.submit(spec)
    results = [pool.next_result() for _ in specs]
    wall = time.perf_counter() - t1
    pool.close()
    ok = [r for r in results if r.ok]
    mean_run = sum(r.wall_seconds for r in ok) / max(1, len(ok))
    print(
        f"{label:<28} workers {pool.workers:>3}  start {up:6.1f} s  {len(specs)} runs "
        f"{wall:8.1f} s wall  ({len(specs) / wall * 60:6.1f} runs/min; mean run "
        f"{mean_run:5.1f} s; speed-up x{mean_run * len(ok) / wall:4.1f}; failed "
        f"{len(results) - len(ok)})",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--strategy", default="delta-neutral")
    ap.add_argument("--market", default="SOL-PERP")
    ap.add_argument("--start", default="2025-04-14")
    ap.add_argument("--end", default="2026-04-01")
    ap.add_argument("--source", default="auto")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--interval", type=int, default=60)
    ap.add_argument("--no-local", action="store_true")
    ap.add_argument("--no-ray", action="store_true")
    args = ap.parse_args()

    start, end = parse_date(args.start), parse_date(args.end)
    ref = StrategyRef.of(args.strategy)
    cls = strategy_class(args.strategy)
    t0 = time.perf_counter()
    source = resolve_source(args.source, args.market, start, end)
    data = load_market_data(source, cls({"market": args.market}).markets(), start, end)
    print(
        f"data: {data.label}; {len(data.events):,} events over {(end - start) / 86400:.0f} "
        f"days, loaded in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    specs = [
        RunSpec(
            i,
            ref,
            args.market,
            start,
            end,
            {"market": args.market, "entry_apr": 0.01 + 0.1 * i / args.runs, "exit_apr": 0.0},
            interval_s=args.interval,
        )  # fmt: skip
        for i in range(args.runs)
    ]
    if not args.no_local:
        bench("local process pool", data, specs, workers=args.workers, ray=None)
    if not args.no_ray:
        bench(
            f"Ray ({ray_address(True)})", data, specs, workers=args.workers, ray=ray_address(True)
        )


if __name__ == "__main__":
    main()
