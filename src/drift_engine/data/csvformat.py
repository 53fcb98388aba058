"""CSV formats: our own market-data format, and Drift's public historical CSV files.

Our format ("drift-engine market-data v1")
------------------------------------------
One series (one market, one kind, one source) per file, UTF-8, "\\n" line ends:

    # drift-engine market-data v1; kind=funding; market=SOL-PERP; source=real
    ts,market_index,funding_rate,funding_rate_long,funding_rate_short,...
    1768003200,0,-47500,-47500,-47500,-47500,-47500,100000000,99998860

Line 1 is the metadata line: `kind` is one of oracle, funding, candle, spot_rate; `market`
is the Drift symbol; `source` is the label every record carries ("real", "synthetic ...").
Line 2 is the header; columns may come in any order, extra columns are ignored. Rows are
strictly increasing in `ts`. All values are integers in Drift precision except the spot
rates, which are decimal fractions. Columns by kind:

- oracle:    ts, price (PRICE 1e6)
- funding:   ts, market_index (may be empty), funding_rate, funding_rate_long,
             funding_rate_short, cumulative_funding_rate_long, cumulative_funding_rate_short
             (FUNDING_RATE 1e9), oracle_price_twap, mark_price_twap (PRICE 1e6)
- candle:    ts (candle start), resolution (s), open, high, low, close (PRICE 1e6),
             volume (base asset, BASE 1e9)
- spot_rate: ts, market_index, deposit_rate, borrow_rate (APR fractions, e.g. 0.05),
             cumulative_deposit_interest, cumulative_borrow_interest (1e10, may be empty)

Drift's historical CSV files
----------------------------
- Funding-rate records (`market/{SYMBOL}/fundingRateRecords/{year}/{yyyymmdd}`): columns
  ts, marketIndex, fundingRate, fundingRateLong, fundingRateShort,
  cumulativeFundingRateLong, cumulativeFundingRateShort (integers, 1e9), oraclePriceTwap,
  markPriceTwap (integers, 1e6), in any order, with any extra columns (txSig, slot,
  recordId, periodRevenue, ...), which are ignored. A file may hold several markets; each
  market's rows must be increasing in ts. The symbol comes from marketIndex (driftpy's
  mainnet constants) unless a market is given explicitly.
- Candles: a time column `ts` or `start` (unix seconds, candle start), prices
  oracleOpen/oracleHigh/oracleLow/oracleClose (or fillOpen/... when no oracle columns)
  in decimal USD as Drift's candle files publish them, optional baseVolume (decimal base
  units). The resolution comes from the caller, else from a file name such as `60.csv`
  (minutes, or D/W), else from the smallest gap between rows. The market comes from the
  caller, else from a path component `perp_<index>`/`spot_<index>` or a known symbol.

Every bad value, missing column or out-of-order row raises `DataFileError` naming the file,
the line (1-based, physical) and the column. Values must also be sane for their field and
market (data/bounds.py: magnitudes, digits, decimal places, the market's own index), and
a market symbol is letters, digits, `_` and `-` (it becomes a file name in the store).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

from drift_engine.data import symbols
from drift_engine.data.bounds import (
    FieldBoundsError,
    check_decimal,
    check_int_text,
    check_record,
)
from drift_engine.data.models import (
    BASE_PRECISION,
    KIND_CANDLE,
    KIND_FUNDING,
    KIND_ORACLE,
    KIND_SPOT_RATE,
    KINDS,
    PRICE_PRECISION,
    SOURCE_REAL,
    Candle,
    FundingRecord,
    MarketEvent,
    OracleTick,
    SpotRateRecord,
)

FORMAT_MAGIC = "# drift-engine market-data v1"

COLUMNS: dict[str, tuple[str, ...]] = {
    KIND_ORACLE: ("ts", "price"),
    KIND_FUNDING: (
        "ts",
        "market_index",
        "funding_rate",
        "funding_rate_long",
        "funding_rate_short",
        "cumulative_funding_rate_long",
        "cumulative_funding_rate_short",
        "oracle_price_twap",
        "mark_price_twap",
    ),
    KIND_CANDLE: ("ts", "resolution", "open", "high", "low", "close", "volume"),
    KIND_SPOT_RATE: (
        "ts",
        "market_index",
        "deposit_rate",
        "borrow_rate",
        "cumulative_deposit_interest",
        "cumulative_borrow_interest",
    ),
}

#: Columns that must be present in our format (the others may be missing or empty).
REQUIRED: dict[str, tuple[str, ...]] = {
    KIND_ORACLE: COLUMNS[KIND_ORACLE],
    KIND_FUNDING: tuple(c for c in COLUMNS[KIND_FUNDING] if c != "market_index"),
    KIND_CANDLE: COLUMNS[KIND_CANDLE],
    KIND_SPOT_RATE: ("ts", "deposit_rate", "borrow_rate"),
}

DRIFT_FUNDING_COLUMNS = (
    "ts",
    "marketIndex",
    "fundingRate",
    "fundingRateLong",
    "fundingRateShort",
    "cumulativeFundingRateLong",
    "cumulativeFundingRateShort",
    "oraclePriceTwap",
    "markPriceTwap",
)

#: Drift candle resolutions by file name (minutes unless a letter).
CANDLE_RESOLUTIONS = {
    "1": 60,
    "3": 180,
    "5": 300,
    "15": 900,
    "30": 1800,
    "60": 3600,
    "240": 14400,
    "D": 86400,
    "1D": 86400,
    "W": 604800,
    "1W": 604800,
}

_INT_RE = re.compile(r"[+-]?\d+\Z")
_MAX_SECONDS = 10**11  # beyond year 5000: a millisecond timestamp, not seconds
#: A market symbol: it names the store's files, so no path separators, no dots.
SYMBOL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}\Z")


def check_symbol(market: str) -> str | None:
    """Why `market` cannot name a series (None: it can)."""
    if not SYMBOL_RE.match(market):
        return (
            f"{market!r} is not a market symbol (letters, digits, _ and -, at most 40; "
            "e.g. SOL-PERP, SOL, USDC)"
        )
    return None


class DataFileError(ValueError):
    """A file that cannot be imported, with where: file, line (1-based) and column."""

    def __init__(self, path: str, line: int, column: str | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.column = column
        self.message = message
        where = f"{self.path}, line {line}" if line else self.path
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {message}")


@dataclass
class ParsedSeries:
    """One market's records of one kind from one file, in time order, with their lines."""

    path: str
    market: str
    kind: str
    label: str
    resolution: int | None = None
    records: list[MarketEvent] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)


