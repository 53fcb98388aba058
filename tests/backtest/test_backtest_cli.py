"""`drift-engine backtest` end to end: real engine, simulator and vault ledger."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from drift_engine.cli import app

runner = CliRunner()


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def _run(*args: str):
    result = runner.invoke(app, ["backtest", *args])
    assert result.exit_code == 0, result.output
    return result


def ledger_of(db_path):
    """(funding, fees) booked in the backtest's vault ledger."""
    from drift_engine.storage.database import Database
    from drift_engine.storage.enums import EntryKind
    from drift_engine.vaults.registry import VaultRegistry

    database = Database.open(f"sqlite:///{db_path}")
    try:
        registry = VaultRegistry(database)
        (vault,) = [v for v in registry.list_vaults() if v.engine_id.startswith("backtest-")]
        entries = registry.ledger.entries(vault.id)
        funding = sum(e.amount for e in entries if e.kind is EntryKind.FUNDING)
        fees = sum(e.fee for e in entries if e.kind in (EntryKind.FILL, EntryKind.LIQUIDATION))
        return funding, fees
    finally:
        database.dispose()


def assert_parts_add_up(report):
    parts = report["attribution"]
    names = ("funding", "interest", "fees", "slippage", "price_basis")
    assert sum(parts[k] for k in names) == parts["total"] == report["net_pnl"]
    assert report["net_pnl"] == report["final_equity"] - report["initial_equity"]
    assert report["funding"] == parts["funding"] == report["ledger_funding"]
    assert report["fees"] == parts["fees"] == -report["ledger_fees"]


@pytest.mark.slow
def test_real_sol_hours_enter_in_january_and_stay_out_in_february(tmp_path):
    db = tmp_path / "bt.db"
    result = _run(
        "--strategy",
        "delta-neutral",
        "--market",
        "SOL-PERP",
        "--start",
        "2026-01-10",
        "--end",
        "2026-02-16",
        "--json",
        "--db",
        f"sqlite:///{db}",
    )
    report = json.loads(result.stdout)
    data = report["data"]
    assert data["funding"]["kind"] == data["prices"]["kind"] == "real"
    assert data["funding"]["source"].startswith("bundled file drift_funding_hourly_SOL-PERP")
    assert data["intra_hour_prices"] is None
    # one booked funding hour per real record in the window
    assert report["funding_hours"] == data["funding"]["records"] == 37 * 24
    periods = report["in_market_periods"]
    assert periods, "never entered"
    # SOL's real hourly funding: a positive stretch in mid-January (24 h carry over 5 %
    # APR), then February's deeply negative funding: no position at all
    assert ts("2026-01-12") < periods[0][0] < ts("2026-01-20")
    assert all(end < ts("2026-02-01") for _, end in periods)
    assert report["strategy_state"]["side"] == "flat"
    assert report["liquidations"] == 0
    funding, fees = ledger_of(db)
    assert funding != 0 and report["ledger_funding"] == funding and report["ledger_fees"] == fees
    assert_parts_add_up(report)


@pytest.mark.slow
def test_reverse_carry_with_borrowing_holds_through_february():
    result = _run(
        "--market",
        "SOL-PERP",
        "--start",
        "2026-01-25",
        "--end",
        "2026-02-16",
        "--param",
        "allow_borrow=true",
        "--json",
    )
    report = json.loads(result.stdout)
    assert report["strategy_state"]["side"] == "short_carry"
    feb = [p for p in report["in_market_periods"] if p[1] >= ts("2026-02-10")]
    assert feb and feb[0][0] <= ts("2026-02-03")
    assert report["funding"] > 0  # the perp long is paid by February's negative funding
    assert_parts_add_up(report)


