"""Drift's funding-rate records as Drift publishes them: in human units, not on-chain integers.

Two publishers, one record (`FundingRateRecord`, the program's event):

- **The S3 archive** (`drift-historical-data-v2`, key
  `program/<program id>/market/<SYMBOL>/fundingRateRecords/<YYYY>/<YYYYMMDD>`), written by
  drift-labs/events-archiver-public (`archive.py`, `scripts/event_parser.py`): one gzip CSV
  per market and day, pandas `to_csv` of the parsed events, columns in this order:
  `ts, txSig, recordId, slot, marketIndex, fundingRate, fundingRateLong, fundingRateShort,
  cumulativeFundingRateLong, cumulativeFundingRateShort, oraclePriceTwap, markPriceTwap,
  periodRevenue, baseAssetAmountWithAmm, baseAssetAmountWithUnsettledLp, programId`.
  Every amount is the on-chain integer divided by its precision *as a Python float*
  (`funding_rate / 1e9`, `oracle_price_twap / PRICE_PRECISION`), so cells read like
  `-4.666e-06` or `127.636936`.
- **The Data API** (`GET https://data.api.drift.trade/market/<SYMBOL>/fundingRates/<Y>/<M>/<D>
  ?page=N`), pages `{"success": true, "records": [...], "meta": {"nextPage": N | null}}`
  whose records carry `ts` and the same names as decimal strings (`"-0.000004666"`),
  usually without `marketIndex` and the cumulative rates. A CSV saved from those records
  (`ts,fundingRate,fundingRateLong,fundingRateShort,oraclePriceTwap,markPriceTwap,
  periodRevenue`, e.g. the bundled real files) reads the same way.

Both become integers in Drift's precisions again (rates x 1e9, TWAPs x 1e6), rounded to the
nearest integer: a float of an on-chain integer below 2^53 converts back to exactly that
integer. A value that is further than 0.001 of a unit from an integer has more precision
than the chain has and is refused. Records without cumulative rates get cumulative rates 0
(unknown; nothing in drift-engine reads them: the simulator accumulates the hourly rates
itself). A record without `marketIndex` takes the market from the caller, else from a
market symbol in its path (`.../market/SOL-PERP/...`, `drift_funding_hourly_SOL-PERP_...`).

The converted rows then go through `csvformat.parse_drift_funding`, the same validation as
every other Drift funding file (time order, markets, bounds), and errors name the original
file and its line (CSV) or record number (JSON).

A header with the funding columns whose price cells are all integers (no `.` or exponent)
is read as on-chain integers by `csvformat` directly; see `readers.read_file`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from drift_engine.data import symbols
from drift_engine.data.csvformat import (
    DRIFT_FUNDING_COLUMNS,
    DataFileError,
    ParsedSeries,
    parse_drift_funding,
)
from drift_engine.data.models import FUNDING_RATE_PRECISION, PRICE_PRECISION

#: The S3 archive's FundingRateRecord columns, in the archiver's order.
S3_FUNDING_COLUMNS = (
    "ts",
    "txSig",
    "recordId",
    "slot",
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
    "programId",
)

#: The Data API's funding record fields a file must have (decimal units).
API_REQUIRED = ("ts", "fundingRate", "oraclePriceTwap", "markPriceTwap")

#: Column -> scale back to the on-chain integer.
SCALES: dict[str, int] = {
    "fundingRate": FUNDING_RATE_PRECISION,
    "fundingRateLong": FUNDING_RATE_PRECISION,
    "fundingRateShort": FUNDING_RATE_PRECISION,
    "cumulativeFundingRateLong": FUNDING_RATE_PRECISION,
    "cumulativeFundingRateShort": FUNDING_RATE_PRECISION,
    "oraclePriceTwap": PRICE_PRECISION,
    "markPriceTwap": PRICE_PRECISION,
}

#: How far (in units of the integer) a scaled value may be from an integer: float noise.
_TOLERANCE = Decimal("0.001")
_SYMBOL_RE = re.compile(r"(?<![A-Za-z0-9])([A-Za-z0-9]+-PERP)(?![A-Za-z0-9])", re.IGNORECASE)
#: A spreadsheet's datetime, as in drift-labs/archiver's copies of S3 files.
_DATETIME_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S")


class DataRecordError(DataFileError):
    """A bad record in a JSON file: names the file, the record (1-based) and the field."""

    def __init__(self, path: str, record: int, field: str | None, message: str) -> None:
        super().__init__(path, record, field, message)
        where = f"{self.path}, record {record}"
        if field is not None:
            where += f", field {field!r}"
        ValueError.__init__(self, f"{where}: {message}")


def to_units(text: str, scale: int) -> int:
    """A published decimal (`"-4.666e-06"`, `"127.636936"`) back to its on-chain integer.

    Raises ValueError when it is not a finite number or not within 0.001 of an integer
    at `scale`."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"expected a number, got {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"expected a finite number, got {text!r}")
    scaled = value * scale
    units = scaled.quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    if abs(scaled - units) > _TOLERANCE:
        raise ValueError(f"{text} has more precision than Drift's 1/{scale:,} units")
    return int(units)


