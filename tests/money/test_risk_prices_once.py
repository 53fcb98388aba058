"""The exposure checks build the snapshot's price table once per check (ADR 0020 point
47): `MaxOrderNotional` and `MaxLeverage` must answer exactly as the rules written with
the public per-call functions (`unpriced`, `notional`, `gross_exposure`, `apply_orders`,
`holdings_with_orders`, each rebuilding the table), for random markets (unknown, zero
and fallback prices), positions, working orders and orders, with one checker reused over
snapshots of different prices."""

from __future__ import annotations

from types import MappingProxyType

from hypothesis import given, settings
from hypothesis import strategies as st

from drift_engine.core.types import (
    DriftMarginMetrics,
    DriftPosition,
    MarketType,
    OrderIntent,
    PositionDirection,
)
from drift_engine.risk import RiskLimits
from drift_engine.risk.checks import (
    MaxLeverage,
    MaxOrderNotional,
    _no_price,
    apply_orders,
    gross_exposure,
    holdings_with_orders,
    notional,
    unpriced,
)
from drift_engine.strategies.base import MarketSnapshot, OrderView, StrategySnapshot, VaultSnapshot

PERP, SPOT = MarketType.PERP, MarketType.SPOT
SOL = 10**9
KEYS = [(PERP, 0), (PERP, 1), (PERP, 5), (SPOT, 0), (SPOT, 1), (SPOT, 2), (SPOT, 9)]


def reference_notional_check(check: MaxOrderNotional, orders, snap) -> str | None:
    for o in orders:
        if o.reduce_only:
            continue
        key = unpriced([(o.market_type, o.market_index)], snap)
        if key is not None:
            return _no_price(key, check.name)
        value = notional(o.market_type, o.market_index, o.base_asset_amount, snap)
        if value > check.limit:
            return (
                f"order notional {value / 1e6:,.2f} USDC on {o.market_type.value} "
                f"{o.market_index} exceeds max_order_notional {check.limit / 1e6:,.2f}"
            )
    return None


def reference_leverage_check(check: MaxLeverage, orders, snap) -> str | None:
    if all(o.reduce_only for o in orders):
        return None
    equity = snap.vault.equity
    if equity <= 0:
        return f"equity {equity} is not positive"
    held = holdings_with_orders(snap)
    adding = [(o.market_type, o.market_index) for o in orders if not o.reduce_only]
    key = unpriced([*adding, *(k for k, base in held.items() if base)], snap)
    if key is not None:
        return _no_price(key, check.name)
    after = gross_exposure(apply_orders(held, orders, snap), snap)
    before = gross_exposure(held, snap)
    leverage = after / equity
    if leverage > check.max_leverage and after > before:
        pending = " (with the working orders)" if snap.orders else ""
        return (
            f"leverage after orders{pending} {leverage:.2f}x exceeds max_leverage "
            f"{check.max_leverage}x"
        )
    return None


prices = st.sampled_from([0, 1, 99_999_999, 100_000_000, 150_123_456])
sizes = st.integers(-50 * SOL, 50 * SOL)


@st.composite
def snapshots(draw):
    markets = {}
    for perp_index, spot_index in ((0, 1), (1, draw(st.sampled_from([None, 2])))):
        if draw(st.booleans()) or perp_index == 0:
            markets[f"M{perp_index}"] = MarketSnapshot(
                symbol=f"M{perp_index}",
                perp_market_index=perp_index,
                oracle_price=draw(prices),
                spot_market_index=spot_index,
                spot_oracle_price=draw(prices),
                spot_decimals=draw(st.sampled_from([6, 9])),
            )
    positions = tuple(
        DriftPosition(market_index=k[1], market_type=k[0], base_asset_amount=b)
        for k, b in draw(st.dictionaries(st.sampled_from(KEYS), sizes, max_size=4)).items()
    )
    orders = tuple(
        OrderView(
            user_order_id=i + 1,
            market_type=k[0],
            market_index=k[1],
            direction=d,
            base_asset_amount=size,
            base_filled=draw(st.integers(0, size)),
            status="open",
            reduce_only=draw(st.booleans()),
        )
        for i, (k, d, size) in enumerate(
            draw(
                st.lists(
                    st.tuples(
                        st.sampled_from(KEYS),
                        st.sampled_from(list(PositionDirection)),
                        st.integers(1, 20 * SOL),
                    ),
                    max_size=3,
                )
            )
        )
    )
    equity = draw(st.sampled_from([-1, 0, 500 * 10**6, 10_000 * 10**6]))
    return StrategySnapshot(
        ts=0,
        markets=MappingProxyType(markets),
        vault=VaultSnapshot("v", equity=equity, balance=equity, high_water_mark=0),
        positions=positions,
        margin=DriftMarginMetrics(0, 0, 0, 0, 0, 100, 0, 0, 0),
        orders=orders,
    )


intents = st.builds(
    lambda k, d, size, ro: OrderIntent(k[1], k[0], d, size, reduce_only=ro),
    st.sampled_from(KEYS),
    st.sampled_from(list(PositionDirection)),
    st.integers(1, 30 * SOL),
    st.booleans(),
)


@settings(max_examples=400, deadline=None)
@given(
    snaps=st.lists(snapshots(), min_size=1, max_size=3),
    orders=st.lists(intents, min_size=1, max_size=3),
    max_notional=st.sampled_from([0.01, 500.0, 5_000.0]),
    max_leverage=st.sampled_from([0.5, 1.0, 3.0]),
)
def test_the_checks_answer_as_the_per_call_rules(snaps, orders, max_notional, max_leverage):
    limits = RiskLimits(max_order_notional_usdc=max_notional, max_leverage=max_leverage)
    by_notional, by_leverage = MaxOrderNotional(limits), MaxLeverage(limits)
    for snap in snaps:  # the same checkers over snapshots of other prices
        assert by_notional.check(orders, snap) == reference_notional_check(
            by_notional, orders, snap
        )
        assert by_leverage.check(orders, snap) == reference_leverage_check(
            by_leverage, orders, snap
        )


def _one_market(price: int) -> StrategySnapshot:
    m = MarketSnapshot(
        symbol="M0",
        perp_market_index=0,
        oracle_price=price,
        spot_market_index=1,
        spot_oracle_price=price,
        spot_decimals=9,
    )
    return StrategySnapshot(
        ts=0,
        markets=MappingProxyType({"M0": m}),
        vault=VaultSnapshot("v", equity=10**9, balance=10**9, high_water_mark=0),
        positions=(),
        margin=DriftMarginMetrics(0, 0, 0, 0, 0, 100, 0, 0, 0),
        orders=(),
    )


def test_a_price_of_one_micro_usdc_is_a_price_and_zero_is_none():
    order = [OrderIntent(1, SPOT, PositionDirection.LONG, 3 * SOL)]
    limits = RiskLimits(max_order_notional_usdc=1.0, max_leverage=1.0)
    priced, unpriced_snap = _one_market(1), _one_market(0)
    assert unpriced([(SPOT, 1), (PERP, 0)], priced) is None
    assert unpriced([(PERP, 0), (SPOT, 1)], unpriced_snap) == (PERP, 0)
    # 3 SOL at 1e-6 USDC: 3 micro-USDC, within both limits
    assert MaxOrderNotional(limits).check(order, priced) is None
    assert MaxLeverage(limits).check(order, priced) is None
    refused = "no oracle price for spot 1 in the snapshot: cannot check "
    assert MaxOrderNotional(limits).check(order, unpriced_snap) == refused + "max_order_notional"
    assert MaxLeverage(limits).check(order, unpriced_snap) == refused + "max_leverage"
