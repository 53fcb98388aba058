"""Imported Drift data is a backtest source: an S3 archive funding file (gzip, Drift's column
order and float units) imported into the store and backtested with `--source store` pays
exactly the funding computed by hand from the file."""

from __future__ import annotations

import csv
import gzip
import io
import json
from decimal import Decimal

from typer.testing import CliRunner

from drift_engine.cli import app
from drift_engine.storage.database import Database
from drift_engine.storage.enums import EntryKind
from drift_engine.vaults.registry import VaultRegistry
from tests.data.published import real_sol_records, write_s3_funding

JUL_1 = 1_751_328_000  # 2025-07-01 00:00 UTC
HOURS = 72
runner = CliRunner()


def hand_funding(path, base: int, after_ts: int) -> int:
    """The program's funding payment (math/funding.rs::calculate_funding_payment) of a
    position of `base` (1e9) for every record of the file after `after_ts`, each hour
    settled on its own: -sign(base x rate) x floor(|rate x base| / 1e12), the rate read
    from the file's text (fundingRateShort for a short, ...Long for a long, / 1e9)."""
    rows = csv.DictReader(io.StringIO(gzip.decompress(path.read_bytes()).decode()))
    total = 0
    for row in rows:
        if int(row["ts"]) <= after_ts:
            continue
        column = "fundingRateShort" if base < 0 else "fundingRateLong"
        rate = Decimal(row[column]) * 10**9
        assert rate == rate.to_integral_value()
        rate = int(rate)
        magnitude = abs(rate) * abs(base) // 10**12
        receives = (base < 0) == (rate > 0)
        total += magnitude if receives else -magnitude
    return total


def test_s3_file_imported_then_backtested_from_the_store_pays_the_funding_by_hand(tmp_path):
    s3 = write_s3_funding(
        tmp_path / "s3" / "SOL-PERP" / "fundingRateRecords" / "2025" / "20250701",
        real_sol_records(JUL_1, HOURS),
    )
    var = tmp_path / "var"
    result = runner.invoke(app, ["data", "import", str(s3), "--data-dir", str(var)])
    assert result.exit_code == 0, result.output
    db = tmp_path / "bt.db"
    result = runner.invoke(
        app,
        [
            "backtest", "--market", "SOL-PERP", "--start", "2025-07-01", "--end", "2025-07-04",
            "--source", "store", "--data-dir", str(var), "--db", f"sqlite:///{db}", "--json",
            # enter at once and stay: a short perp of fixed size the whole window
            "--param", "entry_apr=-10", "--param", "exit_apr=-20",
            "--param", "lookback_hours=1", "--param", "rebalance_band=0.5",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    data = report["data"]
    assert data["requested_source"] == "store"
    assert data["funding"]["source"] == f"store {var / 'market_data'}"
    assert data["funding"]["kind"] == "real" and data["funding"]["records"] == HOURS
    assert data["prices"]["kind"] == "real"  # the file's oracle TWAPs
    assert report["funding_hours"] == HOURS

    # the perp order the engine placed (one entry, no rebalance) and when
    database = Database.open(f"sqlite:///{db}")
    try:
        from drift_engine.engine.store import SqlEngineStore

        orders = SqlEngineStore(database).events(kind="orders")
        assert len(orders) == 1, [o.message for o in orders]
        (perp,) = [o for o in orders[0].data["orders"] if o["market_type"] == "perp"]
        assert perp["direction"] == "short"
        base, entered = -perp["base_asset_amount"], orders[0].ts
        registry = VaultRegistry(database)
        (vault,) = [v for v in registry.list_vaults() if v.engine_id.startswith("backtest-")]
        ledger = sum(
            e.amount for e in registry.ledger.entries(vault.id) if e.kind is EntryKind.FUNDING
        )
    finally:
        database.dispose()
    expected = hand_funding(s3, base, entered)
    assert expected != 0
    assert report["funding"] == expected == ledger
    assert report["funding_payments"] == sum(
        1 for r in real_sol_records(JUL_1, HOURS) if r.ts > entered
    )


def test_a_file_is_a_source_too_and_gives_the_same_run_as_the_store(tmp_path):
    s3 = write_s3_funding(tmp_path / "s3" / "20250701", real_sol_records(JUL_1, 48))
    var = tmp_path / "var"
    assert runner.invoke(app, ["data", "import", str(s3), "--data-dir", str(var)]).exit_code == 0
    common = ["backtest", "--market", "SOL-PERP", "--start", "2025-07-01", "--end",
              "2025-07-03", "--json", "--param", "entry_apr=-10", "--param", "exit_apr=-20",
              "--param", "lookback_hours=1"]  # fmt: skip
    from_store = runner.invoke(app, [*common, "--source", "store", "--data-dir", str(var)])
    from_file = runner.invoke(app, [*common, "--source", str(s3)])
    assert from_store.exit_code == 0 and from_file.exit_code == 0, from_file.output
    a, b = json.loads(from_store.stdout), json.loads(from_file.stdout)
    assert b["data"]["funding"]["source"] == f"file {s3}"
    for key in ("funding", "fees", "interest", "slippage", "price_basis", "net_pnl"):
        assert a[key] == b[key]
    assert a["funding"] != 0
