"""Where a backtest's replay spends its CPU, per part of a funding hour (issue #14, ADR-0020
and ADR-0024): the tool behind the per-hour figures in those ADRs. Prints; asserts
nothing.

    .venv/bin/python bench/quiet_hour_parts.py                      # parts, bench year
    .venv/bin/python bench/quiet_hour_parts.py --data real          # the real SOL year
    .venv/bin/python bench/quiet_hour_parts.py --data real --strategy delta-neutral
    .venv/bin/python bench/quiet_hour_parts.py --profile out.prof   # cProfile instead
    .venv/bin/python bench/quiet_hour_parts.py --ab drift_engine.fastforward:QUIET_BARE
    .venv/bin/python bench/quiet_hour_parts.py --ab drift_engine.engine.ledger:QUIET_ROWS \
        --instructions --days 30

- parts (default): each part's process time summed over the replay (`run_events`),
  per funding hour (hours = `books_pass` calls: the hours fast stepping asked to pass
  quietly). Parts nest (indented ones are inside the part above them); the wrappers
  cost ~1 us a call, so compare two branches with this script, not with a figure.
- `--profile FILE`: cProfile of the replay only (data preparation and report outside),
  saved to FILE, top 45 functions by own time printed.
- `--ab MODULE:FLAG[,...]`: the replay with the module flags as shipped (A) and all of
  them flipped (B), alternated `--rounds` times in one process; medians, A/B and
  whether the reports are the same (a reference flag must not change the result).
- `--ab ... --instructions`: the same A/B counted in instructions, which the machine's
  load does not move: each side once in its own process under valgrind's callgrind,
  counting only inside the replay (`run_events`; a small C shim, compiled with `cc`,
  starts and stops the count), PYTHONHASHSEED=0, after a full `gc.collect()` (one
  the data's preparation made due fell inside a 30-day replay: ~35 % of its count, a
  cost no year's replay has); each side prints its gc runs per generation inside the
  replay (a side with a full collection the other lacks is no A/B). Two runs of one side differ by
  ~0.06 %; a wall-clock A/B on this shared machine cannot resolve a cut of a few per
  cent (ADR-0020 point 83). Needs valgrind (with its headers) and a C compiler;
  ~50x slower than a plain run: use `--days 30`. `--count-end` counts on after the
  replay up to the end of the run's last flush (the commit of what the replay left
  held): a flag that holds writes longer moves their cost there.

`--data bench` is `backtest_speed.py`'s synthetic minute year with its hold-short
strategy; `--data real` the bundled real SOL-PERP hourly year (2025-04-14 -> 2026-04-01).
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import dataclasses
import gc
import hashlib
import importlib
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import backtest_speed as bs  # (bench/: the script's own folder)

from drift_engine.heartbeat import HeartbeatDataCollector

REAL_SOL = (1_744_588_800, 1_775_001_600)
#: (module, attribute, label) of each part; a label's indent says it runs inside the
#: part above it
PARTS = (
    ("drift_engine.heartbeat:HeartbeatDataCollector", "run_events", "replay (run_events)"),
    ("drift_engine.fastforward", "_hour_ahead", "  plan (_hour_ahead)"),
    ("drift_engine.fastforward", "_hour_equity", "  hour's equity bound"),
    ("drift_engine.fastforward", "_row_takes", "  hour's skip (_row_takes)"),
    ("drift_engine.engine.engine:DriftEngine", "skip", "  engine.skip"),
    ("drift_engine.heartbeat:HeartbeatDataCollector", "_pull_events", "  pull the hour tick"),
    ("drift_engine.sim.simulator:DriftSimulator", "apply", "    simulator rules"),
    ("drift_engine.backtest.attribution:PnlAttribution", "apply", "    attribution"),
    ("drift_engine.engine.quiet", "books_pass", "  books_pass"),
    ("drift_engine.heartbeat:HeartbeatDataCollector", "tick_quiet", "  quiet tick"),
    ("drift_engine.engine.quiet", "quiet_step", "    quiet_step"),
    ("drift_engine.engine.quiet", "book_payments", "      book_payments"),
    ("drift_engine.heartbeat:HeartbeatDataCollector", "_close", "    tick's close (on_tick)"),
    ("drift_engine.engine.store:WriteBatch", "run", "      weekly flush"),
    ("drift_engine.engine.quiet:Quiet", "carry", "  Quiet.carry"),
    ("drift_engine.heartbeat:HeartbeatDataCollector", "tick", "  real ticks"),
)


def _owner(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    owner = importlib.import_module(module)
    return getattr(owner, attr) if attr else owner


def _time_parts() -> tuple[collections.Counter, collections.Counter]:
    """Wraps every part (`PARTS`) to sum its process time and calls; returns the sums."""
    spent: collections.Counter = collections.Counter()
    calls: collections.Counter = collections.Counter()
    clock = time.process_time_ns
    for spec, name, label in PARTS:
        owner = _owner(spec)
        f = getattr(owner, name)

        def timed(*a: Any, _f: Any = f, _label: str = label, **k: Any) -> Any:
            t = clock()
            try:
                return _f(*a, **k)
            finally:
                spent[_label] += clock() - t
                calls[_label] += 1

        setattr(owner, name, timed)
    return spent, calls


def _run(data: str, strategy: str, days: int) -> tuple[Any, int]:
    """One backtest (fast stepping); returns (report, bars of the data)."""
    from drift_engine.backtest.runner import run_backtest

    if data == "real":
        from drift_engine.data.pipeline import open_market_data

        start, end = REAL_SOL
        opened = open_market_data("bundled", ["SOL-PERP"], start, end)
        feed = (opened.events, opened.label())
    else:
        events, label, start, end, _ = bs.prepare_data(days, 7)
        feed = (events, label)
    strat = bs.hold_short_strategy() if strategy == "hold-short" else strategy
    report = run_backtest(strat, "SOL-PERP", start, end, data=feed, stepping="fast")
    return report, (end - start) // 60


def _same(report: Any) -> tuple:
    skip = {"wall_seconds", "events_per_second"}
    return tuple(
        repr(getattr(report, f.name)) for f in dataclasses.fields(report) if f.name not in skip
    )


#: the shim callgrind counts through: zeroed and started as the replay begins, stopped
#: and dumped as it ends (valgrind's client requests are C macros)
_CALLGRIND_SHIM = """#include <valgrind/callgrind.h>
void cg_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void cg_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; CALLGRIND_DUMP_STATS_AT("replay"); }
"""


def _set_flags(spec: str, side: str) -> None:
    """Side A: the module flags of `spec` as shipped; side B: each flipped."""
    for f in spec.split(","):
        owner, flag = _owner(f.split(":")[0]), f.split(":")[1]
        shipped = _SHIPPED.setdefault((id(owner), flag), getattr(owner, flag))
        setattr(owner, flag, shipped if side == "A" else not shipped)


#: (module or class id, flag) -> its value as shipped, read before `_set_flags` first
#: sets it
_SHIPPED: dict[tuple[int, str], Any] = {}


#: the modules a replay imports on first use (fast stepping's). Imported before the count:
#: with PYTHONDONTWRITEBYTECODE set (as on our machines) each import compiles its source,
#: ~110 M instructions, ~15 % of a 30-day count that no later replay in the process pays
_REPLAY_IMPORTS = (
    "drift_engine.engine.quiet",
    "drift_engine.fastforward",
    "drift_engine.sim.quiet",
    "drift_engine.sim.stretch",
    "drift_engine.tape",
)


def _counted_child(args: argparse.Namespace) -> int:
    """One side of `--instructions`, run under callgrind by the parent: the flags set,
    the replay counted through the shim, the report's digest printed for the parent."""
    import ctypes

    _set_flags(args.ab, args.callgrind_side)
    shim = ctypes.CDLL(os.environ["QUIET_HOUR_PARTS_SHIM"])
    run_events = HeartbeatDataCollector.run_events

    ran: list[int] = []

    def counted(self: Any, **kw: Any) -> Any:
        # a full collection the data's preparation made due would otherwise fall inside
        # the count (~35 % of a 30-day replay, none in the year's): collected before it
        gc.collect()
        before = [g["collections"] for g in gc.get_stats()]
        shim.cg_start()
        try:
            return run_events(self, **kw)
        finally:
            if not args.count_end:  # (else stopped after the run's last flush)
                shim.cg_stop()
            ran[:] = [g["collections"] - b for g, b in zip(gc.get_stats(), before, strict=True)]

    HeartbeatDataCollector.run_events = counted  # type: ignore[method-assign]
    if args.count_end:
        from drift_engine.engine.store import WriteBatch

        batch_run = WriteBatch.run

        def counted_end(self: Any, session: Any, **kw: Any) -> Any:
            # the count goes on after the replay up to the end of the run's last flush
            try:
                return batch_run(self, session, **kw)
            finally:
                if ran:
                    shim.cg_stop()

        WriteBatch.run = counted_end  # type: ignore[method-assign]
    for name in _REPLAY_IMPORTS:  # imported by the replay on first use: not its own work
        importlib.import_module(name)
    report, _ = _run(args.data, args.strategy, args.days)
    digest = hashlib.sha256(repr(_same(report)).encode()).hexdigest()[:16]
    print(f"report {digest} funding_hours {report.funding_hours}")
    print(f"gc runs per generation in the replay {ran}")
    return 0


