"""Real Drift market data shipped inside the package (see bundled/README.md for attribution).

Two files, loaded with importlib.resources:

- `luna_oracle_2022-05-09_11.csv`: 50,000 real LUNA oracle ticks through its May 2022 crash
  (drift-labs/drift-sim). Prices are converted to PRICE precision (1e6) by rounding half to
  even (the file has up to 8 decimals). The ticks are emitted under the market symbols in
  `luna_markets` (default "LUNA-PERP"); pass e.g. ("SOL-PERP", "SOL") to drive markets
  configured like SOL's with the LUNA crash. Source label "real".
- `drift_funding_daily_2026-01-10_02-15.csv`: 37 days of Drift's funding for SOL-PERP,
  BTC-PERP and ETH-PERP as *daily averages* of the hourly rate (fraction of notional,
  fundingRate / oraclePriceTwap). Drift funds hourly, so each day is expanded into 24 hourly
  `FundingRecord`s at 00:00 ... 23:00 UTC, every one carrying that day's average rate: the
  day's mean hourly rate is preserved exactly, the intra-day shape is not known. Source
  label "real (daily average)".

The daily file has no prices, but Drift's records are in quote per base (fundingRate =
rate x oraclePriceTwap x 1e3). We therefore use a constant *reference* oracle TWAP per
market (`DEFAULT_REFERENCE_PRICES`: nominal round numbers, not the market's price in
Jan-Feb 2026) so that `funding_rate` is an exact integer and `hourly_rate` returns the
file's rate exactly. `mark_price_twap` is implied as oracle_twap + funding_rate x 24 / 1e3
(Drift's spread relation without clamps or offsets). Cumulative rates start at 0 before the
first day. With `emit_reference_ticks=True` an OracleTick at the reference price is also
emitted at each funding time, labelled "assumed", for consumers that need a price.
"""

from __future__ import annotations

import bisect
import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache
from importlib import resources

from drift_engine.data import symbols
from drift_engine.data.models import (
    FUNDING_PERIOD,
    FUNDING_RATE_BUFFER,
    PRICE_PRECISION,
    SOURCE_ASSUMED,
    SOURCE_REAL,
    SOURCE_REAL_DAILY,
    FundingRecord,
    MarketEvent,
    OracleTick,
    check_window,
    merge_events,
)
from drift_engine.data.rates import ConstantSpotRates

LUNA_FILE = "luna_oracle_2022-05-09_11.csv"
FUNDING_FILE = "drift_funding_daily_2026-01-10_02-15.csv"

#: Nominal reference oracle TWAPs (PRICE precision) for the daily funding file. Each is a
#: multiple of $0.10, which makes rate (8 decimals) x price x 1e3 an exact integer.
DEFAULT_REFERENCE_PRICES: dict[str, int] = {
    "SOL-PERP": 100 * PRICE_PRECISION,
    "BTC-PERP": 100_000 * PRICE_PRECISION,
    "ETH-PERP": 3_000 * PRICE_PRECISION,
}


def _bundled_text(name: str) -> str:
    return (
        resources.files("drift_engine.data").joinpath("bundled").joinpath(name).read_text("utf-8")
    )


