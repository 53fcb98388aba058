"""Heartbeat tick cost with 10 paper engines, as `drift-engine run` ticks them.

    .venv/bin/python bench/heartbeat_ticks.py [--engines 10] [--hours 6] [--warmup-hours 1]

A persisting `PaperStack` (SQLite file, WAL) with `--engines` delta-neutral engines on
SOL-PERP, all in the market (entry at once), operator commands read every tick
(`poll_s=0`, as the live runner does), each cell checkpointed once an hour of data at
its own minute and whenever an engine event or command needs it (ADR-0020); fed the
seeded synthetic 1-minute data (labelled synthetic) one minute per tick. Prints the CPU
time per tick (process time) of ordinary ticks and of hourly ticks (funding for every
engine, ledger bookings): p50, p99 and max, the costliest ticks (`--worst N`: minute of
data, kind, CPU ms), the load average, and the goal (every tick <= 20 ms). Figures
depend on the machine; nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import tempfile
import time
from pathlib import Path

DAY = 86_400
HOUR = 3_600


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", type=int, default=10)
    ap.add_argument("--hours", type=int, default=6)
    ap.add_argument("--warmup-hours", type=int, default=1)
    ap.add_argument(
        "--profile",
        choices=("hourly", "ordinary", "entry", "all"),
        help="cProfile the measured ticks of this kind (entry: the tick at which the "
        "engines open their carry) and print the top functions",
    )
    ap.add_argument("--profile-top", type=int, default=45, help="functions --profile prints")
    ap.add_argument("--worst", type=int, default=5, help="print the N costliest ticks")
    ap.add_argument(
        "--profile-sort", default="cumulative", help="pstats sort key (cumulative, tottime)"
    )
    args = ap.parse_args()

    from drift_engine.data.pipeline import open_market_data
    from drift_engine.data.synthetic import DEFAULT_ORIGIN
    from drift_engine.engine.commands import OperatorCommands
    from drift_engine.engine.paper import PaperStack
    from drift_engine.storage.database import Database
    from drift_engine.strategies import DeltaNeutralStrategy

    start = DEFAULT_ORIGIN
    end = start + (args.hours + args.warmup_hours) * HOUR
    with tempfile.TemporaryDirectory() as tmp:
        db = Database.open(f"sqlite:///{Path(tmp) / 'hb.db'}")
        stack = PaperStack(db, ["SOL-PERP"], start, persist=True, name="bench")
        stack.commands = OperatorCommands.for_store(stack.store, capital=stack.capital, poll_s=0)
        for n in range(args.engines):
            engine = stack.add_engine(
                f"dn-{n:02d}",
                DeltaNeutralStrategy({"entry_apr": -1.0, "exit_apr": -2.0, "lookback_hours": 1}),
                10_000_000_000,
            )
            engine.start(start)
        data = open_market_data("synthetic", ["SOL-PERP"], start, end)
        hb = stack.heartbeat(list(data.events), snapshot_every_s=HOUR, record_every_s=60)
        ordinary: list[float] = []
        hourly: list[float] = []
        ticks: list[tuple[float, int, str]] = []
        profiler = cProfile.Profile() if args.profile else None
        entry: list[float] = []
        t = start + 60
        while t <= end:
            measured = t >= start + args.warmup_hours * HOUR
            kind = "hourly" if t % HOUR == 0 else "ordinary"
            fills_before = sum(e.stats.fills for e in stack.engines)
            entering = measured and not entry and fills_before == 0
            profiling = (
                profiler is not None
                and measured
                and (args.profile in (kind, "all") or (args.profile == "entry" and entering))
            )
            if profiling:
                profiler.enable()
            c0 = time.process_time()
            hb.tick(t)
            cpu = (time.process_time() - c0) * 1000
            if profiling:
                profiler.disable()
            if measured:
                if entering and sum(e.stats.fills for e in stack.engines) > 0:
                    kind = "entry"
                    entry.append(cpu)
                (hourly if t % HOUR == 0 else ordinary).append(cpu)
                ticks.append((cpu, t, kind))
            t += 60
        db.dispose()
    fills = sum(e.stats.fills for e in stack.engines)
    print(
        f"{args.engines} paper engines, {len(ordinary) + len(hourly)} ticks "
        f"({args.hours} h after {args.warmup_hours} h warm-up), {fills} fills in total, "
        f"data: {data.label()}"
    )
    for name, values in (("ordinary ticks", ordinary), ("hourly ticks", hourly)):
        if not values:
            continue
        print(
            f"{name}: n={len(values)} CPU ms p50 {statistics.median(values):.2f}  "
            f"p99 {pct(values, 0.99):.2f}  max {max(values):.2f}"
        )
    funding = [cpu for cpu, _, kind in ticks if kind == "hourly"]
    if entry:
        print(f"entry tick (all engines open their carry): CPU ms {entry[0]:.2f}")
    if funding:
        print(
            f"funding hours after the entry: n={len(funding)} CPU ms "
            f"p99 {pct(funding, 0.99):.2f}  max {max(funding):.2f}  "
            f"({', '.join(f'{c:.1f}' for c in funding)})"
        )
    if args.worst:
        worst_ticks = sorted(ticks, reverse=True)[: args.worst]
        print(
            "costliest ticks (minute of data, kind, CPU ms): "
            + ", ".join(f"{(t - start) // 60} {kind} {cpu:.2f}" for cpu, t, kind in worst_ticks)
        )
    if profiler is not None:
        pstats.Stats(profiler).sort_stats(args.profile_sort).print_stats(args.profile_top)
    print("load average (1/5/15 min): " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    worst = max(ordinary + hourly)
    print(
        f"goal: every tick <= 20 ms CPU: {'holds' if worst <= 20 else 'does not hold'} "
        f"(max {worst:.2f} ms)"
    )


if __name__ == "__main__":
    main()
