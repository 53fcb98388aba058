"""OrderIntent validation and the driftpy conversions that live in core/types.py."""

from decimal import Decimal

import pytest
from driftpy.types import SpotBalanceType
from hypothesis import given
from hypothesis import strategies as st

from drift_engine.core.accounts import default_markets, make_user
from drift_engine.core.errors import OrderValidationError
from drift_engine.core.markets import MarketCatalog
from drift_engine.core.types import (
    DriftPosition,
    MarketType,
    OrderIntent,
    OrderType,
    PositionDirection,
    PostOnly,
    positions_from_user,
)


def test_intent_coerces_strings_and_converts_to_driftpy():
    intent = OrderIntent(0, "perp", "short", 2 * 10**9, order_type="limit", price=150_000_000)
    params = intent.to_driftpy()
    assert type(params.direction).__name__ == "Short"
    assert type(params.order_type).__name__ == "Limit"
    assert type(params.market_type).__name__ == "Perp"
    assert params.base_asset_amount == 2 * 10**9 and params.price == 150_000_000


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"direction": "sideways"}, "direction"),
        ({"market_type": "future"}, "market_type"),
        ({"base_asset_amount": 0}, "base_asset_amount"),
        ({"base_asset_amount": -5}, "base_asset_amount"),
        ({"base_asset_amount": 1.5}, "base_asset_amount"),
        ({"user_order_id": 256}, "user_order_id"),
        ({"order_type": "limit", "price": 0}, "price"),
        ({"post_only": "must_post_only"}, "post_only"),
        ({"order_type": "trigger_market"}, "trigger_price"),
        ({"trigger_price": 100}, "trigger_price"),
    ],
)
def test_bad_intent_fields_are_named(kwargs, field):
    base = {
        "market_index": 0,
        "market_type": "perp",
        "direction": "long",
        "base_asset_amount": 10**9,
    }
    with pytest.raises(OrderValidationError) as err:
        OrderIntent(**{**base, **kwargs})
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}:")


@given(
    market_index=st.integers(0, 60),
    market_type=st.sampled_from(list(MarketType)),
    direction=st.sampled_from(list(PositionDirection)),
    base=st.integers(1, 2**64 - 1),
    order_type=st.sampled_from([OrderType.MARKET, OrderType.LIMIT, OrderType.ORACLE]),
    price=st.integers(1, 10**12),
    reduce_only=st.booleans(),
    ioc=st.booleans(),
    user_order_id=st.integers(0, 255),
)
def test_intent_round_trips_through_driftpy(
    market_index, market_type, direction, base, order_type, price, reduce_only, ioc, user_order_id
):
    intent = OrderIntent(
        market_index,
        market_type,
        direction,
        base,
        order_type=order_type,
        price=price,
        reduce_only=reduce_only,
        immediate_or_cancel=ioc,
        user_order_id=user_order_id,
        post_only=PostOnly.MUST_POST_ONLY if order_type is OrderType.LIMIT else PostOnly.NONE,
    )
    assert OrderIntent.from_driftpy(intent.to_driftpy()) == intent


def test_positions_from_user_reads_perp_and_spot_with_driftpy_token_math():
    catalog = MarketCatalog.from_constants()
    perps, spots = default_markets(catalog, {"SOL-PERP": 150_000_000, "SOL": 150_000_000})
    user = make_user(catalog.by_symbol("SOL").mint, 0)
    # 2 SOL deposited: scaled balance is in SPOT_BALANCE precision (1e9); with cumulative
    # deposit interest at 1.0 (1e10) the token amount is 2e9 lamports.
    sp = user.spot_positions[0]
    sp.market_index, sp.scaled_balance, sp.balance_type = 1, 2 * 10**9, SpotBalanceType.Deposit()
    pp = user.perp_positions[0]
    pp.market_index, pp.base_asset_amount = 0, -2 * 10**9
    pp.quote_asset_amount = pp.quote_entry_amount = pp.quote_break_even_amount = 300 * 10**6
    positions = {(p.market_type, p.market_index): p for p in positions_from_user(user, spots)}
    spot = positions[(MarketType.SPOT, 1)]
    perp = positions[(MarketType.PERP, 0)]
    assert spot.base_asset_amount == 2 * 10**9 and spot.base_decimal == Decimal(2)
    assert perp.direction is PositionDirection.SHORT
    # entry price = |quote_entry| * BASE / |base| = 300e6 * 1e9 / 2e9 = 150e6 ($150)
    assert perp.entry_price == 150_000_000
    assert DriftPosition.from_perp(pp) == perp


def test_spot_token_amount_is_the_programs_integer_not_driftpys_float():
    """math/spot_balance.rs `get_token_amount`: scaled * cumulative / 10^(19 - decimals),
    floored in integers. driftpy 0.8.89 divides in floats and is off on large balances."""
    from driftpy.math.spot_market import get_token_amount

    catalog = MarketCatalog.from_constants()
    _, spots = default_markets(catalog, {"SOL": 150_000_000})
    sol = spots[1]
    sol.cumulative_deposit_interest = 10_123_456_789  # 1.0123456789 in 1e10 precision
    user = make_user(catalog.by_symbol("SOL").mint, 0)
    sp = user.spot_positions[0]
    sp.market_index, sp.balance_type = 1, SpotBalanceType.Deposit()
    sp.scaled_balance = 1_165_115_433_906_158_532
    exact = 1_165_115_433_906_158_532 * 10_123_456_789 // 10**10  # SOL: 10^(19-9)
    assert exact == 1_179_499_574_934_598_137
    assert DriftPosition.from_spot(sp, sol).base_asset_amount == exact
    assert get_token_amount(sp.scaled_balance, sol, sp.balance_type) == exact + 7  # float
