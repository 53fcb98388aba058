"""`drift-engine data` and the one data pipeline: DRIFT_ENGINE_DATA_DIR everywhere, bundled
series listed, `synth` seeded like `backtest`, Drift's published formats imported."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from drift_engine.commands.data import app
from drift_engine.data import LocalStore
from drift_engine.data.models import DEFAULT_SEED
from drift_engine.data.synthetic import DEFAULT_ORIGIN, SyntheticMarket

from .published import api_pages, real_sol_records, write_api_page, write_s3_funding

JUL_1 = 1_751_328_000  # 2025-07-01 00:00 UTC
runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """DRIFT_ENGINE_DATA_DIR set, the working directory elsewhere (./var must stay empty)."""
    folder = tmp_path / "from-env"
    monkeypatch.setenv("DRIFT_ENGINE_DATA_DIR", str(folder))
    monkeypatch.chdir(tmp_path)
    return folder


def test_every_data_command_uses_drift_engine_data_dir(data_dir, tmp_path):
    records = real_sol_records(JUL_1, 24)
    s3 = write_s3_funding(tmp_path / "in" / "20250701", records)
    result = runner.invoke(app, ["import", str(s3)])
    assert result.exit_code == 0, result.output
    store = LocalStore(data_dir)
    assert [(e.market, e.kind, e.rows) for e in store.entries()] == [("SOL-PERP", "funding", 24)]
    result = runner.invoke(app, ["synth", "--market", "BTC-PERP", "--days", "1"])
    assert result.exit_code == 0, result.output
    assert {(e.market, e.kind) for e in store.entries()} == {
        ("SOL-PERP", "funding"),
        ("BTC-PERP", "funding"),
        ("BTC-PERP", "oracle"),
    }
    listed = runner.invoke(app, ["list"])
    assert listed.exit_code == 0, listed.output
    assert str(data_dir / "market_data") in " ".join(listed.output.split())
    assert not (tmp_path / "var").exists()
    # --data-dir still wins over the environment
    other = tmp_path / "other"
    result = runner.invoke(app, ["list", "--data-dir", str(other)])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert f"no market data in {other / 'market_data'}" in out
    assert "does not exist yet" in out and "bundled with drift-engine" in out
    assert not other.exists()  # listing never creates the data directory


def test_list_shows_the_bundled_series_beside_the_store(data_dir):
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "no market data in" in out and "bundled with drift-engine" in out
    lines = out.splitlines()
    sol = [line for line in lines if "SOL-PERP" in line and "8,467" in line]
    assert len(sol) == 2  # funding and its hourly oracle TWAPs
    assert any("2025-04-14 00:00:00" in line and "2026-04-01 18:00:00" in line for line in sol)
    assert any("BTC-PERP" in line and "7,080" in line for line in lines)
    assert any("LUNA-PERP" in line and "50,000" in line for line in lines)


def test_synth_default_seed_is_the_backtest_seed(data_dir):
    result = runner.invoke(app, ["synth", "--market", "SOL-PERP", "--days", "1"])
    assert result.exit_code == 0, result.output
    store = LocalStore(data_dir)
    oracle = next(e for e in store.entries() if e.kind == "oracle")
    assert f"seed={DEFAULT_SEED}" in oracle.note
    stored = [t.price for t in store.read(oracle)]
    expected = SyntheticMarket(DEFAULT_SEED).price_path("SOL-PERP", DEFAULT_ORIGIN,
                                                       DEFAULT_ORIGIN + 86_400)[1]  # fmt: skip
    assert stored == expected.tolist()


def test_import_reads_data_api_pages_and_says_what_it_stored(data_dir, tmp_path):
    records = real_sol_records(JUL_1, 30)
    folder = tmp_path / "api" / "market" / "SOL-PERP" / "fundingRates" / "2025" / "7" / "1"
    for n, page in enumerate(api_pages(records), 1):
        write_api_page(folder / f"page{n}.json", page)
    result = runner.invoke(app, ["import", str(tmp_path / "api")])
    assert result.exit_code == 0, result.output
    assert "SOL-PERP" in result.output and "30" in result.output
    (entry,) = LocalStore(data_dir).entries()
    assert (entry.first_ts, entry.last_ts, entry.source) == (records[0].ts, records[-1].ts,
                                                             "real")  # fmt: skip


def test_a_bad_environment_setting_is_one_line(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DRIFT_ENGINE_DATA_DIRR", "x")
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 2  # fix the input (commands/errors.py)
    assert "DRIFT_ENGINE_DATA_DIRR" in result.output and "Traceback" not in result.output
