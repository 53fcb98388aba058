"""Sweeps through the real backtest: per-run results equal `backtest` alone, on an
in-process pool, a local process pool and a local Ray cluster; failing runs are
reported with their parameters; Optuna studies resume from our database; walk-forward
reports in-sample and out-of-sample per window."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from drift_engine.backtest.runner import parse_date, run_backtest
from drift_engine.cli import app
from drift_engine.research.data import load_market_data
from drift_engine.research.pools import InProcessPool, ProcessPool
from drift_engine.research.runs import METRIC_FIELDS
from drift_engine.research.space import SearchSpace
from drift_engine.research.sweep import SweepTask, run_grid, run_optuna
from drift_engine.strategies import StrategyRef

runner = CliRunner()
START, END = parse_date("2026-01-15"), parse_date("2026-01-16")
GRID = ["entry_apr=0.0,0.1", "lookback_hours=6,24"]
USER = Path(__file__).parent.parent / "strategies" / "user_strategy.py"


def task(spec="delta-neutral", grid=GRID, start=START, end=END, **fixed) -> SweepTask:
    return SweepTask(StrategyRef.of(spec), "SOL-PERP", start, end, SearchSpace.parse(grid), fixed)


@pytest.fixture(scope="module")
def data():
    return load_market_data("bundled", ["SOL-PERP"], START, END)


@pytest.fixture(scope="module")
def in_process(data):
    with InProcessPool(data) as pool:
        return run_grid(task(exit_apr=-1.0), pool)


def by_params(sweep) -> dict[str, dict]:
    return {json.dumps(r.params, sort_keys=True): r.metrics for r in sweep.results}


def test_each_run_equals_backtest_alone(in_process):
    assert len(in_process.results) == 4 and all(r.ok for r in in_process.results)
    entered = [r for r in in_process.results if r.metrics["trades"] > 0]
    assert entered, "the small grid should trade in at least one configuration"
    for r in in_process.results:
        args = [
            "backtest", "--market", "SOL-PERP", "--start", "2026-01-15", "--end",
            "2026-01-16", "--source", "bundled", "--json",
        ]  # fmt: skip
        for key, value in r.params.items():
            args += ["--param", f"{key}={json.dumps(value)}"]
        out = runner.invoke(app, args)
        assert out.exit_code == 0, out.output
        alone = json.loads(out.stdout)
        for name in METRIC_FIELDS:
            assert r.metrics[name] == alone[name], (r.params, name)
        assert r.strategy_state == alone["strategy_state"]


def test_a_local_process_pool_gives_identical_results(data, in_process):
    with ProcessPool(data, workers=2) as pool:
        sweep = run_grid(task(exit_apr=-1.0), pool)
    assert by_params(sweep) == by_params(in_process)


def test_a_local_ray_cluster_gives_identical_results(data, in_process):
    pytest.importorskip("ray")
    from drift_engine.research.pools import RayPool

    pool = RayPool(data, "local", workers=2)  # in-process ray.init on 127.0.0.1
    try:
        import ray

        assert ray.is_initialized()
        # workers at the driver's priority, not Ray's default nice 15 (ADR 0017)
        assert ray.get(ray.remote(lambda: os.nice(0)).remote()) == os.nice(0)
        sweep = run_grid(task(exit_apr=-1.0), pool)
    finally:
        pool.close()
    assert not ray.is_initialized()
    assert by_params(sweep) == by_params(in_process)


def test_a_failing_run_is_reported_with_its_parameters_and_the_others_go_on(tmp_path, data):
    spec_file = tmp_path / "mine.py"
    shutil.copy(USER, spec_file)
    t = task(f"{spec_file}:ShortFunding", ["entry_apr=0.0,0.1,0.5"], fail_above=0.2)
    with InProcessPool(data) as pool:
        sweep = run_grid(t, pool)
    failed = [r for r in sweep.results if not r.ok]
    assert len(failed) == 1 and failed[0].params["entry_apr"] == 0.5
    assert "RuntimeError: entry_apr 0.5 is above 0.2" in failed[0].error
    assert sum(r.ok for r in sweep.results) == 2
    assert sweep.summary["failed"] == 1 and sweep.summary["succeeded"] == 2


def test_a_worker_process_that_dies_is_one_failed_run(tmp_path, data):
    crash = tmp_path / "crash.py"
    crash.write_text(
        USER.read_text().replace(
            'raise RuntimeError(f"entry_apr {cfg.entry_apr} is above {cfg.fail_above}")',
            "import os; os._exit(3)",
        )
    )
    t = task(f"{crash}:ShortFunding", ["entry_apr=0.0,0.1,0.5"], fail_above=0.2)
    with ProcessPool(data, workers=2) as pool:
        sweep = run_grid(t, pool)
    failed = [r for r in sweep.results if not r.ok]
    assert [r.params["entry_apr"] for r in failed] == [0.5]
    assert "worker process died" in failed[0].error
    assert sorted(r.params["entry_apr"] for r in sweep.results if r.ok) == [0.0, 0.1]


def test_invalid_combinations_are_skipped_with_the_reason(data):
    t = task(grid=["entry_apr=0.0,0.1", "exit_apr=0.05"])
    with InProcessPool(data) as pool:
        sweep = run_grid(t, pool)
    assert len(sweep.results) == 1 and sweep.results[0].params["entry_apr"] == 0.1
    assert sweep.skipped == [
        {
            "params": {"entry_apr": 0.0, "exit_apr": 0.05},
            "reason": "exit_apr must not exceed entry_apr",
        }
    ]
    assert sweep.summary["skipped_invalid"] == 1


def test_optuna_study_lives_beside_our_database_and_resumes(tmp_path, data):
    from sqlalchemy import create_engine, text

    from drift_engine.research.study import open_storage
    from drift_engine.storage.database import Database

    url = f"sqlite:///{tmp_path / 'drift.db'}"
    Database.open(url).dispose()  # our schema, stamped by our migrations
    storage, where = open_storage(url)
    assert where == str(tmp_path / "drift.optuna.db")
    t = task(grid=["entry_apr=0.0:0.3:0.1", "lookback_hours=6,24"], exit_apr=-1.0)
    with InProcessPool(data) as pool:
        first = run_optuna(t, pool, 3, storage=storage, name="s1", seed=1)
        assert len(first.results) == 3 and first.study["resumed_trials"] == 0
        # a driver that died mid-trial leaves it RUNNING: it is failed and asked again
        import optuna

        study = optuna.load_study(study_name="s1", storage=storage)
        dead = study.ask({"entry_apr": optuna.distributions.FloatDistribution(0.0, 0.3, step=0.1)})
        second = run_optuna(t, pool, 5, storage=storage, name="s1", seed=1)
    assert second.study["resumed_trials"] == 4  # 3 complete + the dead driver's
    assert len(second.results) == 4  # 3 earlier + 1 new (the dead trial had no result)
    states = [tr.state.name for tr in optuna.load_study(study_name="s1", storage=storage).trials]
    assert states.count("COMPLETE") == 4 and states.count("FAIL") == 1
    assert (
        optuna.load_study(study_name="s1", storage=storage).trials[dead.number].state.name == "FAIL"
    )
    # our database is untouched: our Alembic revision, no Optuna tables
    engine = create_engine(url)
    with engine.connect() as conn:
        tables = {r[0] for r in conn.execute(text("select name from sqlite_master"))}
        (rev,) = conn.execute(text("select version_num from alembic_version")).one()
    engine.dispose()
    assert "studies" not in tables and "trials" not in tables
    assert rev[:4].isdigit()
    Database.open(url).dispose()  # still opens and migrates


def test_sweep_cli_prints_table_statistics_and_writes_json_and_plot(tmp_path):
    plot, out = tmp_path / "grid.png", tmp_path / "grid.json"
    r = runner.invoke(app, [
        "sweep", "--market", "SOL-PERP", "--start", "2026-01-15", "--end", "2026-01-16",
        "--grid", "entry_apr=0.0,0.1", "--grid", "lookback_hours=6,24", "--param", "exit_apr=-1",
        "--workers", "1", "--plot", str(plot), "--output", str(out),
    ])  # fmt: skip
    assert r.exit_code == 0, r.output
    for needle in ("Sweep (grid)", "configurations tried: 4", "net_apr spread", "deflated Sharpe"):
        assert needle in " ".join(r.output.split()), needle
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = json.loads(out.read_text())
    assert len(doc["runs"]) == 4 and doc["summary"]["deflated_sharpe"]["trials"] == 4


def test_walk_forward_reports_in_and_out_of_sample_per_window(tmp_path):
    start = parse_date("2026-01-13")
    r = runner.invoke(app, [
        "sweep", "--market", "SOL-PERP", "--start", "2026-01-13", "--end", "2026-01-17",
        "--grid", "entry_apr=0.0,0.2", "--param", "exit_apr=-1", "--param", "lookback_hours=6",
        "--walk-forward", "2d:1d", "--workers", "1", "--json",
    ])  # fmt: skip
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    wins = doc["windows"]
    assert [(w["train"][0], w["test"][0]) for w in wins] == [
        (start, start + 2 * 86400), (start + 86400, start + 3 * 86400),
    ]  # fmt: skip
    for w in wins:
        assert w["configurations_tried"] == 2 and w["in_sample"] and w["out_of_sample"]
    # the out-of-sample figure is the backtest of the tuned parameters on the test window
    w = wins[-1]
    alone = run_backtest("delta-neutral", "SOL-PERP", w["test"][0], w["test"][1], w["best_params"])
    assert w["out_of_sample"]["net_apr"] == alone.net_apr
    assert w["out_of_sample"]["funding"] == alone.funding
    assert doc["summary"]["windows"] == 2


def test_optimize_cli_resumes_its_study_and_draws_parallel_coordinates(tmp_path, monkeypatch):
    monkeypatch.setenv("DRIFT_ENGINE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    args = [
        "sweep", "--market", "SOL-PERP", "--start", "2026-01-15", "--end", "2026-01-16",
        "--grid", "entry_apr=0.0:0.3:0.1", "--grid", "lookback_hours=6,12,24",
        "--grid", "rebalance_band=0.02,0.05", "--param", "exit_apr=-1", "--workers", "1",
        "--objective", "calmar", "--seed", "5",
    ]  # fmt: skip
    first = runner.invoke(app, [*args, "--optimize", "2", "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["study"]["resumed_trials"] == 0
    plot = tmp_path / "pc.png"
    again = runner.invoke(app, [*args, "--optimize", "3", "--plot", str(plot)])
    assert again.exit_code == 0, again.output
    text = " ".join(again.output.split())
    assert "Sweep (optuna)" in text and "(2 from earlier runs)" in text
    assert "configurations tried: 3" in text
    assert (tmp_path / "var" / "drift_engine.optuna.db").exists()
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_ray_address_comes_from_the_flag_or_the_environment(monkeypatch):
    from drift_engine.research.pools import RAY_ADDRESS_ENV, ray_address

    monkeypatch.delenv(RAY_ADDRESS_ENV, raising=False)
    assert ray_address(False) is None and ray_address(True) == "local"
    monkeypatch.setenv(RAY_ADDRESS_ENV, "ray://head:10001")
    assert ray_address(False) == "ray://head:10001"
    assert ray_address(True, "ray://other:10001") == "ray://other:10001"


def test_the_ray_address_variable_is_a_known_setting(monkeypatch):
    from drift_engine.config import load_settings

    monkeypatch.setenv("DRIFT_ENGINE_RAY_ADDRESS", "ray://head:10001")
    assert load_settings().ray_address == "ray://head:10001"


def test_each_result_keeps_its_cpu_time(data, in_process):
    """A run's CPU seconds in its worker are kept beside its wall time (a loaded machine
    or a busy neighbour worker stretches the wall, not the CPU); a result stored before
    the field existed (an Optuna study's trial attributes) still loads, with 0.0."""
    from drift_engine.research.runs import RunResult

    with ProcessPool(data, workers=2) as pool:
        sweep = run_grid(task(exit_apr=-1.0), pool)
    for r in [*in_process.results, *sweep.results]:
        assert 0 < r.cpu_seconds < r.wall_seconds + 1.0, r
    stored = in_process.results[0].to_json_dict()
    del stored["cpu_seconds"]
    assert RunResult(**stored).cpu_seconds == 0.0
