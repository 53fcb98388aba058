"""What a sweep pays before a run's first bar (issue #14: no per-run start cost above
0.3 s). Prints figures; nothing is asserted.

    .venv/bin/python bench/start_cost.py [RUNS]

1. import: a fresh interpreter importing the worker path (what the process pool's fork
   server preloads once per sweep: research.pools.WORKER_PRELOAD), wall and CPU, min of 3.
2. per run, in one warm process: a new run's database (migrated by `Database.open`, or
   copied from a migrated template: `storage.scratch`, what a backtest uses) and a whole
   one-hour backtest (strategy, simulator, engine set-up,
   one hour of bars, report) — the start cost every run of a sweep pays.
3. per run through the local process pool: RUNS one-hour runs on warm workers (the pool
   is opened, and its workers started, before the clock starts); wall per run against
   the in-process time: the remainder is the pool's own cost (pickling, hand-off); the
   runs' CPU inside the workers beside it (their wall counts the load and each other).
Figures depend on the machine and its load (printed).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from drift_engine.research.pools import WORKER_PRELOAD

HOUR = 3600
START = 1_744_588_800  # 2025-04-14 00:00 UTC: bundled real data
MARKET = "SOL-PERP"


def import_cost() -> tuple[float, float]:
    code = "import " + ", ".join(WORKER_PRELOAD)
    walls, cpus = [], []
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return min(walls), min(cpus)


def timed(fn, runs: int) -> tuple[float, float]:
    """(median wall, median CPU) seconds of `fn()` over `runs` calls."""
    walls, cpus = [], []
    for _ in range(runs):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    print(f"load average: {os.getloadavg()[0]:.2f} (cpus: {os.cpu_count()})")
    wall, cpu = import_cost()
    print(f"import worker path (fresh interpreter)   wall {wall:6.3f} s  cpu {cpu:6.3f} s")

    from drift_engine.backtest.runner import run_backtest
    from drift_engine.research.data import load_market_data
    from drift_engine.research.pools import open_pool
    from drift_engine.research.runs import RunSpec, execute
    from drift_engine.storage.database import Database
    from drift_engine.storage.scratch import scratch_database
    from drift_engine.strategies import StrategyRef, strategy_class

    def new_database() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            Database.open(f"sqlite:///{Path(tmp) / 'run.db'}").dispose()

    def scratch() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            scratch_database(Path(tmp) / "run.db").dispose()

    new_database()  # first use pays one-off imports (Alembic); a sweep's worker too
    wall, cpu = timed(new_database, runs)
    print(f"new database, migrated (Database.open) wall {wall:6.3f} s  cpu {cpu:6.3f} s")
    scratch()  # the first one migrates this process's template
    wall, cpu = timed(scratch, runs)
    print(f"new database, template copy (scratch)  wall {wall:6.3f} s  cpu {cpu:6.3f} s")

    cls = strategy_class("delta-neutral")
    end = START + HOUR
    data = load_market_data("bundled", cls({"market": MARKET}).markets(), START, end)
    window = (data.window(START, end), data.label)

    def one_hour() -> None:
        run_backtest(cls, MARKET, START, end, {"market": MARKET}, data=window)

    one_hour()
    wall, cpu = timed(one_hour, runs)
    print(f"one-hour backtest, in process          wall {wall:6.3f} s  cpu {cpu:6.3f} s")
    in_process = wall

    ref = StrategyRef.of("delta-neutral")
    specs = [
        RunSpec(i, ref, MARKET, START, end, {"market": MARKET, "entry_apr": 0.05 + i / 1000})
        for i in range(runs)
    ]
    assert execute(specs[0], data).ok
    with open_pool(data, workers=2) as pool:
        for spec in specs[:2]:  # warm both workers: fork, initializer, first-use imports
            pool.submit(spec)
        warm = [pool.next_result() for _ in specs[:2]]
        t0 = time.perf_counter()
        for spec in specs:
            pool.submit(spec)
        results = [pool.next_result() for _ in specs]
        wall = time.perf_counter() - t0
    failed = sum(not r.ok for r in [*warm, *results])
    per_run = wall * 2 / runs  # two workers side by side
    mean_inside = statistics.mean(r.wall_seconds for r in results)
    cpu_inside = statistics.mean(r.cpu_seconds for r in results)
    print(
        f"one-hour backtest, process pool (2)    wall {per_run:6.3f} s per run per worker"
        f" (inside the worker {mean_inside:.3f} s wall, {cpu_inside:.3f} s CPU; pool overhead"
        f" {per_run - mean_inside:+.3f} s; in process {in_process:.3f} s; failed {failed})"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
