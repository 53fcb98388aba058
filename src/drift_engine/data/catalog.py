"""What the package ships (`data/bundled/`), listed like stored series for `data list`.

Read cheaply (line counts, first and last timestamps), without parsing every row: listing
must stay fast. Each entry's `file` is its path inside the package and its `note` says
where its attribution is.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
from importlib import resources

from drift_engine.data.bundled import FUNDING_FILE, LUNA_FILE, daily_funding
from drift_engine.data.models import (
    KIND_FUNDING,
    KIND_ORACLE,
    SOURCE_REAL,
    SOURCE_REAL_DAILY,
)
from drift_engine.data.real_hourly import ATTRIBUTION_FILE, REAL_FOLDER, TWAP_LABEL, real_files
from drift_engine.data.store import StoreEntry


def _bundled(*parts: str):  # type: ignore[no-untyped-def]
    node = resources.files("drift_engine.data").joinpath("bundled")
    for part in parts:
        node = node.joinpath(part)
    return node


def _span(text: str) -> tuple[int | None, int | None, int]:
    """(first ts, last ts, rows) of a CSV whose first column is unix seconds."""
    lines = [line for line in text.splitlines()[1:] if line.strip()]
    if not lines:
        return None, None, 0
    first = next(csv.reader([lines[0]]))[0]
    last = next(csv.reader([lines[-1]]))[0]
    return int(first), int(last), len(lines)


def bundled_series() -> list[StoreEntry]:
    """The bundled series: real hourly funding (+ their oracle TWAPs), the LUNA crash
    ticks and the daily funding averages."""
    from drift_engine.data.pipeline import REAL_FUNDING_LABEL

    out: list[StoreEntry] = []
    attribution = f"attribution: bundled/{REAL_FOLDER}/{ATTRIBUTION_FILE}"
    for market, name in real_files().items():
        raw = _bundled(REAL_FOLDER, name).read_bytes()
        first, last, rows = _span(gzip.decompress(raw).decode("utf-8"))
        digest = hashlib.sha256(raw).hexdigest()
        path = f"bundled/{REAL_FOLDER}/{name}"
        for kind, label, note in (
            (KIND_FUNDING, REAL_FUNDING_LABEL, "Drift Data API records; " + attribution),
            (KIND_ORACLE, TWAP_LABEL, "oraclePriceTwap of each funding record"),
        ):
            out.append(
                StoreEntry(
                    market, kind, SOURCE_REAL, label, first, last, rows, path, digest, note=note
                )  # fmt: skip
            )
    luna = _bundled(LUNA_FILE).read_text("utf-8")
    first, last, rows = _span(luna)
    out.append(
        StoreEntry(
            "LUNA-PERP",
            KIND_ORACLE,
            SOURCE_REAL,
            SOURCE_REAL,
            first,
            last,
            rows,
            f"bundled/{LUNA_FILE}",
            hashlib.sha256(luna.encode("utf-8")).hexdigest(),
            note="LUNA's May 2022 crash (drift-labs/drift-sim); attribution: bundled/README.md",
        )
    )
    days = daily_funding()
    daily = _bundled(FUNDING_FILE).read_text("utf-8")
    for market in sorted({d.market for d in days}):
        mine = [d for d in days if d.market == market]
        out.append(
            StoreEntry(
                market,
                KIND_FUNDING,
                SOURCE_REAL,
                SOURCE_REAL_DAILY,
                mine[0].start_ts,
                mine[-1].start_ts,
                len(mine),
                f"bundled/{FUNDING_FILE}",
                hashlib.sha256(daily.encode("utf-8")).hexdigest(),
                resolution=86_400,
                note="daily averages (the synthetic market's calibration); "
                "attribution: bundled/README.md",
            )
        )
    return out


__all__ = ["bundled_series"]
