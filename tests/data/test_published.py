"""Reading Drift's funding records as Drift publishes them: S3 archive CSVs (gzip, floats in
human units), Data API JSON pages and CSVs; back to the exact on-chain integers."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal

import pytest

from drift_engine.data import DataFileError, LocalStore
from drift_engine.data.published import S3_FUNDING_COLUMNS, to_units
from drift_engine.data.readers import import_paths, read_file
from drift_engine.data.real_hourly import REAL_FOLDER, real_files

from .helpers import store_snapshot
from .published import (
    api_pages,
    real_sol_records,
    s3_rows,
    s3_text,
    write_api_page,
    write_s3_funding,
)

JUL_1 = 1_751_328_000  # 2025-07-01 00:00 UTC


def test_to_units_recovers_the_integer_from_a_float_repr():
    # every real SOL rate and TWAP: units -> float repr (what the archiver writes) -> units
    for r in real_sol_records(JUL_1, 500):
        assert to_units(repr(r.funding_rate / 1e9), 10**9) == r.funding_rate
        assert to_units(repr(r.oracle_price_twap / 1e6), 10**6) == r.oracle_price_twap
    assert to_units("-4.666e-06", 10**9) == -4666
    assert to_units("127.636936", 10**6) == 127_636_936
    with pytest.raises(ValueError, match="more precision"):
        to_units("0.0000046664", 10**9)
    with pytest.raises(ValueError, match="finite"):
        to_units("nan", 10**9)


def test_s3_gzip_file_reads_back_the_exact_records(tmp_path):
    records = real_sol_records(JUL_1, 48)
    path = write_s3_funding(tmp_path / "SOL-PERP" / "fundingRateRecords" / "2025" / "20250701",
                            records)  # fmt: skip
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    text = gzip.decompress(path.read_bytes()).decode()
    assert text.splitlines()[0] == ",".join(S3_FUNDING_COLUMNS)
    assert "e-0" in text  # floats as the archiver writes them, e.g. -4.666e-06
    (series,) = read_file(path)
    assert (series.market, series.kind, series.label) == ("SOL-PERP", "funding", "real")
    got = series.records
    assert [r.ts for r in got] == [r.ts for r in records]
    for mine, real in zip(got, records, strict=True):
        assert mine.market_index == 0
        assert mine.funding_rate == real.funding_rate
        assert mine.funding_rate_long == real.funding_rate_long
        assert mine.funding_rate_short == real.funding_rate_short
        assert mine.oracle_price_twap == real.oracle_price_twap
        assert mine.mark_price_twap == real.mark_price_twap
    # cumulative rates come from the file (the running sum it carries)
    assert got[-1].cumulative_funding_rate_long == sum(r.funding_rate for r in records)


def test_s3_file_that_was_already_unpacked_reads_the_same(tmp_path):
    records = real_sol_records(JUL_1, 30)
    packed = read_file(write_s3_funding(tmp_path / "a" / "20250701", records))
    plain = read_file(write_s3_funding(tmp_path / "b" / "20250701", records, compress=False))
    assert packed[0].records == plain[0].records


def test_s3_bad_cell_names_file_line_and_column(tmp_path):
    rows = s3_rows(real_sol_records(JUL_1, 10))
    rows[4]["oraclePriceTwap"] = "n/a"
    path = tmp_path / "20250701"
    path.write_bytes(gzip.compress(s3_text(rows).encode()))
    with pytest.raises(DataFileError) as err:
        read_file(path)
    assert str(err.value).startswith(f"{path}, line 6, column 'oraclePriceTwap'")


def test_s3_rows_out_of_order_are_refused_through_the_shared_validation(tmp_path):
    rows = s3_rows(real_sol_records(JUL_1, 10))
    rows[3], rows[4] = rows[4], rows[3]
    path = tmp_path / "20250701.csv"
    path.write_text(s3_text(rows))
    with pytest.raises(DataFileError) as err:
        read_file(path)
    assert f"{path}, line 6, column 'ts'" in str(err.value)
    assert "strictly increasing" in str(err.value)


def test_data_api_pages_read_like_the_s3_file(tmp_path):
    records = real_sol_records(JUL_1, 45)
    pages = api_pages(records)
    assert [p["meta"]["nextPage"] for p in pages] == [2, 3, None]
    folder = tmp_path / "market" / "SOL-PERP" / "fundingRates" / "2025" / "7" / "1"
    paths = [write_api_page(folder / f"page{n}.json", p) for n, p in enumerate(pages, 1)]
    got = [r for p in paths for s in read_file(p) for r in s.records]
    assert [(r.ts, r.funding_rate, r.oracle_price_twap) for r in got] == [
        (r.ts, r.funding_rate, r.oracle_price_twap) for r in records
    ]
    assert all(r.market == "SOL-PERP" and r.market_index == 0 for r in got)
    # a list of pages in one file is the same
    both = write_api_page(tmp_path / "SOL-PERP-all.json", pages)  # type: ignore[arg-type]
    assert [r.ts for r in read_file(both)[0].records] == [r.ts for r in records]


def test_data_api_errors_name_the_record_and_field(tmp_path):
    page = api_pages(real_sol_records(JUL_1, 5))[0]
    page["records"][2]["fundingRate"] = "abc"  # type: ignore[index]
    path = write_api_page(tmp_path / "SOL-PERP" / "p.json", page)
    with pytest.raises(DataFileError, match=r"p\.json, record 3, field 'fundingRate'"):
        read_file(path)
    page["success"] = False
    path = write_api_page(tmp_path / "SOL-PERP" / "q.json", page)
    with pytest.raises(DataFileError, match="success: false"):
        read_file(path)


def test_records_without_a_market_need_one(tmp_path):
    page = api_pages(real_sol_records(JUL_1, 3))[0]
    path = write_api_page(tmp_path / "page1.json", page)
    with pytest.raises(DataFileError, match="--market SOL-PERP"):
        read_file(path)
    (series,) = read_file(path, market="SOL-PERP")
    assert series.market == "SOL-PERP" and len(series.records) == 3


def test_the_bundled_real_file_imports_like_any_data_api_csv(tmp_path):
    from importlib import resources

    name = real_files()["BTC-PERP"]
    source = resources.files("drift_engine.data").joinpath("bundled", REAL_FOLDER, name)
    copy = tmp_path / name
    copy.write_bytes(source.read_bytes())
    store = LocalStore(tmp_path / "var")
    (entry,) = import_paths(store, [copy])
    assert (entry.market, entry.kind, entry.source, entry.rows) == ("BTC-PERP", "funding",
                                                                    "real", 7080)  # fmt: skip
    first = next(store.read(entry))
    # 2025-04-14 00:00 record: fundingRate 0.783842166, oraclePriceTwap 83502.141619
    assert (first.ts, first.funding_rate, first.oracle_price_twap) == (
        1_744_588_800,
        783_842_166,
        83_502_141_619,
    )
    assert first.hourly_rate == Decimal("0.783842166") / Decimal("83502.141619")


def test_a_folder_of_mixed_formats_imports_all_or_nothing(tmp_path):
    records = real_sol_records(JUL_1, 60)
    folder = tmp_path / "in"
    write_s3_funding(folder / "s3" / "20250701", records[:24])
    pages = api_pages(records[20:60])
    for n, page in enumerate(pages, 1):
        write_api_page(folder / "api" / "SOL-PERP" / f"{n}.json", page)
    store = LocalStore(tmp_path / "var")
    with pytest.raises(DataFileError, match="different values"):
        # the S3 file's cumulative rates differ from the API's unknown (0) ones where
        # they overlap: a conflict, not a silent pick
        import_paths(store, [folder])
    assert store_snapshot(store.root) == {}
    # without the overlap both formats merge into one series
    (folder / "s3" / "20250701").unlink()
    write_s3_funding(folder / "s3" / "20250701", records[:20])
    bad = json.loads((folder / "api" / "SOL-PERP" / "2.json").read_text())
    (entry,) = import_paths(store, [folder / "api"])
    assert entry.rows == 40
    bad["records"][0]["markPriceTwap"] = "1.23456789"  # more decimals than PRICE precision
    (folder / "api" / "SOL-PERP" / "2.json").write_text(json.dumps(bad))
    before = store_snapshot(store.root)
    with pytest.raises(DataFileError, match=r"2\.json, record 1, field 'markPriceTwap'"):
        import_paths(store, [folder])
    assert store_snapshot(store.root) == before