def is_decimal_units(cells: Iterable[str]) -> bool:
    """True if any of these cells is written as a decimal (a point or an exponent)."""
    return any(("." in c or "e" in c.lower()) for c in cells if c.strip())


def market_from_path(path: str | Path) -> str | None:
    """The last perp symbol named in a path (`.../market/SOL-PERP/...`), canonical, or None."""
    found = _SYMBOL_RE.findall(str(path))
    if not found:
        return None
    symbol = symbols.canonical(found[-1])
    return symbol if symbols.perp_index(symbol) is not None else None


def _timestamp(raw: str) -> str:
    raw = raw.strip()
    if re.fullmatch(r"[+-]?\d+", raw):
        return raw
    collapsed = " ".join(raw.split())
    for fmt in _DATETIME_FORMATS:
        try:
            moment = datetime.strptime(collapsed, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
        return str(int(moment.timestamp()))
    raise ValueError(f"expected unix seconds or a UTC datetime, got {raw!r}")


class _Converter:
    """Turns records in published units into the integer cells of `DRIFT_FUNDING_COLUMNS`."""

    def __init__(
        self,
        path: str,
        market: str | None,
        error: Callable[[int, str | None, str], DataFileError],
    ) -> None:
        self.path = path
        self.error = error
        self.market = market
        self._index: int | None = None
        if market is not None:
            self._index = symbols.perp_index(market)
        else:
            from_path = market_from_path(path)
            self._index = symbols.perp_index(from_path) if from_path else None

    def cells(self, where: int, get: Callable[[str], str | None]) -> list[str]:
        out: list[str] = []
        for column in DRIFT_FUNDING_COLUMNS:
            raw = get(column)
            if column == "ts":
                if raw is None:
                    raw = get("datetime")
                if raw is None or not raw.strip():
                    raise self.error(where, "ts", "missing value")
                try:
                    out.append(_timestamp(raw))
                except ValueError as exc:
                    raise self.error(where, "ts", str(exc)) from None
            elif column == "marketIndex":
                if raw is not None and raw.strip():
                    out.append(raw.strip())
                elif self._index is not None:
                    out.append(str(self._index))
                else:
                    raise self.error(
                        where,
                        "marketIndex",
                        "the records do not name their market; pass the market explicitly "
                        "(e.g. --market SOL-PERP) or keep the symbol in the file name",
                    )
            else:
                if raw is None or not raw.strip():
                    if column.startswith("cumulative"):
                        raw = "0"  # not published by the Data API: unknown
                    elif column in ("fundingRateLong", "fundingRateShort"):
                        raw = get("fundingRate")
                        if raw is None or not raw.strip():
                            raise self.error(where, "fundingRate", "missing value")
                    else:
                        raise self.error(where, column, "missing value")
                try:
                    out.append(str(to_units(raw, SCALES[column])))
                except ValueError as exc:
                    raise self.error(where, column, str(exc)) from None
        return out


def _route(
    path: str,
    rows: list[tuple[int, list[str]]],
    market: str | None,
    error: Callable[[int, str | None, str], DataFileError],
) -> list[ParsedSeries]:
    """Integer rows -> csvformat's Drift funding parser; its errors point back at `where`."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(DRIFT_FUNDING_COLUMNS)
    origin: dict[int, int] = {}
    for n, (where, cells) in enumerate(rows):
        writer.writerow(cells)
        origin[n + 2] = where
    text.seek(0)
    try:
        parsed = parse_drift_funding(path, text, market)
    except DataFileError as exc:
        raise error(origin.get(exc.line, exc.line), exc.column, exc.message) from None
    for series in parsed:
        series.lines = [origin.get(line, line) for line in series.lines]
    return parsed


def parse_published_csv(path: str, text: str, market: str | None = None) -> list[ParsedSeries]:
    """An S3 archive or Data API funding CSV (decimal units) as validated series."""

    def error(line: int, column: str | None, message: str) -> DataFileError:
        return DataFileError(path, line, column, message)

    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lstrip("\ufeff") for h in next(reader)]
    except StopIteration:
        raise DataFileError(path, 1, None, "empty file") from None
    index = {name: i for i, name in enumerate(header)}
    for name in API_REQUIRED:
        if name not in index and not (name == "ts" and "datetime" in index):
            raise DataFileError(path, 1, name, f"missing column (header: {','.join(header)})")
    converter = _Converter(path, market, error)
    rows: list[tuple[int, list[str]]] = []
    try:
        for cells in reader:
            if not cells or all(not c.strip() for c in cells):
                continue
            line = reader.line_num

            def get(name: str, cells: list[str] = cells) -> str | None:
                i = index.get(name)
                return cells[i] if i is not None and i < len(cells) else None

            rows.append((line, converter.cells(line, get)))
    except csv.Error as exc:
        raise DataFileError(path, reader.line_num, None, f"bad CSV: {exc}") from None
    return _route(path, rows, market, error) if rows else []


def api_records(path: str, data: Any) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """(1-based number, record) from a Data API page, a list of pages or a list of records."""
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise DataRecordError(path, 0, None, "expected a Data API page or a list of them")
    n = 0
    for item in data:
        if isinstance(item, dict) and "records" in item:
            if item.get("success") is False:
                raise DataRecordError(path, n + 1, "success", "the page says success: false")
            records = item["records"]
            if not isinstance(records, list):
                raise DataRecordError(path, n + 1, "records", "expected a list of records")
        else:
            records = [item]
        for record in records:
            n += 1
            if not isinstance(record, dict):
                raise DataRecordError(path, n, None, "expected a record object")
            yield n, record


def parse_api_json(path: str, text: str, market: str | None = None) -> list[ParsedSeries]:
    """Data API funding-rate pages (JSON) as validated series."""

    def error(record: int, field: str | None, message: str) -> DataFileError:
        return DataRecordError(path, record, field, message)

    try:
        data = json.loads(text.lstrip("\ufeff"))
    except json.JSONDecodeError as exc:
        raise DataFileError(path, exc.lineno, None, f"bad JSON: {exc.msg}") from None
    converter = _Converter(path, market, error)
    rows: list[tuple[int, list[str]]] = []
    for n, record in api_records(path, data):
        for name in API_REQUIRED:
            if name not in record:
                raise DataRecordError(path, n, name, "missing field")

        def get(name: str, record: Mapping[str, Any] = record) -> str | None:
            value = record.get(name)
            if value is None or isinstance(value, bool):
                return None
            return value if isinstance(value, str) else repr(value)

        rows.append((n, converter.cells(n, get)))
    return _route(path, rows, market, error) if rows else []


__all__ = [
    "API_REQUIRED",
    "S3_FUNDING_COLUMNS",
    "SCALES",
    "DataRecordError",
    "api_records",
    "is_decimal_units",
    "market_from_path",
    "parse_api_json",
    "parse_published_csv",
    "to_units",
]
