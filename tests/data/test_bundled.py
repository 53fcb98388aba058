"""The real data shipped in the package loads completely and exactly."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources

import pytest

from drift_engine.data import BundledSource, FundingRecord, OracleTick, SpotRateRecord
from drift_engine.data.bundled import (
    DEFAULT_REFERENCE_PRICES,
    daily_funding,
    expand_daily_funding,
    luna_ticks,
    to_price,
)
from drift_engine.data.models import event_sort_key

JAN_10 = int(datetime(2026, 1, 10, tzinfo=UTC).timestamp())
FEB_01 = int(datetime(2026, 2, 1, tzinfo=UTC).timestamp())


def test_attribution_ships_next_to_the_data():
    bundled = resources.files("drift_engine.data").joinpath("bundled")
    readme = bundled.joinpath("README.md").read_text("utf-8")
    assert "drift-labs/drift-sim" in readme
    assert "Keyvault-Dashboards" in readme


def test_luna_ticks_are_all_there_in_price_precision():
    ts, prices = luna_ticks()
    assert len(ts) == len(prices) == 50_000
    assert all(a < b for a, b in zip(ts, ts[1:], strict=False))
    # First and last rows of the file: 1652069091,61.52953631 and 1652297277,1.12716386.
    assert (ts[0], prices[0]) == (1652069091, 61_529_536)  # 61.529536|31 -> rounds down
    assert (ts[-1], prices[-1]) == (1652297277, 1_127_164)  # 1.127163|86 -> rounds up
    # The README's crash: $61.53 -> $0.61 (low).
    assert min(prices) == pytest.approx(610_000, abs=10_000)


def test_price_rounding_is_half_even():
    assert to_price("1.0000005") == 1_000_000
    assert to_price("1.0000015") == 1_000_002
    assert to_price("61.52953651") == 61_529_537


def test_luna_ticks_replay_under_any_market_label():
    source = BundledSource(luna_markets=("SOL-PERP", "SOL"))
    ts, prices = luna_ticks()
    events = list(source.events(["SOL-PERP", "SOL"], ts[0], ts[-1] + 1))
    ticks = [e for e in events if isinstance(e, OracleTick)]
    assert len(ticks) == 2 * 50_000
    assert {e.source for e in ticks} == {"real"}
    # Same price for both markets at every tick; spot rates for SOL at the start.
    assert ticks[0].price == ticks[1].price == prices[0]
    assert [type(e) for e in events].count(SpotRateRecord) == 1
    assert [event_sort_key(e) for e in events] == sorted(event_sort_key(e) for e in events)


def test_luna_window_is_half_open():
    ts, _ = luna_ticks()
    source = BundledSource()
    inside = list(source.events(["LUNA-PERP"], ts[10], ts[20]))
    assert [e.ts for e in inside] == list(ts[10:20])


def test_daily_funding_has_37_days_for_each_of_3_markets():
    rows = daily_funding()
    assert len(rows) == 37 * 3
    by_market = defaultdict(list)
    for row in rows:
        by_market[row.market].append(row.day)
    assert sorted(by_market) == ["BTC-PERP", "ETH-PERP", "SOL-PERP"]
    for days in by_market.values():
        assert len(days) == 37
        assert [(b - a).days for a, b in zip(days, days[1:], strict=False)] == [1] * 36
        assert str(days[0]) == "2026-01-10" and str(days[-1]) == "2026-02-15"


@pytest.mark.parametrize("market", ["SOL-PERP", "BTC-PERP", "ETH-PERP"])
def test_hourly_expansion_preserves_each_days_average_exactly(market):
    source = BundledSource()
    records = source.funding_records(market)
    days = [d for d in daily_funding() if d.market == market]
    assert len(records) == 37 * 24
    for i, day in enumerate(days):
        hours = records[24 * i : 24 * (i + 1)]
        assert [r.ts for r in hours] == [day.start_ts + 3600 * h for h in range(24)]
        assert sum((r.hourly_rate for r in hours), Decimal(0)) / 24 == day.avg_hourly_rate
        assert all(r.source == "real (daily average)" for r in hours)
    # Cumulative rates are the running sum of the hourly rates, long and short alike.
    running = 0
    for r in records:
        running += r.funding_rate
        assert r.cumulative_funding_rate_long == r.cumulative_funding_rate_short == running


def test_sol_turns_to_minus_45_percent_apr_on_feb_1():
    day = next(d for d in daily_funding() if d.market == "SOL-PERP" and d.start_ts == FEB_01)
    assert day.avg_hourly_rate == Decimal("-0.0000518")
    assert day.annualized_pct == Decimal("-45.3755")
    # annualized_pct = rate x 8760 x 100 = -45.3768 (the file rounds the rate to 8 decimals).
    assert abs(day.avg_hourly_rate * 876_000 - day.annualized_pct) < Decimal("0.005")
    record = next(r for r in BundledSource().funding_records("SOL-PERP") if r.ts == FEB_01)
    # -0.0000518 x $100 = -$0.00518 per SOL per hour; in 1e9 precision -5,180,000 (exact).
    assert record.funding_rate == -5_180_000
    assert record.oracle_price_twap == DEFAULT_REFERENCE_PRICES["SOL-PERP"] == 100_000_000
    assert record.hourly_rate == Decimal("-0.0000518")
    assert record.apr == Decimal("-0.0000518") * 8760
    assert record.market_index == 0


def test_a_reference_price_that_cannot_be_exact_is_refused():
    days = [d for d in daily_funding() if d.market == "SOL-PERP"][:1]
    with pytest.raises(ValueError, match="not an exact integer"):
        expand_daily_funding(days, reference_price=123_456_789)


def test_funding_stream_window_and_reference_ticks():
    source = BundledSource(emit_reference_ticks=True)
    events = list(source.events(["SOL-PERP", "BTC-PERP"], JAN_10, JAN_10 + 2 * 3600))
    kinds = [(type(e).__name__, e.market, e.ts) for e in events]
    assert kinds == [
        ("OracleTick", "BTC-PERP", JAN_10),
        ("OracleTick", "SOL-PERP", JAN_10),
        ("FundingRecord", "BTC-PERP", JAN_10),
        ("FundingRecord", "SOL-PERP", JAN_10),
        ("OracleTick", "BTC-PERP", JAN_10 + 3600),
        ("OracleTick", "SOL-PERP", JAN_10 + 3600),
        ("FundingRecord", "BTC-PERP", JAN_10 + 3600),
        ("FundingRecord", "SOL-PERP", JAN_10 + 3600),
    ]
    ticks = [e for e in events if isinstance(e, OracleTick)]
    assert all(t.source == "assumed" and t.is_synthetic for t in ticks)
    funding = [e for e in events if isinstance(e, FundingRecord)]
    assert not any(f.is_synthetic for f in funding)


def test_unknown_market_is_an_error():
    with pytest.raises(ValueError, match="nothing for 'DOGE-PERP'"):
        list(BundledSource().events(["DOGE-PERP"], 0, 10))
