"""Importing Drift's historical CSV format and our own; all-or-nothing, precise errors."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from drift_engine.data import DataFileError, DriftHistoricalImporter, LocalStore, import_paths
from drift_engine.data.csvformat import parse_file
from drift_engine.data.models import Candle, FundingRecord

from .helpers import DRIFT_FUNDING_HEADER, funding_rows, store_snapshot, write_csv

T0 = 1_705_276_800  # 2024-01-15 00:00:00 UTC


def drift_day_file(folder: Path, day: int, *, shuffle_seed: int | None = None, first_cum=0):
    rows = funding_rows(T0 + day * 86_400, 24, first_cumulative=first_cum)
    header = list(DRIFT_FUNDING_HEADER)
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(header)
    name = f"2024011{5 + day}"  # Drift's S3 day files have no extension
    return write_csv(folder / "SOL-PERP" / "fundingRateRecords" / "2024" / name, header, rows), rows


def test_drift_funding_file_imports_with_matching_cumulative_rates(tmp_path):
    path, rows = drift_day_file(tmp_path / "in", 0, shuffle_seed=3)
    store = LocalStore(tmp_path / "var")
    (entry,) = import_paths(store, [path])
    assert (entry.market, entry.kind, entry.source, entry.rows) == (
        "SOL-PERP",
        "funding",
        "real",
        24,
    )
    records = list(store.read(entry))
    assert all(isinstance(r, FundingRecord) for r in records)
    for record, row in zip(records, rows, strict=True):
        assert record.ts == int(row["ts"])
        assert record.market_index == 0
        assert record.funding_rate == int(row["fundingRate"])
        assert record.cumulative_funding_rate_long == int(row["cumulativeFundingRateLong"])
        assert record.cumulative_funding_rate_short == int(row["cumulativeFundingRateShort"])
        assert record.oracle_price_twap == int(row["oraclePriceTwap"])
        assert record.mark_price_twap == int(row["markPriceTwap"])
    # The cumulative rate advances by exactly each hour's rate.
    for before, after in zip(records, records[1:], strict=False):
        assert after.cumulative_funding_rate_long - before.cumulative_funding_rate_long == (
            after.funding_rate_long
        )
    # Hour 0: rate (0 % 7 - 3) x 12345 = -37035 over a 150.000000 TWAP: -37035 / 150e9.
    assert records[0].funding_rate == -37_035
    assert records[0].hourly_rate * 150_000_000_000 == -37_035


def test_a_folder_of_day_files_merges_into_one_series_and_reimport_is_idempotent(tmp_path):
    day0, rows0 = drift_day_file(tmp_path / "in", 0)
    last_cum = int(rows0[-1]["cumulativeFundingRateLong"])
    drift_day_file(tmp_path / "in", 1, shuffle_seed=1, first_cum=last_cum)
    store = LocalStore(tmp_path / "var")
    (entry,) = import_paths(store, [tmp_path / "in"])
    assert entry.rows == 48 and entry.first_ts == T0 and entry.last_ts == T0 + 47 * 3600
    before = store_snapshot(store.root)
    (again,) = import_paths(store, [day0])  # same rows again: harmless duplicates
    assert again.sha256 == entry.sha256 and again.rows == 48
    assert store.entries() == [again]
    assert store_snapshot(store.root) == before  # not even a new generation


def test_a_conflicting_row_fails_naming_both_places(tmp_path):
    path, rows = drift_day_file(tmp_path / "a", 0)
    rows[5]["fundingRate"] = "999"
    other = write_csv(tmp_path / "b" / "20240115", DRIFT_FUNDING_HEADER, rows)
    store = LocalStore(tmp_path / "var")
    import_paths(store, [path])
    snapshot = store_snapshot(store.root)
    with pytest.raises(DataFileError) as info:
        import_paths(store, [other])
    err = info.value
    assert (err.path, err.line, err.column) == (str(other), 7, "ts")  # header + 6th row
    assert "different values" in str(err)
    assert store_snapshot(store.root) == snapshot


def _bad_file(tmp_path: Path, mutate) -> Path:
    rows = funding_rows(T0, 10)
    header = list(DRIFT_FUNDING_HEADER)
    header, rows = mutate(header, rows)
    return write_csv(tmp_path / "bad" / "20240115.csv", header, rows)


def _non_numeric(header, rows):
    rows[3]["cumulativeFundingRateShort"] = "12x4"
    return header, rows


def _missing_column(header, rows):
    header.remove("oraclePriceTwap")
    for row in rows:
        del row["oraclePriceTwap"]
    return header, rows


def _non_monotonic(header, rows):
    rows[6]["ts"], rows[7]["ts"] = rows[7]["ts"], rows[6]["ts"]
    return header, rows


def _decimal_in_integer_column(header, rows):
    rows[0]["fundingRate"] = "0.00012"
    return header, rows


@pytest.mark.parametrize(
    ("mutate", "line", "column", "message"),
    [
        (_non_numeric, 5, "cumulativeFundingRateShort", "expected an integer, got '12x4'"),
        (_missing_column, 1, "oraclePriceTwap", "missing column"),
        (_non_monotonic, 9, "ts", "is not after"),
        (_decimal_in_integer_column, 2, "fundingRate", "expected an integer"),
    ],
)
def test_bad_files_name_file_line_and_column_and_change_nothing(
    tmp_path, mutate, line, column, message
):
    store = LocalStore(tmp_path / "var")
    good, _ = drift_day_file(tmp_path / "in", 0)
    import_paths(store, [good])
    snapshot = store_snapshot(store.root)
    bad = _bad_file(tmp_path, mutate)
    # The good file of the same invocation must not be imported either.
    later, _ = drift_day_file(tmp_path / "in2", 3)
    with pytest.raises(DataFileError) as info:
        import_paths(store, [later, bad])
    err = info.value
    assert (err.path, err.line, err.column) == (str(bad), line, column)
    assert message in str(err)
    assert str(bad) in str(err) and f"line {line}" in str(err) and repr(column) in str(err)
    assert store_snapshot(store.root) == snapshot


def test_a_crash_before_the_commit_point_leaves_the_store_unchanged(tmp_path, monkeypatch):
    store = LocalStore(tmp_path / "var")
    first, rows = drift_day_file(tmp_path / "in", 0)
    import_paths(store, [first])
    snapshot = store_snapshot(store.root)
    second, _ = drift_day_file(
        tmp_path / "in2", 1, first_cum=int(rows[-1]["cumulativeFundingRateLong"])
    )
    real_replace = os.replace

    def failing_replace(src, dst):
        if str(dst).endswith("CURRENT"):
            raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        import_paths(store, [second])
    monkeypatch.undo()
    assert store_snapshot(store.root) == snapshot
    assert [e.rows for e in store.entries()] == [24]


def test_unknown_market_index_needs_an_explicit_market(tmp_path):
    rows = funding_rows(T0, 3, market_index=9_999)
    path = write_csv(tmp_path / "x.csv", DRIFT_FUNDING_HEADER, rows)
    with pytest.raises(DataFileError) as info:
        parse_file(path)
    assert (info.value.line, info.value.column) == (2, "marketIndex")
    (series,) = parse_file(path, market="NEW-PERP")
    assert series.market == "NEW-PERP" and len(series.records) == 3


def test_unrecognised_and_empty_files_are_rejected(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    for path, text in ((empty, "empty file"), (other, "unrecognised file")):
        with pytest.raises(DataFileError, match=text) as info:
            parse_file(path)
        assert info.value.line == 1


def test_drift_candles_import_with_market_from_path_and_resolution_from_name(tmp_path):
    header = [
        "start",
        "fillOpen",
        "fillHigh",
        "fillClose",
        "fillLow",
        "oracleOpen",
        "oracleHigh",
        "oracleClose",
        "oracleLow",
        "quoteVolume",
        "baseVolume",
    ]
    rows = [
        dict(
            zip(
                header,
                [str(T0 + i * 3600), "1", "1", "1", "1", o, h, c, lo, "10.5", v],
                strict=True,
            )
        )
        for i, (o, h, c, lo, v) in enumerate(
            [
                ("101.25", "102.5", "101.75", "100.000001", "12.5"),
                ("101.75", "101.8", "99.1234564", "99", "0.000000001"),
            ]
        )
    ]
    path = write_csv(tmp_path / "candle-history" / "2024" / "perp_0" / "60.csv", header, rows)
    store = LocalStore(tmp_path / "var")
    (entry,) = import_paths(store, [path])
    assert (entry.market, entry.kind, entry.resolution) == ("SOL-PERP", "candle", 3600)
    first, second = store.read(entry)
    assert first == Candle(
        T0,
        "SOL-PERP",
        3600,
        101_250_000,
        102_500_000,
        100_000_001,
        101_750_000,
        12_500_000_000,
        "real",
    )
    assert second.close == 99_123_456  # 99.1234564 -> half-even at 1e-6
    assert second.volume == 1 and second.time == T0 + 2 * 3600


def test_candle_high_below_close_is_rejected(tmp_path):
    header = ["ts", "oracleOpen", "oracleHigh", "oracleLow", "oracleClose"]
    rows = [
        {
            "ts": str(T0),
            "oracleOpen": "1",
            "oracleHigh": "1.5",
            "oracleLow": "1",
            "oracleClose": "2",
        }
    ]
    path = write_csv(tmp_path / "c.csv", header, rows)
    with pytest.raises(DataFileError) as info:
        parse_file(path, market="SOL-PERP", resolution=60)
    assert (info.value.line, info.value.column) == (2, "oracleHigh")


def test_importer_is_also_a_source(tmp_path):
    drift_day_file(tmp_path / "in", 0)
    importer = DriftHistoricalImporter([tmp_path / "in"])
    events = list(importer.events(["SOL-PERP"], T0 + 3600, T0 + 4 * 3600))
    assert [e.ts for e in events] == [T0 + 3600, T0 + 7200, T0 + 10800]


def test_missing_path_is_an_error(tmp_path):
    with pytest.raises(DataFileError, match="no such file"):
        import_paths(LocalStore(tmp_path / "var"), [tmp_path / "nope.csv"])
