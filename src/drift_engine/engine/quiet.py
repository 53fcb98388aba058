"""When an engine next needs a step: the promise behind fast backtest stepping (ADR-0020).

After an engine's step, `quiet_after_step` says what must hold for every following bar
to be a step that changes nothing but the engine's bookkeeping (step count, last tick
time, high-water mark), or None when the next bar must be stepped:

- the engine is RUNNING, its last step took no action (no order, rejection, transition
  or log line) and it has no resting, working or unknown-outcome order;
- its risk checks are the built-in ones (`MaxDrawdown`, `HealthFloor`, `HealthHalt`;
  order checks run only on actions), so their triggers are known: health floors and a
  drawdown limit;
- its strategy declares its wake conditions (strategies/wake.py) and none is
  `EveryTick`: `AtTime` becomes a time, `PriceOutside` a price band, `HealthBelow` a
  health floor; `NextFunding` needs nothing here (every non-price event wakes all
  engines);
- its venue is a paper sub-account: the simulator gives the price bands inside which
  neither liquidation nor any health floor can be reached (`sim.quiet.quiet_bands`) and
  the exact equity terms (`sim.quiet.EquityLegs`) from which the heartbeat recomputes
  the high-water mark over the skipped bars and finds a drawdown halt to the bar;
- the engine record is saved on time: the next `persist_every_s` is a time too.

The heartbeat then scans the price arrays for the first bar that leaves a band or
reaches a time, applies the skipped bars' last prices and steps that bar for real.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from drift_engine.core.types import MarketType
from drift_engine.risk.checks import HealthFloor, HealthHalt, MaxDrawdown
from drift_engine.strategies.wake import (
    AtTime,
    EveryTick,
    HealthBelow,
    NextFunding,
    PriceOutside,
)

if TYPE_CHECKING:
    from drift_engine.engine.engine import DriftEngine

MarketKey = tuple[MarketType, int]


@dataclass
class Quiet:
    """What keeps an engine quiet: wake at the first tick at or after `until`, or at the
    first price outside its market's band; `legs`/`max_drawdown` drive the high-water
    mark and the drawdown halt over the skipped bars."""

    until: int | None = None
    bands: dict[MarketKey, tuple[int, int]] = field(default_factory=dict)
    legs: Any = None  # sim.quiet.EquityLegs
    max_drawdown: float | None = None

    def wake_at(self, ts: int) -> None:
        if self.until is None or ts < self.until:
            self.until = ts

    def band(self, key: MarketKey, low: int, high: int) -> None:
        lo, hi = self.bands.get(key, (low, high))
        self.bands[key] = (max(lo, low), min(hi, high))


def quiet_after_step(engine: DriftEngine) -> Quiet | None:
    """See the module docstring. Called right after `engine.step(ts)`."""
    from drift_engine.engine.engine import EngineState
    from drift_engine.sim.quiet import equity_legs, quiet_bands

    snap = engine._last_snap
    if (
        engine.state is not EngineState.RUNNING
        or engine._acted
        or snap is None
        or snap.ts != engine.last_ts
    ):
        return None
    venue = engine.venue
    sim = getattr(venue, "sim", None)
    if sim is None or not hasattr(venue, "key") or venue.open_orders():
        return None
    if getattr(snap, "orders", ()) or getattr(engine.orders, "blocked", False):
        return None  # orders working or of unknown outcome: their events decide
    q = Quiet()
    floors: list[int] = []
    for check in engine.risk.checks:
        if not hasattr(check, "assess"):
            continue
        if type(check) is MaxDrawdown:
            q.max_drawdown = check.max_drawdown
        elif type(check) is HealthFloor:
            floors.append(check.floor)
        elif type(check) is HealthHalt:
            if check.halt_health:  # a floor too (only while exposed: conservative)
                floors.append(check.halt_health)
        else:
            return None  # a plug-in whose trigger we do not know
    for c in engine.strategy.wake_conditions(snap):
        if isinstance(c, EveryTick):
            return None
        if isinstance(c, AtTime):
            q.wake_at(c.ts)
        elif isinstance(c, HealthBelow):
            floors.append(c.health)
        elif isinstance(c, PriceOutside):
            m = snap.markets.get(c.market)
            if m is None:
                return None
            q.band((MarketType.PERP, m.perp_market_index), c.low, c.high)
        elif not isinstance(c, NextFunding):
            return None
    bands = quiet_bands(sim, venue.key, floors)
    if bands is None:
        return None
    for key, (lo, hi) in bands.items():
        q.band(key, lo, hi)
    q.legs = equity_legs(sim, venue.key)  # the high-water mark follows every bar
    if q.legs is None:
        return None
    q.wake_at(engine._saved_ts + engine.persist_every_s)
    return q


__all__ = ["Quiet", "quiet_after_step"]
