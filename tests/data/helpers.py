"""Writers of files in Drift's historical CSV format, and store snapshots, for the tests."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

#: Drift's funding-rate record columns, in the order Drift's files list them, with the
#: extra columns that real files carry (and that the importer must ignore).
DRIFT_FUNDING_HEADER = [
    "txSig",
    "slot",
    "ts",
    "recordId",
    "marketIndex",
    "fundingRate",
    "fundingRateLong",
    "fundingRateShort",
    "cumulativeFundingRateLong",
    "cumulativeFundingRateShort",
    "oraclePriceTwap",
    "markPriceTwap",
    "periodRevenue",
    "baseAssetAmountWithAmm",
    "baseAssetAmountWithUnsettledLp",
]


def funding_rows(
    start_ts: int,
    hours: int,
    *,
    market_index: int = 0,
    first_cumulative: int = 0,
    oracle_twap: int = 150_000_000,
) -> list[dict[str, str]]:
    """Hourly records with a varying rate; cumulative = previous + rate (long and short)."""
    rows = []
    cumulative = first_cumulative
    for h in range(hours):
        rate = (h % 7 - 3) * 12_345  # 1e9 precision, quote per base
        cumulative += rate
        rows.append(
            {
                "txSig": f"sig{h}",
                "slot": str(300_000_000 + h * 9000),
                "ts": str(start_ts + h * 3600),
                "recordId": str(1000 + h),
                "marketIndex": str(market_index),
                "fundingRate": str(rate),
                "fundingRateLong": str(rate),
                "fundingRateShort": str(rate),
                "cumulativeFundingRateLong": str(cumulative),
                "cumulativeFundingRateShort": str(cumulative),
                "oraclePriceTwap": str(oracle_twap + h * 1000),
                "markPriceTwap": str(oracle_twap + h * 1000 + 500),
                "periodRevenue": "0",
                "baseAssetAmountWithAmm": "-1",
                "baseAssetAmountWithUnsettledLp": "0",
            }
        )
    return rows


def write_csv(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def store_snapshot(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under the store root (empty if none)."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
