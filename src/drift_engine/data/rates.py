"""Spot deposit/borrow interest for sources that have no measured rates.

We have no real history of Drift's spot interest rates, so the bundled and synthetic
sources use constant annual rates per spot market, labelled "assumed". They are round
numbers in the range Drift's markets usually show (stable-coin lending pays a few percent;
SOL/BTC/ETH lending pays little), not measurements; pass your own table to change them.
A constant source emits one `SpotRateRecord` per spot market at the window's start, which
holds until the end (records hold until the next one for the market). Records are
labelled "assumed", except inside the synthetic market, where everything is "synthetic".

The live source reads the real rates (and cumulative interest) from SpotMarket accounts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal

from drift_engine.data import symbols
from drift_engine.data.models import (
    SOURCE_ASSUMED,
    SpotRateRecord,
    check_window,
    is_perp,
)

#: (deposit APR, borrow APR) as fractions. Assumed, not measured (see module docstring).
DEFAULT_SPOT_RATES: dict[str, tuple[Decimal, Decimal]] = {
    "USDC": (Decimal("0.05"), Decimal("0.07")),
    "SOL": (Decimal("0.005"), Decimal("0.02")),
    "wBTC": (Decimal("0.001"), Decimal("0.01")),
    "wETH": (Decimal("0.002"), Decimal("0.015")),
}


class ConstantSpotRates:
    """Constant deposit/borrow APR per spot market; one record per market at `start`."""

    def __init__(
        self,
        rates: Mapping[str, tuple[Decimal, Decimal]] | None = None,
        *,
        label: str = SOURCE_ASSUMED,
    ) -> None:
        self.label = label
        table = DEFAULT_SPOT_RATES if rates is None else rates
        self.rates = {k.upper(): (Decimal(d), Decimal(b)) for k, (d, b) in table.items()}
        for market, (deposit, borrow) in self.rates.items():
            if deposit < 0 or borrow < 0:
                raise ValueError(f"{market}: interest rates must not be negative")

    def covers(self, market: str) -> bool:
        return not is_perp(market) and market.upper() in self.rates

    def events(self, markets: Iterable[str], start: int, end: int) -> Iterator[SpotRateRecord]:
        check_window(start, end)
        if start >= end:
            return
        for market in sorted({m for m in markets if self.covers(m)}):
            deposit, borrow = self.rates[market.upper()]
            yield SpotRateRecord(
                ts=start,
                market=market,
                market_index=symbols.spot_index(market),
                deposit_rate=deposit,
                borrow_rate=borrow,
                source=self.label,
            )


__all__ = ["DEFAULT_SPOT_RATES", "ConstantSpotRates"]
