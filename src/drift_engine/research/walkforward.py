"""Walk-forward: tune on a training window, then trade the chosen parameters on the
window right after it, which tuning never saw; roll forward by one test window.

    |---- train 1 ----|- test 1 -|
               |---- train 2 ----|- test 2 -|
                          |---- train 3 ----|- test 3 -|

Each window reports its in-sample result (the best configuration's objective on its
training window) and its out-of-sample result (the same configuration on the test
window). The out-of-sample results, one after another, are the figure a careful trader
trusts; their ratio to the in-sample ones shows how much of the tuned edge survives.

Grid mode sends every window's training runs to the pool at once, and each window's
test run as soon as that window's training is complete. Optuna mode runs one study per
training window (its trials in parallel).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drift_engine.research.runs import RunResult
from drift_engine.research.space import invalid_reason
from drift_engine.research.stats import objective_value, spread
from drift_engine.research.sweep import SweepTask, run_optuna

DAY = 86_400
_UNITS = {"d": DAY, "h": 3600, "w": 7 * DAY}


def parse_duration(text: str) -> int:
    """`90d`, `2160h`, `12w` or a bare number of days -> seconds."""
    m = re.fullmatch(r"\s*(\d+)\s*([dhw]?)\s*", text)
    if not m or int(m.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration like 90d, 720h or 4w")
    return int(m.group(1)) * _UNITS[m.group(2) or "d"]


def parse_walk_forward(text: str) -> tuple[int, int]:
    """`TRAIN:TEST` (e.g. `90d:30d`) -> (train seconds, test seconds)."""
    train, sep, test = text.partition(":")
    if not sep:
        raise ValueError(f"{text!r} is not TRAIN:TEST (e.g. 90d:30d)")
    return parse_duration(train), parse_duration(test)


@dataclass(frozen=True)
class Window:
    index: int
    train_start: int
    train_end: int
    test_start: int
    test_end: int


def windows(start: int, end: int, train: int, test: int) -> list[Window]:
    """Rolling windows inside [start, end): each test follows its train; step = test."""
    out = []
    t = start
    while t + train + test <= end:
        out.append(Window(len(out), t, t + train, t + train, t + train + test))
        t += test
    if not out:
        raise ValueError(
            f"the window ({(end - start) / DAY:g} days) is shorter than one "
            f"train + test ({(train + test) / DAY:g} days)"
        )
    return out


@dataclass
class WindowResult:
    window: Window
    train_runs: list[RunResult]
    best: RunResult | None
    test: RunResult | None

    def to_json_dict(self, objective: str) -> dict[str, Any]:
        w = self.window
        ok = [r for r in self.train_runs if r.ok]
        return {
            "window": w.index,
            "train": [w.train_start, w.train_end],
            "test": [w.test_start, w.test_end],
            "configurations_tried": len(self.train_runs),
            "failed": len(self.train_runs) - len(ok),
            "best_params": self.best.params if self.best else None,
            "in_sample": self.best.metrics if self.best else None,
            "in_sample_objective": objective_value(self.best.metrics, objective)
            if self.best
            else None,
            "out_of_sample": self.test.metrics if self.test and self.test.ok else None,
            "out_of_sample_objective": objective_value(self.test.metrics, objective)
            if self.test and self.test.ok
            else None,
            "out_of_sample_error": self.test.error if self.test and not self.test.ok else None,
        }


@dataclass
class WalkForwardResult:
    task: SweepTask
    windows: list[WindowResult]
    mode: str

    def summary(self) -> dict[str, Any]:
        obj = self.task.objective
        ins = [objective_value(w.best.metrics, obj) for w in self.windows if w.best]
        oos = [objective_value(w.test.metrics, obj) for w in self.windows if w.test and w.test.ok]
        oos_apr = [w.test.metrics["net_apr"] for w in self.windows if w.test and w.test.ok]
        mean_in = sum(ins) / len(ins) if ins else None
        mean_out = sum(oos) / len(oos) if oos else None
        return {
            "objective": obj,
            "windows": len(self.windows),
            "configurations_per_window": max((len(w.train_runs) for w in self.windows), default=0),
            "in_sample": spread(ins),
            "out_of_sample": spread(oos),
            "out_of_sample_net_apr": spread(oos_apr),
            "efficiency": (mean_out / mean_in) if mean_in not in (None, 0) and mean_out is not None
            else None,
        }  # fmt: skip

    def to_json_dict(self) -> dict[str, Any]:
        t = self.task
        return {
            "mode": f"walk-forward ({self.mode})",
            "strategy": t.strategy.spec,
            "market": t.market,
            "start": t.start,
            "end": t.end,
            "objective": t.objective,
            "fixed": t.fixed,
            "space": {d.name: list(d.values) for d in t.space.dimensions},
            "summary": self.summary(),
            "windows": [w.to_json_dict(t.objective) for w in self.windows],
            "units": "money fields are micro-USDC integers; ratios are fractions",
        }


def _best(runs: list[RunResult], objective: str) -> RunResult | None:
    ok = [r for r in runs if r.ok]
    return max(ok, key=lambda r: objective_value(r.metrics, objective)) if ok else None


def run_walk_forward_grid(
    task: SweepTask,
    pool: Any,
    wins: list[Window],
    *,
    progress: Callable[[RunResult], None] | None = None,
) -> WalkForwardResult:
    cls = task.strategy.load()
    points = [task.params(p) for p in task.space.grid()]
    points = [p for p in points if invalid_reason(cls, p) is None]
    if not points:
        raise ValueError("no valid configuration in the grid")
    run_window: dict[int, tuple[int, str]] = {}
    next_id = 0
    for w in wins:
        for params in points:
            pool.submit(
                task.at(w.train_start, w.train_end).spec(next_id, params, f"w{w.index} train")
            )
            run_window[next_id] = (w.index, "train")
            next_id += 1
    train: dict[int, list[RunResult]] = defaultdict(list)
    tests: dict[int, RunResult] = {}
    while pool.pending:
        result = pool.next_result()
        if progress is not None:
            progress(result)
        index, kind = run_window[result.run_id]
        if kind == "test":
            tests[index] = result
            continue
        train[index].append(result)
        if len(train[index]) == len(points):
            best = _best(train[index], task.objective)
            if best is not None:
                w = wins[index]
                spec = task.at(w.test_start, w.test_end).spec(
                    next_id, best.params, f"w{index} test"
                )
                run_window[next_id] = (index, "test")
                next_id += 1
                pool.submit(spec)
    out = [
        WindowResult(w, train[w.index], _best(train[w.index], task.objective), tests.get(w.index))
        for w in wins
    ]
    return WalkForwardResult(task, out, "grid")


def run_walk_forward_optuna(
    task: SweepTask,
    pool: Any,
    wins: list[Window],
    n_trials: int,
    *,
    storage: Any,
    name: str,
    seed: int = 0,
    progress: Callable[[RunResult], None] | None = None,
) -> WalkForwardResult:
    out = []
    for w in wins:
        sweep = run_optuna(
            task.at(w.train_start, w.train_end), pool, n_trials, storage=storage,
            name=f"{name}-w{w.index}", seed=seed, progress=progress, tag=f"w{w.index} train",
        )  # fmt: skip
        best = sweep.best()
        test = None
        if best is not None:
            pool.submit(task.at(w.test_start, w.test_end).spec(-1, best.params, f"w{w.index} test"))
            test = pool.next_result()
            if progress is not None:
                progress(test)
        out.append(WindowResult(w, sweep.results, best, test))
    return WalkForwardResult(task, out, "optuna")


__all__ = [
    "WalkForwardResult",
    "Window",
    "WindowResult",
    "parse_duration",
    "parse_walk_forward",
    "run_walk_forward_grid",
    "run_walk_forward_optuna",
    "windows",
]
