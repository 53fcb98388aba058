"""Market data records: what every source yields and what the simulator consumes.

All records are frozen and typed. Stored values are integers in Drift's precisions
(PRICE 1e6, FUNDING_RATE 1e9, BASE 1e9, SPOT_CUMULATIVE_INTEREST 1e10); any derived rate is
a `Decimal`; no stored value is a float. Timestamps are unix seconds (UTC), as on chain.

Every record names its `market` by Drift symbol ("SOL-PERP", "SOL", "USDC") and carries a
`source` label ("real", "real (daily average)", "synthetic", ...); `is_synthetic` tells
reports whether to label results as synthetic.

Time order. Each record has a `time`: the instant it becomes known. For ticks, funding and
spot-rate records that is `ts`; for a candle it is its close (`ts + resolution`), so a
consumer never sees a candle before it has closed. Streams are ordered by `event_sort_key`
= (time, kind rank, market): at one instant an oracle tick comes first, then candles, then
the funding record, then spot rates.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

#: Drift precisions (same values as driftpy.constants.numeric_constants).
PRICE_PRECISION = 10**6
FUNDING_RATE_PRECISION = 10**9
FUNDING_RATE_BUFFER = 10**3  # FUNDING_RATE_PRECISION / PRICE_PRECISION
BASE_PRECISION = 10**9
SPOT_CUMULATIVE_INTEREST_PRECISION = 10**10
FUNDING_PERIOD = 3600  # seconds; Drift updates funding hourly, aligned on the hour

#: The seed of every synthetic part when none is given (backtest, demo, run, data synth).
DEFAULT_SEED = 7

#: Source labels. `real*` labels are measured data; everything else is modelled.
SOURCE_REAL = "real"
SOURCE_REAL_DAILY = "real (daily average)"
SOURCE_REAL_LIVE = "real (live rpc)"
SOURCE_SYNTHETIC = "synthetic"
SOURCE_ASSUMED = "assumed"

#: Record kinds (also the `kind` of a stored series).
KIND_ORACLE = "oracle"
KIND_FUNDING = "funding"
KIND_CANDLE = "candle"
KIND_SPOT_RATE = "spot_rate"
KINDS = (KIND_ORACLE, KIND_FUNDING, KIND_CANDLE, KIND_SPOT_RATE)


def source_class(label: str) -> str:
    """ "real" for measured data, "synthetic" for generated, "assumed" for stated constants."""
    if label.startswith("real"):
        return SOURCE_REAL
    if label.startswith("synthetic"):
        return SOURCE_SYNTHETIC
    return SOURCE_ASSUMED


def is_perp(market: str) -> bool:
    return market.upper().endswith("-PERP")


def base_asset(market: str) -> str:
    """The asset whose oracle prices a market: "SOL-PERP" -> "SOL", "wBTC" -> "BTC"."""
    symbol = market.upper()
    if symbol.endswith("-PERP"):
        symbol = symbol[: -len("-PERP")]
    if symbol in ("WBTC", "WETH"):
        symbol = symbol[1:]
    return symbol


@dataclass(frozen=True, slots=True)
class OracleTick:
    """One oracle price observation. `price` in PRICE precision (1e6): 61.529536 USD -> 61529536."""

    ts: int
    market: str
    price: int
    source: str = SOURCE_REAL

    kind = KIND_ORACLE
    rank = 0

    @property
    def time(self) -> int:
        return self.ts

    @property
    def price_decimal(self) -> Decimal:
        return Decimal(self.price) / PRICE_PRECISION

    @property
    def is_synthetic(self) -> bool:
        return source_class(self.source) != SOURCE_REAL


@dataclass(frozen=True, slots=True)
class Candle:
    """An OHLCV candle starting at `ts` and lasting `resolution` seconds.

    Prices in PRICE precision (1e6); `volume` is base-asset volume in BASE precision (1e9).
    The candle is known at its close: `time == ts + resolution`.
    """

    ts: int
    market: str
    resolution: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    source: str = SOURCE_REAL

    kind = KIND_CANDLE
    rank = 1

    @property
    def time(self) -> int:
        return self.ts + self.resolution

    @property
    def is_synthetic(self) -> bool:
        return source_class(self.source) != SOURCE_REAL


@dataclass(frozen=True, slots=True)
class FundingRecord:
    """One hourly funding update, in the fields of Drift's `FundingRateRecord`.

    `funding_rate`, `funding_rate_long/short` and the cumulative rates are in
    FUNDING_RATE precision (1e9) and are *quote per base unit* (PRICE precision x 1e3):
    a position of `base` (BASE 1e9) pays `base * delta_cumulative / 1e12` micro-USDC when
    positive for longs (longs pay shorts). `oracle_price_twap` and `mark_price_twap` are
    PRICE precision (1e6). `ts` is the funding time (end of the hour it covers).
    `market_index` is Drift's perp market index, or None for a market without one.
    """

    ts: int
    market: str
    market_index: int | None
    funding_rate: int
    funding_rate_long: int
    funding_rate_short: int
    cumulative_funding_rate_long: int
    cumulative_funding_rate_short: int
    oracle_price_twap: int
    mark_price_twap: int
    source: str = SOURCE_REAL

    kind = KIND_FUNDING
    rank = 2

    @property
    def time(self) -> int:
        return self.ts

    @property
    def hourly_rate(self) -> Decimal:
        """The hourly rate as a fraction of notional: fundingRate / oraclePriceTwap (exact)."""
        return Decimal(self.funding_rate) / (Decimal(self.oracle_price_twap) * FUNDING_RATE_BUFFER)

    @property
    def apr(self) -> Decimal:
        return self.hourly_rate * 24 * 365

    @property
    def is_synthetic(self) -> bool:
        return source_class(self.source) != SOURCE_REAL


@dataclass(frozen=True, slots=True)
class SpotRateRecord:
    """The deposit and borrow interest rates of a spot market from `ts` on.

    `deposit_rate` / `borrow_rate` are annual rates as fractions (Decimal("0.05") = 5% APR),
    applied continuously by time until the next record for the market. When the source
    knows the market's cumulative interest (live data) it fills
    `cumulative_deposit_interest` / `cumulative_borrow_interest` (precision 1e10).
    """

    ts: int
    market: str
    market_index: int | None
    deposit_rate: Decimal
    borrow_rate: Decimal
    source: str = SOURCE_ASSUMED
    cumulative_deposit_interest: int | None = None
    cumulative_borrow_interest: int | None = None

    kind = KIND_SPOT_RATE
    rank = 3

    @property
    def time(self) -> int:
        return self.ts

    @property
    def is_synthetic(self) -> bool:
        return source_class(self.source) != SOURCE_REAL


MarketEvent = OracleTick | Candle | FundingRecord | SpotRateRecord


def event_sort_key(event: MarketEvent) -> tuple[int, int, str]:
    """The one order of all streams: (time, kind rank, market)."""
    return (event.time, event.rank, event.market)


def merge_events(*streams: Iterable[MarketEvent]) -> Iterator[MarketEvent]:
    """Merge streams that are each in `event_sort_key` order into one ordered stream (lazy)."""
    if len(streams) == 1:
        return iter(streams[0])
    return heapq.merge(*streams, key=event_sort_key)


def check_window(start: int, end: int) -> None:
    if not isinstance(start, int) or not isinstance(end, int):
        raise TypeError("start and end are unix seconds (int)")
    if end < start:
        raise ValueError(f"end ({end}) is before start ({start})")


__all__ = [
    "BASE_PRECISION",
    "DEFAULT_SEED",
    "FUNDING_PERIOD",
    "FUNDING_RATE_BUFFER",
    "FUNDING_RATE_PRECISION",
    "KINDS",
    "KIND_CANDLE",
    "KIND_FUNDING",
    "KIND_ORACLE",
    "KIND_SPOT_RATE",
    "PRICE_PRECISION",
    "SOURCE_ASSUMED",
    "SOURCE_REAL",
    "SOURCE_REAL_DAILY",
    "SOURCE_REAL_LIVE",
    "SOURCE_SYNTHETIC",
    "SPOT_CUMULATIVE_INTEREST_PRECISION",
    "Candle",
    "FundingRecord",
    "MarketEvent",
    "OracleTick",
    "SpotRateRecord",
    "base_asset",
    "check_window",
    "event_sort_key",
    "is_perp",
    "merge_events",
    "source_class",
]
