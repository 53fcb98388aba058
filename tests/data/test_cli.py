"""`drift-engine data import | list | synth` through typer's CliRunner."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from drift_engine.commands.data import app
from drift_engine.data import LocalStore

from .helpers import DRIFT_FUNDING_HEADER, funding_rows, store_snapshot, write_csv

T0 = 1_705_276_800
runner = CliRunner()


@pytest.mark.parametrize("command", [[], ["import"], ["list"], ["synth"]])
def test_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_data_is_registered_on_the_main_cli():
    from drift_engine.cli import app as main_app

    result = runner.invoke(main_app, ["data", "--help"])
    assert result.exit_code == 0, result.output
    for name in ("import", "list", "synth"):
        assert name in result.output


def test_import_then_list(tmp_path):
    folder = tmp_path / "drift"
    write_csv(folder / "20240115", DRIFT_FUNDING_HEADER, funding_rows(T0, 24))
    result = runner.invoke(app, ["import", str(folder), "--data-dir", str(tmp_path / "var")])
    assert result.exit_code == 0, result.output
    assert "SOL-PERP" in result.output and "24" in result.output
    listed = runner.invoke(app, ["list", "--data-dir", str(tmp_path / "var")])
    assert listed.exit_code == 0, listed.output
    line = next(row for row in listed.output.splitlines() if "SOL-PERP" in row)
    for text in ("funding", "2024-01-15 00:00:00", "2024-01-15 23:00:00", "24", "real"):
        assert text in line


def test_a_bad_file_fails_with_location_and_imports_nothing(tmp_path):
    good = write_csv(tmp_path / "in" / "a.csv", DRIFT_FUNDING_HEADER, funding_rows(T0, 5))
    rows = funding_rows(T0 + 86_400, 5, market_index=1)
    rows[2]["oraclePriceTwap"] = "n/a"
    bad = write_csv(tmp_path / "in" / "b.csv", DRIFT_FUNDING_HEADER, rows)
    var = tmp_path / "var"
    result = runner.invoke(app, ["import", str(good), str(bad), "--data-dir", str(var)])
    assert result.exit_code == 1
    assert f"{bad}, line 4, column 'oraclePriceTwap'" in result.output
    assert "nothing was imported" in result.output
    assert store_snapshot(var / "market_data") == {}


def test_list_on_an_empty_store(tmp_path):
    result = runner.invoke(app, ["list", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0 and "no market data" in result.output


def test_synth_writes_labelled_synthetic_series(tmp_path):
    var = tmp_path / "var"
    args = ["synth", "--market", "SOL-PERP", "--days", "2", "--seed", "9", "--data-dir", str(var)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    entries = {(e.market, e.kind): e for e in LocalStore(var).entries()}
    assert set(entries) == {("SOL-PERP", "oracle"), ("SOL-PERP", "funding")}
    assert entries[("SOL-PERP", "oracle")].rows == 2 * 1440
    assert entries[("SOL-PERP", "funding")].rows == 2 * 24 - 1
    assert all(e.source == "synthetic" and "seed=9" in e.note for e in entries.values())
    listed = runner.invoke(app, ["list", "--data-dir", str(var)])
    assert "synthetic" in listed.output and "2,880" in listed.output


def test_synth_unknown_market_fails_cleanly(tmp_path):
    args = ["synth", "--market", "DOGE-PERP", "--days", "1", "--seed", "1"]
    result = runner.invoke(app, [*args, "--data-dir", str(tmp_path)])
    assert result.exit_code == 2  # a bad argument, refused before the store is touched
    assert "'DOGE-PERP'" in result.output and "--market" in result.output
    assert LocalStore(tmp_path).entries() == []
    assert list(tmp_path.iterdir()) == []
