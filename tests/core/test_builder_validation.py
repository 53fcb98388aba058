"""Every rule the builder checks before building raises an error that names the field."""

from __future__ import annotations

import pytest
from driftpy.types import MarketStatus
from solders.keypair import Keypair

from drift_engine.core.accounts import make_perp_market, make_spot_market
from drift_engine.core.builder import DriftInstructionBuilder, UserAccountsView
from drift_engine.core.errors import OrderValidationError
from drift_engine.core.types import (
    DriftPosition,
    MarketType,
    OrderIntent,
    OrderModification,
    OrderType,
    PositionDirection,
)
from drift_engine.core.validation import validate_intent

from .conftest import PRICES

LONG, SHORT = PositionDirection.LONG, PositionDirection.SHORT
AUTHORITY = Keypair.from_seed(bytes(range(32))).pubkey()


def raises_on(field: str):
    """pytest.raises for an OrderValidationError whose message starts with `field`."""
    return pytest.raises(OrderValidationError, match=rf"^{field}: ")


def perp(index: int = 0, base: int = 10**9, direction=LONG, **kw) -> OrderIntent:
    return OrderIntent(index, MarketType.PERP, direction, base, **kw)


def spot(index: int = 1, base: int = 10**9, direction=LONG, **kw) -> OrderIntent:
    return OrderIntent(index, MarketType.SPOT, direction, base, **kw)


@pytest.fixture
def builder(catalog) -> DriftInstructionBuilder:
    return DriftInstructionBuilder(catalog, AUTHORITY, 0)


def catalog_with(catalog, symbol: str, **fields):
    """The catalog with one market's rules taken from a market account we edit."""
    spec = catalog.by_symbol(symbol)
    if spec.market_type is MarketType.PERP:
        account = make_perp_market(spec, PRICES[symbol])
        target = account.amm
    else:
        account = make_spot_market(spec, PRICES[symbol])
        target = account
    for name, value in fields.items():
        setattr(account if name == "status" else target, name, value)
    return catalog.with_account(account)


# --------------------------------------------------------------------------- unknown market


def test_unknown_perp_market(builder):
    with raises_on("market_index") as exc:
        builder.place_perp_order(perp(index=77))
    assert exc.value.field == "market_index"
    assert "77" in str(exc.value)


def test_unknown_spot_market(builder):
    with raises_on("market_index"):
        builder.place_spot_order(spot(index=5))  # index 5 (USDT) is not in the catalog


def test_unknown_market_in_a_leg_of_place_orders(builder):
    with raises_on("market_index"):
        builder.place_orders([spot(1), perp(index=99, direction=SHORT)])


def test_quote_spot_market_has_no_order_book(builder):
    with raises_on("market_index") as exc:
        builder.place_spot_order(spot(index=0, base=10**6))
    assert "quote" in str(exc.value)


def test_wrong_market_type_for_the_method(builder):
    with raises_on("market_type"):
        builder.place_perp_order(spot(1))
    with raises_on("market_type"):
        builder.place_spot_order(perp(0))


# --------------------------------------------------------------------------- size


