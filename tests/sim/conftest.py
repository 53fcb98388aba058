"""Helpers for the simulator tests: prices, intents and a zero-slippage price model."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from drift_engine.core.types import MarketType, OrderIntent, OrderType, PositionDirection
from drift_engine.sim import DriftSimulator, PriceModel

PRICE = 10**6  # PRICE precision
QUOTE = 10**6  # QUOTE precision (micro-USDC)
BASE = 10**9  # perp BASE precision
SOL = 10**9  # SOL spot decimals 9
T0 = 1_767_225_600  # 2026-01-01 00:00 UTC, on the hour

#: fills exactly at the oracle price: keeps hand arithmetic about the program's rules
AT_ORACLE = PriceModel(half_spread_ppm=0, impact_ppm_at_reference=0)


def perp(direction: str, base: int, **kw) -> OrderIntent:
    return OrderIntent(0, MarketType.PERP, PositionDirection(direction), base, **kw)


def spot(direction: str, base: int, index: int = 1, **kw) -> OrderIntent:
    return OrderIntent(index, MarketType.SPOT, PositionDirection(direction), base, **kw)


def limit(direction: str, base: int, price: int, **kw) -> OrderIntent:
    return perp(direction, base, order_type=OrderType.LIMIT, price=price, **kw)


#: one leg of a random `place_orders` call: a market order on spot or perp, or a resting
#: limit order off the $100 oracle, sized in tenths of a unit (small, or large enough to
#: be refused for margin); `order_leg(*leg)` makes its intent
ORDER_LEG = st.tuples(
    st.sampled_from(["spot_long", "spot_short", "perp_long", "perp_short", "bid", "ask"]),
    st.one_of(st.integers(min_value=1, max_value=400), st.integers(20_000, 200_000)),
)


def order_leg(kind: str, tenths: int) -> OrderIntent:
    size = tenths * BASE // 10
    if kind.startswith("spot"):
        return spot(kind.removeprefix("spot_"), tenths * SOL // 10)
    if kind.startswith("perp"):
        return perp(kind.removeprefix("perp_"), size)
    price = 95 * PRICE if kind == "bid" else 105 * PRICE
    return limit("long" if kind == "bid" else "short", size, price)


def make_sim(sol_price: int = 100 * PRICE, *, ts: int = T0, **kw) -> DriftSimulator:
    kw.setdefault("default_price_model", AT_ORACLE)
    return DriftSimulator({"SOL-PERP": sol_price, "SOL": sol_price}, ts=ts, **kw)


@pytest.fixture
def sim() -> DriftSimulator:
    return make_sim()
