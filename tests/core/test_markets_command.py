"""`drift-engine markets`: the catalog's mainnet parameters with snapshot dates and
sources; whatever is not verified says so in the output."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from drift_engine.cli import app

runner = CliRunner()


def test_lists_every_market_with_its_snapshot_date_and_the_unverified_state():
    result = runner.invoke(app, ["markets"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    for symbol, date in (("SOL-PERP", "2026-03-28"), ("BTC-PERP", "2025-07-14"), ("USDC", "")):
        assert symbol in result.output and date in result.output
    assert "TIA-PERP: oracle from driftpy's current config" in result.output
    # the State values we could not verify are labelled as such
    assert "UNVERIFIED: FeeStructure::spot_default()" in result.output
    assert "UNVERIFIED perp fee fields: referrer_reward_numerator" in result.output
    assert "0.0350%" in result.output  # documented tier-1 taker fee


def test_json_carries_every_parameter_with_its_provenance():
    result = runner.invoke(app, ["markets", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data["markets"]) == 21
    sol = next(m for m in data["markets"] if m["symbol"] == "SOL-PERP")
    assert sol["params"]["margin_ratio_initial"] == 500
    assert sol["params"]["unrealized_pnl_initial_asset_weight"] == 0
    assert sol["provenance"]["snapshot_date"] == "2026-03-28"
    assert sol["provenance"]["verified"] is True
    assert "protocol-v2" in sol["provenance"]["source"]
    assert data["state"]["perp_fee_tiers"][0]["fee_numerator"] == 350
    assert data["state"]["liquidation"]["verified"] is False


def test_one_market_in_detail():
    result = runner.invoke(app, ["markets", "--market", "sol", "--json"])
    assert result.exit_code == 0, result.output
    spot = json.loads(result.output)
    assert spot["market_type"] == "spot" and spot["params"]["imf_factor"] == 1250
    text = runner.invoke(app, ["markets", "-m", "BTC-PERP"], env={"COLUMNS": "200"})
    assert text.exit_code == 0
    assert "fee_adjustment" in text.output and "-100" in text.output
    assert "snapshot: 2025-07-14" in text.output


def test_bad_arguments_are_one_clear_line():
    bad = runner.invoke(app, ["markets", "--market", "NOPE-PERP"])
    assert bad.exit_code == 2
    line = bad.output.strip()  # the CLI's one error format (commands/errors.py)
    assert line.startswith("error: market 'NOPE-PERP' is not in the catalog")
    assert line.endswith("(--market)") and "\n" not in line
    assert "Traceback" not in bad.output
    bad = runner.invoke(app, ["markets", "--type", "future"])
    assert bad.exit_code == 2 and "error: expected perp or spot" in bad.output
    assert "(--type)" in bad.output
    only_spot = runner.invoke(app, ["markets", "--type", "spot", "--json"])
    assert {m["market_type"] for m in json.loads(only_spot.output)["markets"]} == {"spot"}
