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


@pytest.mark.slow
def test_real_funding_file_enters_on_positive_and_is_out_in_february(tmp_path):
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
    assert report["data_label"].startswith("real funding")
    periods = report["in_market_periods"]
    assert periods, "never entered"
    # SOL funding was negative Jan 10-14 and turned positive on Jan 15 (+8.5% APR): the
    # 24-hour average crosses the 5% entry threshold during that day.
    assert periods[0][0] in range(ts("2026-01-15T12:00"), ts("2026-01-16"))
    # February's negative regime (-17% .. -45% APR): no position at all.
    assert all(end < ts("2026-02-01") for _, end in periods)
    assert report["strategy_state"]["side"] == "flat"
    assert report["liquidations"] == 0 and report["events"] > 50_000

    # The report's funding PnL is the vault ledger's funding sum, to the micro-USDC.
    from drift_engine.storage.database import Database
    from drift_engine.storage.enums import EntryKind
    from drift_engine.vaults.registry import VaultRegistry

    database = Database.open(f"sqlite:///{db}")
    try:
        registry = VaultRegistry(database)
        (vault,) = [v for v in registry.list_vaults() if v.engine_id.startswith("backtest-")]
        entries = registry.ledger.entries(vault.id)
        funding = sum(e.amount for e in entries if e.kind is EntryKind.FUNDING)
        assert funding != 0
        assert report["funding"] == funding == report["ledger_funding"]
        fees = sum(e.fee for e in entries if e.kind is EntryKind.FILL)
        assert report["fees"] == fees
    finally:
        database.dispose()


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
        "funding earned",
        "max drawdown",
        "Sharpe",
        "time in market",
        "events/s",
        "synthetic",
    ):
        assert label in out
    assert "100%" in out  # the progress bar ran to the end
    html = plot.read_text()
    assert "<svg" in html and "Equity" in html


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
