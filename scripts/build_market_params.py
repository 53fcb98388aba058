"""Rebuild the shipped mainnet market snapshots from the collected real Drift accounts.

    .venv/bin/python scripts/build_market_params.py [REAL_DATA_DIR]

REAL_DATA_DIR (default ../shared/real-data, see its SOURCES.md) holds
`drift_market_accounts_base64.jsonl` (real PerpMarket/SpotMarket accounts found in
drift-labs/protocol-v2's history) and `drift_market_params_snapshots.csv` (the same
accounts decoded by the collector, with a network label). For every market this picks
the latest snapshot labelled `mainnet` (by `amm.last_funding_rate_ts` / `last_interest_
ts`, decoded here with driftpy's IDL) and writes

- src/drift_engine/core/params/mainnet_markets.jsonl: the account bytes (base64) with
  their source (repo, path, commit), network label and snapshot time. The catalog
  decodes these bytes with driftpy's IDL when it is built (core/markets.py).
- tests/core/fixtures/mainnet_market_snapshots.csv: the collector's rows for the same
  accounts, which tests/core/test_markets.py compares with our decoding.

Devnet and unverified accounts are never chosen. The output is sorted and stable, so a
rebuild from the same input gives the same bytes.
"""

from __future__ import annotations

import base64
import csv
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from drift_engine.core.program import account_name_of, decode_account

ROOT = Path(__file__).resolve().parent.parent
OUT_JSONL = ROOT / "src/drift_engine/core/params/mainnet_markets.jsonl"
OUT_CSV = ROOT / "tests/core/fixtures/mainnet_market_snapshots.csv"


def snapshot_ts(kind: str, account) -> int:
    return account.amm.last_funding_rate_ts if kind == "perp" else account.last_interest_ts


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def main(real_dir: Path) -> int:
    rows = list(csv.DictReader((real_dir / "drift_market_params_snapshots.csv").open()))
    fieldnames = list(rows[0])
    by_source: dict[tuple, dict] = {}
    for row in rows:
        key = (row["kind"], int(row["market_index"]), row["snapshot_ts"], row["source_path"])
        by_source.setdefault(key + (row["source_commit"],), row)

    chosen: dict[tuple[str, int], tuple[dict, dict]] = {}
    for line in (real_dir / "drift_market_accounts_base64.jsonl").open():
        entry = json.loads(line)
        if entry["account"] not in ("PerpMarket", "SpotMarket"):
            continue
        raw = base64.b64decode(entry["b64"])
        kind = "perp" if account_name_of(raw) == "PerpMarket" else "spot"
        account = decode_account(raw)
        ts = snapshot_ts(kind, account)
        key = (kind, account.market_index, iso(ts), entry["path"], entry["commit"])
        row = by_source.get(key)
        if row is None:
            raise SystemExit(f"no snapshot row for {key}")
        if not row["network"].startswith("mainnet"):
            continue
        record = {
            "kind": kind,
            "symbol": row["name"],
            "market_index": account.market_index,
            "snapshot_ts": ts,
            "snapshot": iso(ts),
            "network": row["network"],
            "repo": entry["repo"],
            "path": entry["path"],
            "commit": entry["commit"],
            "b64": entry["b64"],
        }
        market = (kind, account.market_index)
        best = chosen.get(market)
        # the latest snapshot wins; the same snapshot pasted twice: the first commit by name
        if (
            best is None
            or ts > best[0]["snapshot_ts"]
            or (ts == best[0]["snapshot_ts"] and entry["commit"] < best[0]["commit"])
        ):
            chosen[market] = (record, row)

    ordered = sorted(chosen.values(), key=lambda rr: (rr[0]["kind"], rr[0]["market_index"]))
    OUT_JSONL.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r, _ in ordered))
    OUT_CSV.parent.mkdir(parents=True, exist_ok=True)
    with OUT_CSV.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fieldnames, lineterminator="\n")
        writer.writeheader()
        for _, row in ordered:
            writer.writerow(row)
    written = f"{OUT_JSONL.relative_to(ROOT)}, {OUT_CSV.relative_to(ROOT)}"
    print(f"{len(ordered)} mainnet markets -> {written}")
    return 0


if __name__ == "__main__":
    default = ROOT.parent.parent / "shared" / "real-data"
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else default))
