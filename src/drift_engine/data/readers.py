"""Every market-data file drift-engine reads, by content: one entry point for import and replay.

`read_file(path)` opens a file, gunzips it when it starts with gzip's magic bytes (Drift's
S3 objects are gzip CSV; a browser or `curl --compressed` may have unpacked them already),
and picks the reader from the content:

- JSON (`{...}` / `[...]`), Drift Data API pages: `published.parse_api_json`;
- CSV with `fundingRate` and decimal prices (S3 archive, Data API CSV):
  `published.parse_published_csv`;
- CSV with `fundingRate` and integer prices (on-chain units): `csvformat.parse_drift_funding`;
- CSV with `oracleOpen` / `fillOpen` (Drift candles): `csvformat.parse_drift_candles`;
- `# drift-engine market-data v1` (ours): `csvformat.iter_own_records`.

Plain files that are not JSON and not decimal funding go straight to `csvformat.parse_file`,
so they get exactly the checks every import gets. `DriftDataImporter` is the store importer
(`importer.DriftHistoricalImporter`: validate everything, merge, write all or nothing) over
these readers; folders are walked for `*.csv`, `*.csv.gz`, `*.gz`, `*.json`, `*.json.gz` and
extension-less files (Drift's S3 day files).
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import zlib
from collections.abc import Iterable
from pathlib import Path

from drift_engine.data import published
from drift_engine.data.csvformat import (
    DataFileError,
    ParsedSeries,
    parse_file,
    parse_stream,
    sniff,
)
from drift_engine.data.importer import DriftHistoricalImporter
from drift_engine.data.store import LocalStore, StoreEntry

GZIP_MAGIC = b"\x1f\x8b"
#: File name endings a folder import picks up (besides extension-less files).
SUFFIXES = (".csv", ".json", ".gz")
#: How many data rows are looked at to tell decimal from integer units.
_SNIFF_ROWS = 50


def _read_text(path: str) -> tuple[str, bool]:
    """(text, was gzip) of a file; errors name the file."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DataFileError(path, 0, None, f"cannot open: {exc.strerror}") from None
    packed = raw[:2] == GZIP_MAGIC
    if packed:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataFileError(path, 0, None, f"not a readable gzip file ({exc})") from None
    try:
        return raw.decode("utf-8"), packed
    except UnicodeDecodeError:
        raise DataFileError(path, 1, None, "not a UTF-8 text file") from None


def _decimal_funding(text: str) -> bool:
    """A funding CSV in published (decimal) units, judged by its price columns."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().lstrip("\ufeff") for h in next(reader, [])]
    if "cumulativeFundingRateLong" not in header or "marketIndex" not in header:
        return True  # the Data API's layout: always decimal units
    columns = [header.index(c) for c in ("oraclePriceTwap", "markPriceTwap") if c in header]
    cells: list[str] = []
    for n, row in enumerate(reader):
        if n >= _SNIFF_ROWS:
            break
        cells.extend(row[i] for i in columns if i < len(row))
    return published.is_decimal_units(cells)


def read_file(
    path: str | os.PathLike[str], *, market: str | None = None, resolution: int | None = None
) -> list[ParsedSeries]:
    """Parse and validate one file of any supported format (see the module docstring)."""
    path_str = str(path)
    text, packed = _read_text(path_str)
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped:
        raise DataFileError(path_str, 1, None, "empty file")
    if stripped[0] in "{[":
        return published.parse_api_json(path_str, text, market)
    first = text.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    fmt = sniff(path_str, first)
    if fmt == "drift_funding" and _decimal_funding(text):
        return published.parse_published_csv(path_str, text, market)
    if not packed:
        return parse_file(path_str, market=market, resolution=resolution)
    fh = io.StringIO(text, newline="")
    return parse_stream(path_str, fh, fmt, market=market, resolution=resolution)


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files as given; folders walked (sorted, hidden entries skipped) for data files."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for p in sorted(path.rglob("*")):
                if not p.is_file() or any(
                    part.startswith(".") for part in p.relative_to(path).parts
                ):
                    continue
                name = p.name.lower()
                if p.suffix == "" or name.endswith(SUFFIXES):
                    out.append(p)
        elif path.exists():
            out.append(path)
        else:
            raise DataFileError(str(path), 0, None, "no such file or folder")
    return list(dict.fromkeys(out))


class DriftDataImporter(DriftHistoricalImporter):
    """`DriftHistoricalImporter` over every format `read_file` knows (gzip, JSON, S3, ours)."""

    label = "real (drift data)"

    def files(self) -> list[Path]:
        return expand_paths(self.paths)

    def parse(self) -> list[ParsedSeries]:
        out: list[ParsedSeries] = []
        for path in self.files():
            out.extend(read_file(path, market=self.market, resolution=self.resolution))
        return out


def import_paths(
    store: LocalStore,
    paths: Iterable[str | os.PathLike[str]],
    *,
    market: str | None = None,
    resolution: int | None = None,
) -> list[StoreEntry]:
    """`drift-engine data import`: all-or-nothing import of files and folders, any format."""
    return DriftDataImporter(paths, market=market, resolution=resolution).import_into(store)


__all__ = ["DriftDataImporter", "expand_paths", "import_paths", "read_file"]
