"""One data pipeline: which market data a run replays, and what each part of it is.

`backtest`, `demo` and `run` all call `open_market_data(source, perps, start, end)`; it
returns the merged event stream (`MarketEvent`s in `event_sort_key` order) and one
`SeriesInfo` per input series and market, saying where the series comes from and whether
it is real, synthetic or assumed. Reports, consoles and heartbeat rows print those.

Sources (`--source`):
- `bundled` (the default): Drift's real hourly FundingRateRecords shipped in the package
  (`real_hourly`): real funding, and real hourly prices (the records' oracle TWAPs). A
  market without a bundled file (e.g. ETH-PERP) falls back to the calibrated synthetic
  market, labelled synthetic. A window outside a real file's span is an error, never a
  silent switch to synthetic data.
- `store`: what `drift-engine data import` / `data synth` put in the local store
  (`<data dir>/market_data`): each perp's funding series (real preferred over synthetic)
  and its prices: a stored oracle series of the market or its spot asset if there is one
  (a synthetic one only for synthetic funding), else the funding records' oracle TWAPs
  (hourly, with the funding series' label).
- `synthetic`: the seeded synthetic market (`synthetic.SyntheticMarket`), everything labelled
  synthetic.
- a file or folder path: read with `readers.read_file` (S3 archive CSV, Data API JSON/CSV,
  Drift candles, our format; gzip or not) and used like the store.

Intra-hour prices: with `bridge_s` > 0, the hourly real prices (TWAPs) get a seeded Brownian
bridge at that resolution (`bridge.BrownianBridge`), a separate series labelled synthetic.
Without it (the default) prices change once an hour, all real. Stored or file oracle series
are used at their own resolution and never bridged, nor is the synthetic market
(already 1-minute).

Spot interest rates have no real history here: the constant assumed rates of `rates`
(labelled "assumed"; "synthetic" inside the synthetic market).
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from drift_engine.data.bridge import BrownianBridge
from drift_engine.data.columns import (
    Codes,
    Columns,
    EventStream,
    batched,
    from_events,
    merge_columns,
)
from drift_engine.data.models import (
    DEFAULT_SEED,
    KIND_FUNDING,
    KIND_ORACLE,
    SOURCE_REAL,
    SOURCE_SYNTHETIC,
    FundingRecord,
    MarketEvent,
    base_asset,
    check_window,
    merge_events,
    source_class,
)
from drift_engine.data.rates import ConstantSpotRates
from drift_engine.data.real_hourly import (
    TWAP_LABEL,
    has_real_data,
    hour_span,
    iso,
    real_files,
    real_hourly,
    twap_ticks,
)
from drift_engine.data.synthetic import DEFAULT_ORIGIN, SyntheticMarket

SOURCES = ("bundled", "store", "synthetic")
#: How the bundled real funding series is named in outputs (its records say "real").
REAL_FUNDING_LABEL = "real (Drift FundingRateRecords, hourly)"
DAY = 86_400

#: Series names in `SeriesInfo.series` (and the keys of a report's `data` object).
FUNDING, PRICES, INTRA_HOUR, SPOT_RATES = "funding", "prices", "intra_hour_prices", "spot_rates"


class DataSourceError(ValueError):
    """The asked-for data does not exist (unknown source, market not covered, window
    outside the data); the message says what there is."""


@dataclass(frozen=True)
class SeriesInfo:
    """One input series of a run: where it comes from and what it is."""

    market: str
    series: str  # FUNDING | PRICES | INTRA_HOUR | SPOT_RATES
    source: str  # where: "bundled file ...", "store /path", "file /path", "synthetic market"
    kind: str  # "real" | "synthetic" | "assumed"
    label: str  # the records' `source` label
    records: int | None = None  # records in the window (None: generated as the run goes)
    first_ts: int | None = None
    last_ts: int | None = None

    @property
    def real(self) -> bool:
        return self.kind == SOURCE_REAL

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["real"] = self.real
        del d["market"], d["series"]
        return d


@dataclass
class MarketData:
    """A run's market data: the event stream and what is in it. `events` iterates the
    events as objects; a backtest's replay reads them as column chunks instead
    (`columns.EventStream.columns`, ADR-0020)."""

    source: str
    events: Iterator[MarketEvent]
    series: list[SeriesInfo] = field(default_factory=list)
    bridge_s: int = 0  # the bridge actually applied (0: none; hourly real prices only)

    def for_market(self, market: str) -> dict[str, dict[str, Any] | None]:
        """series name -> SeriesInfo JSON for one perp (its spot leg shares its prices;
        spot interest rates are the run's). `intra_hour_prices` is None without a bridge."""
        out: dict[str, dict[str, Any] | None] = {FUNDING: None, PRICES: None, INTRA_HOUR: None}
        for s in self.series:
            if s.market in (market, "*"):
                out[s.series] = s.to_json()
        return out

    def sources_by_market(self) -> dict[str, dict[str, str]]:
        """perp -> {series: "kind: label"}, short, for heartbeat rows and consoles."""
        out: dict[str, dict[str, str]] = {}
        for s in self.series:
            out.setdefault(s.market, {})[s.series] = f"{s.kind}: {s.label} ({s.source})"
        return out

    def describe(self) -> str:
        """One line per market: funding / prices / intra-hour, each real or synthetic."""
        lines = []
        for market in dict.fromkeys(s.market for s in self.series if s.market != "*"):
            parts = []
            for s in self.series:
                if s.market != market or s.series == SPOT_RATES:
                    continue
                name = {INTRA_HOUR: "intra-hour prices"}.get(s.series, s.series)
                parts.append(f"{name} {s.kind.upper()} ({s.label}; {s.source})")
            lines.append(f"{market}: " + ", ".join(parts))
        rates = next((s for s in self.series if s.series == SPOT_RATES), None)
        if rates is not None:
            lines.append(f"spot interest rates {rates.kind.upper()} ({rates.label})")
        return "\n".join(lines)

    def label(self) -> str:
        """A short one-line label: which series are real and which synthetic."""
        kinds: dict[str, set[str]] = {}
        for s in self.series:
            if s.series != SPOT_RATES:
                kinds.setdefault(s.series, set()).add(s.kind)
        parts = []
        for name in (FUNDING, PRICES, INTRA_HOUR):
            if name in kinds:
                shown = {INTRA_HOUR: "intra-hour prices"}.get(name, name)
                parts.append(f"{shown} {'+'.join(sorted(kinds[name]))}")
        if INTRA_HOUR not in kinds and PRICES in kinds and kinds[PRICES] == {SOURCE_REAL}:
            parts.append("no intra-hour path")
        return f"{self.source}: " + ", ".join(parts)


# ------------------------------------------------------------------------ providers


class _Provider:
    """Stored series by market (store or files): funding records and oracle streams."""

    where: str

    def funding(self, market: str) -> tuple[list[FundingRecord], str] | None:
        raise NotImplementedError

    def oracle(
        self, market: str, start: int, end: int
    ) -> tuple[Iterable[MarketEvent], str, int | None] | None:
        raise NotImplementedError


def _prefer_real(entries: Sequence[Any]) -> Any | None:
    for wanted in (SOURCE_REAL, SOURCE_SYNTHETIC):
        for e in entries:
            if source_class(e.label) == wanted:
                return e
    return entries[0] if entries else None


class _StoreProvider(_Provider):
    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        from drift_engine.data.store import LocalStore

        self.store = LocalStore(data_dir)
        self.where = f"store {self.store.root}"

    def funding(self, market: str) -> tuple[list[FundingRecord], str] | None:
        entry = _prefer_real(self.store.find(market, KIND_FUNDING))
        if entry is None:
            return None
        return list(self.store.read(entry)), entry.label  # type: ignore[arg-type]

    def oracle(self, market, start, end):  # type: ignore[no-untyped-def]
        for symbol in _price_symbols(market):
            entry = _prefer_real(self.store.find(symbol, KIND_ORACLE))
            if entry is not None:
                return self.store.read(entry, start, end), entry.label, None
        return None


class _FileProvider(_Provider):
    def __init__(self, path: str) -> None:
        from drift_engine.data.importer import merge_series
        from drift_engine.data.readers import expand_paths, read_file

        parsed = []
        for p in expand_paths([path]):
            parsed.extend(read_file(p))
        self.series = list(merge_series(parsed).values())
        self.where = f"file {path}"

    def _find(self, market: str, kind: str) -> Any | None:
        return _prefer_real([s for s in self.series if s.market == market and s.kind == kind])

    def funding(self, market: str) -> tuple[list[FundingRecord], str] | None:
        s = self._find(market, KIND_FUNDING)
        return None if s is None else (list(s.records), s.label)

    def oracle(self, market, start, end):  # type: ignore[no-untyped-def]
        for symbol in _price_symbols(market):
            s = self._find(symbol, KIND_ORACLE)
            if s is not None:
                ticks = _slice(s.records, start, end)
                return ticks, s.label, len(ticks)
        return None


def _price_symbols(perp: str) -> list[str]:
    from drift_engine.engine.market_board import spot_symbol_for

    return list(dict.fromkeys([perp, spot_symbol_for(perp), base_asset(perp)]))


def _slice(records: Sequence[Any], start: int, end: int) -> Sequence[Any]:
    lo = bisect.bisect_left(records, start, key=lambda r: r.time)
    hi = bisect.bisect_left(records, end, key=lambda r: r.time)
    return records[lo:hi]


# ------------------------------------------------------------------------ windows


def real_span(market: str) -> tuple[int, int]:
    return real_hourly(market).span


def data_window(
    source: str, perps: Sequence[str], *, data_dir: str | os.PathLike[str] | None = None
) -> tuple[int, int]:
    """The window all `perps` have data for in `source` ([start, end) unix seconds)."""
    source = _canonical(source)
    spans: list[tuple[int, int]] = []
    if source == "synthetic":
        return DEFAULT_ORIGIN, DEFAULT_ORIGIN + 365 * DAY
    if source == "bundled":
        for m in perps:
            spans.append(real_span(m) if has_real_data(m) else (DEFAULT_ORIGIN, 2**62))
        if all(not has_real_data(m) for m in perps):
            return DEFAULT_ORIGIN, DEFAULT_ORIGIN + 365 * DAY
    else:
        provider = _provider(source, data_dir)
        for m in perps:
            found = provider.funding(m)
            if not found or not found[0]:
                raise DataSourceError(f"{provider.where} has no funding series for {m}")
            spans.append(hour_span(found[0][0].ts, found[0][-1].ts))
    start, end = max(s for s, _ in spans), min(e for _, e in spans)
    if start >= end:
        raise DataSourceError(f"the data of {', '.join(perps)} in {source} has no common window")
    return start, end


def _canonical(source: str) -> str:
    return "bundled" if source in ("auto", "real", "") else source


def _provider(source: str, data_dir: str | os.PathLike[str] | None) -> _Provider:
    if source == "store":
        return _StoreProvider(resolve_data_dir(data_dir))
    if os.path.exists(source):
        return _FileProvider(source)
    raise DataSourceError(
        f"unknown data source {source!r}: use bundled, store, synthetic or the path of a "
        "data file or folder"
    )


def resolve_data_dir(data_dir: str | os.PathLike[str] | None) -> Path:
    """`data_dir` if given, else the settings' (`DRIFT_ENGINE_DATA_DIR`, default ./var)."""
    if data_dir is not None:
        return Path(data_dir)
    from drift_engine.config import load_settings

    return Path(load_settings().data_dir)


# ------------------------------------------------------------------------ opening


def open_market_data(
    source: str,
    perps: Sequence[str],
    start: int,
    end: int,
    *,
    seed: int = DEFAULT_SEED,
    bridge_s: int = 0,
    data_dir: str | os.PathLike[str] | None = None,
) -> MarketData:
    """The events of `perps` (with their spot legs and USDC) over [start, end)."""
    from drift_engine.engine.market_board import spot_symbol_for

    check_window(start, end)
    source = _canonical(source)
    perps = list(dict.fromkeys(perps))
    spots = [spot_symbol_for(p) for p in perps]
    symbols = list(dict.fromkeys([*perps, *spots, "USDC"]))
    bridge = BrownianBridge(seed, bridge_s) if bridge_s else None
    streams: list[Iterable[MarketEvent]] = []
    infos: list[SeriesInfo] = []
    origin = DEFAULT_ORIGIN if start >= DEFAULT_ORIGIN else start - start % DAY
    synthetic = SyntheticMarket(seed, origin=origin)
    syn_where = f"synthetic market ({synthetic.describe()})"

    #: beside each stream, the same events as column chunks (`columns.EventStream`)
    chunked: list[Callable[[Codes], Iterator[Columns]]] = []
    if source == "synthetic":
        streams.append(synthetic.events(symbols, start, end))
        chunked.append(lambda codes: synthetic.columns(symbols, start, end, codes))
        for p in perps:
            infos += _synthetic_infos(p, syn_where)
        infos.append(SeriesInfo("*", SPOT_RATES, syn_where, SOURCE_SYNTHETIC, SOURCE_SYNTHETIC))
        return MarketData(source, _event_stream(streams, chunked), infos, 0)  # minute paths

    bridged = False
    provider = None if source == "bundled" else _provider(source, data_dir)
    for perp in perps:
        if provider is None:
            if not has_real_data(perp):
                # the perp's ticks price its spot leg too (same asset, linked in the
                # simulator); spot rates come once for all markets below
                streams.append(synthetic.events([perp], start, end))
                chunked.append(partial(synthetic.columns, [perp], start, end))
                infos += _synthetic_infos(
                    perp,
                    f"{syn_where}; no bundled real file for {perp} "
                    f"(real files: {', '.join(real_files())})",
                )
                continue
            series = real_hourly(perp)
            funding, funding_label = list(series.records), REAL_FUNDING_LABEL
            where = f"bundled file {series.file}"
            prices = None
        else:
            found = provider.funding(perp)
            if found is None or not found[0]:
                raise DataSourceError(
                    f"{provider.where} has no funding series for {perp}; import one "
                    "(drift-engine data import) or choose another --source"
                )
            funding, funding_label = found
            where = provider.where
            prices = provider.oracle(perp, start, end)
            if (
                prices is not None
                and source_class(prices[1]) != SOURCE_REAL
                and source_class(funding_label) == SOURCE_REAL
            ):
                prices = None  # real funding carries real TWAPs: never price it synthetically
        span = hour_span(funding[0].ts, funding[-1].ts)
        if start < span[0] or end > span[1]:
            raise DataSourceError(
                f"the {source_class(funding_label)} funding of {perp} in {where} covers "
                f"{iso(span[0])} .. {iso(span[1])} UTC; the window {iso(start)} .. {iso(end)} "
                "is outside it (choose a window inside, or --source synthetic)"
            )
        window = _slice(funding, start, end)
        streams.append(window)
        chunked.append(partial(_object_columns, window))
        infos.append(
            SeriesInfo(
                perp,
                FUNDING,
                where,
                source_class(funding_label),
                funding_label,
                len(window),
                window[0].ts if window else None,
                window[-1].ts if window else None,
            )
        )
        if prices is not None:
            ticks, price_label, count = prices
            streams.append(ticks)
            chunked.append(partial(_object_columns, ticks))
            infos.append(
                SeriesInfo(perp, PRICES, where, source_class(price_label), price_label, count)
            )
            continue
        # Hourly prices: the funding records' oracle TWAPs (plus the last one before the
        # window, carried to its start, so the run has a price from its first second).
        label = TWAP_LABEL if source_class(funding_label) == SOURCE_REAL else funding_label
        anchors = twap_ticks(funding, label)
        lo = bisect.bisect_left(anchors, start, key=lambda t: t.ts)
        inside = _slice(anchors, start, end)
        carried = []
        if lo > 0 and (not inside or inside[0].ts > start):
            before = anchors[lo - 1]
            carried = [type(before)(start, before.market, before.price, before.source)]
        streams.append([*carried, *inside])
        chunked.append(partial(_object_columns, streams[-1]))
        infos.append(
            SeriesInfo(
                perp,
                PRICES,
                f"{where} (oraclePriceTwap of each funding record)",
                source_class(label),
                label,
                len(carried) + len(inside),
                start if carried else (inside[0].ts if inside else None),
                inside[-1].ts if inside else None,
            )
        )
        if bridge is not None:
            bridged = True
            first = start + 1 if carried else start  # the carried real price holds `start`
            points = ([t.ts for t in anchors], [t.price for t in anchors])
            streams.append(bridge.ticks(perp, *points, first, end))
            chunked.append(partial(_bridge_columns, bridge, perp, points, first, end))
            infos.append(
                SeriesInfo(
                    perp,
                    INTRA_HOUR,
                    "drift_engine.data.bridge (between the real hourly prices)",
                    SOURCE_SYNTHETIC,
                    bridge.label,
                )
            )
    rates = ConstantSpotRates()
    streams.append(rates.events(symbols, start, end))
    chunked.append(partial(_object_columns, streams[-1]))
    infos.append(
        SeriesInfo("*", SPOT_RATES, "drift_engine.data.rates (constant APR)", "assumed", "assumed")
    )
    return MarketData(source, _event_stream(streams, chunked), infos, bridge_s if bridged else 0)


def _event_stream(
    streams: list[Iterable[MarketEvent]], chunked: list[Callable[[Codes], Iterator[Columns]]]
) -> EventStream:
    """The merged events, as objects or (read before that) as column chunks; each
    stream is read one way only, so a generator in `streams` serves both."""
    return EventStream(
        lambda: merge_events(*streams),
        lambda codes: merge_columns(codes, [chunks(codes) for chunks in chunked]),
    )


def _object_columns(events: Iterable[MarketEvent], codes: Codes) -> Iterator[Columns]:
    """Columns of a stream that only has objects (stored series, files, records)."""
    return from_events(codes, events)


def _bridge_columns(
    bridge: BrownianBridge,
    perp: str,
    points: tuple[list[int], list[int]],
    first: int,
    end: int,
    codes: Codes,
) -> Iterator[Columns]:
    return batched(bridge.columns(perp, *points, first, end, codes))


def _synthetic_infos(perp: str, where: str) -> list[SeriesInfo]:
    return [
        SeriesInfo(perp, FUNDING, where, SOURCE_SYNTHETIC, SOURCE_SYNTHETIC),
        SeriesInfo(perp, PRICES, where, SOURCE_SYNTHETIC, SOURCE_SYNTHETIC),
    ]


__all__ = [
    "DEFAULT_SEED",
    "FUNDING",
    "INTRA_HOUR",
    "PRICES",
    "SOURCES",
    "SPOT_RATES",
    "DataSourceError",
    "MarketData",
    "SeriesInfo",
    "data_window",
    "open_market_data",
    "real_span",
    "resolve_data_dir",
]