def to_price(value: str | Decimal) -> int:
    """A USD price string to PRICE precision (1e6), rounding half to even."""
    return int((Decimal(value) * PRICE_PRECISION).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


@cache
def luna_ticks() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The LUNA file as (timestamps, prices in 1e6), strictly increasing in time."""
    rows = csv.reader(io.StringIO(_bundled_text(LUNA_FILE)))
    header = next(rows)
    if header != ["blockchainTimestamp", "oraclePrice"]:
        raise ValueError(f"{LUNA_FILE}: unexpected header {header}")
    ts: list[int] = []
    prices: list[int] = []
    for row in rows:
        t = int(row[0])
        if ts and t <= ts[-1]:
            raise ValueError(f"{LUNA_FILE}: timestamps not increasing at {t}")
        ts.append(t)
        prices.append(to_price(row[1]))
    return tuple(ts), tuple(prices)


@dataclass(frozen=True, slots=True)
class DailyFunding:
    """One row of the daily funding file: the day's average hourly rate (a fraction)."""

    day: date
    market: str
    avg_hourly_rate: Decimal
    annualized_pct: Decimal

    @property
    def start_ts(self) -> int:
        return int(datetime(self.day.year, self.day.month, self.day.day, tzinfo=UTC).timestamp())


@cache
def daily_funding() -> tuple[DailyFunding, ...]:
    rows = csv.DictReader(io.StringIO(_bundled_text(FUNDING_FILE)))
    out = [
        DailyFunding(
            day=date.fromisoformat(r["date"]),
            market=r["market"],
            avg_hourly_rate=Decimal(r["avg_hourly_rate"]),
            annualized_pct=Decimal(r["annualized_pct"]),
        )
        for r in rows
    ]
    return tuple(sorted(out, key=lambda d: (d.market, d.day)))


def expand_daily_funding(
    days: Iterable[DailyFunding], reference_price: int, source: str = SOURCE_REAL_DAILY
) -> list[FundingRecord]:
    """24 hourly records per day at 00:00..23:00 UTC, each at that day's average rate."""
    out: list[FundingRecord] = []
    cumulative = 0
    for day in sorted(days, key=lambda d: d.day):
        exact = day.avg_hourly_rate * reference_price * FUNDING_RATE_BUFFER
        if exact != exact.to_integral_value():
            raise ValueError(
                f"{day.market} {day.day}: rate {day.avg_hourly_rate} x reference price "
                f"{reference_price} is not an exact integer funding rate; use a reference "
                "price that is a multiple of $0.10"
            )
        rate = int(exact)
        mark = reference_price + rate * 24 // FUNDING_RATE_BUFFER
        index = symbols.perp_index(day.market)
        for hour in range(24):
            cumulative += rate
            out.append(
                FundingRecord(
                    ts=day.start_ts + hour * FUNDING_PERIOD,
                    market=day.market,
                    market_index=index,
                    funding_rate=rate,
                    funding_rate_long=rate,
                    funding_rate_short=rate,
                    cumulative_funding_rate_long=cumulative,
                    cumulative_funding_rate_short=cumulative,
                    oracle_price_twap=reference_price,
                    mark_price_twap=mark,
                    source=source,
                )
            )
    return out


class BundledSource:
    """Replay of the real data bundled with the package (see the module docstring)."""

    label = "real (bundled)"

    def __init__(
        self,
        *,
        luna_markets: Iterable[str] = ("LUNA-PERP",),
        reference_prices: Mapping[str, int] | None = None,
        spot_rates: ConstantSpotRates | None = None,
        emit_reference_ticks: bool = False,
    ) -> None:
        self.luna_markets = tuple(luna_markets)
        self.reference_prices = dict(DEFAULT_REFERENCE_PRICES)
        if reference_prices:
            self.reference_prices.update(reference_prices)
        self.spot_rates = spot_rates if spot_rates is not None else ConstantSpotRates()
        self.emit_reference_ticks = emit_reference_ticks

    # -- what is in the bundle ---------------------------------------------------------
    def funding_markets(self) -> list[str]:
        return sorted({d.market for d in daily_funding()})

    def markets(self) -> list[str]:
        return sorted(set(self.luna_markets) | set(self.funding_markets()))

    def windows(self) -> dict[str, tuple[int, int]]:
        """[first, last + 1) of each market's data."""
        ts, _ = luna_ticks()
        spans = {m: (ts[0], ts[-1] + 1) for m in self.luna_markets}
        for market in self.funding_markets():
            records = self.funding_records(market)
            spans.setdefault(market, (records[0].ts, records[-1].ts + 1))
        return spans

    def funding_records(self, market: str) -> tuple[FundingRecord, ...]:
        return _expanded(market, self.reference_prices[market])

    # -- the stream --------------------------------------------------------------------
    def events(self, markets: Iterable[str], start: int, end: int) -> Iterator[MarketEvent]:
        check_window(start, end)
        wanted = list(dict.fromkeys(markets))
        funding = set(self.funding_markets())
        streams: list[Iterable[MarketEvent]] = []
        for market in wanted:
            covered = False
            if market in self.luna_markets:
                streams.append(_luna_stream(market, start, end))
                covered = True
            if market in funding:
                records = self.funding_records(market)
                lo = bisect.bisect_left(records, start, key=lambda r: r.ts)
                hi = bisect.bisect_left(records, end, key=lambda r: r.ts)
                streams.append(records[lo:hi])
                if self.emit_reference_ticks:
                    price = self.reference_prices[market]
                    streams.append(
                        [OracleTick(r.ts, market, price, SOURCE_ASSUMED) for r in records[lo:hi]]
                    )
                covered = True
            if self.spot_rates.covers(market):
                covered = True
            if not covered:
                raise ValueError(
                    f"the bundled data has nothing for {market!r} "
                    f"(it has {self.markets()} and spot rates for {sorted(self.spot_rates.rates)})"
                )
        streams.append(self.spot_rates.events(wanted, start, end))
        return merge_events(*streams)


@cache
def _expanded(market: str, reference_price: int) -> tuple[FundingRecord, ...]:
    days = [d for d in daily_funding() if d.market == market]
    if not days:
        raise KeyError(f"no bundled funding for {market!r}")
    return tuple(expand_daily_funding(days, reference_price))


def _luna_stream(market: str, start: int, end: int) -> Iterator[OracleTick]:
    ts, prices = luna_ticks()
    lo = bisect.bisect_left(ts, start)
    hi = bisect.bisect_left(ts, end)
    for i in range(lo, hi):
        yield OracleTick(ts[i], market, prices[i], SOURCE_REAL)


__all__ = [
    "DEFAULT_REFERENCE_PRICES",
    "FUNDING_FILE",
    "LUNA_FILE",
    "BundledSource",
    "DailyFunding",
    "daily_funding",
    "expand_daily_funding",
    "luna_ticks",
    "to_price",
]