class _Row:
    """Cell access with error locations."""

    __slots__ = ("cells", "index", "line", "path")

    def __init__(self, path: str, line: int, index: dict[str, int], cells: list[str]) -> None:
        self.path, self.line, self.index, self.cells = path, line, index, cells

    def error(self, column: str | None, message: str) -> DataFileError:
        return DataFileError(self.path, self.line, column, message)

    def raw(self, name: str) -> str:
        i = self.index[name]
        if i >= len(self.cells):
            raise self.error(name, f"missing value (the row has {len(self.cells)} cells)")
        return self.cells[i].strip()

    def integer(self, name: str, *, minimum: int | None = None, optional: bool = False) -> Any:
        text = self.raw(name)
        if text == "" and optional:
            return None
        if not _INT_RE.match(text):
            raise self.error(name, f"expected an integer, got {_short(text)}")
        too_long = check_int_text(text)
        if too_long is not None:
            raise self.error(name, too_long)
        value = int(text)
        if minimum is not None and value < minimum:
            raise self.error(name, f"must be >= {minimum}, got {value}")
        return value

    def decimal(self, name: str, *, minimum: Decimal | None = None) -> Decimal:
        text = self.raw(name)
        if len(text) > 100:
            raise self.error(name, f"expected a decimal number, got {len(text):,} characters")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise self.error(name, f"expected a decimal number, got {_short(text)}") from None
        if not value.is_finite():
            raise self.error(name, f"expected a finite number, got {text!r}")
        insane = check_decimal(value)
        if insane is not None:
            raise self.error(name, f"{insane}, got {text!r}")
        if minimum is not None and value < minimum:
            raise self.error(name, f"must be >= {minimum}, got {text}")
        return value

    def scaled(self, name: str, scale: int, *, minimum: int | None = None) -> int:
        """A decimal value in human units to an integer in `scale` (half-even rounding)."""
        value = self.decimal(name)
        scaled = int((value * scale).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
        if minimum is not None and scaled < minimum:
            raise self.error(name, f"must be >= {Decimal(minimum) / scale}, got {value}")
        return scaled

    def timestamp(self, name: str) -> int:
        value = self.integer(name, minimum=0)
        if value >= _MAX_SECONDS:
            raise self.error(name, f"{value} looks like milliseconds; expected unix seconds")
        return value


def _short(text: str) -> str:
    """A cell for a message: quoted, and cut when long (a bad cell may be megabytes)."""
    return repr(text) if len(text) <= 40 else f"{text[:30]!r}... ({len(text):,} characters)"


def _checked(row: _Row, record: Any, columns: dict[str, str] | None = None) -> Any:
    """`record` if its fields are sane (data/bounds.py); else the row's error, naming the
    column (`columns` maps a record field to the file's column when they differ)."""
    try:
        check_record(record)
    except FieldBoundsError as exc:
        raise row.error((columns or {}).get(exc.field, exc.field), exc.message) from None
    return record


#: Record fields -> Drift's funding CSV columns.
DRIFT_FUNDING_FIELDS = dict(zip(COLUMNS[KIND_FUNDING], DRIFT_FUNDING_COLUMNS, strict=True))


def _header_index(path: str, line: int, header: list[str], required: Iterable[str]) -> dict:
    index: dict[str, int] = {}
    for i, name in enumerate(header):
        name = name.strip().lstrip("\ufeff")
        if name in index:
            raise DataFileError(path, line, name, "column appears twice in the header")
        index[name] = i
    for name in required:
        if name not in index:
            raise DataFileError(path, line, name, f"missing column (header: {','.join(header)})")
    return index


def _rows(path: str, fh: IO[str], line_offset: int) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(fh)
    try:
        for cells in reader:
            if not cells or all(c.strip() == "" for c in cells):
                continue
            yield reader.line_num + line_offset, cells
    except csv.Error as exc:
        raise DataFileError(path, reader.line_num + line_offset, None, f"bad CSV: {exc}") from None


def _check_order(row: _Row, ts: int, previous: int | None, previous_line: int | None) -> None:
    if previous is not None and ts <= previous:
        raise row.error(
            "ts",
            f"ts {ts} is not after ts {previous} on line {previous_line}; "
            "rows must be strictly increasing in time",
        )


# -- our format ----------------------------------------------------------------------------


def parse_meta(path: str, first_line: str) -> dict[str, str]:
    if not first_line.startswith(FORMAT_MAGIC):
        raise DataFileError(path, 1, None, f"not a {FORMAT_MAGIC!r} file")
    meta: dict[str, str] = {}
    for part in first_line[len(FORMAT_MAGIC) :].split(";"):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise DataFileError(path, 1, None, f"bad metadata {part!r} (expected key=value)")
        meta[key.strip()] = value.strip()
    for key in ("kind", "market", "source"):
        if not meta.get(key):
            raise DataFileError(path, 1, None, f"metadata has no {key}=")
    if meta["kind"] not in KINDS:
        raise DataFileError(path, 1, None, f"unknown kind {meta['kind']!r} (known: {KINDS})")
    bad_symbol = check_symbol(meta["market"])
    if bad_symbol is not None:
        raise DataFileError(path, 1, None, f"market={meta['market']}: {bad_symbol}")
    return meta


def iter_own_records(path: str, fh: IO[str]) -> tuple[dict[str, str], Iterator[tuple[int, Any]]]:
    """Parse our format lazily: (metadata, iterator of (line, record))."""
    meta = parse_meta(path, fh.readline().rstrip("\r\n"))
    kind, market, label = meta["kind"], meta["market"], meta["source"]
    header_line = fh.readline()
    if not header_line.strip():
        raise DataFileError(path, 2, None, "missing header line")
    header = next(csv.reader([header_line]))
    index = _header_index(path, 2, header, REQUIRED[kind])

    def records() -> Iterator[tuple[int, Any]]:
        previous = previous_line = None
        resolution = None
        for line, cells in _rows(path, fh, 2):
            row = _Row(path, line, index, cells)
            ts = row.timestamp("ts")
            _check_order(row, ts, previous, previous_line)
            previous, previous_line = ts, line
            if kind == KIND_ORACLE:
                rec: Any = OracleTick(ts, market, row.integer("price", minimum=1), label)
            elif kind == KIND_FUNDING:
                rec = _funding(row, ts, market, label, own=True)
            elif kind == KIND_CANDLE:
                res = row.integer("resolution", minimum=1)
                if resolution is not None and res != resolution:
                    raise row.error("resolution", f"{res} differs from earlier rows ({resolution})")
                resolution = res
                rec = _candle(
                    row,
                    ts,
                    market,
                    label,
                    res,
                    [row.integer(c, minimum=1) for c in ("open", "high", "low", "close")],
                    row.integer("volume", minimum=0),
                )
            else:
                rec = SpotRateRecord(
                    ts=ts,
                    market=market,
                    market_index=row.integer("market_index", minimum=0, optional=True)
                    if "market_index" in index
                    else None,
                    deposit_rate=row.decimal("deposit_rate", minimum=Decimal(0)),
                    borrow_rate=row.decimal("borrow_rate", minimum=Decimal(0)),
                    source=label,
                    cumulative_deposit_interest=_optional_int(row, "cumulative_deposit_interest"),
                    cumulative_borrow_interest=_optional_int(row, "cumulative_borrow_interest"),
                )
            yield line, _checked(row, rec)

    return meta, records()


def _optional_int(row: _Row, name: str) -> int | None:
    if name not in row.index:
        return None
    return row.integer(name, minimum=0, optional=True)


def _funding(row: _Row, ts: int, market: str, label: str, *, own: bool) -> FundingRecord:
    names = COLUMNS[KIND_FUNDING] if own else DRIFT_FUNDING_COLUMNS
    (_, idx, rate, rate_long, rate_short, cum_long, cum_short, oracle_twap, mark_twap) = names
    if own:
        index = row.integer(idx, minimum=0, optional=True) if idx in row.index else None
    else:
        index = row.integer(idx, minimum=0)
    return FundingRecord(
        ts=ts,
        market=market,
        market_index=index,
        funding_rate=row.integer(rate),
        funding_rate_long=row.integer(rate_long),
        funding_rate_short=row.integer(rate_short),
        cumulative_funding_rate_long=row.integer(cum_long),
        cumulative_funding_rate_short=row.integer(cum_short),
        oracle_price_twap=row.integer(oracle_twap, minimum=1),
        mark_price_twap=row.integer(mark_twap, minimum=0),
        source=label,
    )


def _candle(
    row: _Row,
    ts: int,
    market: str,
    label: str,
    resolution: int,
    ohlc: list[int],
    volume: int,
    names: tuple[str, str, str, str] = ("open", "high", "low", "close"),
) -> Candle:
    o, h, lo, c = ohlc
    if h < max(o, c, lo):
        raise row.error(names[1], f"high {h} is below open/low/close")
    if lo > min(o, c):
        raise row.error(names[2], f"low {lo} is above open/close")
    return Candle(ts, market, resolution, o, h, lo, c, volume, label)


# -- Drift's formats -----------------------------------------------------------------------


def sniff(path: str, first_line: str) -> str:
    """'own', 'drift_funding' or 'drift_candle' from a file's first line."""
    if first_line.startswith(FORMAT_MAGIC):
        return "own"
    header = {c.strip().lstrip("\ufeff") for c in next(csv.reader([first_line]), [])}
    if "fundingRate" in header or "cumulativeFundingRateLong" in header:
        return "drift_funding"
    if header & {"oracleOpen", "fillOpen"}:
        return "drift_candle"
    raise DataFileError(
        path,
        1,
        None,
        "unrecognised file: expected a drift-engine market-data file, a Drift funding-rate "
        "record CSV (fundingRate, cumulativeFundingRateLong, ...) or a Drift candle CSV "
        "(oracleOpen/fillOpen, ...)",
    )


def _check_given_market(path: str, market: str | None) -> None:
    if market is not None and check_symbol(market) is not None:
        raise DataFileError(path, 0, None, f"--market: {check_symbol(market)}")


def parse_drift_funding(path: str, fh: IO[str], market: str | None = None) -> list[ParsedSeries]:
    _check_given_market(path, market)
    header = next(csv.reader([fh.readline()]))
    index = _header_index(path, 1, header, DRIFT_FUNDING_COLUMNS)
    by_index: dict[int, ParsedSeries] = {}
    last: dict[int, tuple[int, int]] = {}
    for line, cells in _rows(path, fh, 1):
        row = _Row(path, line, index, cells)
        ts = row.timestamp("ts")
        market_index = row.integer("marketIndex", minimum=0)
        series = by_index.get(market_index)
        if series is None:
            symbol = market or symbols.perp_symbol(market_index)
            if symbol is None:
                raise row.error(
                    "marketIndex",
                    f"unknown perp market index {market_index}; pass the market explicitly",
                )
            if market is not None and by_index:
                raise row.error(
                    "marketIndex",
                    f"the file holds several markets; cannot label them all {market!r}",
                )
            series = by_index[market_index] = ParsedSeries(path, symbol, KIND_FUNDING, SOURCE_REAL)
        prev = last.get(market_index)
        _check_order(row, ts, prev[0] if prev else None, prev[1] if prev else None)
        last[market_index] = (ts, line)
        record = _funding(row, ts, series.market, SOURCE_REAL, own=False)
        series.records.append(_checked(row, record, DRIFT_FUNDING_FIELDS))
        series.lines.append(line)
    return list(by_index.values())


def _market_from_path(path: Path) -> str | None:
    for part in reversed(path.parts[:-1] + (path.stem,)):
        m = re.fullmatch(r"(perp|spot)_(\d+)", part)
        if m:
            lookup = symbols.perp_symbol if m.group(1) == "perp" else symbols.spot_symbol
            return lookup(int(m.group(2)))
        if symbols.market_index(part) is not None:
            return symbols.canonical(part)
    return None


def parse_drift_candles(
    path: str, fh: IO[str], market: str | None = None, resolution: int | None = None
) -> list[ParsedSeries]:
    _check_given_market(path, market)
    header = next(csv.reader([fh.readline()]))
    names = {c.strip().lstrip("\ufeff") for c in header}
    time_col = "ts" if "ts" in names else "start"
    prefix = "oracle" if "oracleOpen" in names else "fill"
    cols = tuple(f"{prefix}{p}" for p in ("Open", "High", "Low", "Close"))
    index = _header_index(path, 1, header, (time_col, *cols))
    symbol = market or _market_from_path(Path(path))
    if symbol is None:
        raise DataFileError(
            path, 1, None, "cannot tell the market of this candle file; pass it explicitly"
        )
    res = resolution or CANDLE_RESOLUTIONS.get(Path(path).stem.upper())
    pending: list[tuple[int, _Row, int]] = []
    previous = previous_line = None
    for line, cells in _rows(path, fh, 1):
        row = _Row(path, line, index, cells)
        ts = row.timestamp(time_col)
        if previous is not None and ts <= previous:
            raise row.error(
                time_col,
                f"{time_col} {ts} is not after {previous} on line {previous_line}; "
                "rows must be strictly increasing in time",
            )
        previous, previous_line = ts, line
        pending.append((line, row, ts))
    if res is None:
        gaps = [b[2] - a[2] for a, b in zip(pending, pending[1:], strict=False)]
        if not gaps:
            raise DataFileError(path, 1, None, "cannot tell the candle resolution; pass it")
        res = min(gaps)
    series = ParsedSeries(path, symbol, KIND_CANDLE, SOURCE_REAL, resolution=res)
    fields = dict(zip(("open", "high", "low", "close"), cols, strict=True))
    fields |= {"volume": "baseVolume", "resolution": time_col}
    for line, row, ts in pending:
        ohlc = [row.scaled(c, PRICE_PRECISION, minimum=1) for c in cols]
        volume = row.scaled("baseVolume", BASE_PRECISION, minimum=0) if "baseVolume" in names else 0
        candle = _candle(row, ts, symbol, SOURCE_REAL, res, ohlc, volume, cols)
        series.records.append(_checked(row, candle, fields))
        series.lines.append(line)
    return [series] if series.records else []


def parse_file(
    path: str | Path, *, market: str | None = None, resolution: int | None = None
) -> list[ParsedSeries]:
    """Parse and validate one file of any supported format into series (in memory)."""
    path_str = str(path)
    try:
        fh = open(path, encoding="utf-8", newline="")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise DataFileError(path_str, 0, None, f"cannot open: {exc.strerror}") from None
    with fh:
        try:
            first = fh.readline()
        except UnicodeDecodeError:
            raise DataFileError(path_str, 1, None, "not a UTF-8 text file") from None
        if not first.strip():
            raise DataFileError(path_str, 1, None, "empty file")
        fmt = sniff(path_str, first.rstrip("\r\n"))
        fh.seek(0)
        try:
            return parse_stream(path_str, fh, fmt, market=market, resolution=resolution)
        except UnicodeDecodeError as exc:
            raise DataFileError(path_str, 0, None, f"not a UTF-8 text file ({exc})") from None


def parse_stream(
    path_str: str, fh: IO[str], fmt: str, *, market: str | None, resolution: int | None
) -> list[ParsedSeries]:
    """Parse the text of a file `sniff` took for `fmt` (a Drift funding or candle CSV,
    else our own format): one reader for a file on disk and for the text of a packed
    (gzip) one. Our format's series must be for `market` when one is asked."""
    if fmt == "drift_funding":
        return parse_drift_funding(path_str, fh, market)
    if fmt == "drift_candle":
        return parse_drift_candles(path_str, fh, market, resolution)
    meta, records = iter_own_records(path_str, fh)
    series = ParsedSeries(path_str, meta["market"], meta["kind"], meta["source"])
    for line, record in records:
        series.records.append(record)
        series.lines.append(line)
    if series.kind == KIND_CANDLE and series.records:
        series.resolution = series.records[0].resolution
    if market is not None and market != series.market:
        raise DataFileError(path_str, 1, None, f"file is for {series.market!r}, not {market!r}")
    return [series]


# -- writing our format --------------------------------------------------------------------


def _dec(value: Decimal) -> str:
    return format(value, "f")


def _opt(value: int | None) -> str:
    return "" if value is None else str(value)


def record_cells(record: MarketEvent) -> list[str]:
    if isinstance(record, OracleTick):
        return [str(record.ts), str(record.price)]
    if isinstance(record, FundingRecord):
        return [
            str(record.ts),
            _opt(record.market_index),
            str(record.funding_rate),
            str(record.funding_rate_long),
            str(record.funding_rate_short),
            str(record.cumulative_funding_rate_long),
            str(record.cumulative_funding_rate_short),
            str(record.oracle_price_twap),
            str(record.mark_price_twap),
        ]
    if isinstance(record, Candle):
        return [
            str(record.ts),
            str(record.resolution),
            str(record.open),
            str(record.high),
            str(record.low),
            str(record.close),
            str(record.volume),
        ]
    return [
        str(record.ts),
        _opt(record.market_index),
        _dec(record.deposit_rate),
        _dec(record.borrow_rate),
        _opt(record.cumulative_deposit_interest),
        _opt(record.cumulative_borrow_interest),
    ]


def meta_line(kind: str, market: str, label: str) -> str:
    for name, value in (("market", market), ("source", label)):
        if any(ch in value for ch in ";\r\n") or not value.strip():
            raise ValueError(f"{name} {value!r} cannot be written to a market-data file")
    return f"{FORMAT_MAGIC}; kind={kind}; market={market}; source={label}\n"


def format_lines(
    kind: str, market: str, label: str, records: Iterable[MarketEvent]
) -> Iterator[str]:
    """The lines of a file in our format (metadata, header, rows)."""
    yield meta_line(kind, market, label)
    yield ",".join(COLUMNS[kind]) + "\n"
    for record in records:
        yield ",".join(record_cells(record)) + "\n"


__all__ = [
    "CANDLE_RESOLUTIONS",
    "COLUMNS",
    "DRIFT_FUNDING_COLUMNS",
    "FORMAT_MAGIC",
    "SYMBOL_RE",
    "DataFileError",
    "ParsedSeries",
    "format_lines",
    "iter_own_records",
    "meta_line",
    "parse_file",
    "parse_stream",
    "record_cells",
    "check_symbol",
    "sniff",
]
