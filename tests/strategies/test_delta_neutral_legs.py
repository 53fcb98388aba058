"""DeltaNeutralStrategy when its two legs do not fill together, and with open orders:
it never acts on top of working orders, hedges a residual for `hedge_timeout_s`, then
unwinds it, never re-sends the whole entry, and reports the unhedged exposure."""

from __future__ import annotations

from drift_engine.core.types import MarketType, PositionDirection
from drift_engine.strategies import DeltaNeutralStrategy, PlaceOrders
from drift_engine.strategies.base import OrderRejected, OrderView, SettlePnl, StrategySnapshot
from tests.strategies.test_delta_neutral import POS, market, snap

H = 3600
SOL = 10**9


def entered(**cfg) -> DeltaNeutralStrategy:
    s = DeltaNeutralStrategy({"retry_after_s": 0, "hedge_timeout_s": 600, **cfg})
    (action,) = s.on_tick(snap(24 * H, market([POS] * 24)))
    assert s.state.side == "long_carry" and len(action.orders) == 2
    return s


def with_orders(base: StrategySnapshot, *orders: OrderView) -> StrategySnapshot:
    return StrategySnapshot(
        base.ts, base.markets, base.vault, base.positions, base.margin, orders=orders
    )


def working(market_type=MarketType.PERP, index=0, status="open") -> OrderView:
    return OrderView(7, market_type, index, PositionDirection.SHORT, 90 * SOL, 0, status)


def places(actions):
    return [a for a in actions if isinstance(a, PlaceOrders)]


def test_never_acts_while_its_orders_are_working():
    s = entered()
    m = market([POS] * 24)
    # the spot leg filled, the perp leg still rests in its auction (or its outcome is
    # unknown): no hedge, no exit, no second entry on top of it
    for status in ("open", "inflight", "unknown", "partially_filled"):
        tick = with_orders(snap(24 * H + 60, m, spot=90 * SOL), working(status=status))
        assert places(s.on_tick(tick)) == []
    assert s.state.entries == 1


def test_a_residual_is_hedged_with_the_lagging_leg_within_the_timeout():
    s = entered()
    m = market([POS] * 24)
    t = 24 * H + 120
    # the perp leg expired unfilled: 90 SOL spot, no perp -> sell 90 SOL-PERP (hedge)
    (action,) = places(s.on_tick(snap(t, m, spot=90 * SOL)))
    (order,) = action.orders
    assert (order.market_type, order.direction) == (MarketType.PERP, PositionDirection.SHORT)
    assert order.base_asset_amount == 90 * SOL and not order.reduce_only
    assert "hedge" in action.reason and s.state.residual_action == "hedge"
    exposure = s.unhedged(snap(t, m, spot=90 * SOL))
    assert exposure.base == 90 * SOL and exposure.notional == 9_000_000_000
    assert exposure.since == t and exposure.action == "hedge"
    # the hedge filled: no residual, nothing reported
    assert places(s.on_tick(snap(t + 60, m, spot=90 * SOL, perp=-90 * SOL))) == []
    assert s.unhedged(snap(t + 60, m, spot=90 * SOL, perp=-90 * SOL)) is None
    assert s.state.residual_since is None


def test_a_residual_not_hedged_in_time_is_unwound_never_doubled():
    s = entered()
    m = market([POS] * 24)
    t = 24 * H + 120
    s.on_tick(snap(t, m, spot=90 * SOL))  # hedge attempt (which then expires)
    (action,) = places(s.on_tick(snap(t + 601, m, spot=90 * SOL)))
    (order,) = action.orders
    # unwind: sell the spot that has no hedge, reduce-only
    assert (order.market_type, order.direction) == (MarketType.SPOT, PositionDirection.SHORT)
    assert order.reduce_only and order.base_asset_amount == 90 * SOL
    assert s.state.residual_action == "unwind" and s.state.unwinds == 1
    assert s.state.entries == 1  # the entry was never re-sent


def test_a_partly_filled_perp_leg_is_completed_by_the_hedge():
    s = entered()
    m = market([POS] * 24)
    (action,) = places(s.on_tick(snap(24 * H + 60, m, spot=90 * SOL, perp=-50 * SOL)))
    (order,) = action.orders
    assert order.market_type is MarketType.PERP and order.base_asset_amount == 40 * SOL


def test_a_missing_spot_leg_is_bought_as_the_hedge_then_the_perp_unwound():
    s = entered()
    m = market([POS] * 24)
    (hedge,) = places(s.on_tick(snap(24 * H + 60, m, perp=-90 * SOL)))
    assert hedge.orders[0].market_type is MarketType.SPOT
    assert hedge.orders[0].direction is PositionDirection.LONG
    (unwind,) = places(s.on_tick(snap(24 * H + 60 + 601, m, perp=-90 * SOL)))
    (order,) = unwind.orders
    assert order.market_type is MarketType.PERP and order.direction is PositionDirection.LONG
    assert order.reduce_only


def test_an_entry_that_never_filled_goes_back_to_flat_and_may_enter_again():
    s = entered()
    m = market([POS] * 24)
    assert places(s.on_tick(snap(24 * H + 60, m))) == []  # both legs expired
    assert s.state.side == "flat"
    (again,) = places(s.on_tick(snap(24 * H + 120, m)))
    assert len(again.orders) == 2 and s.state.entries == 2


def test_a_rejected_entry_puts_the_strategy_back_to_flat():
    s = DeltaNeutralStrategy({"retry_after_s": 0})
    (entry,) = s.on_tick(snap(24 * H, market([POS] * 24)))
    s.on_rejected(OrderRejected(24 * H, "InsufficientCollateral", entry.orders, (1, 2)))
    assert s.state.side == "flat" and s.state.rejections == 1


def test_settles_pnl_every_period_while_holding_the_perp_leg():
    s = entered(settle_every_s=H)
    m = market([POS] * 24)
    held = dict(spot=90 * SOL, perp=-90 * SOL)
    assert s.on_tick(snap(25 * H, m, **held)) == []  # the period starts
    (settle,) = s.on_tick(snap(26 * H, m, **held))
    assert isinstance(settle, SettlePnl) and settle.market_index == 0
    assert s.on_tick(snap(26 * H + 60, m, **held)) == []
    # settling is allowed while orders work (it places nothing)
    tick = with_orders(snap(27 * H, m, **held), working())
    assert [type(a) for a in s.on_tick(tick)] == [SettlePnl]
