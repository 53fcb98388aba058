"""Acceptance: `drift-engine backtest` runs on the real hourly year by default, says so in its
`data` object, books one funding hour per real record, and its PnL parts add up to the net
PnL exactly over the whole year. (About 45 s of CPU each; `bench/backtest_real_year.py`
prints the same figures with timings.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from drift_engine.cli import app
from drift_engine.data.real_hourly import real_files, real_hourly

runner = CliRunner()
PARTS = ("funding", "interest", "fees", "slippage", "price_basis")


def ts(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())


@pytest.mark.slow
@pytest.mark.parametrize(
    ("market", "start", "end"),
    [("SOL-PERP", "2025-04-14", "2026-04-01"), ("BTC-PERP", "2025-04-14", "2026-02-03")],
)
def test_the_real_year_by_default_and_its_parts_add_up(market, start, end):
    result = runner.invoke(
        app, ["backtest", "--market", market, "--start", start, "--end", end, "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    data = report["data"]
    in_window = [r for r in real_hourly(market).records if ts(start) <= r.ts < ts(end)]
    assert len(in_window) > 7000
    for series in ("funding", "prices"):
        assert data[series]["kind"] == "real" and data[series]["real"] is True
        assert data[series]["source"].startswith(f"bundled file {real_files()[market]}")
    assert data["funding"]["records"] == len(in_window)
    assert data["intra_hour_prices"] is None
    assert report["funding_hours"] == len(in_window)
    assert 0 < report["funding_payments"] <= report["funding_hours"]
    # the attribution, to the micro-USDC, on the real year
    parts = report["attribution"]
    assert sum(parts[k] for k in PARTS) == parts["total"] == report["net_pnl"]
    assert report["net_pnl"] == report["final_equity"] - report["initial_equity"]
    assert report["funding"] == report["ledger_funding"] != 0
    assert report["fees"] == -report["ledger_fees"] != 0
