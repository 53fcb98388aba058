"""Sane bounds for every field of a market-data record, checked on every import path.

A number that parses is not yet a market datum: a price of 1e40, an hourly funding rate
of 1e13 (10,000x the price) or a spot rate of `1e5000000` (a 25-byte cell that became a
5 MB file) would be booked by the simulator as if Drift had printed them. Each reader
(our CSV format, Drift's CSV files, and any new reader: S3 day files, Data API JSON)
builds its records and passes them to `check_record`, which answers with the first field
out of bounds; the reader adds where it was (file, line, column).

Before a cell becomes a number the reader should also call `check_int_text` /
`check_decimal_text`: Python refuses to parse integers of more than 4,300 digits, and a
decimal like `1e999999` cannot be scaled to an integer precision.

Bounds (Drift precisions, models.py):
- prices (oracle, TWAPs, candle OHLC): 1 .. 1e15 (PRICE 1e6: $0.000001 .. $1e9); a mark
  TWAP may be 0 (no trades yet).
- funding rates: |rate| at most `MAX_HOURLY_FUNDING` (5% an hour, ~440x Drift's largest
  clamp) of the record's own oracle TWAP; cumulative rates at most 1e20 in magnitude.
- spot deposit/borrow APR: 0 .. 100 (10,000%), at most 18 decimal places; cumulative
  interest (1e10) 0 .. 1e20.
- candle volume: 0 .. 1e24 (1e15 base units); resolution 1 s .. 366 days.
- market index: 0 .. 65535 (Drift's u16), and, when the market is a known Drift symbol,
  that symbol's index.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from drift_engine.data.models import (
    FUNDING_RATE_BUFFER,
    Candle,
    FundingRecord,
    MarketEvent,
    OracleTick,
    SpotRateRecord,
)

#: No number in a market-data file has more digits than this (i64 has 19, i128 39).
MAX_INT_DIGITS = 40
#: Decimal cells (spot APRs, candle prices in USD): at most this many decimal places.
MAX_DECIMAL_PLACES = 18
#: Decimal cells: below 10 times this (1e16), before scaling to a precision.
MAX_DECIMAL = Decimal(10) ** 15

MIN_PRICE, MAX_PRICE = 1, 10**15
MAX_HOURLY_FUNDING = Decimal("0.05")
MAX_CUMULATIVE_FUNDING = 10**20
MAX_SPOT_APR = Decimal(100)
MAX_CUMULATIVE_INTEREST = 10**20
MAX_VOLUME = 10**24
MAX_RESOLUTION = 366 * 86_400
MAX_MARKET_INDEX = 65_535


class FieldBoundsError(ValueError):
    """A record field (named by its attribute, e.g. `funding_rate`) is out of bounds."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


def check_int_text(text: str) -> str | None:
    """Why `text` is refused as an integer before parsing it (None: go ahead)."""
    digits = len(text.lstrip("+-"))
    if digits > MAX_INT_DIGITS:
        return f"a number of {digits:,} digits is not a market datum (at most {MAX_INT_DIGITS})"
    return None


def check_decimal(value: Decimal) -> str | None:
    """Why a parsed decimal is refused before it is scaled or stored (None: fine)."""
    if not value.is_finite():
        return "expected a finite number"
    if value and value.adjusted() > MAX_DECIMAL.adjusted():  # no arithmetic: 1e5000000
        return f"a number of the order of 1e{value.adjusted()} is out of range (below 1e16)"
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_DECIMAL_PLACES:
        return f"more than {MAX_DECIMAL_PLACES} decimal places"
    return None


@dataclass(frozen=True)
class _Range:
    low: int | Decimal
    high: int | Decimal
    what: str

    def check(self, field: str, value: int | Decimal | None) -> None:
        if value is None:
            return
        if not self.low <= value <= self.high:
            raise FieldBoundsError(
                field, f"{value} is outside the sane range {self.low} .. {self.high} ({self.what})"
            )


