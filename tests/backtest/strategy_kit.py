"""The small strategies the backtest equality tests run (tests/backtest/flag_scenarios.py
names the runs): `Hold` opens one position and holds it (funding hours pass quietly),
`Carry` goes in and out on a `FundingOutside` band, `LeveragedLong` buys once and may
close below a health (wakes every tick until it has entered)."""

from __future__ import annotations

import math
from typing import ClassVar

from drift_engine.core.types import MarketType, OrderIntent, PositionDirection
from drift_engine.strategies.base import (
    DriftStrategy,
    PlaceOrders,
    StrategyConfig,
    StrategySnapshot,
    StrategyState,
)
from drift_engine.strategies.wake import EVERY_TICK, FundingOutside, HealthBelow, NextFunding


class LongConfig(StrategyConfig):
    market: str = "SOL-PERP"
    leverage: float = 5.0
    exit_health: int = 0


class LongState(StrategyState):
    entered: bool = False
    exited: bool = False


class LeveragedLong(DriftStrategy[LongConfig, LongState]):
    """Buys `leverage` x equity of the perp once, closes below `exit_health` (if set)."""

    name: ClassVar[str] = "leveraged-long"
    config_model = LongConfig
    state_model = LongState

    def markets(self) -> list[str]:
        return [self.config.market]

    def _base(self, snap: StrategySnapshot) -> int:
        m = snap.market(self.config.market)
        return snap.base(MarketType.PERP, m.perp_market_index)

    def on_tick(self, snap: StrategySnapshot) -> list:
        cfg, st_ = self.config, self.state
        m = snap.market(cfg.market)
        if not st_.entered:
            st_.entered = True
            base = int(snap.vault.equity * cfg.leverage) * 10**9 // m.oracle_price
            base -= base % m.perp_step_size
            order = OrderIntent(m.perp_market_index, MarketType.PERP, PositionDirection.LONG, base)
            return [PlaceOrders((order,), reason="enter")]
        base = self._base(snap)
        if cfg.exit_health and not st_.exited and base and snap.margin.health < cfg.exit_health:
            st_.exited = True
            short = PositionDirection.SHORT
            order = OrderIntent(m.perp_market_index, MarketType.PERP, short, base, reduce_only=True)
            return [PlaceOrders((order,), reason="exit")]
        return []

    def wake_conditions(self, snap: StrategySnapshot) -> tuple:
        if not self.state.entered:
            return EVERY_TICK
        out = [NextFunding(self.config.market)]
        if self.config.exit_health and not self.state.exited and self._base(snap):
            out.append(HealthBelow(self.config.exit_health))
        return tuple(out)


class HoldConfig(StrategyConfig):
    market: str = "SOL-PERP"
    leverage: float = 1.0
    short: bool = True


class HoldState(StrategyState):
    entered: bool = False
    funding: int = 0


class Hold(DriftStrategy[HoldConfig, HoldState]):
    """Opens one position of `leverage` x equity on the first bar and holds it; nothing
    but a fill wakes it (funding is booked at quiet hours, `on_funding` counts it)."""

    name: ClassVar[str] = "hold"
    config_model = HoldConfig
    state_model = HoldState

    def markets(self) -> list[str]:
        return [self.config.market]

    def on_tick(self, snap: StrategySnapshot) -> list:
        if self.state.entered:
            return []
        self.state.entered = True
        m = snap.market(self.config.market)
        base = int(snap.vault.equity * self.config.leverage) * 10**9 // m.oracle_price
        base -= base % m.perp_step_size
        side = PositionDirection.SHORT if self.config.short else PositionDirection.LONG
        return [PlaceOrders((OrderIntent(m.perp_market_index, MarketType.PERP, side, base),), "in")]

    def on_funding(self, payment) -> None:
        self.state.funding += payment.amount

    def wake_conditions(self, snap: StrategySnapshot) -> tuple:
        return () if self.state.entered else EVERY_TICK


class CarryConfig(StrategyConfig):
    market: str = "SOL-PERP"
    entry_rate: float = 0.00001  # hourly fraction: short when the rate is above it
    exit_rate: float = 0.0  # leave below it


class CarryState(StrategyState):
    short: bool = False


class Carry(DriftStrategy[CarryConfig, CarryState]):
    """Shorts 1x when the hourly funding rate rises above `entry_rate`, closes when it
    falls below `exit_rate`; wakes only when a funding rate leaves its band."""

    name: ClassVar[str] = "carry"
    config_model = CarryConfig
    state_model = CarryState

    def markets(self) -> list[str]:
        return [self.config.market]

    def on_tick(self, snap: StrategySnapshot) -> list:
        cfg, st_ = self.config, self.state
        m = snap.market(cfg.market)
        base = snap.base(MarketType.PERP, m.perp_market_index)
        if not st_.short and m.last_funding_ts and m.funding_rate > cfg.entry_rate:
            st_.short = True
            size = snap.vault.equity * 10**9 // m.oracle_price
            size -= size % m.perp_step_size
            short = PositionDirection.SHORT
            intent = OrderIntent(m.perp_market_index, MarketType.PERP, short, size)
            return [PlaceOrders((intent,), "in")]
        if st_.short and m.funding_rate < cfg.exit_rate and base:
            st_.short = False
            buy = PositionDirection.LONG
            intent = OrderIntent(m.perp_market_index, MarketType.PERP, buy, -base, reduce_only=True)
            return [PlaceOrders((intent,), "out")]
        return []

    def wake_conditions(self, snap: StrategySnapshot) -> tuple:
        cfg = self.config
        if self.state.short:
            return (FundingOutside(cfg.market, cfg.exit_rate, math.inf),)
        return (FundingOutside(cfg.market, -math.inf, cfg.entry_rate),)
