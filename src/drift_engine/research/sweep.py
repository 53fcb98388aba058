"""Sweeps: every point of a grid, or an Optuna study over the same space.

Both submit `RunSpec`s to a `RunPool` and collect `RunResult`s as they finish (streamed:
progress moves with each finished run, whatever the order). A configuration the
strategy's config model refuses as a whole (exit_apr above entry_apr) is not run: it is
listed under `skipped` with the reason. A run that fails is a result with `ok=False`,
its error and its parameters; the others go on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drift_engine.research.runs import RunResult, RunSpec
from drift_engine.research.space import SearchSpace, invalid_reason
from drift_engine.research.stats import objective_value, summarize
from drift_engine.strategies.loading import StrategyRef

Progress = Callable[[RunResult], None]


@dataclass(frozen=True)
class SweepTask:
    """What to sweep: a strategy on a market over a window, fixed and swept parameters."""

    strategy: StrategyRef
    market: str
    start: int
    end: int
    space: SearchSpace
    fixed: dict[str, Any] = field(default_factory=dict)
    objective: str = "net_apr"
    capital: int = 10_000_000_000
    interval_s: int = 60

    def params(self, point: dict[str, Any]) -> dict[str, Any]:
        out = {**self.fixed, **point}
        cls = self.strategy.load()
        if "market" in cls.config_model.model_fields:
            out.setdefault("market", self.market)
        return out

    def spec(self, run_id: int, params: dict[str, Any], tag: str = "") -> RunSpec:
        return RunSpec(
            run_id, self.strategy, self.market, self.start, self.end, params,
            self.capital, self.interval_s, tag,
        )  # fmt: skip

    def at(self, start: int, end: int) -> SweepTask:
        from dataclasses import replace

        return replace(self, start=start, end=end)


@dataclass
class SweepResult:
    task: SweepTask
    results: list[RunResult]
    skipped: list[dict[str, Any]]
    mode: str  # "grid" | "optuna"
    study: dict[str, Any] | None = None

    @property
    def summary(self) -> dict[str, Any]:
        out = summarize(self.results, self.task.objective)
        out["skipped_invalid"] = len(self.skipped)
        return out

    def best(self) -> RunResult | None:
        ok = [r for r in self.results if r.ok]
        if not ok:
            return None
        return max(ok, key=lambda r: objective_value(r.metrics, self.task.objective))

    def ranked(self) -> list[RunResult]:
        ok = sorted(
            (r for r in self.results if r.ok),
            key=lambda r: objective_value(r.metrics, self.task.objective),
            reverse=True,
        )
        return ok + [r for r in self.results if not r.ok]

    def to_json_dict(self) -> dict[str, Any]:
        t = self.task
        return {
            "mode": self.mode,
            "strategy": t.strategy.spec,
            "market": t.market,
            "start": t.start,
            "end": t.end,
            "objective": t.objective,
            "fixed": t.fixed,
            "space": {d.name: list(d.values) for d in t.space.dimensions},
            "summary": self.summary,
            "study": self.study,
            "runs": [r.to_json_dict() for r in sorted(self.results, key=lambda r: r.run_id)],
            "skipped": self.skipped,
            "units": "money fields are micro-USDC integers; ratios are fractions",
        }


def _collect(pool: Any, n: int, progress: Progress | None) -> list[RunResult]:
    out = []
    for _ in range(n):
        result = pool.next_result()
        out.append(result)
        if progress is not None:
            progress(result)
    return out


def run_grid(
    task: SweepTask, pool: Any, *, progress: Progress | None = None, tag: str = "",
    first_id: int = 0,
) -> SweepResult:  # fmt: skip
    """Every grid point of `task.space` (invalid combinations set aside)."""
    cls = task.strategy.load()
    skipped: list[dict[str, Any]] = []
    specs: list[RunSpec] = []
    for point in task.space.grid():
        params = task.params(point)
        reason = invalid_reason(cls, params)
        if reason is not None:
            skipped.append({"params": point, "reason": reason})
            continue
        specs.append(task.spec(first_id + len(specs), params, tag))
    for spec in specs:
        pool.submit(spec)
    results = _collect(pool, len(specs), progress)
    return SweepResult(task, results, skipped, "grid")


def planned_runs(task: SweepTask) -> int:
    cls = task.strategy.load()
    return sum(invalid_reason(cls, task.params(p)) is None for p in task.space.grid())


def finished_trials(storage: Any, name: str) -> int:
    """How many trials of study `name` are finished already (0 if it does not exist)."""
    import optuna

    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        return 0
    return sum(t.state.is_finished() for t in study.get_trials(deepcopy=False))


def run_optuna(
    task: SweepTask,
    pool: Any,
    n_trials: int,
    *,
    storage: Any,
    name: str,
    seed: int = 0,
    progress: Progress | None = None,
    tag: str = "",
) -> SweepResult:
    """An Optuna study (TPE, seeded, maximising the objective) of `n_trials` trials in
    `storage`, `pool.workers` at a time (ask/tell). Resumable: trials the study already
    holds count toward `n_trials` and are reported with the new ones."""
    import optuna
    from optuna.trial import TrialState

    cls = task.strategy.load()
    sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=True)
    study = optuna.create_study(
        storage=storage, study_name=name, direction="maximize", sampler=sampler,
        load_if_exists=True,
    )  # fmt: skip
    # Trials a dead driver left RUNNING: fail them, and ask their parameters again.
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        study.enqueue_trial(t.params, skip_if_exists=False)
    done = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
    results: list[RunResult] = []
    skipped: list[dict[str, Any]] = []
    for t in done:
        if "invalid" in t.user_attrs:
            skipped.append({"params": t.params, "reason": t.user_attrs["invalid"]})
        elif "result" in t.user_attrs:
            results.append(RunResult(**t.user_attrs["result"]))
    resumed = len(done)
    remaining = max(0, n_trials - resumed)
    trials: dict[int, Any] = {}
    asked = 0

    def ask() -> bool:
        nonlocal asked
        while asked < remaining:
            asked += 1
            trial = study.ask()
            point = task.space.suggest(trial)
            params = task.params(point)
            reason = invalid_reason(cls, params)
            if reason is not None:
                trial.set_user_attr("invalid", reason)
                study.tell(trial, state=TrialState.FAIL)
                skipped.append({"params": point, "reason": reason})
                continue
            spec = task.spec(trial.number, params, tag)
            trials[trial.number] = trial
            pool.submit(spec)
            return True
        return False

    for _ in range(max(1, pool.workers)):
        if not ask():
            break
    while pool.pending:
        result = pool.next_result()
        trial = trials.pop(result.run_id)
        trial.set_user_attr("result", result.to_json_dict())
        if result.ok:
            study.tell(trial, objective_value(result.metrics, task.objective))
        else:
            study.tell(trial, state=TrialState.FAIL)
        results.append(result)
        if progress is not None:
            progress(result)
        ask()
    info = {"name": name, "trials": len(study.trials), "resumed_trials": resumed,
            "sampler": "TPE", "seed": seed}  # fmt: skip
    return SweepResult(task, results, skipped, "optuna", study=info)


__all__ = [
    "SweepResult",
    "SweepTask",
    "finished_trials",
    "planned_runs",
    "run_grid",
    "run_optuna",
]
