"""Risk limits the engine applies to every strategy (plug-in style)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from drift_engine.core.types import OrderIntent
from drift_engine.risk.checks import (
    Deleverage,
    Directive,
    Halt,
    HealthFloor,
    HealthHalt,
    MaxDrawdown,
    MaxLeverage,
    MaxOrderNotional,
    RiskCheck,
    reduce_orders,
)
from drift_engine.risk.limits import RiskLimits
from drift_engine.risk.oracle import OracleGuard
from drift_engine.strategies.base import StrategySnapshot


@dataclass(frozen=True, slots=True)
class Rejection:
    check: str
    reason: str


class RiskManager:
    """Runs plug-ins: `assess` at each tick (halt beats deleverage), `check` per action."""

    def __init__(self, limits: RiskLimits | None = None, checks: Sequence[object] | None = None):
        self.limits = limits or RiskLimits()
        if checks is None:
            checks = [
                MaxDrawdown(self.limits),
                HealthHalt(self.limits),
                HealthFloor(self.limits),
                MaxOrderNotional(self.limits),
                MaxLeverage(self.limits),
                OracleGuard(),
            ]
        self.checks = list(checks)

    def assess(self, snap: StrategySnapshot) -> Directive | None:
        found: Directive | None = None
        for c in self.checks:
            assess = getattr(c, "assess", None)
            if assess is None:
                continue
            d = assess(snap)
            if isinstance(d, Halt):
                return d
            if d is not None and found is None:
                found = d
        return found

    def check(self, orders: Sequence[OrderIntent], snap: StrategySnapshot) -> Rejection | None:
        for c in self.checks:
            check = getattr(c, "check", None)
            if check is None:
                continue
            reason = check(orders, snap)
            if reason:
                return Rejection(getattr(c, "name", type(c).__name__), reason)
        return None

    def recovered(self, snap: StrategySnapshot) -> bool:
        """True once health is back at the target (leave REDUCING)."""
        return snap.margin.health >= self.limits.target_health


__all__ = [
    "Deleverage",
    "Directive",
    "Halt",
    "HealthFloor",
    "HealthHalt",
    "MaxDrawdown",
    "MaxLeverage",
    "MaxOrderNotional",
    "OracleGuard",
    "Rejection",
    "RiskCheck",
    "RiskLimits",
    "RiskManager",
    "reduce_orders",
]
