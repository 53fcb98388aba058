"""DeltaNeutralStrategy as a pure function of snapshots (no venue, no clock)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from drift_engine.core.types import DriftMarginMetrics, DriftPosition, MarketType, PositionDirection
from drift_engine.strategies import (
    DeltaNeutralConfig,
    DeltaNeutralStrategy,
    MarketSnapshot,
    PlaceOrders,
    StrategySnapshot,
    VaultSnapshot,
    strategy_class,
)

H = 3600
USDC = 1_000_000


def margin(health: int = 100) -> DriftMarginMetrics:
    return DriftMarginMetrics(0, 0, 0, 0, 0, health, 0, 0, 0)


def market(rates: list[float], price: int = 100 * USDC) -> MarketSnapshot:
    hist = tuple((i * H, r) for i, r in enumerate(rates))
    return MarketSnapshot(
        symbol="SOL-PERP",
        perp_market_index=0,
        oracle_price=price,
        spot_market_index=1,
        spot_oracle_price=price,
        spot_decimals=9,
        perp_step_size=10_000_000,
        perp_min_order_size=10_000_000,
        spot_step_size=10_000_000,
        spot_min_order_size=10_000_000,
        funding_history=hist,
        spot_borrow_apr=0.05,
    )


def snap(ts, m, spot=0, perp=0, equity=10_000 * USDC, health=100) -> StrategySnapshot:
    positions = []
    if spot:
        positions.append(DriftPosition(1, MarketType.SPOT, spot))
    if perp:
        positions.append(DriftPosition(0, MarketType.PERP, perp))
    return StrategySnapshot(
        ts=ts,
        markets={"SOL-PERP": m},
        vault=VaultSnapshot("v", equity, equity),
        positions=tuple(positions),
        margin=margin(health),
    )


def places(actions):
    """The order actions (settle_pnl actions apart)."""
    return [a for a in actions if isinstance(a, PlaceOrders)]


POS = 0.10 / 8760  # 10% APR hourly
NEG = -0.30 / 8760


def test_enters_long_carry_with_both_legs_in_one_action():
    s = DeltaNeutralStrategy({"entry_apr": 0.05, "lookback_hours": 24})
    assert s.on_tick(snap(0, market([POS] * 23))) == []  # not enough history yet
    (action,) = s.on_tick(snap(24 * H, market([POS] * 24)))
    assert isinstance(action, PlaceOrders) and len(action.orders) == 2
    spot, perp = action.orders
    assert (spot.market_type, spot.direction) == (MarketType.SPOT, PositionDirection.LONG)
    assert (perp.market_type, perp.direction) == (MarketType.PERP, PositionDirection.SHORT)
    # 0.9 x 10,000 USDC at $100 = 90 SOL on each leg
    assert spot.base_asset_amount == perp.base_asset_amount == 90 * 10**9
    assert s.state.side == "long_carry" and s.state.entries == 1


def test_stays_out_when_funding_negative_and_no_borrow():
    s = DeltaNeutralStrategy({})
    assert s.on_tick(snap(24 * H, market([NEG] * 24))) == []
    assert s.state.side == "flat"


def test_reverse_carry_only_when_borrow_allowed_and_carry_beats_borrow():
    s = DeltaNeutralStrategy({"allow_borrow": True})
    (action,) = s.on_tick(snap(24 * H, market([NEG] * 24)))
    spot, perp = action.orders
    assert spot.direction is PositionDirection.SHORT and perp.direction is PositionDirection.LONG
    # -4% APR funding does not pay a 5% borrow rate
    s2 = DeltaNeutralStrategy({"allow_borrow": True})
    assert s2.on_tick(snap(24 * H, market([-0.04 / 8760] * 24))) == []


def test_exits_only_after_exit_window():
    s = DeltaNeutralStrategy({"exit_window_hours": 12})
    s.on_tick(snap(24 * H, market([POS] * 24)))
    held = dict(spot=90 * 10**9, perp=-90 * 10**9)
    neg = market([POS] * 24 + [NEG] * 24)
    assert places(s.on_tick(snap(30 * H, neg, **held))) == []
    assert s.state.below_exit_since == 30 * H
    assert places(s.on_tick(snap(41 * H, neg, **held))) == []
    (action,) = places(s.on_tick(snap(42 * H, neg, **held)))
    assert all(o.reduce_only for o in action.orders)
    assert {(o.market_type, o.direction) for o in action.orders} == {
        (MarketType.SPOT, PositionDirection.SHORT),
        (MarketType.PERP, PositionDirection.LONG),
    }
    assert s.state.side == "flat" and s.state.exits == 1


def test_carry_recovering_resets_exit_window():
    s = DeltaNeutralStrategy({"exit_window_hours": 12})
    s.on_tick(snap(24 * H, market([POS] * 24)))
    held = dict(spot=90 * 10**9, perp=-90 * 10**9)
    s.on_tick(snap(30 * H, market([NEG] * 24), **held))
    s.on_tick(snap(35 * H, market([POS] * 24), **held))
    assert s.state.below_exit_since is None


def test_health_below_floor_exits():
    s = DeltaNeutralStrategy({"min_health": 30})
    s.on_tick(snap(24 * H, market([POS] * 24)))
    (action,) = s.on_tick(snap(25 * H, market([POS] * 24), 90 * 10**9, -90 * 10**9, health=10))
    assert action.reduce_only and "health" in action.reason


def test_rebalance_outside_band_only():
    s = DeltaNeutralStrategy({"rebalance_band": 0.05, "retry_after_s": 0})
    s.on_tick(snap(24 * H, market([POS] * 24)))
    m = market([POS] * 24)
    assert s.on_tick(snap(25 * H, m, 90 * 10**9, -88 * 10**9)) == []  # 2.2% < 5%
    (action,) = s.on_tick(snap(26 * H, m, 90 * 10**9, -80 * 10**9))
    (order,) = action.orders
    assert order.direction is PositionDirection.SHORT and order.base_asset_amount == 10 * 10**9


def test_state_round_trips_through_json():
    s = DeltaNeutralStrategy({})
    s.on_tick(snap(24 * H, market([POS] * 24)))
    dumped = s.dump_state()
    json.loads(dumped)
    s2 = DeltaNeutralStrategy({})
    s2.load_state(dumped)
    assert s2.state == s.state


def test_config_is_validated_and_frozen():
    with pytest.raises(ValidationError, match="target_leverag"):
        DeltaNeutralConfig(target_leverag=2)  # unknown key
    with pytest.raises(ValidationError, match="target_leverage"):
        DeltaNeutralConfig(target_leverage=-1)
    with pytest.raises(ValidationError, match="exit_apr"):
        DeltaNeutralConfig(entry_apr=0.01, exit_apr=0.02)
    cfg = DeltaNeutralConfig()
    with pytest.raises(ValidationError):
        cfg.entry_apr = 1.0  # type: ignore[misc]
    assert strategy_class("delta-neutral") is DeltaNeutralStrategy