PRICE = _Range(MIN_PRICE, MAX_PRICE, "PRICE 1e6: $0.000001 .. $1,000,000,000")
MARK_TWAP = _Range(0, MAX_PRICE, "PRICE 1e6, up to $1,000,000,000")
CUMULATIVE_FUNDING = _Range(
    -MAX_CUMULATIVE_FUNDING, MAX_CUMULATIVE_FUNDING, "FUNDING_RATE 1e9, cumulative"
)
SPOT_APR = _Range(Decimal(0), MAX_SPOT_APR, "APR as a fraction: 0 .. 100 (10,000%)")
CUMULATIVE_INTEREST = _Range(0, MAX_CUMULATIVE_INTEREST, "1e10 precision")
VOLUME = _Range(0, MAX_VOLUME, "BASE 1e9")
RESOLUTION = _Range(1, MAX_RESOLUTION, "seconds, up to 366 days")
MARKET_INDEX = _Range(0, MAX_MARKET_INDEX, "Drift market indexes are u16")


def _check_market_index(record: FundingRecord | SpotRateRecord) -> None:
    MARKET_INDEX.check("market_index", record.market_index)
    if record.market_index is None:
        return
    from drift_engine.data import symbols

    known = (
        symbols.perp_index(record.market)
        if isinstance(record, FundingRecord)
        else symbols.spot_index(record.market)
    )
    if known is not None and known != record.market_index:
        raise FieldBoundsError(
            "market_index",
            f"{record.market_index} is not {record.market}'s market index ({known})",
        )


def _check_funding(r: FundingRecord) -> None:
    _check_market_index(r)
    PRICE.check("oracle_price_twap", r.oracle_price_twap)
    MARK_TWAP.check("mark_price_twap", r.mark_price_twap)
    limit = MAX_HOURLY_FUNDING * r.oracle_price_twap * FUNDING_RATE_BUFFER
    for field in ("funding_rate", "funding_rate_long", "funding_rate_short"):
        value = getattr(r, field)
        if abs(value) > limit:
            share = Decimal(abs(value)) / (r.oracle_price_twap * FUNDING_RATE_BUFFER)
            raise FieldBoundsError(
                field,
                f"{value} is {share:.4g}x the oracle TWAP an hour; more than "
                f"{MAX_HOURLY_FUNDING:%} an hour is not a funding rate",
            )
    for field in ("cumulative_funding_rate_long", "cumulative_funding_rate_short"):
        CUMULATIVE_FUNDING.check(field, getattr(r, field))


def _check_spot_rate(r: SpotRateRecord) -> None:
    _check_market_index(r)
    for field in ("deposit_rate", "borrow_rate"):
        value = getattr(r, field)
        reason = check_decimal(value)
        if reason is not None:
            raise FieldBoundsError(field, reason)
        SPOT_APR.check(field, value)
    for field in ("cumulative_deposit_interest", "cumulative_borrow_interest"):
        CUMULATIVE_INTEREST.check(field, getattr(r, field))


def _check_candle(c: Candle) -> None:
    RESOLUTION.check("resolution", c.resolution)
    for field in ("open", "high", "low", "close"):
        PRICE.check(field, getattr(c, field))
    VOLUME.check("volume", c.volume)


def check_record(record: MarketEvent) -> None:
    """Raise FieldBoundsError naming the first field of `record` out of its sane range."""
    if isinstance(record, OracleTick):
        PRICE.check("price", record.price)
    elif isinstance(record, FundingRecord):
        _check_funding(record)
    elif isinstance(record, SpotRateRecord):
        _check_spot_rate(record)
    elif isinstance(record, Candle):
        _check_candle(record)


__all__ = [
    "MAX_DECIMAL_PLACES",
    "MAX_HOURLY_FUNDING",
    "MAX_INT_DIGITS",
    "FieldBoundsError",
    "check_decimal",
    "check_int_text",
    "check_record",
]
