"""A strategy as a user writes it, outside the package: tests copy this file into a
temporary directory and name it as `path/to/file.py:Class`.

Short `market` while its funding APR exceeds `entry_apr`. With `fail_above` set, on_tick
raises once the vault's equity is known and the threshold is above it: a strategy bug
the sweep must report for that configuration only.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from drift_engine.core.types import MarketType, OrderIntent, PositionDirection
from drift_engine.strategies import (
    DriftStrategy,
    PlaceOrders,
    StrategyConfig,
    StrategySnapshot,
    StrategyState,
)


class ShortFundingConfig(StrategyConfig):
    market: str = Field("SOL-PERP", pattern=r"^[A-Z0-9]+-PERP$")
    entry_apr: float = Field(0.05, description="Short when funding APR exceeds this")
    lookback_hours: int = Field(6, ge=1, le=168)
    leverage: float = Field(0.5, gt=0, le=2)
    fail_above: float | None = Field(None, description="Raise when entry_apr exceeds this")


class ShortFundingState(StrategyState):
    entries: int = 0


class ShortFunding(DriftStrategy[ShortFundingConfig, ShortFundingState]):
    name: ClassVar[str] = "short-funding"
    config_model = ShortFundingConfig
    state_model = ShortFundingState

    def markets(self) -> list[str]:
        return [self.config.market]

    def on_tick(self, snapshot: StrategySnapshot):
        cfg = self.config
        if cfg.fail_above is not None and cfg.entry_apr > cfg.fail_above:
            raise RuntimeError(f"entry_apr {cfg.entry_apr} is above {cfg.fail_above}")
        m = snapshot.markets[cfg.market]
        apr = m.funding_apr_over(cfg.lookback_hours)
        base = snapshot.base(MarketType.PERP, m.perp_market_index)
        if apr is None or base != 0 or apr <= cfg.entry_apr or m.oracle_price <= 0:
            return []
        size = int(snapshot.vault.equity * cfg.leverage) * 10**9 // m.oracle_price
        size -= size % m.perp_step_size
        self.state.entries += 1
        order = OrderIntent(
            market_index=m.perp_market_index,
            market_type=MarketType.PERP,
            direction=PositionDirection.SHORT,
            base_asset_amount=size,
        )
        return [PlaceOrders((order,), reason="short funding")]
