"""`run` and `demo` take their market data from the one pipeline: stored data, a file,
synthetic; each says which series are real."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from drift_engine.cli import app
from tests.data.published import real_sol_records, write_s3_funding

JUL_1 = 1_751_328_000  # 2025-07-01 00:00 UTC
runner = CliRunner()

SOL_ONLY = """
[data]
source = "store"
speed = 3600.0
[[engines]]
id = "dn-sol"
strategy = "delta-neutral"
capital_usdc = 10000.0
[engines.params]
market = "SOL-PERP"
"""


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("DRIFT_ENGINE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_run_replays_imported_data_from_the_store(env):
    s3 = write_s3_funding(env / "in" / "20250701", real_sol_records(JUL_1, 48))
    assert runner.invoke(app, ["data", "import", str(s3)]).exit_code == 0
    config = env / "sol.toml"
    config.write_text(SOL_ONLY)
    r = runner.invoke(app, ["run", "--config", str(config), "--hours", "6", "--speed", "1e9"])
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "on store: funding real, prices real" in out
    assert "2025-07-01 00:00 -> 2025-07-01 06:00" in out and "done" in out
    # a file path works the same without importing it
    r = runner.invoke(
        app,
        ["run", "--config", str(config), "--hours", "1", "--speed", "1e9", "--source", str(s3)],
    )
    assert r.exit_code == 0, r.output
    assert "on " + str(s3) in " ".join(r.output.split())


def test_run_with_no_stored_data_is_one_clear_line(env):
    config = env / "sol.toml"
    config.write_text(SOL_ONLY)
    r = runner.invoke(app, ["run", "--config", str(config), "--hours", "1"])
    assert r.exit_code == 2
    assert "has no funding series for SOL-PERP" in r.output
    assert "Traceback" not in r.output


def test_demo_on_synthetic_data_labels_everything_synthetic(env):
    r = runner.invoke(
        app, ["demo", "--source", "synthetic", "--hours", "3", "--speed", "1e9", "--no-dashboard"]
    )
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "SOL-PERP: funding SYNTHETIC" in out and "BTC-PERP: funding SYNTHETIC" in out
    assert "REAL" not in out
