"""Risk limits: a validated, frozen config shared by the risk plug-ins."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RiskLimits(BaseModel):
    """Limits the engine enforces on every strategy, whatever the strategy thinks.

    - `health_floor`: below this health (0-100) the engine enters REDUCING and sends
      reduce-only orders until health is back at `target_health`.
    - `max_leverage`: opening orders that would take leverage (gross notional / equity)
      above this are rejected.
    - `max_drawdown`: equity this far (fraction) below its high-water mark halts the
      engine and flattens it (kill switch).
    - `max_order_notional_usdc`: any opening order worth more is rejected.
    - `halt_health`: below this health the engine halts and flattens (kill switch): the
      hard floor under `health_floor`, for when reducing did not save it; 0 (default): off.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    health_floor: int = Field(25, ge=0, le=100)
    target_health: int = Field(50, ge=0, le=100)
    max_leverage: float = Field(3.0, gt=0, le=20)
    max_drawdown: float = Field(0.25, gt=0, le=1)
    max_order_notional_usdc: float = Field(1_000_000.0, gt=0)
    halt_health: int = Field(0, ge=0, le=100)

    @model_validator(mode="after")
    def _order(self) -> RiskLimits:
        if self.target_health <= self.health_floor:
            raise ValueError("target_health must be above health_floor")
        if self.halt_health and self.halt_health >= self.health_floor:
            raise ValueError("halt_health must be below health_floor (or 0: off)")
        return self

    @property
    def max_order_notional(self) -> int:
        return int(self.max_order_notional_usdc * 1_000_000)
