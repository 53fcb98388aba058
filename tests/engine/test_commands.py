"""`drift-engine init | run | demo | engines` through the CLI, on a temporary data dir."""

from __future__ import annotations

import tomllib

import pytest
from typer.testing import CliRunner

from drift_engine.cli import app
from drift_engine.engine.config_file import (
    EXAMPLE_CONFIG,
    ConfigFileError,
    load_config,
    parse_config,
)

runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("DRIFT_ENGINE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return tmp_path


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_init_writes_a_valid_commented_example(env):
    path = env / "drift-engine.toml"
    r = invoke("init", str(path))
    assert r.exit_code == 0, r.output
    text = path.read_text()
    assert text == EXAMPLE_CONFIG and "# " in text
    cfg = load_config(path)
    assert [e.id for e in cfg.engines] == ["dn-sol", "dn-btc"]
    assert invoke("init", str(path)).exit_code == 1  # no silent overwrite
    assert invoke("init", str(path), "--force").exit_code == 0


@pytest.mark.parametrize(
    ("patch", "key"),
    [
        ("[data]\nsorce = 'bundled'\n", "data.sorce"),
        ("[heartbeat]\ninterval_s = 0\n", "heartbeat.interval_s"),
        (
            "[[engines]]\nid = 'a'\n[engines.params]\nentry_apr = 'high'\n",
            "engines[0].params.entry_apr",
        ),
        (
            "[[engines]]\nid = 'a'\n[engines.params]\nmarket = 'SOL-PERP'\nlevrage = 2\n",
            "engines[0].params.levrage",
        ),
        (
            "[[engines]]\nid = 'a'\n[engines.risk]\nhealth_floor = 200\n",
            "engines[0].risk.health_floor",
        ),
        ("[[engines]]\nid = 'a'\nstrategy = 'grid'\n", "engines[0].strategy"),
        ("[[engines]]\nid = 'a'\n[[engines]]\nid = 'a'\n", "engines[1].id"),
    ],
)
def test_config_errors_name_the_key(patch, key):
    with pytest.raises(ConfigFileError) as exc:
        parse_config(tomllib.loads(patch))
    assert exc.value.key == key and str(exc.value).startswith(key)


def test_run_with_a_bad_config_fails_naming_the_key(env):
    path = env / "bad.toml"
    path.write_text("[[engines]]\nid = 'x'\nmod = 'paper'\n")
    r = invoke("run", "--config", str(path))
    assert r.exit_code == 2 and "engines[0].mod" in r.output


def test_run_resumes_and_applies_operator_commands(env):
    path = env / "engines.toml"
    assert invoke("init", str(path)).exit_code == 0
    r = invoke("run", "--config", str(path), "--hours", "3", "--speed", "1e9")
    assert r.exit_code == 0, r.output
    assert "running 2 engine(s)" in r.output and "done" in r.output
    listing = invoke("engines", "list")
    assert listing.exit_code == 0
    assert "dn-sol" in listing.output and "dn-btc" in listing.output
    # the run has ended: its engines are listed as such, never RUNNING (issue 15, point 2)
    # (80 columns: a status may wrap inside its cell)
    out = listing.output
    assert out.count("REPLAY") == out.count("FINISHED") == 2 and "RUNNING" not in out

    assert invoke("engines", "pause", "dn-sol").exit_code == 0
    assert invoke("engines", "kill", "dn-btc").exit_code == 0
    assert invoke("engines", "stop", "nope").exit_code == 1
    r = invoke("run", "--config", str(path), "--hours", "1", "--speed", "1e9")
    assert r.exit_code == 0, r.output
    assert "2025-04-14 03:" in r.output  # continued after the last tick, not from the start

    from drift_engine.config import load_settings
    from drift_engine.engine.store import SqlEngineStore
    from drift_engine.storage.database import Database

    db = Database.open(load_settings().resolved_database_url)
    try:
        store = SqlEngineStore(db)
        states = {r.engine_id: r.state for r in store.records()}
        assert states == {"dn-sol": "paused", "dn-btc": "halted"}
        # what the dashboard reads: the config's display names, limits, margin, markets
        records = {r.engine_id: r for r in store.records()}
        assert records["dn-sol"].extra["name"] == "Delta-neutral SOL"
        assert records["dn-sol"].extra["risk_limits"]["health_floor"] == 25
        assert records["dn-btc"].extra["margin"]["health"] is not None
        assert set(store.heartbeats()[-1].market_state) == {"SOL-PERP", "BTC-PERP"}
        kinds = {e.kind for e in store.events("dn-btc")}
        assert {"kill", "flatten", "transition"} <= kinds
        assert store.heartbeats()
    finally:
        db.dispose()


def test_demo_runs_two_paper_engines_briefly(env):
    r = invoke("demo", "--hours", "60", "--speed", "1e9", "--no-dashboard")
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())  # rich wraps lines
    assert "Delta-neutral SOL" in out and "Delta-neutral BTC" in out
    assert "SOL-PERP: funding REAL" in out and "prices REAL" in out
    assert "2.5 days of simulated time" in out
    assert "dashboard:" not in out and "demo stopped" in out
    assert "summary" in out and "heartbeats" in out

    from drift_engine.storage.database import Database
    from drift_engine.vaults.registry import VaultRegistry

    db = Database.open(f"sqlite:///{env / 'var' / 'demo.db'}")
    try:
        registry = VaultRegistry(db)
        names = {v.name for v in registry.list_vaults()}
        assert {"dn-sol", "dn-btc"} <= names
        series = registry.snapshots.series("dn-sol")
        assert len(series) >= 24  # hourly vault snapshots for the dashboard
        # BTC enters on 2025-06-03 and its real funding was positive
        assert registry.summary("dn-btc").funding_earned > 0
    finally:
        db.dispose()
