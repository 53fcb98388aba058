"""Heartbeat tick cost with 10 paper engines, as `drift-engine run` ticks them.

    .venv/bin/python bench/heartbeat_ticks.py [--engines 10] [--hours 6] [--warmup-hours 1]
        [--entry-repeats N] [--digest]

A persisting `PaperStack` (SQLite file, WAL) with `--engines` delta-neutral engines on
SOL-PERP, all in the market (entry at once), operator commands read every tick
(`poll_s=0`, as the live runner does), each cell checkpointed once an hour of data at
its own minute and whenever an engine event or command needs it (ADR-0020); fed the
seeded synthetic 1-minute data (labelled synthetic) one minute per tick. Prints the CPU
time per tick (process time) of ordinary ticks and of hourly ticks (funding for every
engine, ledger bookings): p50, p99 and max, the costliest ticks (`--worst N`: minute of
data, kind, CPU ms), the load average, and the goal (every tick <= 20 ms). Figures
depend on the machine; nothing here asserts a speed.

The entry tick (the minute at which every engine's strategy places its first orders:
the steps with their fills, bookings, strategy, pricing and risk, then the commit)
happens once per run. `--entry-repeats N` runs it N more times, each on a fresh stack
(new database, new simulators, the same data and warm-up ticked up to the entry's
minute) in this process, and prints its CPU time (min, median, p99, max; the first
repeat apart, since the main run already paid the process's first-time costs) and
where it goes: exclusive CPU time per phase (a function's time without the phases it
calls), measured by wrapping the functions named in `PHASES` for the entry tick only
(`--no-entry-phases`: the repeats without the wrappers). `--profile entry` with repeats
profiles every repeated entry tick together. `--digest` prints a hash of what the run
wrote (ledger, snapshots, engine records, events, orders, heartbeat rows without their
wall-clock columns, checkpoints' state, the cells' epochs replaced): two versions of
the code that write the same print the same digest. Like `drift-engine run`, the bench
freezes the start-up heap (`drift_engine.heap`) before the first tick, in the main run
and in each repeat's stack, and runs each tick with the garbage collector paused and
the collection the tick made due after it, between ticks (`run_tick`; its CPU is
printed apart; `--collect-in-tick`: the collector inside the ticks, the reference).
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import hashlib
import json
import os
import pstats
import re
import sqlite3
import statistics
import tempfile
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DAY = 86_400
HOUR = 3_600


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


GC = "garbage collector (during the tick)"

#: The entry tick's phases: (group, phase, "module:Class.method", ...). Each listed
#: function's exclusive CPU time counts for its phase; what none covers is "other".
PHASES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "data",
        "market data (pull, feed, board)",
        ("drift_engine.heartbeat:HeartbeatDataCollector._pull",),
    ),
    ("data", "operator commands", ("drift_engine.engine.commands:OperatorCommands.apply",)),
    (
        "simulator",
        "fills (place_orders: undo copy, fills, margin check)",
        ("drift_engine.venues.paper:PaperVenue.place",),
    ),
    (
        "simulator",
        "venue reads (equity, margin, positions, orders, poll)",
        (
            "drift_engine.venues.paper:PaperVenue.equity",
            "drift_engine.venues.paper:PaperVenue.margin",
            "drift_engine.venues.paper:PaperVenue.positions",
            "drift_engine.venues.paper:PaperVenue.open_orders",
            "drift_engine.venues.paper:PaperVenue.poll_events",
        ),
    ),
    ("booking", "booking (ledger sink)", ("drift_engine.engine.ledger:VaultLedgerSink.book",)),
    (
        "strategy+pricing+risk",
        "strategy",
        (
            "drift_engine.strategies.delta_neutral:DeltaNeutralStrategy.on_tick",
            "drift_engine.strategies.delta_neutral:DeltaNeutralStrategy.on_fill",
            "drift_engine.strategies.delta_neutral:DeltaNeutralStrategy.unhedged",
            "drift_engine.strategies.delta_neutral:DeltaNeutralStrategy.dump_state",
        ),
    ),
    ("strategy+pricing+risk", "pricing", ("drift_engine.engine.execution:OrderPricer.price",)),
    (
        "strategy+pricing+risk",
        "risk",
        (
            "drift_engine.risk:RiskManager.assess",
            "drift_engine.risk:RiskManager.check",
        ),
    ),
    (
        "engine",
        "order tracking",
        (
            "drift_engine.engine.orders:OrderBook.create",
            "drift_engine.engine.orders:OrderBook.apply",
            "drift_engine.engine.orders:OrderBook.on_fill",
            "drift_engine.engine.orders:OrderBook.on_chain_read",
            "drift_engine.engine.orders:OrderBook.views",
            "drift_engine.engine.orders:OrderBook.summary",
        ),
    ),
    ("engine", "engine events (log)", ("drift_engine.engine.engine:DriftEngine._log",)),
    (
        "engine",
        "engine record (persist)",
        ("drift_engine.engine.engine:DriftEngine._maybe_persist",),
    ),
    (
        "commit",
        "vault snapshots, heartbeat row",
        (
            "drift_engine.engine.paper:VaultSnapshotter.snapshot",
            "drift_engine.heartbeat:HeartbeatDataCollector._record",
        ),
    ),
    (
        "commit",
        "commit (checkpoints, batch, SQLite)",
        ("drift_engine.engine.paper:PaperStack.maybe_checkpoint",),
    ),
    ("gc", GC, ()),
)


OTHER = "(the steps' own code, everything not listed)"


class PhaseTimer:
    """Exclusive CPU time per phase while `active` (a wrapped call's time less that of
    the wrapped calls inside it)."""

    def __init__(self) -> None:
        self.active = False
        self.totals: dict[str, float] = defaultdict(float)
        self.calls = 0
        self._stack: list[float] = []
        self.missing: list[str] = []

    def install(self) -> None:
        import importlib

        for _group, phase, targets in PHASES:
            for target in targets:
                module_name, qual = target.split(":")
                cls_name, attr = qual.split(".")
                owner = getattr(importlib.import_module(module_name), cls_name, None)
                fn = getattr(owner, attr, None) if owner is not None else None
                if fn is None:
                    self.missing.append(target)
                    continue
                setattr(owner, attr, self._wrap(fn, phase))

    def install_gc(self) -> None:
        """Time the garbage collector's runs too (taken out of the phase they interrupt;
        counted per generation under `gc runs, generation N`)."""
        clock = time.process_time
        began: list[float] = []

        def on_gc(what: str, info: dict[str, Any]) -> None:
            if not self.active:
                began.clear()
                return
            if what == "start":
                began.append(clock())
                return
            if not began:
                return
            elapsed = clock() - began.pop()
            self.totals[GC] += elapsed
            self.totals[f"gc runs, generation {info['generation']}"] += 1
            if self._stack:
                self._stack[-1] += elapsed

        gc.callbacks.append(on_gc)

    def _wrap(self, fn: Any, phase: str) -> Any:
        clock = time.process_time
        stack = self._stack
        totals = self.totals

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if not self.active:
                return fn(*args, **kwargs)
            self.calls += 1
            stack.append(0.0)
            t0 = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = clock() - t0
                inner = stack.pop()
                totals[phase] += elapsed - inner
                if stack:
                    stack[-1] += elapsed

        return timed


def run_tick(
    hb: Any, t: int, *, paused: bool = True, timer: PhaseTimer | None = None
) -> tuple[float, float]:
    """One tick as `HeartbeatDataCollector.run` runs it: (CPU ms of the tick, with the
    garbage collector paused; CPU ms of the collection it made due, run after it,
    between ticks: `drift_engine.heap`). `paused=False` (`--collect-in-tick`): the
    collector as Python runs it, inside the tick (the reference; gap 0). `timer`: the
    phase timer, switched off at the tick's end (the gap is not the tick's)."""
    from drift_engine.heap import collected_after

    clock = time.process_time
    if not paused:
        c0 = clock()
        hb.tick(t)
        c1 = clock()
        if timer is not None:
            timer.active = False
        return (c1 - c0) * 1000, 0.0
    with collected_after():
        c0 = clock()
        hb.tick(t)
        c1 = clock()
        if timer is not None:
            timer.active = False
    return (c1 - c0) * 1000, (clock() - c1) * 1000


def freeze_start_up() -> None:
    """The runner's garbage-collector setting (`drift_engine.heap`: the start-up heap
    frozen before the first tick), so the ticks measured are the runner's."""
    from drift_engine.heap import freeze_start_up as freeze

    freeze()


