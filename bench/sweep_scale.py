"""Wall time of a 10 x 10 sweep (100 one-year backtests of the real SOL year) through
the sweep machinery: once on the local cores (process pool), once on a Ray cluster,
and whether both gave the same result for every configuration.

    .venv/bin/python bench/sweep_scale.py                      # 100 runs, both backends
    .venv/bin/python bench/sweep_scale.py --grid entry_apr=0.02,0.08 --grid exit_apr=-0.02,0.0
    .venv/bin/python bench/sweep_scale.py --no-ray --workers 1 --out var/a
    .venv/bin/python bench/sweep_scale.py --compare var/a/local.jsonl var/b/ray.jsonl

Defaults: delta-neutral on the bundled real SOL-PERP hourly year (2025-04-14 ->
2026-04-01), the acceptance grid `entry_apr=0.01:0.10:0.01` x `exit_apr=-0.09:0.0:0.01`
(every pair valid), all local cores. Ray: a new single-machine cluster on 127.0.0.1
(`ray.init` in this process, no dashboard, no usage reporting), shut down afterwards;
or the cluster $DRIFT_ENGINE_RAY_ADDRESS names.

Per backend it prints the pool start time, the wall time of the runs, runs per minute,
the mean run time (each run's own wall time inside its worker), the speed-up over one
worker, failures (with their parameters) and the 1-minute load average before and after;
then the configurations whose results differ between the backends (wall times aside).
Progress is one line per finished run. Exit code 1 on a failure or a difference.
Figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from drift_engine.backtest.runner import parse_date
from drift_engine.research.data import load_market_data, resolve_source
from drift_engine.research.pools import local_cores, open_pool, ray_address
from drift_engine.research.runs import RunResult
from drift_engine.research.space import SearchSpace
from drift_engine.research.sweep import SweepTask, run_grid
from drift_engine.strategies import StrategyRef, strategy_class

DEFAULT_GRID = ["entry_apr=0.01:0.10:0.01", "exit_apr=-0.09:0.0:0.01"]


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def bench(
    label: str, task: SweepTask, data: Any, *, workers: int | None, ray: str | None,
    jsonl: str | None = None,
):  # fmt: skip
    load_before = load()
    t0 = time.perf_counter()
    pool = open_pool(data, workers=workers, ray=ray)
    up = time.perf_counter() - t0
    n_workers = pool.workers
    print(f"{label}: {n_workers} workers up in {up:.1f} s (load {load_before})", flush=True)
    done = 0
    t1 = time.perf_counter()

    def progress(r: RunResult) -> None:
        nonlocal done
        done += 1
        el = time.perf_counter() - t1
        state = "ok" if r.ok else f"FAILED {r.error}"
        print(
            f"  [{label}] {done:>3} run {r.run_id:>3} {r.wall_seconds:5.1f} s  "
            f"{r.params.get('entry_apr')}/{r.params.get('exit_apr')}  "
            f"net_apr {r.metrics.get('net_apr', float('nan')):+.5f}  {state}  "
            f"(elapsed {el:6.0f} s, {done / el * 60:5.2f} runs/min)",
            flush=True,
        )
        if jsonl:  # each result as it finishes: a run cut short keeps what it measured
            with open(jsonl, "a") as fh:
                fh.write(json.dumps(r.to_json_dict(), default=str) + "\n")

    try:
        sweep = run_grid(task, pool, progress=progress)
    finally:
        t_close = time.perf_counter()
        pool.close()
        closed = time.perf_counter() - t_close
    wall = time.perf_counter() - t1 - closed
    results = sweep.results
    ok = [r for r in results if r.ok]
    mean_run = sum(r.wall_seconds for r in ok) / max(1, len(ok))
    print(
        f"{label:<20} workers {n_workers:>2}  start {up:5.1f} s  {len(results)} runs "
        f"{wall:7.1f} s wall  ({len(results) / wall * 60:5.2f} runs/min; mean run "
        f"{mean_run:5.1f} s; speed-up x{mean_run * len(ok) / wall:4.2f}; failed "
        f"{len(results) - len(ok)}; load {load_before} -> {load()})",
        flush=True,
    )
    for r in results:
        if not r.ok:
            print(f"  failed run {r.run_id} {r.params}: {r.error}", flush=True)
    return {r.run_id: r for r in results}


def outcome(r: RunResult) -> dict[str, Any]:
    """What a configuration produced, without the run's wall time."""
    return {
        "ok": r.ok,
        "params": r.params,
        "error": r.error,
        "metrics": r.metrics,
        "strategy_state": r.strategy_state,
    }


