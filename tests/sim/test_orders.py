"""Order handling: validation like the builder, limits, post-only, reduce-only, volume caps."""

from __future__ import annotations

import pytest

from drift_engine.core.errors import OrderValidationError
from drift_engine.core.types import OrderType, PostOnly
from drift_engine.sim import InsufficientCollateralError

from .conftest import BASE, PRICE, QUOTE, T0, limit, make_sim, perp, spot


@pytest.fixture
def funded():
    sim = make_sim()
    k = sim.open_account()
    sim.deposit(k, "USDC", 10_000 * QUOTE, T0)
    return sim, k


def test_validation_names_the_field(funded):
    sim, k = funded
    with pytest.raises(OrderValidationError) as e:
        sim.place_order(k, perp("long", 10 * BASE + 1), T0 + 1)  # off the 0.01 SOL step
    assert e.value.field == "base_asset_amount"
    with pytest.raises(OrderValidationError) as e:
        sim.place_order(k, perp("long", BASE // 1000), T0 + 1)  # below the minimum size
    assert e.value.field == "base_asset_amount"
    with pytest.raises(OrderValidationError) as e:
        sim.place_order(k, limit("long", BASE, 100 * PRICE + 1), T0 + 1)  # off the tick
    assert e.value.field == "price"
    with pytest.raises(OrderValidationError) as e:
        sim.place_order(k, perp("short", BASE, reduce_only=True), T0 + 1)  # nothing to reduce
    assert e.value.field == "reduce_only"
    assert sim.perp_position(k, "SOL-PERP") is None


def test_limit_rests_then_fills_as_maker_when_price_crosses(funded):
    sim, k = funded
    r = sim.place_order(k, limit("long", 2 * BASE, 95 * PRICE), T0 + 1)
    assert r.status == "open" and not r.fills
    assert sim.drift_user(k).get_open_orders()[0].price == 95 * PRICE
    assert sim.set_oracle_price("SOL", 96 * PRICE, T0 + 2) == []  # not crossed
    assert sim.set_oracle_price("SOL", 95 * PRICE, T0 + 3) == []  # touching is not crossing
    fills = sim.set_oracle_price("SOL", 94_990_000, T0 + 4)
    assert len(fills) == 1
    f = fills[0]
    # maker fill at the limit: quote 2 x 95 = 190_000_000, rebate floor(190e6 x 25/1e6) = 4_750
    assert f.is_maker and f.fill_price == 95 * PRICE and f.quote_asset_amount == 190 * QUOTE
    assert f.fee == -4_750
    assert sim.perp_position(k, "SOL-PERP").base_asset_amount == 2 * BASE
    assert sim.drift_user(k).get_open_orders() == []
    assert sim.user(k).open_orders == 0


def test_partial_fills_under_a_per_tick_volume_cap():
    sim = make_sim(volume_caps={"SOL-PERP": 3 * BASE})
    k = sim.open_account()
    sim.deposit(k, "USDC", 10_000 * QUOTE, T0)
    sim.place_order(k, limit("short", 7 * BASE, 101 * PRICE), T0 + 1)
    sizes = [
        sum(f.base_asset_amount for f in sim.set_oracle_price("SOL", 102 * PRICE, T0 + t))
        for t in (2, 3, 4, 5)
    ]
    assert sizes == [3 * BASE, 3 * BASE, 1 * BASE, 0]
    assert sim.perp_position(k, "SOL-PERP").base_asset_amount == -7 * BASE


def test_post_only_never_takes(funded):
    sim, k = funded
    # the AT_ORACLE model quotes bid = ask = oracle: a buy at or above $100 would take
    with pytest.raises(OrderValidationError) as e:
        sim.place_order(
            k, limit("long", BASE, 100 * PRICE, post_only=PostOnly.MUST_POST_ONLY), T0 + 1
        )
    assert e.value.field == "post_only"
    r = sim.place_order(
        k, limit("long", BASE, 101 * PRICE, post_only=PostOnly.TRY_POST_ONLY), T0 + 2
    )
    assert r.status == "canceled" and not r.fills
    r = sim.place_order(k, limit("long", BASE, 101 * PRICE, post_only=PostOnly.SLIDE), T0 + 3)
    assert r.status == "open"  # slid to one tick below the ask
    assert sim.drift_user(k).get_open_orders()[0].price == 100 * PRICE - 100
    assert sim.perp_position(k, "SOL-PERP").base_asset_amount == 0


def test_reduce_only_never_increases(funded):
    sim, k = funded
    sim.place_order(k, perp("long", 3 * BASE), T0 + 1)
    # a reduce-only sell of 5 against a 3 SOL long fills 3 and leaves the account flat
    r = sim.place_order(k, perp("short", 5 * BASE, reduce_only=True), T0 + 2)
    assert r.base_filled == 3 * BASE
    assert sim.perp_position(k, "SOL-PERP") is None
    # a resting reduce-only order is clipped at fill time and cancelled when nothing is left
    sim.place_order(k, perp("long", 1 * BASE), T0 + 3)
    sim.place_order(k, limit("short", 2 * BASE, 105 * PRICE, reduce_only=True), T0 + 4)
    sim.place_order(k, perp("short", 1 * BASE), T0 + 5)  # flat again
    assert sim.set_oracle_price("SOL", 106 * PRICE, T0 + 6) == []
    assert sim.perp_position(k, "SOL-PERP") is None
    assert sim.drift_user(k).get_open_orders() == []


def test_oracle_offset_and_ioc(funded):
    sim, k = funded
    r = sim.place_order(
        k, perp("long", BASE, order_type=OrderType.ORACLE, oracle_price_offset=-PRICE), T0 + 1
    )
    assert r.status == "open"  # bids $1 under the oracle
    assert sim.set_oracle_price("SOL", 90 * PRICE, T0 + 2) == []  # limit follows: 89
    fills = sim.set_oracle_price("SOL", 88 * PRICE, T0 + 3)
    assert fills == [] or fills[0].fill_price == 87 * PRICE
    r = sim.place_order(k, limit("long", BASE, 50 * PRICE, immediate_or_cancel=True), T0 + 4)
    assert r.status == "canceled"


def test_risk_increasing_fill_needs_initial_margin_and_is_undone(funded):
    sim, k = funded
    before = sim.account_bytes()
    # $10,000 of collateral, SOL-PERP initial margin 5%: $250,000 of notional is far too much
    with pytest.raises(InsufficientCollateralError):
        sim.place_order(k, perp("long", 2_500 * BASE), T0 + 1)
    assert sim.account_bytes() == before
    with pytest.raises(InsufficientCollateralError):
        sim.place_order(k, limit("long", 2_500 * BASE, 90 * PRICE), T0 + 2)
    assert sim.account_bytes() == before


def test_spot_buy_and_sell_through_usdc(funded):
    sim, k = funded
    # buy 5 SOL @ $100 (spot fee: spot_default tier 0, 10 bps): USDC -500 - 0.5
    f = sim.place_order(k, spot("long", 5 * 10**9), T0 + 1).fills[0]
    assert (f.quote_asset_amount, f.fee) == (500 * QUOTE, 500_000)
    assert sim.token_amount(k, "SOL") == 5 * 10**9
    assert sim.token_amount(k, "USDC") == 10_000 * QUOTE - 500_500_000
    sim.place_order(k, spot("short", 5 * 10**9), T0 + 2)
    assert sim.token_amount(k, "SOL") == 0
    assert sim.token_amount(k, "USDC") == 10_000 * QUOTE - 1_000_000
    assert sim.user(k).cumulative_spot_fees == -1_000_000