def _instructions_ab(args: argparse.Namespace) -> int:
    """`--ab ... --instructions`: each side in its own process under callgrind."""
    missing = [tool for tool in ("valgrind", "cc") if shutil.which(tool) is None]
    if missing:
        print(f"--instructions needs {' and '.join(missing)} on PATH", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="quiet-hour-parts-") as tmp:
        src, lib = Path(tmp) / "cg.c", Path(tmp) / "libcg.so"
        src.write_text(_CALLGRIND_SHIM)
        subprocess.run(["cc", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
        env = dict(os.environ, PYTHONHASHSEED="0", QUIET_HOUR_PARTS_SHIM=str(lib))
        counts: dict[str, int] = {}
        digests: dict[str, str] = {}
        hours = 0
        for side in "AB":
            cmd = [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={tmp}/callgrind.{side}.out",
                sys.executable,
                __file__,
                "--ab",
                args.ab,
                "--data",
                args.data,
                "--strategy",
                args.strategy,
                "--days",
                str(args.days),
                "--callgrind-side",
                side,
                *(["--count-end"] if args.count_end else []),
            ]
            done = subprocess.run(cmd, env=env, capture_output=True, text=True)
            collected = re.search(r"Collected : (\d+)", done.stderr)
            got = re.search(r"report (\w+) funding_hours (\d+)", done.stdout)
            if done.returncode != 0 or collected is None or got is None:
                print(done.stdout[-2000:] + done.stderr[-2000:], file=sys.stderr)
                return 1
            counts[side], digests[side], hours = int(collected[1]), got[1], int(got[2])
            gcs = re.search(r"gc runs per generation in the replay (\[.*\])", done.stdout)
            print(
                f"{side}: {counts[side]:,} instructions in the replay = "
                f"{counts[side] / max(1, hours):,.0f} per funding hour ({hours:,} hours); "
                f"gc runs per generation {gcs[1] if gcs else '?'}"
            )
    same = digests["A"] == digests["B"]
    print(f"A/B {counts['A'] / counts['B']:.4f}; same report: {same}")
    return 0 if same else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", choices=("bench", "real"), default="bench")
    ap.add_argument("--strategy", choices=("hold-short", "delta-neutral"), default="hold-short")
    ap.add_argument("--days", type=int, default=365, help="bench data only")
    ap.add_argument("--profile", metavar="FILE")
    ap.add_argument("--ab", metavar="MODULE:FLAG[,...]")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--instructions", action="store_true", help="with --ab: callgrind counts")
    ap.add_argument(
        "--count-end",
        action="store_true",
        help="with --instructions: count on after the replay up to the end of its last flush",
    )
    ap.add_argument("--callgrind-side", choices=("A", "B"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.callgrind_side:
        return _counted_child(args)
    if args.instructions:
        if not args.ab:
            ap.error("--instructions counts an --ab comparison: give --ab MODULE:FLAG")
        return _instructions_ab(args)
    if args.profile:
        prof = cProfile.Profile()
        run_events = HeartbeatDataCollector.run_events

        def profiled(self: Any, **kw: Any) -> Any:
            prof.enable()
            try:
                return run_events(self, **kw)
            finally:
                prof.disable()

        HeartbeatDataCollector.run_events = profiled  # type: ignore[method-assign]
        _run(args.data, args.strategy, args.days)
        prof.dump_stats(args.profile)
        pstats.Stats(args.profile).sort_stats("tottime").print_stats(45)
        return 0
    if args.ab:
        res: dict[str, list[float]] = {"A": [], "B": []}
        reports = set()
        bars = 0
        with bs.timing_replays() as cpu:
            for _ in range(args.rounds):
                for side in "AB":
                    _set_flags(args.ab, side)
                    report, bars = _run(args.data, args.strategy, args.days)
                    res[side].append(cpu[-1])
                    reports.add(_same(report))
        for side in "AB":
            med = statistics.median(res[side])
            runs = ", ".join(f"{x:.3f}" for x in res[side])
            print(f"{side}: replay CPU s {runs}; median {med:.3f} = {bars / med:,.0f} bars/s")
        ratio = statistics.median(res["A"]) / statistics.median(res["B"])
        print(f"A/B {ratio:.3f}; same report: {len(reports) == 1}")
        return 0 if len(reports) == 1 else 1
    spent, calls = _time_parts()
    report, bars = _run(args.data, args.strategy, args.days)
    hours = max(1, calls["  books_pass"])
    total = spent["replay (run_events)"]
    print(
        f"{args.data} data, {args.strategy}: {bars:,} bars, {report.funding_hours:,} funding "
        f"hours, {calls['  books_pass']:,} asked to pass quietly; replay {total / 1e9:.3f} s "
        f"CPU = {bars / (total / 1e9):,.0f} bars/s"
    )
    for _, _, label in PARTS:
        if calls[label]:
            print(
                f"{label:32s} {spent[label] / 1e9:7.3f} s {spent[label] / 1e3 / hours:8.1f} "
                f"us/hour  calls {calls[label]:,}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