def compare(a: dict[int, RunResult], b: dict[int, RunResult]) -> list[str]:
    diffs = []
    for run_id in sorted(set(a) | set(b)):
        if run_id not in a or run_id not in b:
            diffs.append(f"run {run_id}: missing on one side")
            continue
        x, y = outcome(a[run_id]), outcome(b[run_id])
        if x != y:
            fields = [k for k in x if x[k] != y[k]]
            if "metrics" in fields:
                fields += [
                    f"metrics.{m}"
                    for m in sorted(set(x["metrics"]) | set(y["metrics"]))
                    if x["metrics"].get(m) != y["metrics"].get(m)
                ]
            diffs.append(f"run {run_id} {a[run_id].params}: differs in {', '.join(fields)}")
    return diffs


def compare_files(a_path: str, b_path: str) -> int:
    """Compare two runs' JSONL files (e.g. a cut-short run) over the configurations both
    finished."""
    sides = []
    for path in (a_path, b_path):
        with open(path) as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
        sides.append({row["run_id"]: RunResult(**row) for row in rows})
    a, b = sides
    both = sorted(set(a) & set(b))
    diffs = compare({i: a[i] for i in both}, {i: b[i] for i in both})
    print(
        f"{a_path}: {len(a)} runs; {b_path}: {len(b)} runs; finished on both: {len(both)}; "
        f"identical: {len(both) - len(diffs)}/{len(both)}"
    )
    for d in diffs:
        print(f"  {d}")
    return 1 if diffs else 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--strategy", default="delta-neutral")
    ap.add_argument("--market", default="SOL-PERP")
    ap.add_argument("--start", default="2025-04-14")
    ap.add_argument("--end", default="2026-04-01")
    ap.add_argument("--source", default="auto")
    ap.add_argument("--grid", action="append", help="name=lo:hi:step or name=a,b (repeat)")
    ap.add_argument("--workers", type=int, default=None, help="default: all local cores")
    ap.add_argument("--interval", type=int, default=60)
    ap.add_argument("--no-local", action="store_true")
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--out", default=None, help="write DIR/<backend>.jsonl, one run a line")
    ap.add_argument("--compare", nargs=2, metavar="JSONL", help="only compare two --out files")
    args = ap.parse_args()
    if args.compare:
        return compare_files(*args.compare)

    start, end = parse_date(args.start), parse_date(args.end)
    ref = StrategyRef.of(args.strategy)
    cls = strategy_class(args.strategy)
    space = SearchSpace.parse(args.grid or DEFAULT_GRID)
    task = SweepTask(ref, args.market, start, end, space, interval_s=args.interval)
    t0 = time.perf_counter()
    source = resolve_source(args.source, args.market, start, end)
    data = load_market_data(source, cls({"market": args.market}).markets(), start, end)
    print(
        f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} UTC; {local_cores()} local "
        f"cores; load {load()}\ndata: {data.label}; {len(data.events):,} events over "
        f"{(end - start) / 86400:.0f} days, loaded in {time.perf_counter() - t0:.1f} s\n"
        f"grid: {' x '.join(f'{d.name} ({len(d.values)})' for d in space.dimensions)} = "
        f"{space.size} configurations",
        flush=True,
    )
    if args.out:
        os.makedirs(args.out, exist_ok=True)

    def jsonl(name: str) -> str | None:
        if not args.out:
            return None
        path = os.path.join(args.out, f"{name}.jsonl")
        open(path, "w").close()
        return path

    runs: dict[str, dict[int, RunResult]] = {}
    if not args.no_local:
        runs["local"] = bench(
            "local process pool", task, data, workers=args.workers, ray=None,
            jsonl=jsonl("local"),
        )  # fmt: skip
    if not args.no_ray:
        address = ray_address(True)
        runs["ray"] = bench(
            f"Ray ({address})", task, data, workers=args.workers, ray=address,
            jsonl=jsonl("ray"),
        )  # fmt: skip
        if address == "local":
            import ray

            print(f"Ray cluster shut down: {not ray.is_initialized()}", flush=True)
    bad = any(not r.ok for res in runs.values() for r in res.values())
    if len(runs) == 2:
        diffs = compare(runs["local"], runs["ray"])
        same = len(runs["local"]) - len(diffs)
        print(f"identical per configuration (local vs Ray): {same}/{len(runs['local'])}")
        for d in diffs:
            print(f"  {d}")
        bad = bad or bool(diffs)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
