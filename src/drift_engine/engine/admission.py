"""What an engine may be given before it exists: a market it can trade, capital it can use.

Checked when a config file or a command line is read, before a database, vault or
simulator is created, so a request that cannot mean anything leaves nothing behind
(a half-created engine that runs forever with 0 equity was the failure, issue #10).

- Market: a perp Drift knows (driftpy's mainnet constants), with trading rules in the
  parameter catalog (core/params/markets.json) and market data to replay in paper mode.
- Capital (USDC): finite, positive, at most 6 decimals (micro-USDC, what the ledger
  holds), at most `MAX_CAPITAL_USDC`, and at least the market's minimum order notional
  (Drift's `min_order_size` at the market's reference price): below it the engine could
  never place an order.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from functools import cache

from driftpy.constants.numeric_constants import BASE_PRECISION, PRICE_PRECISION, QUOTE_PRECISION

from drift_engine.core.errors import DriftEngineError

#: No single engine is given more: a billion USDC is beyond any Drift sub-account.
MAX_CAPITAL_USDC = Decimal(1_000_000_000)


class AdmissionError(DriftEngineError, ValueError):
    """A market or capital an engine cannot be given; the message says why."""


@cache
def _catalog_perps() -> dict[str, int]:
    """Perp symbol -> min_order_size (BASE 1e9) from the parameter catalog."""
    from drift_engine.core.markets import MarketCatalog

    return {
        m.symbol.upper(): m.min_order_size for m in MarketCatalog.from_constants().perp_markets()
    }


@cache
def _reference_prices() -> dict[str, int]:
    """Perp symbol -> reference oracle price (PRICE 1e6) of the bundled/synthetic data
    (none known: only the other bounds apply)."""
    try:
        from drift_engine.data.bundled import DEFAULT_REFERENCE_PRICES
    except ImportError:  # pragma: no cover - the data package names it differently
        return {}
    return {k.upper(): v for k, v in DEFAULT_REFERENCE_PRICES.items()}


@cache
def markets_with_data(source: str) -> frozenset[str]:
    """The perps paper mode can replay from data `source` ("bundled" or "synthetic")."""
    from drift_engine.data.bundled import BundledSource

    funded = set(BundledSource().funding_markets())
    if source == "synthetic":  # prices from a model per asset, funding calibrated on real
        from drift_engine.data.models import base_asset
        from drift_engine.data.synthetic import DEFAULT_PRICE_MODELS

        funded = {m for m in funded if base_asset(m) in DEFAULT_PRICE_MODELS}
    return frozenset(m.upper() for m in funded)


def check_perp(market: str, *, source: str | None = None) -> str:
    """`market` if it is a perp Drift knows, in the catalog and (given `source`) with
    data to replay; else AdmissionError saying which of those it is not."""
    from drift_engine.data import symbols

    if not market.upper().endswith("-PERP") or symbols.perp_index(market) is None:
        raise AdmissionError(f"{market!r} is not a Drift perp market (e.g. SOL-PERP)")
    catalog = _catalog_perps()
    if market.upper() not in catalog:
        raise AdmissionError(
            f"{market!r} has no trading parameters here (have: {', '.join(sorted(catalog))})"
        )
    if source is not None and market.upper() not in markets_with_data(source):
        have = ", ".join(sorted(markets_with_data(source))) or "none"
        raise AdmissionError(f"no {source} market data for {market!r} (have: {have})")
    return market


def min_order_notional_usdc(market: str) -> Decimal:
    """Drift's minimum order size of `market` at its reference price, in USDC."""
    size = _catalog_perps()[market.upper()]
    price = _reference_prices().get(market.upper())
    if price is None:
        return Decimal(0)
    return Decimal(size * price) / (BASE_PRECISION * PRICE_PRECISION)


def check_capital(value: object, market: str | None = None) -> int:
    """Capital in USDC (a number, or its text) -> micro-USDC; refused with the reason when
    it is not a finite positive amount of at most 6 decimals within the bounds."""
    shown = value.strip() if isinstance(value, str) else str(value)
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        raise AdmissionError(f"capital must be a number of USDC, got {shown}")
    if isinstance(value, float) and not math.isfinite(value):
        raise AdmissionError(f"capital must be a finite number of USDC, got {shown}")
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise AdmissionError(f"capital must be a number of USDC, got {shown}") from None
    if not amount.is_finite():
        raise AdmissionError(f"capital must be a finite number of USDC, got {shown}")
    if amount <= 0:
        raise AdmissionError(f"capital must be positive, got {shown}")
    if amount > MAX_CAPITAL_USDC:
        raise AdmissionError(
            f"capital {shown} USDC is above the maximum of {MAX_CAPITAL_USDC:,} USDC"
        )
    if market is not None:
        minimum = min_order_notional_usdc(market)
        if amount < minimum:
            raise AdmissionError(
                f"capital {shown} USDC is below {market}'s minimum order notional "
                f"({minimum.normalize():f} USDC): the engine could never place an order"
            )
    micro = amount * QUOTE_PRECISION
    if micro != micro.to_integral_value():
        raise AdmissionError(f"capital {shown} has more than 6 decimals (micro-USDC)")
    return int(micro)


__all__ = [
    "MAX_CAPITAL_USDC",
    "AdmissionError",
    "check_capital",
    "check_perp",
    "markets_with_data",
    "min_order_notional_usdc",
]
