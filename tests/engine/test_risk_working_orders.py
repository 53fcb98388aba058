"""Risk checks see the engine's working orders and the exposure they would add."""

from __future__ import annotations

from drift_engine.core.types import DriftMarginMetrics, MarketType, OrderIntent, PositionDirection
from drift_engine.risk import MaxLeverage, RiskLimits
from drift_engine.risk.checks import gross_exposure, holdings_with_orders
from drift_engine.strategies.base import OrderView, StrategySnapshot, VaultSnapshot
from tests.strategies.test_delta_neutral import POS, market

SOL = 10**9
USDC = 1_000_000


def snap(orders=()) -> StrategySnapshot:
    m = market([POS] * 24)  # SOL at $100
    return StrategySnapshot(
        ts=0,
        markets={"SOL-PERP": m},
        vault=VaultSnapshot("v", 10_000 * USDC, 10_000 * USDC),
        positions=(),
        margin=DriftMarginMetrics(0, 0, 0, 0, 0, 100, 0, 0, 0),
        orders=tuple(orders),
    )


def resting(size: int, filled: int = 0, reduce_only: bool = False) -> OrderView:
    return OrderView(
        1, MarketType.PERP, 0, PositionDirection.SHORT, size, filled, "open", reduce_only
    )


def test_working_orders_count_as_exposure_they_may_add():
    held = holdings_with_orders(snap([resting(100 * SOL, filled=40 * SOL)]))
    assert held == {(MarketType.PERP, 0): -60 * SOL}  # the unfilled rest may still fill
    assert gross_exposure(held, snap()) == 6_000 * USDC
    # reduce-only orders never add exposure
    assert holdings_with_orders(snap([resting(100 * SOL, reduce_only=True)])) == {}


def test_max_leverage_refuses_new_orders_on_top_of_open_ones():
    check = MaxLeverage(RiskLimits(max_leverage=1.0))
    new = [OrderIntent(0, MarketType.PERP, "short", 60 * SOL)]  # $6,000 on $10,000
    assert check.check(new, snap()) is None
    reason = check.check(new, snap([resting(60 * SOL)]))  # $6,000 already resting
    assert reason is not None and "working orders" in reason and "1.20x" in reason
