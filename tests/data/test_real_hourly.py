"""The bundled real hourly records and the pipeline that replays them: exact integers,
real prices, a labelled synthetic bridge only when asked, clear errors outside the data."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources

import numpy as np
import pytest

from drift_engine.data.bridge import BrownianBridge
from drift_engine.data.models import (
    DEFAULT_SEED,
    FundingRecord,
    OracleTick,
    SpotRateRecord,
    source_class,
)
from drift_engine.data.pipeline import (
    DataSourceError,
    data_window,
    open_market_data,
)
from drift_engine.data.real_hourly import (
    ATTRIBUTION_FILE,
    REAL_FOLDER,
    TWAP_LABEL,
    real_files,
    real_hourly,
)

SOL_FILE = "drift_funding_hourly_SOL-PERP_2025-04-14_2026-04-01.csv.gz"
BTC_FILE = "drift_funding_hourly_BTC-PERP_2025-04-14_2026-02-02.csv.gz"


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def raw_rows(name: str) -> list[dict[str, str]]:
    data = resources.files("drift_engine.data").joinpath("bundled", REAL_FOLDER, name)
    return list(csv.DictReader(io.StringIO(gzip.decompress(data.read_bytes()).decode())))


def test_both_files_ship_gzipped_reproducibly_with_their_attribution():
    assert real_files() == {"BTC-PERP": BTC_FILE, "SOL-PERP": SOL_FILE}
    folder = resources.files("drift_engine.data").joinpath("bundled", REAL_FOLDER)
    for name in real_files().values():
        head = folder.joinpath(name).read_bytes()[:10]
        assert head[:3] == b"\x1f\x8b\x08"
        assert head[4:8] == b"\x00\x00\x00\x00"  # gzip -n: no name, no time stamp
    attribution = folder.joinpath(ATTRIBUTION_FILE).read_text()
    for needle in ("data.api.drift.trade", "Welshcosh/fundex",
                   "47988378392e58a99a4554d80f543ca4daa770a5", SOL_FILE, BTC_FILE):  # fmt: skip
        assert needle in attribution


@pytest.mark.parametrize(("market", "name", "rows"), [("SOL-PERP", SOL_FILE, 8467),
                                                     ("BTC-PERP", BTC_FILE, 7080)])  # fmt: skip
def test_every_rate_and_twap_is_the_exact_integer_of_its_row(market, name, rows):
    raw = raw_rows(name)
    series = real_hourly(market)
    assert len(raw) == len(series.records) == rows
    for row, record in zip(raw, series.records, strict=True):
        assert isinstance(record.funding_rate, int)
        assert record.ts == int(row["ts"])
        assert Decimal(record.funding_rate) == Decimal(row["fundingRate"]) * 10**9
        assert Decimal(record.funding_rate_long) == Decimal(row["fundingRateLong"]) * 10**9
        assert Decimal(record.funding_rate_short) == Decimal(row["fundingRateShort"]) * 10**9
        assert Decimal(record.oracle_price_twap) == Decimal(row["oraclePriceTwap"]) * 10**6
        assert Decimal(record.mark_price_twap) == Decimal(row["markPriceTwap"]) * 10**6
        assert record.source == "real"


def test_sol_mean_apr_matches_the_documented_minus_5_percent():
    records = real_hourly("SOL-PERP").records
    apr = sum(r.hourly_rate for r in records) / len(records) * 8760
    assert Decimal("-0.0504") < apr < Decimal("-0.0502")  # SOURCES.md: SOL -5.03 % APR


def test_bundled_replay_is_real_funding_and_real_hourly_prices():
    start, end = ts("2025-07-01"), ts("2025-07-08")
    data = open_market_data("bundled", ["SOL-PERP"], start, end)
    events = list(data.events)
    funding = [e for e in events if isinstance(e, FundingRecord)]
    ticks = [e for e in events if isinstance(e, OracleTick)]
    rates = [e for e in events if isinstance(e, SpotRateRecord)]
    expected = [r for r in real_hourly("SOL-PERP").records if start <= r.ts < end]
    assert funding == expected and len(funding) == 168
    # a price from the first second (the last TWAP before the window), then every TWAP
    assert (
        ticks[0].ts == start
        and ticks[0].price
        == real_hourly("SOL-PERP")
        .records[real_hourly("SOL-PERP").records.index(expected[0]) - 1]
        .oracle_price_twap
    )
    assert [(t.ts, t.price) for t in ticks[1:]] == [(r.ts, r.oracle_price_twap) for r in expected]
    assert {t.source for t in ticks} == {TWAP_LABEL}
    assert {source_class(e.source) for e in funding + ticks} == {"real"}
    assert {r.source for r in rates} == {"assumed"}
    info = data.for_market("SOL-PERP")
    assert info["funding"]["real"] and info["funding"]["records"] == 168
    assert info["funding"]["source"] == f"bundled file {SOL_FILE}"
    assert info["prices"]["real"] and info["prices"]["label"] == TWAP_LABEL
    assert info["intra_hour_prices"] is None
    assert info["spot_rates"]["kind"] == "assumed"
    assert "funding real, prices real, no intra-hour path" in data.label()


def test_bridge_fills_the_hours_synthetically_and_leaves_the_real_points_alone():
    start, end = ts("2025-07-01"), ts("2025-07-03")
    data = open_market_data("bundled", ["SOL-PERP"], start, end, bridge_s=60)
    ticks = [e for e in data.events if isinstance(e, OracleTick)]
    real = [t for t in ticks if t.source == TWAP_LABEL]
    bridged = [t for t in ticks if t.source != TWAP_LABEL]
    records = [r for r in real_hourly("SOL-PERP").records if start <= r.ts < end]
    assert [(t.ts, t.price) for t in real[1:]] == [(r.ts, r.oracle_price_twap) for r in records]
    assert all(t.ts % 60 == 0 for t in bridged)
    assert {source_class(t.source) for t in bridged} == {"synthetic"}
    assert "seed 7" in bridged[0].source and "Brownian bridge" in bridged[0].source
    assert len(bridged) > 47 * 58
    times = [t.ts for t in ticks]
    assert times == sorted(times) and len(set(times)) == len(times)
    info = data.for_market("SOL-PERP")
    assert info["prices"]["real"] is True
    assert info["intra_hour_prices"]["kind"] == "synthetic"
    assert "intra-hour prices synthetic" in data.label()


def test_bridge_is_seeded_lazy_and_the_same_for_any_window():
    series = real_hourly("SOL-PERP")
    anchors = series.twap_ticks()[:200]
    t_, p_ = [t.ts for t in anchors], [t.price for t in anchors]
    bridge = BrownianBridge(DEFAULT_SEED, 60)
    whole = list(bridge.ticks("SOL-PERP", t_, p_, t_[0], t_[-1]))
    part = list(bridge.ticks("SOL-PERP", t_, p_, t_[50] + 1234, t_[120]))
    assert part == [t for t in whole if t_[50] + 1234 <= t.ts < t_[120]]
    assert list(BrownianBridge(DEFAULT_SEED, 60).ticks("SOL-PERP", t_, p_, t_[0], t_[-1])) == whole
    other = list(BrownianBridge(8, 60).ticks("SOL-PERP", t_, p_, t_[0], t_[-1]))
    assert [t.price for t in other] != [t.price for t in whole]
    # the bridge's minute returns have about the real hourly volatility per hour
    prices = np.array([t.price for t in whole], dtype=float)
    minute_vol = np.std(np.diff(np.log(prices)))
    hourly_real = np.sqrt(np.mean(np.diff(np.log(np.array(p_, dtype=float))) ** 2))
    assert 0.5 < minute_vol * np.sqrt(60) / hourly_real < 2.0


def test_a_market_without_a_real_file_is_synthetic_and_says_so():
    start, end = ts("2026-01-02"), ts("2026-01-03")
    data = open_market_data("bundled", ["ETH-PERP"], start, end)
    events = [e for e in data.events if not isinstance(e, SpotRateRecord)]
    assert events and {source_class(e.source) for e in events} == {"synthetic"}
    info = data.for_market("ETH-PERP")
    assert info["funding"]["kind"] == info["prices"]["kind"] == "synthetic"
    assert "no bundled real file for ETH-PERP" in info["funding"]["source"]


def test_a_window_outside_the_real_data_is_refused_naming_the_span():
    with pytest.raises(DataSourceError) as err:
        open_market_data("bundled", ["BTC-PERP"], ts("2026-02-01"), ts("2026-03-01"))
    message = str(err.value)
    assert "covers 2025-04-14 00:00 .. 2026-02-03 00:00 UTC" in message
    assert "--source synthetic" in message


def test_windows_of_the_sources():
    assert data_window("bundled", ["SOL-PERP"]) == (ts("2025-04-14"), ts("2026-04-01T19:00"))
    assert data_window("bundled", ["SOL-PERP", "BTC-PERP"]) == (ts("2025-04-14"),
                                                                ts("2026-02-03"))  # fmt: skip
    with pytest.raises(DataSourceError, match="unknown data source 'nope'"):
        data_window("nope", ["SOL-PERP"])


def test_store_prices_real_funding_with_its_twaps_not_with_a_synthetic_series(tmp_path):
    from drift_engine.data import LocalStore
    from drift_engine.data.readers import import_paths

    from .published import real_sol_records, write_s3_funding

    start = ts("2025-07-01")
    records = real_sol_records(start, 24)
    store = LocalStore(tmp_path)
    import_paths(store, [write_s3_funding(tmp_path / "in" / "20250701", records)])
    with store.transaction() as txn:
        ticks = [OracleTick(start + 60 * i, "SOL-PERP", 99_000_000, "synthetic") for i in range(9)]
        txn.put("SOL-PERP", "oracle", "synthetic", ticks)
    data = open_market_data("store", ["SOL-PERP"], start, start + 86_400, data_dir=tmp_path)
    prices = [e for e in data.events if isinstance(e, OracleTick)]
    assert {t.source for t in prices} == {TWAP_LABEL}
    assert [t.price for t in prices] == [r.oracle_price_twap for r in records]
    assert data.for_market("SOL-PERP")["prices"]["kind"] == "real"
