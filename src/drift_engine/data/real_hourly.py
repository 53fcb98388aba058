"""Drift's real hourly funding records, shipped in the package (`bundled/real/`).

Each file `drift_funding_hourly_<SYMBOL>_<first day>_<last day>.csv.gz` is a gzip copy of a
year of Drift Data API FundingRateRecords for one perp market (sources and checks in
`bundled/real/ATTRIBUTION.md`): `ts, fundingRate, fundingRateLong, fundingRateShort,
oraclePriceTwap, markPriceTwap, periodRevenue` in Drift's published units. They are read
with the same reader as an imported Data API file (`published.parse_published_csv`), so
every rate is the exact on-chain integer again (FUNDING_RATE 1e9, PRICE 1e6), not a float.

What a replay gets from a file:
- funding: one `FundingRecord` per record, at the record's own `ts` (updates land up to
  ~90 s after the hour), labelled "real";
- prices: one `OracleTick` per record at the same `ts` with the hour's oracle TWAP,
  labelled `TWAP_LABEL` ("real (hourly oracle TWAP)"): the real price path, hourly.
  Finer paths are a separate, labelled synthetic layer (`bridge.BrownianBridge`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources

from drift_engine.data import published
from drift_engine.data.models import FUNDING_PERIOD, FundingRecord, OracleTick

REAL_FOLDER = "real"
FILE_RE = re.compile(
    r"drift_funding_hourly_(?P<market>[A-Z0-9]+-PERP)_(?P<first>\d{4}-\d{2}-\d{2})_"
    r"(?P<last>\d{4}-\d{2}-\d{2})\.csv\.gz\Z"
)
TWAP_LABEL = "real (hourly oracle TWAP)"
ATTRIBUTION_FILE = "ATTRIBUTION.md"


def _folder():  # type: ignore[no-untyped-def]
    return resources.files("drift_engine.data").joinpath("bundled").joinpath(REAL_FOLDER)


@cache
def real_files() -> dict[str, str]:
    """Market symbol -> bundled file name, for every real hourly file in the package."""
    out: dict[str, str] = {}
    for entry in _folder().iterdir():
        m = FILE_RE.match(entry.name)
        if m:
            out[m.group("market")] = entry.name
    return dict(sorted(out.items()))


def has_real_data(market: str) -> bool:
    return market.upper() in real_files()


@dataclass(frozen=True)
class RealHourlySeries:
    """One bundled file, parsed: its funding records in time order."""

    market: str
    file: str
    records: tuple[FundingRecord, ...]

    @property
    def first_ts(self) -> int:
        return self.records[0].ts

    @property
    def last_ts(self) -> int:
        return self.records[-1].ts

    @property
    def span(self) -> tuple[int, int]:
        """[start of the first record's hour, end of the last record's hour): the window
        a replay may ask for."""
        return hour_span(self.first_ts, self.last_ts)

    def twap_ticks(self) -> tuple[OracleTick, ...]:
        return twap_ticks(self.records, TWAP_LABEL)


def hour_span(first_ts: int, last_ts: int) -> tuple[int, int]:
    return (
        first_ts - first_ts % FUNDING_PERIOD,
        last_ts - last_ts % FUNDING_PERIOD + FUNDING_PERIOD,
    )


def twap_ticks(records: tuple[FundingRecord, ...] | list[FundingRecord], label: str):  # type: ignore[no-untyped-def]
    """An oracle tick at each funding record's time with its oracle TWAP."""
    return tuple(OracleTick(r.ts, r.market, r.oracle_price_twap, label) for r in records)


@cache
def real_hourly(market: str) -> RealHourlySeries:
    """The bundled real hourly series of `market` (KeyError if there is none)."""
    name = real_files().get(market.upper())
    if name is None:
        raise KeyError(
            f"no bundled real hourly data for {market!r} (have {', '.join(real_files())})"
        )
    import gzip

    text = gzip.decompress(_folder().joinpath(name).read_bytes()).decode("utf-8")
    (series,) = published.parse_published_csv(f"bundled/{REAL_FOLDER}/{name}", text, market)
    return RealHourlySeries(series.market, name, tuple(series.records))  # type: ignore[arg-type]


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


__all__ = [
    "ATTRIBUTION_FILE",
    "TWAP_LABEL",
    "RealHourlySeries",
    "has_real_data",
    "hour_span",
    "iso",
    "real_files",
    "real_hourly",
    "twap_ticks",
]
