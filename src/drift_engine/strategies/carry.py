"""What the two carry strategies (`delta_neutral`, `funding_spread`) share.

Both hold a two-legged carry that is entered, held while its carry stays above
`exit_apr` for no longer than `exit_window_hours` below it, and left; both retry an
action only after `retry_after_s`, and count the same events. So the state fields of
that cycle, the rules that move them and the counters live here once.

Persisted state keeps its JSON: `CarryState`'s fields come first, in this order, and a
subclass narrows `side` to its own sides in place (pydantic keeps an overridden field
where the base declared it), then adds its own fields after them.

The configs are not shared: the same names carry different defaults, bounds and
descriptions per strategy (and their fields' order is their persisted order).
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from drift_engine.strategies.base import (
    DriftStrategy,
    FillEvent,
    FundingEvent,
    StrategyConfig,
    StrategyState,
)


class CarryThresholds(Protocol):
    """The config fields the shared carry rules read."""

    entry_apr: float
    exit_apr: float
    exit_window_hours: int
    retry_after_s: int


class CarryState(StrategyState):
    """The state of the enter / hold / exit cycle (a subclass narrows `side`)."""

    side: str = "flat"
    below_exit_since: int | None = None
    entered_at: int | None = None
    last_action_ts: int | None = None
    last_action: str = ""
    entries: int = 0
    exits: int = 0
    rebalances: int = 0
    fills: int = 0
    funding_earned: int = 0  # micro-USDC
    fees_paid: int = 0  # micro-USDC


C = TypeVar("C", bound=StrategyConfig)
S = TypeVar("S", bound=CarryState)


def check_thresholds(cfg: CarryThresholds) -> None:
    """A config whose exit threshold is above its entry threshold would enter and
    leave at once: refused."""
    if cfg.exit_apr > cfg.entry_apr:
        raise ValueError("exit_apr must not exceed entry_apr")


class CarryStrategy(DriftStrategy[C, S]):
    """The rules of the carry cycle both carry strategies follow on their state."""

    def _can_act(self, ts: int) -> bool:
        last = self.state.last_action_ts
        return last is None or ts - last >= self.config.retry_after_s

    def _mark(self, ts: int, what: str) -> None:
        self.state.last_action_ts = ts
        self.state.last_action = what

    def _entered(self, ts: int, side: str) -> None:
        """An entry on `side` was sent at `ts`."""
        st = self.state
        st.side = side
        st.entered_at = ts
        st.below_exit_since = None
        st.entries += 1
        self._mark(ts, f"enter {side}")

    def _exit_due(self, carry: float | None, ts: int) -> bool:
        """Whether the carry has stayed below `exit_apr` for `exit_window_hours`; starts
        the window when it first goes below, ends it when it is back (unknown: kept)."""
        st, cfg = self.state, self.config
        if carry is not None and carry < cfg.exit_apr:
            if st.below_exit_since is None:
                st.below_exit_since = ts
            return ts - st.below_exit_since >= cfg.exit_window_hours * 3600
        if st.below_exit_since is not None:
            st.below_exit_since = None
        return False

    def _exited(self, ts: int, reason: str) -> None:
        """An exit for `reason` was sent at `ts`: flat again."""
        st = self.state
        st.side = "flat"
        st.entered_at = None
        st.below_exit_since = None
        st.exits += 1
        self._mark(ts, f"exit: {reason}")

    def on_fill(self, fill: FillEvent) -> None:
        self.state.fills += 1
        self.state.fees_paid += fill.fee

    def on_funding(self, payment: FundingEvent) -> None:
        self.state.funding_earned += payment.amount


__all__ = ["CarryState", "CarryStrategy", "CarryThresholds", "check_thresholds"]