def build(args: argparse.Namespace, tmp: str, start: int, end: int) -> tuple[Any, Any, Any, Any]:
    """A fresh persisting stack with `args.engines` engines, its heartbeat and data."""
    from drift_engine.data.pipeline import open_market_data
    from drift_engine.engine.commands import OperatorCommands
    from drift_engine.engine.paper import PaperStack
    from drift_engine.storage.database import Database
    from drift_engine.strategies import DeltaNeutralStrategy

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
    return db, stack, hb, data


#: Columns of wall-clock time (or of the machine's speed) left out of `--digest`.
WALL_COLUMNS = {
    "booked_at",
    "created_at",
    "updated_at",
    "saved_at",
    "recorded_at",
    "duration_ms",
    "requested_at",
    "applied_at",
}
#: Ledger entry kinds the registry books at wall-clock time (`occurred_at` left out).
CAPITAL_KINDS = {"deposit", "withdrawal", "transfer_in", "transfer_out"}
DIGEST_TABLES = (
    "vaults",
    "ledger_entries",
    "vault_snapshots",
    "engine_records",
    "engine_events",
    "engine_orders",
    "engine_commands",
    "heartbeats",
    "paper_checkpoints",
)


def digest(path: Path, epochs: list[str], rows_to: str | None = None) -> str:
    """A hash of what a run wrote, without wall-clock columns; the cells' random epochs
    (the prefixes of record ids) replaced by their order. `rows_to`: also write the rows
    hashed there, one JSON line each (to see where two runs differ)."""
    h = hashlib.sha256()
    lines: list[str] = []
    pattern = re.compile("|".join(re.escape(e) for e in epochs)) if epochs else None
    index = {e: f"<epoch{i}>" for i, e in enumerate(epochs)}
    con = sqlite3.connect(path)
    try:
        for table in DIGEST_TABLES:
            cur = con.execute(f"SELECT * FROM {table} ORDER BY 1")  # noqa: S608 - fixed names
            names = [d[0] for d in cur.description]
            for row in cur:
                values = []
                for name, value in zip(names, row, strict=True):
                    if name in WALL_COLUMNS:
                        continue
                    if name == "occurred_at" and row[names.index("kind")] in CAPITAL_KINDS:
                        continue  # the paper capital is booked at the wall clock's time
                    if table == "paper_checkpoints" and name == "state":
                        value = json.loads(zlib.decompress(value))
                    values.append([name, value])
                text = json.dumps([table, values], sort_keys=True, default=str)
                if pattern is not None:
                    text = pattern.sub(lambda m: index[m.group(0)], text)
                h.update(text.encode())
                lines.append(text)
    finally:
        con.close()
    if rows_to:
        Path(rows_to).write_text("\n".join(lines) + "\n")
    return h.hexdigest()[:16]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", type=int, default=10)
    ap.add_argument("--hours", type=int, default=6)
    ap.add_argument("--warmup-hours", type=int, default=1)
    ap.add_argument(
        "--profile",
        choices=("hourly", "ordinary", "entry", "all"),
        help="cProfile the measured ticks of this kind (entry: the tick at which the "
        "engines open their carry; with --entry-repeats or --entry-processes, the "
        "repeated entry ticks) and print the top functions",
    )
    ap.add_argument("--profile-top", type=int, default=45, help="functions --profile prints")
    ap.add_argument("--worst", type=int, default=5, help="print the N costliest ticks")
    ap.add_argument(
        "--profile-sort", default="cumulative", help="pstats sort key (cumulative, tottime)"
    )
    ap.add_argument(
        "--entry-repeats",
        type=int,
        default=0,
        help="run the entry tick N more times in this process, each on a fresh stack, and "
        "print its CPU time and phases",
    )
    ap.add_argument(
        "--entry-processes",
        type=int,
        default=0,
        help="run the entry tick N more times, each as the first trading tick of a fresh "
        "process (its first-time costs included, as in a runner that starts), and print "
        "its CPU time and phases",
    )
    ap.add_argument(
        "--no-entry-phases",
        action="store_true",
        help="repeat the entry without the phase timers' wrappers",
    )
    ap.add_argument(
        "--collect-in-tick",
        action="store_true",
        help="leave the garbage collector running inside the ticks (the reference: before "
        "ADR-0026 the runner did not pause it)",
    )
    ap.add_argument("--digest", action="store_true", help="print a hash of what the main run wrote")
    ap.add_argument("--digest-rows", help="with --digest: write the rows hashed to this file")
    ap.add_argument("--entry-sample", help=argparse.SUPPRESS)  # a child of --entry-processes
    args = ap.parse_args()

    from drift_engine.data.synthetic import DEFAULT_ORIGIN

    start = DEFAULT_ORIGIN
    end = start + (args.hours + args.warmup_hours) * HOUR
    sampling = args.entry_sample is not None
    profile_repeats = args.profile == "entry" and (
        args.entry_repeats > 0 or args.entry_processes > 0
    )
    timer = PhaseTimer()
    if sampling:
        timer.install_gc()
        if not args.no_entry_phases:
            timer.install()
    with tempfile.TemporaryDirectory() as tmp:
        db, stack, hb, data = build(args, tmp, start, end)
        freeze_start_up()  # as `drift-engine run` does before its first tick
        ordinary: list[float] = []
        hourly: list[float] = []
        ticks: list[tuple[float, int, str]] = []
        gaps: list[float] = []  # CPU ms of the collection after each measured tick
        wanted = args.profile and (sampling or not profile_repeats)
        profiler = cProfile.Profile() if wanted else None
        entry: list[float] = []
        entry_ts: int | None = None
        fills_at_entry = 0
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
            timed = dict(timer.totals), timer.calls
            timer.active = sampling and entering
            if profiling:
                profiler.enable()
            cpu, gap = run_tick(hb, t, paused=not args.collect_in_tick, timer=timer)
            if profiling:
                profiler.disable()
            timer.active = False
            if measured:
                if entering and sum(e.stats.fills for e in stack.engines) > 0:
                    kind = "entry"
                    fills_at_entry = sum(e.stats.fills for e in stack.engines) - fills_before
                    entry.append(cpu)
                    entry_ts = t
                elif entering:  # not the entry after all: its phases do not count
                    timer.totals.clear()
                    timer.totals.update(timed[0])
                    timer.calls = timed[1]
                (hourly if t % HOUR == 0 else ordinary).append(cpu)
                ticks.append((cpu, t, kind))
                gaps.append(gap)
            t += 60
            if sampling and entry:
                break  # a child of --entry-processes: the entry was all it came for
        gc.unfreeze()
        db.dispose()
        run_digest = (
            digest(Path(tmp) / "hb.db", [c.epoch for c in stack.cells.values()], args.digest_rows)
            if args.digest
            else None
        )
    if sampling:
        sample = EntrySample(
            entry[0] if entry else float("nan"),
            dict(timer.totals),
            timer.calls,
            fills_at_entry,
        )
        Path(args.entry_sample).write_text(json.dumps(sample.__dict__))
        if profiler is not None:
            profiler.dump_stats(args.entry_sample + ".prof")
        return
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
    if args.collect_in_tick:
        print("garbage collector: inside the ticks (--collect-in-tick, the reference)")
    else:
        ran = [g for g in gaps if g > 0.05]
        print(
            "garbage collector: paused in each tick, the collection it made due run after "
            f"it (between ticks, not in the figures above): {len(ran)} of {len(gaps)} gaps "
            f"collected, CPU ms p99 {pct(gaps, 0.99):.2f}  max {max(gaps, default=0):.2f}"
        )
    if args.worst:
        worst_ticks = sorted(ticks, reverse=True)[: args.worst]
        print(
            "costliest ticks (minute of data, kind, CPU ms): "
            + ", ".join(f"{(t - start) // 60} {kind} {cpu:.2f}" for cpu, t, kind in worst_ticks)
        )
    if profiler is not None:
        pstats.Stats(profiler).sort_stats(args.profile_sort).print_stats(args.profile_top)
    if run_digest is not None:
        print(f"digest of what the run wrote: {run_digest}")
    if entry_ts is not None:
        if args.entry_repeats > 0:
            report_entry(
                args,
                "in this process, each on a fresh stack",
                repeat_entry(args, start, end, entry_ts),
                entry_ts - start,
                fills_at_entry,
            )
        if args.entry_processes > 0:
            report_entry(
                args,
                "each the first trading tick of a fresh process",
                entry_processes(args),
                entry_ts - start,
                fills_at_entry,
            )
    print("load average (1/5/15 min): " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    worst = max(ordinary + hourly)
    print(
        f"goal: every tick <= 20 ms CPU: {'holds' if worst <= 20 else 'does not hold'} "
        f"(max {worst:.2f} ms)"
    )


@dataclass
class EntrySample:
    """One entry tick: CPU ms, exclusive CPU seconds per phase, timed calls, fills."""

    cpu: float
    phases: dict[str, float]
    calls: int
    fills: int
    profile: str | None = None


def repeat_entry(
    args: argparse.Namespace, start: int, end: int, entry_ts: int
) -> list[EntrySample]:
    """The entry tick `args.entry_repeats` times in this process, each on a fresh stack
    (new database, new simulators) ticked up to it over the main run's data."""
    timer = PhaseTimer()
    timer.install_gc()
    if not args.no_entry_phases:
        timer.install()
    samples: list[EntrySample] = []
    for _ in range(args.entry_repeats):
        gc.collect()
        profiler = cProfile.Profile() if args.profile == "entry" else None
        with tempfile.TemporaryDirectory() as tmp:
            db, stack, hb, _data = build(args, tmp, start, end)
            freeze_start_up()  # as `drift-engine run` does before its first tick
            t = start + 60
            while t < entry_ts:
                run_tick(hb, t, paused=not args.collect_in_tick)
                t += 60
            before = sum(e.stats.fills for e in stack.engines)
            timer.totals.clear()
            timer.calls = 0
            timer.active = True
            if profiler is not None:
                profiler.enable()
            cpu, _gap = run_tick(hb, entry_ts, paused=not args.collect_in_tick, timer=timer)
            if profiler is not None:
                profiler.disable()
            timer.active = False
            fills = sum(e.stats.fills for e in stack.engines) - before
            gc.unfreeze()  # this stack's objects may go
            db.dispose()
            sample = EntrySample(cpu, dict(timer.totals), timer.calls, fills)
            if profiler is not None:
                sample.profile = str(Path(tempfile.mkstemp(suffix=".prof")[1]))
                profiler.dump_stats(sample.profile)
            samples.append(sample)
    return samples


def entry_processes(args: argparse.Namespace) -> list[EntrySample]:
    """The entry tick `args.entry_processes` times, each in a fresh process running this
    script up to the entry: the process's first trading tick."""
    import subprocess
    import sys

    samples: list[EntrySample] = []
    for _ in range(args.entry_processes):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "sample.json"
            cmd = [
                sys.executable,
                __file__,
                "--engines",
                str(args.engines),
                "--hours",
                str(args.hours),  # the same data as the main run's
                "--warmup-hours",
                str(args.warmup_hours),
                "--worst",
                "0",
                "--entry-sample",
                str(out),
            ]
            if args.no_entry_phases:
                cmd.append("--no-entry-phases")
            if args.collect_in_tick:
                cmd.append("--collect-in-tick")
            if args.profile == "entry":
                cmd += ["--profile", "entry"]
            subprocess.run(cmd, check=True)
            sample = EntrySample(**json.loads(out.read_text()))
            prof = Path(str(out) + ".prof")
            if prof.exists():
                kept = Path(tempfile.mkstemp(suffix=".prof")[1])
                kept.write_bytes(prof.read_bytes())
                sample.profile = str(kept)
            samples.append(sample)
    return samples


def report_entry(
    args: argparse.Namespace,
    how: str,
    samples: list[EntrySample],
    offset: int,
    fills_at_entry: int,
) -> None:
    cpus = [s.cpu for s in samples]
    n = len(cpus)
    print(
        f"entry tick repeated {n} times ({how}; minute {offset // 60}, fills in it: "
        f"{sorted({s.fills for s in samples})}): CPU ms min {min(cpus):.2f}  "
        f"median {statistics.median(cpus):.2f}  p99 {pct(cpus, 0.99):.2f}  max {max(cpus):.2f}"
    )
    print("  each: " + ", ".join(f"{c:.1f}" for c in cpus))
    profiles = [s.profile for s in samples if s.profile]
    if profiles:
        print("  (profiled: the times above include cProfile's overhead)")
    runs = [
        f"generation {g}: "
        f"{sum(s.phases.get(f'gc runs, generation {g}', 0) for s in samples) / n:.1f}"
        for g in range(3)
    ]
    gc_ms = [s.phases.get(GC, 0.0) * 1000 for s in samples]
    print(
        f"  garbage collector in the tick: CPU ms mean {statistics.fmean(gc_ms):.2f}, max "
        f"{max(gc_ms):.2f}; runs per tick, {', '.join(runs)}"
    )
    if not args.no_entry_phases:
        total = statistics.fmean(cpus)
        covered = 0.0
        groups: dict[str, float] = defaultdict(float)
        calls = sum(s.calls for s in samples) / n
        print(
            f"  phases, exclusive CPU ms per entry tick (mean of {n}; {calls:.0f} timed "
            "calls per tick, their overhead included):"
        )
        for group, phase, _targets in PHASES:
            ms = sum(s.phases.get(phase, 0.0) for s in samples) * 1000 / n
            covered += ms
            groups[group] += ms
            print(f"    {group:<22} {phase:<55} {ms:6.2f}")
        print(f"    {'other':<22} {OTHER:<55} {total - covered:6.2f}")
        print(
            "  by group: "
            + ", ".join(f"{g} {ms:.2f}" for g, ms in groups.items())
            + f", other {total - covered:.2f} (of {total:.2f})"
        )
    if profiles:
        stats = pstats.Stats(profiles[0])
        for extra in profiles[1:]:
            stats.add(extra)
        for path in profiles:
            Path(path).unlink()
        stats.sort_stats(args.profile_sort).print_stats(args.profile_top)
        if os.environ.get("BENCH_CALLERS"):
            stats.print_callers(os.environ["BENCH_CALLERS"])
        if os.environ.get("BENCH_CALLEES"):
            stats.print_callees(os.environ["BENCH_CALLEES"])
    if {s.fills for s in samples} != {fills_at_entry}:
        print(f"  note: expected {fills_at_entry} fills in the entry tick")


if __name__ == "__main__":
    main()
