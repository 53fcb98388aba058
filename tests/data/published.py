"""Files in Drift's published formats, made from the real bundled records (for the tests).

- `s3_funding_csv`: an S3 archive day file as drift-labs/events-archiver-public writes it:
  pandas `to_csv` of `scripts/event_parser.py`'s FundingRateRecord dicts, i.e. the columns
  in `published.S3_FUNDING_COLUMNS` order with every amount a Python float of the on-chain
  integer divided by its precision (`repr`: `-4.666e-06`, `127.636936`), then gzip.
- `api_pages`: Data API responses `{"success", "records", "meta": {"nextPage"}}` whose
  records carry the funding fields as decimal strings, 20 records a page like the API.

The rates and TWAPs are real (the bundled SOL-PERP records); what the bundled file does not
have is filled in plainly and said so: txSig/slot/recordId are made-up sequence values,
cumulative rates are the running sum of the real rates from 0, baseAssetAmountWith* are 0.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from decimal import Decimal
from pathlib import Path

from drift_engine.data.published import S3_FUNDING_COLUMNS
from drift_engine.data.real_hourly import real_hourly

PROGRAM_ID = "dRiftyHA39MWEi3m9aunc5MzRF1JYuBsbn6VPcn33UH"


def real_sol_records(first_ts: int, hours: int):  # type: ignore[no-untyped-def]
    records = real_hourly("SOL-PERP").records
    lo = next(i for i, r in enumerate(records) if r.ts >= first_ts)
    return list(records[lo : lo + hours])


def _float(units: int, precision: float) -> str:
    """What pandas writes for `units / precision` (a Python float's repr)."""
    return repr(units / precision)


def s3_rows(records) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    rows = []
    cumulative = 0
    for n, r in enumerate(records):
        cumulative += r.funding_rate
        rows.append(
            {
                "ts": str(r.ts),
                "txSig": f"5s3TestSig{n:06d}",
                "recordId": str(90_000 + n),
                "slot": str(350_000_000 + 9_000 * n),
                "marketIndex": str(r.market_index),
                "fundingRate": _float(r.funding_rate, 1e9),
                "fundingRateLong": _float(r.funding_rate_long, 1e9),
                "fundingRateShort": _float(r.funding_rate_short, 1e9),
                "cumulativeFundingRateLong": _float(cumulative, 1e9),
                "cumulativeFundingRateShort": _float(cumulative, 1e9),
                "oraclePriceTwap": _float(r.oracle_price_twap, 1e6),
                "markPriceTwap": _float(r.mark_price_twap, 1e6),
                "periodRevenue": "0.0",
                "baseAssetAmountWithAmm": "0.0",
                "baseAssetAmountWithUnsettledLp": "0.0",
                "programId": PROGRAM_ID,
            }
        )
    return rows


def s3_text(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(S3_FUNDING_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write_s3_funding(path: Path, records, *, compress: bool = True) -> Path:  # type: ignore[no-untyped-def]
    path.parent.mkdir(parents=True, exist_ok=True)
    data = s3_text(s3_rows(records)).encode("utf-8")
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def api_record(r) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        "ts": r.ts,
        "fundingRate": str(Decimal(r.funding_rate) / 10**9),
        "fundingRateLong": str(Decimal(r.funding_rate_long) / 10**9),
        "fundingRateShort": str(Decimal(r.funding_rate_short) / 10**9),
        "oraclePriceTwap": str(Decimal(r.oracle_price_twap) / 10**6),
        "markPriceTwap": str(Decimal(r.mark_price_twap) / 10**6),
        "periodRevenue": "0.000000",
    }


def api_pages(records, per_page: int = 20) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    pages = []
    for start in range(0, len(records), per_page):
        page = start // per_page + 1
        last = start + per_page >= len(records)
        pages.append(
            {
                "success": True,
                "records": [api_record(r) for r in records[start : start + per_page]],
                "meta": {"nextPage": None if last else page + 1},
            }
        )
    return pages


def write_api_page(path: Path, page: dict[str, object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(page), encoding="utf-8")
    return path
