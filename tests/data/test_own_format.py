"""Our CSV format: exact round trips (hypothesis) and precise errors on corruption."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drift_engine.data import DataFileError, LocalStore, bounds, import_paths
from drift_engine.data.csvformat import COLUMNS, format_lines, parse_file
from drift_engine.data.models import (
    Candle,
    FundingRecord,
    OracleTick,
    SpotRateRecord,
)

TS = st.integers(min_value=0, max_value=4_000_000_000)
# every value a sane market datum may hold (data/bounds.py), edges included
POS = st.integers(min_value=1, max_value=bounds.MAX_PRICE)
CUMULATIVE = st.integers(-bounds.MAX_CUMULATIVE_FUNDING, bounds.MAX_CUMULATIVE_FUNDING)
RATE = st.decimals(min_value=0, max_value=10, places=8, allow_nan=False, allow_infinity=False)
LABEL = st.sampled_from(["real", "synthetic", "real (daily average)", "assumed"])


def strictly_increasing(n_min=1, n_max=30):
    return st.lists(TS, min_size=n_min, max_size=n_max, unique=True).map(sorted)


@st.composite
def oracle_series(draw):
    return [OracleTick(t, "SOL-PERP", draw(POS), "") for t in draw(strictly_increasing())]


@st.composite
def funding_series(draw):
    out = []
    for t in draw(strictly_increasing()):
        twap = draw(POS)
        limit = int(bounds.MAX_HOURLY_FUNDING * twap * 1000)  # of the twap, an hour
        rate = st.integers(-limit, limit)
        out.append(
            FundingRecord(
                t,
                "SOL-PERP",
                draw(st.none() | st.just(0)),  # SOL-PERP's index, or none given
                draw(rate),
                draw(rate),
                draw(rate),
                draw(CUMULATIVE),
                draw(CUMULATIVE),
                twap,
                draw(st.integers(0, bounds.MAX_PRICE)),
                "",
            )
        )
    return out


@st.composite
def candle_series(draw):
    resolution = draw(st.sampled_from([60, 3600, 86_400]))
    out = []
    for t in draw(strictly_increasing()):
        prices = sorted(draw(st.lists(POS, min_size=4, max_size=4)))
        low, a, b, high = prices
        o, c = (a, b) if draw(st.booleans()) else (b, a)
        volume = draw(st.integers(0, bounds.MAX_VOLUME))
        out.append(Candle(t, "SOL-PERP", resolution, o, high, low, c, volume, ""))
    return out


@st.composite
def spot_series(draw):
    out = []
    for t in draw(strictly_increasing()):
        out.append(
            SpotRateRecord(
                t,
                "USDC",
                draw(st.none() | st.just(0)),
                draw(RATE),
                draw(RATE),
                "",
                draw(st.none() | st.integers(0, bounds.MAX_CUMULATIVE_INTEREST)),
                draw(st.none() | st.integers(0, bounds.MAX_CUMULATIVE_INTEREST)),
            )
        )
    return out


SERIES = st.one_of(
    oracle_series().map(lambda r: ("oracle", "SOL-PERP", r)),
    funding_series().map(lambda r: ("funding", "SOL-PERP", r)),
    candle_series().map(lambda r: ("candle", "SOL-PERP", r)),
    spot_series().map(lambda r: ("spot_rate", "USDC", r)),
)


def _relabel(records, label):
    from dataclasses import replace

    return [replace(r, source=label) for r in records]


@settings(max_examples=60, deadline=None)
@given(series=SERIES, label=LABEL)
def test_own_format_round_trips_exactly(series, label):
    kind, market, records = series
    records = _relabel(records, label)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.csv"
        path.write_text("".join(format_lines(kind, market, label, records)), "utf-8")
        (parsed,) = parse_file(path)
        assert (parsed.kind, parsed.market, parsed.label) == (kind, market, label)
        assert parsed.records == records
        assert parsed.lines == list(range(3, 3 + len(records)))
        # ... and through the store: import then read back, byte-identical file.
        store = LocalStore(Path(tmp) / "var")
        (entry,) = import_paths(store, [path])
        assert list(store.read(entry)) == records
        assert store.path_of(entry).read_bytes() == path.read_bytes()


@settings(max_examples=40, deadline=None)
@given(records=funding_series(), data=st.data())
def test_a_corrupted_cell_is_reported_at_its_line_and_column(records, data):
    columns = [c for c in COLUMNS["funding"] if c != "market_index"]
    row = data.draw(st.integers(0, len(records) - 1))
    column = data.draw(st.sampled_from(columns))
    junk = data.draw(st.sampled_from(["", "abc", "1.5", "1e3", "--1", "0x10"]))
    lines = list(format_lines("funding", "SOL-PERP", "real", records))
    cells = lines[2 + row].rstrip("\n").split(",")
    cells[COLUMNS["funding"].index(column)] = junk
    lines[2 + row] = ",".join(cells) + "\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bad.csv"
        path.write_text("".join(lines), "utf-8")
        with pytest.raises(DataFileError) as info:
            parse_file(path)
    assert (info.value.line, info.value.column) == (3 + row, column)


def test_metadata_errors_are_on_line_1(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("# drift-engine market-data v1; kind=trades; market=SOL-PERP; source=real\n")
    with pytest.raises(DataFileError, match="unknown kind") as info:
        parse_file(path)
    assert info.value.line == 1


def test_spot_rates_are_decimals_not_floats(tmp_path):
    record = SpotRateRecord(0, "USDC", 0, Decimal("0.05"), Decimal("0.0700000001"), "assumed")
    path = tmp_path / "r.csv"
    path.write_text("".join(format_lines("spot_rate", "USDC", "assumed", [record])), "utf-8")
    assert "0.0700000001" in path.read_text()
    (parsed,) = parse_file(path)
    assert parsed.records == [record]
    assert isinstance(parsed.records[0].borrow_rate, Decimal)
