"""Import Drift's public historical CSV files (and our own CSV files) into the local store.

Formats: see `drift_engine.data.csvformat`. `DriftHistoricalImporter(paths)` takes files
and folders (folders are walked recursively for `*.csv` files and extension-less files,
which is how Drift's S3 day files are named, e.g. `.../fundingRateRecords/2024/20240319`).

Validation happens before anything is written: every file is parsed completely and every
row checked; series of the same market and kind coming from several files (one file per
day is Drift's layout) and from what is already stored are merged by `ts`. A row whose ts
is already present with different values is a conflict and fails the import; an
identical row is a harmless duplicate (re-importing a file changes nothing). Only when all
of that succeeded does `import_into` write, in one store transaction: either every series
of the invocation is stored or none is. Two series whose store file names would be the
same (they differ only in letter case, which a case-insensitive disk cannot tell apart)
are refused rather than let one overwrite the other.

The importer is also a `MarketDataSource` over its files, for replaying them without a
store.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from drift_engine.data.csvformat import DataFileError, ParsedSeries, parse_file, record_cells
from drift_engine.data.models import MarketEvent, check_window, merge_events, source_class
from drift_engine.data.store import LocalStore, StoreEntry, series_file_name, window_slice

SeriesKey = tuple[str, str, int | None, str]


@dataclass
class MergedSeries:
    market: str
    kind: str
    resolution: int | None
    label: str
    records: list[MarketEvent] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def key(self) -> SeriesKey:
        return (self.market, self.kind, self.resolution, source_class(self.label))


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files as given, folders walked recursively (sorted) for *.csv and extension-less files."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = [
                p
                for p in sorted(path.rglob("*"))
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
                and (p.suffix.lower() == ".csv" or p.suffix == "")
            ]
            out.extend(found)
        elif path.exists():
            out.append(path)
        else:
            raise DataFileError(str(path), 0, None, "no such file or folder")
    return list(dict.fromkeys(out))


def merge_series(
    parsed: Iterable[ParsedSeries],
    existing: dict[SeriesKey, tuple[StoreEntry, list[MarketEvent], str]] | None = None,
) -> dict[SeriesKey, MergedSeries]:
    """Merge parsed series by key (and with already-stored records), rejecting conflicts."""
    existing = existing or {}
    pools: dict[SeriesKey, list[tuple[MarketEvent, str, int]]] = {}
    merged: dict[SeriesKey, MergedSeries] = {}
    for series in parsed:
        key = (series.market, series.kind, series.resolution, source_class(series.label))
        if key not in merged:
            label = existing[key][0].label if key in existing else series.label
            merged[key] = MergedSeries(series.market, series.kind, series.resolution, label)
            pool = pools[key] = []
            if key in existing:
                entry, records, where = existing[key]
                pool.extend((r, where, i + 3) for i, r in enumerate(records))
        merged[key].files.append(series.path)
        pools[key].extend(
            zip(series.records, [series.path] * len(series.records), series.lines, strict=True)
        )
    for key, pool in pools.items():
        pool.sort(key=lambda item: item[0].ts)  # stable: earlier files first
        out = merged[key].records
        prev: tuple[MarketEvent, str, int] | None = None
        for item in pool:
            record, path, line = item
            if prev is not None and record.ts == prev[0].ts:
                if record_cells(record) != record_cells(prev[0]):
                    raise DataFileError(
                        path,
                        line,
                        "ts",
                        f"ts {record.ts} of {key[0]} {key[1]} is also in {prev[1]} "
                        f"(line {prev[2]}) with different values",
                    )
                continue
            out.append(record)
            prev = item
    return merged


class DriftHistoricalImporter:
    """Reads Drift historical CSV files / our CSV files; imports them or replays them."""

    label = "real (drift historical)"

    def __init__(
        self,
        paths: Iterable[str | os.PathLike[str]] = (),
        *,
        market: str | None = None,
        resolution: int | None = None,
    ) -> None:
        self.paths = list(paths)
        self.market = market
        self.resolution = resolution
        self._merged: dict[SeriesKey, MergedSeries] | None = None

    def files(self) -> list[Path]:
        return expand_paths(self.paths)

    def parse(self) -> list[ParsedSeries]:
        """Parse and validate every file (raises DataFileError on the first bad one)."""
        out: list[ParsedSeries] = []
        for path in self.files():
            out.extend(parse_file(path, market=self.market, resolution=self.resolution))
        return out

    def merged(self) -> dict[SeriesKey, MergedSeries]:
        if self._merged is None:
            self._merged = merge_series(self.parse())
        return self._merged

    def events(self, markets: Iterable[str], start: int, end: int) -> Iterator[MarketEvent]:
        check_window(start, end)
        wanted = set(markets)
        streams = [
            window_slice(m.records, start, end)
            for m in self.merged().values()
            if m.market in wanted
        ]
        return merge_events(*streams)

    def import_into(self, store: LocalStore) -> list[StoreEntry]:
        """Validate everything, then write all series in one transaction. Returns them."""
        parsed = self.parse()
        existing: dict[SeriesKey, tuple[StoreEntry, list[MarketEvent], str]] = {}
        for entry in store.entries():
            key = entry.key
            if any((s.market, s.kind, s.resolution, source_class(s.label)) == key for s in parsed):
                existing[key] = (entry, list(store.read(entry)), str(store.path_of(entry)))
        merged = merge_series(parsed, existing)
        check_file_names(merged.values(), store.entries())
        written: list[StoreEntry] = []
        with store.transaction() as txn:
            for series in merged.values():
                if not series.records:
                    continue
                written.append(
                    txn.put(
                        series.market,
                        series.kind,
                        series.label,
                        series.records,
                        resolution=series.resolution,
                    )
                )
        return written


def check_file_names(series: Iterable[MergedSeries], stored: Iterable[StoreEntry] = ()) -> None:
    """Refuse two different series that would share a store file (the name is the market
    symbol, so e.g. `sol-perp` and `SOL-PERP` on a case-insensitive disk)."""
    owners: dict[str, tuple[SeriesKey, str]] = {}
    candidates = [(e.key, e.file, "the store") for e in stored]
    for m in series:
        name = series_file_name(m.market, m.kind, source_class(m.label), m.resolution)
        candidates.append((m.key, name, m.files[0] if m.files else "?"))
    for key, name, where in candidates:
        folded = name.casefold()
        if folded in owners and owners[folded][0] != key:
            other_key, other_where = owners[folded]
            raise DataFileError(
                where,
                0,
                None,
                f"market {key[0]!r} would share the store file {name!r} with market "
                f"{other_key[0]!r} (from {other_where}); rename one of them",
            )
        owners.setdefault(folded, (key, where))


def import_paths(
    store: LocalStore,
    paths: Iterable[str | os.PathLike[str]],
    *,
    market: str | None = None,
    resolution: int | None = None,
) -> list[StoreEntry]:
    """`drift-engine data import`: all-or-nothing import of files and folders."""
    return DriftHistoricalImporter(paths, market=market, resolution=resolution).import_into(store)


__all__ = [
    "DriftHistoricalImporter",
    "MergedSeries",
    "check_file_names",
    "expand_paths",
    "import_paths",
    "merge_series",
]
