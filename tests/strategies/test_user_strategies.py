"""A strategy the user wrote, in a file outside the package or in an installed package:
found, validated, listed, and run by `backtest`, `run` and `sweep`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from drift_engine.cli import app
from drift_engine.strategies import (
    StrategyLoadError,
    StrategyRef,
    installed_strategies,
    strategy_class,
)

runner = CliRunner()
HERE = Path(__file__).parent


@pytest.fixture
def user_file(tmp_path) -> Path:
    target = tmp_path / "elsewhere" / "short_funding.py"
    target.parent.mkdir()
    shutil.copy(HERE / "user_strategy.py", target)
    return target


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("DRIFT_ENGINE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return tmp_path


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_a_file_strategy_is_found_by_path(user_file):
    cls = strategy_class(f"{user_file}:ShortFunding")
    assert cls.name == "short-funding"
    assert cls.__module__.startswith("drift_engine_user_strategy_")
    # the same file under another spelling of its path is the same class
    rel = user_file.relative_to(user_file.parent.parent)
    import os

    cwd = os.getcwd()
    try:
        os.chdir(user_file.parent.parent)
        assert strategy_class(f"{rel}:ShortFunding") is cls
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("nope", "not a known strategy name"),
        ("missing/file.py:X", "does not exist"),
        ("json:dumps", "is not a DriftStrategy subclass"),
        ("drift_engine.strategies.base:DriftStrategy", "does not implement on_tick"),
        ("no_such_module_xyz:Thing", "cannot import no_such_module_xyz"),
        ("drift_engine.strategies:Nope", "has no 'Nope'"),
    ],
)
def test_bad_specs_are_one_clear_error(spec, needle):
    with pytest.raises(StrategyLoadError) as exc:
        strategy_class(spec)
    assert needle in str(exc.value) and spec in str(exc.value)


def test_a_file_that_does_not_import_names_the_line(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("x = 1\ndef oops(:\n")
    with pytest.raises(StrategyLoadError, match=r"bad.py:2"):
        strategy_class(f"{bad}:X")
    boom = tmp_path / "boom.py"
    boom.write_text("raise RuntimeError('no config here')\n")
    with pytest.raises(StrategyLoadError, match="RuntimeError: no config here"):
        strategy_class(f"{boom}:X")


def test_a_strategy_ref_carries_the_file_to_a_worker_without_it(user_file):
    ref = StrategyRef.of(f"{user_file}:ShortFunding")
    assert ref.source == user_file.read_text()
    user_file.unlink()  # the worker (another machine) has no such file
    cls = ref.load()
    assert cls.name == "short-funding" and cls({"entry_apr": 0.1}).config.entry_apr == 0.1


def test_installed_packages_declare_strategies_by_entry_point(tmp_path, monkeypatch):
    # A minimal installed distribution: a module and its dist-info with entry points.
    site = tmp_path / "site"
    (site / "acme_strats").mkdir(parents=True)
    (site / "acme_strats" / "__init__.py").write_text("")
    shutil.copy(HERE / "user_strategy.py", site / "acme_strats" / "short.py")
    info = site / "acme_strats-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-strats\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[drift_engine.strategies]\nacme-short = acme_strats.short:ShortFunding\n"
        "acme-broken = acme_strats.nothing:Gone\n"
    )
    monkeypatch.syspath_prepend(str(site))
    assert "acme-short" in installed_strategies()
    cls = strategy_class("acme-short")
    assert cls.__name__ == "ShortFunding"
    with pytest.raises(StrategyLoadError, match="acme-broken"):
        strategy_class("acme-broken")

    listing = invoke("strategies", "list", "--json")
    assert listing.exit_code == 0, listing.output
    rows = {r["name"]: r for r in json.loads(listing.stdout)}
    assert rows["delta-neutral"]["origin"] == "built-in"
    assert rows["funding-spread"]["origin"] == "built-in"
    assert rows["acme-short"]["origin"] == "installed (acme-strats)"
    assert rows["acme-broken"]["summary"].startswith("[unusable]")  # listed, not fatal

    shown = invoke("strategies", "show", "acme-short", "--json")
    assert shown.exit_code == 0, shown.output
    params = {p["name"]: p for p in json.loads(shown.stdout)["parameters"]}
    assert params["entry_apr"]["default"] == 0.05
    assert params["lookback_hours"]["constraints"] == ">= 1, <= 168"


def test_strategies_show_lists_parameters_and_defaults():
    r = invoke("strategies", "show", "delta-neutral")
    assert r.exit_code == 0, r.output
    for name in ("entry_apr", "exit_apr", "target_leverage", "rebalance_band"):
        assert name in r.output
    doc = json.loads(invoke("strategies", "show", "funding-spread", "--json").stdout)
    assert doc["wake_conditions"] == "declared"
    assert {p["name"]: p["default"] for p in doc["parameters"]}["other_market"] == "BTC-PERP"
    bad = invoke("strategies", "show", "grid-bot")
    assert bad.exit_code == 2 and "not a known strategy name" in bad.output


def test_user_strategy_runs_in_backtest_and_a_bad_parameter_is_one_error(user_file):
    spec = f"{user_file}:ShortFunding"
    r = invoke(
        "backtest", "--strategy", spec, "--market", "SOL-PERP", "--start", "2026-01-15",
        "--end", "2026-01-17", "--param", "entry_apr=0.0", "--json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["strategy_state"]["entries"] == 1 and report["fills"] == 1
    assert report["funding"] == report["ledger_funding"]

    bad = invoke(
        "backtest", "--strategy", spec, "--start", "2026-01-15", "--end", "2026-01-16",
        "--param", "lookback_hourz=3",
    )  # fmt: skip
    assert bad.exit_code == 2
    lines = [line for line in bad.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "--param lookback_hourz" in lines[0]
    assert "Traceback" not in bad.output


def test_user_strategy_runs_in_run_and_a_bad_parameter_is_one_error(env, user_file):
    config = env / "engines.toml"
    config.write_text(
        "[data]\nsource = 'bundled'\nstart = '2026-01-15'\n"
        f"[[engines]]\nid = 'mine'\nstrategy = '{user_file}:ShortFunding'\n"
        "[engines.params]\nmarket = 'SOL-PERP'\nentry_apr = 0.0\n"
    )
    r = invoke("run", "--config", str(config), "--hours", "12", "--speed", "1e9")
    assert r.exit_code == 0, r.output
    assert "running 1 engine(s)" in r.output and "done" in r.output
    from drift_engine.config import load_settings
    from drift_engine.engine.store import SqlEngineStore
    from drift_engine.storage.database import Database

    db = Database.open(load_settings().resolved_database_url)
    try:
        (record,) = SqlEngineStore(db).records()
        assert record.strategy == "short-funding"
        assert json.loads(record.strategy_state)["entries"] == 1
    finally:
        db.dispose()

    config.write_text(config.read_text().replace("entry_apr = 0.0", "entry_apr = 'high'"))
    bad = invoke("run", "--config", str(config), "--hours", "1", "--speed", "1e9")
    assert bad.exit_code == 2
    assert "engines[0].params.entry_apr" in bad.output and "Traceback" not in bad.output


def test_user_strategy_runs_in_sweep_and_a_bad_parameter_is_one_error(user_file, env):
    spec = f"{user_file}:ShortFunding"
    r = invoke(
        "sweep", "--strategy", spec, "--market", "SOL-PERP", "--start", "2026-01-15",
        "--end", "2026-01-16", "--grid", "entry_apr=0.0,1.0", "--workers", "1", "--json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    runs = {run["params"]["entry_apr"]: run for run in doc["runs"]}
    assert runs[0.0]["ok"] and runs[0.0]["strategy_state"]["entries"] == 1
    assert runs[1.0]["ok"] and runs[1.0]["metrics"]["fills"] == 0
    assert doc["summary"]["configurations_tried"] == 2

    for args, needle in (
        (["--grid", "lookback_hours=0:6:3"], "--grid lookback_hours: 0: Input should be greater"),
        (["--grid", "entry_apr=0.1", "--param", "levrage=2"], "--param levrage: not a parameter"),
        (["--grid", "entry_aprr=0.1:0.2:0.1"], "--grid entry_aprr: not a parameter"),
        (["--grid", "entry_apr=0.1:0.05:0.01"], "--grid entry_apr: high 0.05 is below low"),
    ):
        bad = invoke(
            "sweep", "--strategy", spec, "--start", "2026-01-15", "--end", "2026-01-16", *args
        )
        assert bad.exit_code == 2, bad.output
        lines = [line for line in bad.output.splitlines() if line.strip()]
        assert len(lines) == 1 and needle in lines[0], bad.output


def test_strategies_new_writes_a_runnable_template_whose_test_passes(tmp_path):
    r = invoke("strategies", "new", "my-carry", "--dir", str(tmp_path / "mine"))
    assert r.exit_code == 0, r.output
    module = tmp_path / "mine" / "my_carry.py"
    test = tmp_path / "mine" / "test_my_carry.py"
    assert module.exists() and test.exists()
    text = module.read_text()
    assert "class MyCarryStrategy(DriftStrategy" in text and text.count("#") > 5
    assert invoke("strategies", "new", "my-carry", "--dir", str(tmp_path / "mine")).exit_code == 2
    assert invoke("strategies", "new", "My Carry").exit_code == 2
    cls = strategy_class(f"{module}:MyCarryStrategy")
    assert cls.name == "my-carry"
    # its own test, as the user would run it, in a fresh interpreter outside the repo
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:pytest_anchorpy",
         "-p", "no:cacheprovider", str(test)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout
