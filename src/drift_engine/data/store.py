"""The local market-data store: CSV files under `<data_dir>/market_data/`, all-or-nothing.

Layout:

    <data_dir>/market_data/
        CURRENT                    name of the live generation, e.g. "gen-000003"
        gen-000003/
            manifest.json          one entry per series (see StoreEntry)
            SOL-PERP.funding.real.csv
            SOL-PERP.oracle.synthetic.csv
            SOL-PERP.candle-3600.real.csv
            ...

One file per (market, kind, candle resolution, source class), in our CSV format
(`csvformat` module docstring). Real and synthetic data never share a file, so a synthetic
run can never leak into a "real" replay.

Writes go through `LocalStore.transaction()`: a new generation directory is filled (files
that do not change are hard-linked from the current one), its manifest is written, and
only then is `CURRENT` replaced by an atomic rename. An error or a crash at any point
before that rename leaves the store exactly as it was; the half-built generation is
deleted (or, after a crash, on the next write). A store has one writer at a time.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from drift_engine.data.csvformat import format_lines, iter_own_records
from drift_engine.data.models import (
    KIND_CANDLE,
    SOURCE_REAL,
    SOURCE_SYNTHETIC,
    MarketEvent,
    check_window,
    merge_events,
    source_class,
)

MANIFEST = "manifest.json"
CURRENT = "CURRENT"
_GEN_RE = re.compile(r"gen-(\d{6})\Z")


@dataclass(frozen=True, slots=True)
class StoreEntry:
    """One stored series. Times are unix seconds of the first/last record's `ts`."""

    market: str
    kind: str
    source: str  # "real" | "synthetic" | "assumed"
    label: str  # the records' source label, e.g. "real", "synthetic (seed=7, ...)"
    first_ts: int | None
    last_ts: int | None
    rows: int
    file: str
    sha256: str
    resolution: int | None = None
    note: str = ""  # free text, e.g. the seed and parameters of a synthetic series

    @property
    def key(self) -> tuple[str, str, int | None, str]:
        return (self.market, self.kind, self.resolution, self.source)


def series_file_name(market: str, kind: str, source: str, resolution: int | None = None) -> str:
    safe = re.sub(r"[^A-Za-z0-9_\-]", "_", market)
    kind_part = f"{kind}-{resolution}" if kind == KIND_CANDLE and resolution else kind
    return f"{safe}.{kind_part}.{source}.csv"


class LocalStore:
    """File-based store of market data series under `<data_dir>/market_data/`."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.data_dir = Path(data_dir)
        self.root = self.data_dir / "market_data"

    # -- reading -------------------------------------------------------------------------
    def _current_gen(self) -> str | None:
        try:
            name = (self.root / CURRENT).read_text("utf-8").strip()
        except FileNotFoundError:
            return None
        if not _GEN_RE.match(name):
            raise RuntimeError(f"{self.root / CURRENT} is corrupt ({name!r})")
        return name

    def _gen_dir(self) -> Path | None:
        gen = self._current_gen()
        return None if gen is None else self.root / gen

    def entries(self) -> list[StoreEntry]:
        gen_dir = self._gen_dir()
        if gen_dir is None:
            return []
        data = json.loads((gen_dir / MANIFEST).read_text("utf-8"))
        return [StoreEntry(**e) for e in data["entries"]]

    def find(
        self,
        market: str,
        kind: str,
        *,
        source: str | None = None,
        resolution: int | None = None,
    ) -> list[StoreEntry]:
        return [
            e
            for e in self.entries()
            if e.market == market
            and e.kind == kind
            and (source is None or e.source == source)
            and (resolution is None or e.resolution == resolution)
        ]

    def path_of(self, entry: StoreEntry) -> Path:
        gen_dir = self._gen_dir()
        if gen_dir is None:
            raise FileNotFoundError("the store is empty")
        return gen_dir / entry.file

    def read(
        self, entry: StoreEntry, start: int | None = None, end: int | None = None
    ) -> Iterator[MarketEvent]:
        """Stream a series' records (optionally only those with start <= time < end)."""
        path = self.path_of(entry)
        with open(path, encoding="utf-8", newline="") as fh:
            _, records = iter_own_records(str(path), fh)
            for _, record in records:
                t = record.time
                if start is not None and t < start:
                    continue
                if end is not None and t >= end:
                    break
                yield record

    # -- writing -------------------------------------------------------------------------
    def transaction(self) -> StoreTransaction:
        return StoreTransaction(self)


class StoreTransaction:
    """Stage series into a new generation; commit on success (context manager)."""

    def __init__(self, store: LocalStore) -> None:
        self.store = store
        self._old_gen = store._current_gen()
        self._old_entries = {e.key: e for e in store.entries()}
        number = int(_GEN_RE.match(self._old_gen).group(1)) if self._old_gen else 0
        self.gen = f"gen-{number + 1:06d}"
        self.gen_dir = store.root / self.gen
        self._new: dict[tuple, StoreEntry] = {}
        self._removed: set[tuple] = set()
        self._done = False
        store.root.mkdir(parents=True, exist_ok=True)
        _remove_stale(store.root, keep=self._old_gen)
        self.gen_dir.mkdir()

    @property
    def entries(self) -> dict[tuple, StoreEntry]:
        """The entries the store will have after commit."""
        out = {k: e for k, e in self._old_entries.items() if k not in self._removed}
        out.update(self._new)
        return out

    def existing(self, key: tuple) -> StoreEntry | None:
        return self._old_entries.get(key)

    def put(
        self,
        market: str,
        kind: str,
        label: str,
        records: Iterable[MarketEvent],
        *,
        resolution: int | None = None,
        note: str = "",
    ) -> StoreEntry:
        """Write (replace) one series from records in strictly increasing `ts` order."""
        source = source_class(label)
        name = series_file_name(market, kind, source, resolution)
        digest = hashlib.sha256()
        counted = _Counted(records)
        with open(self.gen_dir / name, "w", encoding="utf-8", newline="") as fh:
            for text in format_lines(kind, market, label, counted):
                fh.write(text)
                digest.update(text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        rows, first, last = counted.rows, counted.first, counted.last
        entry = StoreEntry(
            market=market,
            kind=kind,
            source=source,
            label=label,
            first_ts=first,
            last_ts=last,
            rows=rows,
            file=name,
            sha256=digest.hexdigest(),
            resolution=resolution,
            note=note,
        )
        self._new[entry.key] = entry
        self._removed.discard(entry.key)
        return entry

    def remove(self, entry: StoreEntry) -> None:
        self._removed.add(entry.key)
        self._new.pop(entry.key, None)

    def commit(self) -> list[StoreEntry]:
        if self._done:
            raise RuntimeError("transaction already finished")
        entries = self.entries
        if not self._removed and all(self._old_entries.get(k) == e for k, e in self._new.items()):
            self.rollback()  # nothing changed (e.g. a file imported twice): keep the generation
            return sorted(entries.values(), key=_entry_order)
        old_dir = self.store.root / self._old_gen if self._old_gen else None
        for key, entry in entries.items():
            if key in self._new:
                continue
            assert old_dir is not None
            _link_or_copy(old_dir / entry.file, self.gen_dir / entry.file)
        ordered = sorted(entries.values(), key=_entry_order)
        manifest = {"version": 1, "entries": [asdict(e) for e in ordered]}
        _write_atomic(
            self.gen_dir / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n"
        )
        _fsync_dir(self.gen_dir)
        _write_atomic(self.store.root / CURRENT, self.gen + "\n")  # the commit point
        _fsync_dir(self.store.root)
        self._done = True
        if old_dir is not None:
            shutil.rmtree(old_dir, ignore_errors=True)
        return ordered

    def rollback(self) -> None:
        if not self._done:
            self._done = True
            shutil.rmtree(self.gen_dir, ignore_errors=True)

    def __enter__(self) -> StoreTransaction:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                self.commit()
            except BaseException:
                self.rollback()
                raise
        else:
            self.rollback()


def _entry_order(e: StoreEntry) -> tuple:
    return (e.market, e.kind, e.resolution or 0, e.source)


class _Counted:
    """Pass records through once, checking strict time order and counting them."""

    def __init__(self, records: Iterable[MarketEvent]) -> None:
        self.records = records
        self.rows = 0
        self.first: int | None = None
        self.last: int | None = None

    def __iter__(self) -> Iterator[MarketEvent]:
        for record in self.records:
            if self.last is not None and record.ts <= self.last:
                raise ValueError(f"records out of order: ts {record.ts} after {self.last}")
            if self.first is None:
                self.first = record.ts
            self.last = record.ts
            self.rows += 1
            yield record


def _remove_stale(root: Path, keep: str | None) -> None:
    for child in root.iterdir():
        if child.is_dir() and _GEN_RE.match(child.name) and child.name != keep:
            shutil.rmtree(child, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        (root / (CURRENT + ".tmp")).unlink()


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


class StoreSource:
    """Replays stored series as a `MarketDataSource`.

    For each requested market and kind, the first source class in `prefer` that is stored
    is used (default: real data, else synthetic), so one market's prices are never a mix.
    """

    def __init__(
        self, store: LocalStore, *, prefer: Sequence[str] = (SOURCE_REAL, SOURCE_SYNTHETIC)
    ) -> None:
        self.store = store
        self.prefer = tuple(prefer)
        self.label = "local store"

    def selected(self, markets: Iterable[str]) -> list[StoreEntry]:
        entries = self.store.entries()
        chosen: list[StoreEntry] = []
        for market in dict.fromkeys(markets):
            groups: dict[tuple, list[StoreEntry]] = {}
            for e in entries:
                if e.market == market:
                    groups.setdefault((e.kind, e.resolution), []).append(e)
            for group in groups.values():
                for source in self.prefer:
                    match = [e for e in group if e.source == source]
                    if match:
                        chosen.append(match[0])
                        break
        return chosen

    def events(self, markets: Iterable[str], start: int, end: int) -> Iterator[MarketEvent]:
        check_window(start, end)
        wanted = list(markets)
        chosen = self.selected(wanted)
        missing = [m for m in wanted if not any(e.market == m for e in chosen)]
        if missing:
            raise KeyError(f"no stored data for {missing} in {self.store.root}")
        return merge_events(*(self.store.read(e, start, end) for e in chosen))


def window_slice(records: Sequence[MarketEvent], start: int, end: int) -> Sequence[MarketEvent]:
    lo = bisect.bisect_left(records, start, key=lambda r: r.time)
    hi = bisect.bisect_left(records, end, key=lambda r: r.time)
    return records[lo:hi]


__all__ = [
    "LocalStore",
    "StoreEntry",
    "StoreSource",
    "StoreTransaction",
    "series_file_name",
    "window_slice",
]