def test_bridge_adds_a_labelled_synthetic_intra_hour_path():
    result = _run(
        "--market", "SOL-PERP", "--start", "2025-07-01", "--end", "2025-07-02",
        "--bridge", "60", "--param", "entry_apr=10", "--json",
    )  # fmt: skip
    report = json.loads(result.stdout)
    data = report["data"]
    assert data["prices"]["kind"] == "real" and data["bridge_s"] == 60
    assert data["intra_hour_prices"]["kind"] == "synthetic"
    assert "Brownian bridge" in data["intra_hour_prices"]["label"]
    assert report["events"] > 24 * 59  # the minutes between the real hours
    assert report["funding_hours"] == 24


def test_a_window_outside_the_real_data_is_one_clear_line():
    result = runner.invoke(
        app, ["backtest", "--market", "BTC-PERP", "--start", "2026-03-01", "--end", "2026-03-05"]
    )
    assert result.exit_code == 2
    out = " ".join(result.output.split())
    assert "covers 2025-04-14 00:00 .. 2026-02-03 00:00 UTC" in out
    assert "Traceback" not in result.output


def test_a_market_without_real_data_runs_synthetic_and_labels_it():
    result = _run(
        "--market", "ETH-PERP", "--start", "2026-01-02", "--end", "2026-01-03", "--json",
    )  # fmt: skip
    data = json.loads(result.stdout)["data"]
    assert data["funding"]["kind"] == data["prices"]["kind"] == "synthetic"
    assert data["funding"]["real"] is False


def test_synthetic_window_prints_report_and_writes_plot(tmp_path):
    plot = tmp_path / "chart.html"
    result = _run(
        "--market",
        "SOL-PERP",
        "--start",
        "2026-03-01",
        "--end",
        "2026-03-03",
        "--source",
        "synthetic",
        "--param",
        "entry_apr=-1",
        "--param",
        "exit_apr=-2",
        "--plot",
        str(plot),
    )
    out = result.output
    for label in (
        "Backtest report",
        "net APR",
        "funding",
        "price/basis",
        "sum of the parts",
        "max drawdown",
        "Sharpe",
        "time in market",
        "events/s",
        "SYNTHETIC",
    ):
        assert label in out
    assert "100%" in out  # the progress bar ran to the end
    html = plot.read_text()
    assert "<svg" in html and "Equity" in html
    # a time axis with UTC dates, and the in-market period shaded
    assert "time (UTC)" in html and 'class="x-label"' in html
    assert ">03-01 " in html or ">2026-03-01<" in html
    assert html.count('class="in-market"') >= 2  # on both charts
    assert "funding SYNTHETIC" in html or "SYNTHETIC" in html


def test_bad_param_names_the_key():
    result = runner.invoke(
        app,
        ["backtest", "--start", "2026-03-01", "--end", "2026-03-02", "--param", "entry_aprx=1"],
    )
    assert result.exit_code == 2
    assert "entry_aprx" in result.output


def test_png_plot_is_a_real_chart_of_the_right_size(tmp_path):
    from PIL import Image

    from drift_engine.backtest.report import PNG_DPI, PNG_SIZE_INCHES

    plot = tmp_path / "chart.png"
    result = _run(
        "--market",
        "SOL-PERP",
        "--start",
        "2026-01-12",
        "--end",
        "2026-01-20",
        "--param",
        "entry_apr=0",
        "--param",
        "lookback_hours=1",
        "--plot",
        str(plot),
    )
    assert f"chart written to {plot}" in " ".join(result.output.split())
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(plot) as img:
        assert img.format == "PNG"
        assert img.size == (int(PNG_SIZE_INCHES[0] * PNG_DPI), int(PNG_SIZE_INCHES[1] * PNG_DPI))
        rgb = img.convert("RGB")
        colors = rgb.getcolors(maxcolors=1 << 20)
    assert colors is not None and len(colors) > 50  # text, axes, lines: not a blank image
    counts = {c: n for n, c in colors}
    white = counts.get((255, 255, 255), 0)
    assert white < rgb.width * rgb.height * 0.98
    # both series are drawn in their colours (equity blue, funding green)
    assert counts.get((0x1F, 0x77, 0xB4), 0) > 200
    assert counts.get((0x2C, 0xA0, 0x2C), 0) > 200