def test_size_not_a_multiple_of_step(builder, catalog):
    step = catalog.by_symbol("SOL-PERP").order_step_size
    with raises_on("base_asset_amount") as exc:
        builder.place_perp_order(perp(base=10**9 + step // 2))
    assert "step" in str(exc.value)


def test_size_below_minimum(catalog):
    # Rules from a market account whose minimum is 10 steps.
    step = catalog.by_symbol("SOL-PERP").order_step_size
    cat = catalog_with(catalog, "SOL-PERP", min_order_size=10 * step)
    b = DriftInstructionBuilder(cat, AUTHORITY)
    with raises_on("base_asset_amount") as exc:
        b.place_perp_order(perp(base=9 * step))
    assert "minimum" in str(exc.value)
    b.place_perp_order(perp(base=10 * step))  # at the minimum: fine


def test_spot_size_below_minimum(catalog):
    step = catalog.by_symbol("SOL").order_step_size
    cat = catalog_with(catalog, "SOL", min_order_size=5 * step)
    with raises_on("base_asset_amount"):
        DriftInstructionBuilder(cat, AUTHORITY).place_spot_order(spot(base=4 * step))


def test_reduce_only_is_exempt_from_the_minimum_like_the_program(catalog):
    """validation/order.rs: `reduce_only || base_asset_amount >= min_order_size`."""
    step = catalog.by_symbol("SOL-PERP").order_step_size
    cat = catalog_with(catalog, "SOL-PERP", min_order_size=10 * step)
    b = DriftInstructionBuilder(cat, AUTHORITY)
    short = [DriftPosition(0, MarketType.PERP, -(10**9))]
    b.place_perp_order(perp(base=step, reduce_only=True), short)


def test_round_to_step_rounds_down(builder, catalog):
    step = catalog.by_symbol("SOL-PERP").order_step_size
    exact = perp(base=3 * step)
    rounded = builder.place_perp_order(perp(base=3 * step + step - 1), round_to_step=True)
    assert rounded == builder.place_perp_order(exact)
    assert builder.validate(perp(base=3 * step + 1), round_to_step=True) == exact


def test_round_to_step_rechecks_the_minimum(catalog):
    step = catalog.by_symbol("SOL-PERP").order_step_size
    cat = catalog_with(catalog, "SOL-PERP", min_order_size=10 * step)
    b = DriftInstructionBuilder(cat, AUTHORITY)
    with raises_on("base_asset_amount") as exc:
        b.place_perp_order(perp(base=10 * step - 1), round_to_step=True)
    assert "rounded down" in str(exc.value) and "minimum" in str(exc.value)


def test_round_to_step_to_zero(builder, catalog):
    step = catalog.by_symbol("SOL-PERP").order_step_size
    with raises_on("base_asset_amount"):
        builder.place_perp_order(perp(base=step - 1, reduce_only=True), round_to_step=True)


def test_round_to_step_in_place_orders(builder, catalog):
    sol = catalog.by_symbol("SOL")
    steps = sol.min_order_size // sol.order_step_size + 7
    legs = [spot(base=steps * sol.order_step_size + 3), perp(base=7 * 10**9, direction=SHORT)]
    with raises_on("base_asset_amount"):
        builder.place_orders(legs)
    ix = builder.place_orders(legs, round_to_step=True)
    assert ix == builder.place_orders([spot(base=steps * sol.order_step_size), legs[1]])


# --------------------------------------------------------------------------- price


@pytest.mark.parametrize("symbol", ["SOL-PERP", "BTC-PERP", "ETH-PERP", "SOL"])
def test_price_not_on_tick(builder, catalog, symbol):
    spec = catalog.by_symbol(symbol)
    tick = spec.order_tick_size
    assert tick > 1
    size = spec.order_step_size * max(1, -(-spec.min_order_size // spec.order_step_size))
    intent = OrderIntent(
        spec.market_index,
        spec.market_type,
        LONG,
        size,
        OrderType.LIMIT,
        price=PRICES[symbol] - PRICES[symbol] % tick + tick // 2,
    )
    with raises_on("price") as exc:
        builder.place_order(intent)
    assert "tick" in str(exc.value)


def test_trigger_price_not_on_tick(builder, catalog):
    tick = catalog.by_symbol("BTC-PERP").order_tick_size
    intent = perp(
        index=1,
        base=catalog.by_symbol("BTC-PERP").order_step_size,
        order_type=OrderType.TRIGGER_MARKET,
        trigger_price=60_000_000_000 + tick // 2,
    )
    with raises_on("trigger_price"):
        builder.place_perp_order(intent)


# --------------------------------------------------------------------------- reduce-only


def test_reduce_only_that_would_increase_a_position(builder):
    long_sol = [DriftPosition(0, MarketType.PERP, 5 * 10**9)]
    with raises_on("reduce_only") as exc:
        builder.place_perp_order(perp(direction=LONG, reduce_only=True), long_sol)
    assert "increase" in str(exc.value)
    builder.place_perp_order(perp(direction=SHORT, reduce_only=True), long_sol)  # reduces: fine


def test_reduce_only_on_a_flat_market_would_open_a_position(builder):
    elsewhere = [DriftPosition(2, MarketType.PERP, -(10**9))]
    with raises_on("reduce_only") as exc:
        builder.place_perp_order(perp(index=0, direction=SHORT, reduce_only=True), elsewhere)
    assert "flat" in str(exc.value)


def test_reduce_only_spot_checked_against_the_balance(builder, make_test_user):
    user = make_test_user("busy", AUTHORITY)  # holds a SOL deposit
    with raises_on("reduce_only"):
        builder.place_spot_order(spot(direction=LONG, reduce_only=True), user)
    builder.place_spot_order(spot(direction=SHORT, reduce_only=True), user)


def test_reduce_only_in_place_orders(builder):
    view = UserAccountsView.from_positions([DriftPosition(0, MarketType.PERP, -(10**9))])
    with raises_on("reduce_only"):
        builder.place_orders([spot(1), perp(0, direction=SHORT, reduce_only=True)], view)


def test_reduce_only_unchecked_when_positions_are_unknown(builder):
    builder.place_perp_order(perp(direction=LONG, reduce_only=True))
    builder.place_perp_order(perp(direction=LONG, reduce_only=True), UserAccountsView.unknown())


# --------------------------------------------------------------------------- status


@pytest.mark.parametrize(
    "status", ["Initialized", "FillPaused", "AmmPaused", "Settlement", "Delisted"]
)
def test_market_not_active(catalog, status):
    cat = catalog_with(catalog, "ETH-PERP", status=getattr(MarketStatus, status)())
    b = DriftInstructionBuilder(cat, AUTHORITY)
    with raises_on("market_index") as exc:
        b.place_perp_order(perp(index=2))
    assert status in str(exc.value)
    with raises_on("market_index"):
        b.place_orders([spot(1), perp(index=2, direction=SHORT)])


def test_spot_market_not_active(catalog):
    cat = catalog_with(catalog, "SOL", status=MarketStatus.Delisted())
    with raises_on("market_index"):
        DriftInstructionBuilder(cat, AUTHORITY).place_spot_order(spot(1))


def test_reduce_only_market_takes_only_reduce_only_orders(catalog):
    cat = catalog_with(catalog, "SOL-PERP", status=MarketStatus.ReduceOnly())
    b = DriftInstructionBuilder(cat, AUTHORITY)
    short = [DriftPosition(0, MarketType.PERP, -(10**9))]
    with raises_on("market_index") as exc:
        b.place_perp_order(perp(direction=LONG), short)
    assert "reduce-only" in str(exc.value)
    b.place_perp_order(perp(direction=LONG, reduce_only=True), short)


# --------------------------------------------------------------------------- other inputs


def test_user_order_id_range_is_checked_by_the_intent_and_the_cancel(builder):
    with raises_on("user_order_id"):
        perp(user_order_id=256)
    with raises_on("user_order_id"):
        builder.cancel_order_by_user_id(256)
    with raises_on("user_order_id"):
        builder.modify_order_by_user_id(-1, OrderModification(price=1))


def test_order_id_range(builder):
    with raises_on("order_id"):
        builder.cancel_order(-1)
    with raises_on("order_id"):
        builder.modify_order(2**32, OrderModification(price=1))


def test_cancel_orders_market_filter_needs_a_type_and_a_known_market(builder):
    with raises_on("market_type"):
        builder.cancel_orders(market_index=0)
    with raises_on("market_index"):
        builder.cancel_orders(MarketType.PERP, 99)


def test_modify_order_checked_against_its_market(builder, catalog):
    step = catalog.by_symbol("SOL-PERP").order_step_size
    with raises_on("base_asset_amount"):
        builder.modify_order(
            1, OrderModification(base_asset_amount=step + 1), market_type="perp", market_index=0
        )
    with raises_on("price"):
        builder.modify_order(
            1, OrderModification(price=150_000_001), market_type="perp", market_index=0
        )
    with raises_on("market_type"):
        builder.modify_order(1, OrderModification(price=150_000_001), market_index=0)
    with raises_on("policy"):
        OrderModification(policy=4)


def test_place_orders_needs_orders(builder):
    with raises_on("intents"):
        builder.place_orders([])
    with raises_on("intents"):
        builder.place_orders([perp()] * 33)


def test_collateral_inputs(builder):
    with raises_on("amount"):
        builder.deposit(0, 0)
    with raises_on("amount"):
        builder.withdraw(-5, 0)
    with raises_on("market_index"):
        builder.deposit(1, 5)
    with raises_on("user_token_account"):
        builder.deposit(10**9, 1, AUTHORITY)  # the wallet is not a wrapped-SOL token account
    with raises_on("to_sub_account_id"):
        builder.transfer_deposit(1, 0, 0)
    with raises_on("to_sub_account_id"):
        builder.transfer_deposit(1, 0, 70_000)
    with raises_on("market_index"):
        builder.transfer_deposit(1, 5, 1)


def test_sub_account_id_range(catalog):
    with raises_on("sub_account_id"):
        DriftInstructionBuilder(catalog, AUTHORITY, -1)


def test_validate_intent_is_usable_without_a_builder(catalog):
    """The simulator can apply the same rules."""
    assert validate_intent(catalog, perp()) == perp()
    with raises_on("reduce_only"):
        validate_intent(catalog, perp(reduce_only=True), position_base=0)


def test_user_position_in_a_market_the_catalog_lacks(builder):
    from drift_engine.core.markets import UnknownMarketError

    view = UserAccountsView.from_positions([DriftPosition(5, MarketType.PERP, 10**9)])
    with pytest.raises(UnknownMarketError, match="catalog lacks"):
        builder.place_perp_order(perp(), view)
