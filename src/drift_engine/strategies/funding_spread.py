"""Funding spread across two perp markets, perps only, in one Drift sub-account.

When one perp pays much more funding than another, short the one that pays more and
long the one that pays less, with equal notional: the short leg collects the higher
rate, the long leg pays the lower one, and the carry is the *spread* of the two rates.
Unlike the delta-neutral carry (spot against perp of one asset, price-flat), this holds
two perps of different assets: it is flat in dollar notional but exposed to the
relative price of the two assets, and it needs no spot leg, no borrowing and no spot
interest. Both legs use the perps' cross margin in one sub-account.

- spread = funding APR of `market` - funding APR of `other_market`, each the mean of the
  last `lookback_hours` hourly records, annualised;
- enter when |spread| > `entry_apr`: spread > 0 -> short `market`, long `other_market`
  ("short_a"); spread < 0 -> the reverse ("long_a"); each leg's notional is
  `target_leverage` x vault equity, both legs in one `PlaceOrders` (one `place_orders`
  instruction on Drift);
- exit when the carry in the held direction stays below `exit_apr` for
  `exit_window_hours`, or margin health falls below `min_health`;
- rebalance the `other_market` leg when the legs' notionals drift apart by more than
  `rebalance_band` of their mean (prices move apart), so the book stays dollar-neutral.

It declares its wake conditions (strategies/wake.py): the next funding record of
either market, the price bands inside which no rebalance is due, the health floor, and
the times at which a retry or a time-based exit becomes due.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from drift_engine.core.steps import round_down_to_step
from drift_engine.core.types import MarketType, OrderIntent, PositionDirection
from drift_engine.strategies.base import (
    Action,
    MarketSnapshot,
    PlaceOrders,
    StrategyConfig,
    StrategySnapshot,
)
from drift_engine.strategies.carry import CarryState, CarryStrategy, check_thresholds
from drift_engine.strategies.wake import (
    EVERY_TICK,
    AtTime,
    HealthBelow,
    NextFunding,
    PriceOutside,
    WakeCondition,
)

BASE_PRECISION = 10**9

Side = Literal["flat", "short_a", "long_a"]

#: Fraction of the exact no-rebalance price band that `wake_conditions` declares (the
#: band is computed in floats; integer notionals may differ by a unit).
BAND_SAFETY = 0.999


class FundingSpreadConfig(StrategyConfig):
    market: str = Field("SOL-PERP", pattern=r"^[A-Z0-9]+-PERP$", description="Perp leg A")
    other_market: str = Field("BTC-PERP", pattern=r"^[A-Z0-9]+-PERP$", description="Perp leg B")
    sub_account_id: int = Field(0, ge=0, le=65535)
    entry_apr: float = Field(0.10, ge=0, description="Enter when |funding APR spread| exceeds")
    exit_apr: float = Field(0.02, description="Exit when the carry stays below this ...")
    exit_window_hours: int = Field(12, ge=0, le=24 * 90, description="... for this long")
    lookback_hours: int = Field(24, ge=1, le=168, description="Funding APR lookback")
    target_leverage: float = Field(0.5, gt=0, le=3, description="Each leg's notional / equity")
    rebalance_band: float = Field(
        0.05, gt=0, lt=1, description="Leg notional difference / mean leg notional"
    )
    min_health: int = Field(30, ge=0, le=100, description="Exit below this health")
    retry_after_s: int = Field(300, ge=0, description="Wait before re-sending an action")

    @model_validator(mode="after")
    def _consistent(self) -> FundingSpreadConfig:
        if self.market == self.other_market:
            raise ValueError("market and other_market must differ")
        check_thresholds(self)
        return self


class FundingSpreadState(CarryState):
    side: Side = "flat"


def _notional(base: int, price: int) -> int:
    """|base| (BASE 1e9) at `price` (PRICE 1e6), micro-USDC."""
    return abs(base) * price // BASE_PRECISION


class FundingSpreadStrategy(CarryStrategy[FundingSpreadConfig, FundingSpreadState]):
    name: ClassVar[str] = "funding-spread"
    config_model = FundingSpreadConfig
    state_model = FundingSpreadState

    def markets(self) -> list[str]:
        return [self.config.market, self.config.other_market]

    # ------------------------------------------------------------------ reading
    def _pair(self, snap: StrategySnapshot) -> tuple[MarketSnapshot, MarketSnapshot] | None:
        a = snap.markets.get(self.config.market)
        b = snap.markets.get(self.config.other_market)
        if a is None or b is None or a.oracle_price <= 0 or b.oracle_price <= 0:
            return None
        return a, b

    def spread(self, a: MarketSnapshot, b: MarketSnapshot) -> float | None:
        """Funding APR of A minus B over the lookback; None until both have enough."""
        apr_a = a.funding_apr_over(self.config.lookback_hours)
        apr_b = b.funding_apr_over(self.config.lookback_hours)
        if apr_a is None or apr_b is None:
            return None
        return apr_a - apr_b

    def carry(self, a: MarketSnapshot, b: MarketSnapshot, side: Side) -> float | None:
        """What holding `side` earns per year (fraction of one leg's notional)."""
        s = self.spread(a, b)
        if s is None:
            return None
        return s if side == "short_a" else -s if side == "long_a" else 0.0

    def _holding(self, snap: StrategySnapshot, a: MarketSnapshot, b: MarketSnapshot) -> bool:
        base_a = snap.base(MarketType.PERP, a.perp_market_index)
        base_b = snap.base(MarketType.PERP, b.perp_market_index)
        return abs(base_a) >= a.perp_min_order_size or abs(base_b) >= b.perp_min_order_size

    # ------------------------------------------------------------------ orders
    @staticmethod
    def _order(m: MarketSnapshot, direction: PositionDirection, base: int, *tags: str,
               reduce_only: bool = False) -> OrderIntent:  # fmt: skip
        return OrderIntent(
            market_index=m.perp_market_index,
            market_type=MarketType.PERP,
            direction=direction,
            base_asset_amount=base,
            reduce_only=reduce_only,
            tags=("funding-spread", *tags),
        )

    def _entry(
        self, snap: StrategySnapshot, a: MarketSnapshot, b: MarketSnapshot, side: Side
    ) -> list[Action]:
        notional = int(snap.vault.equity * self.config.target_leverage)  # micro-USDC
        base_a = round_down_to_step(notional * BASE_PRECISION // a.oracle_price, a.perp_step_size)
        base_b = round_down_to_step(notional * BASE_PRECISION // b.oracle_price, b.perp_step_size)
        if base_a < a.perp_min_order_size or base_b < b.perp_min_order_size:
            return []
        dir_a = PositionDirection.SHORT if side == "short_a" else PositionDirection.LONG
        orders = (
            self._order(a, dir_a, base_a, "entry", "a"),
            self._order(b, dir_a.opposite, base_b, "entry", "b"),
        )
        return [PlaceOrders(orders, reason=f"enter {side}")]

    def _close_orders(
        self, snap: StrategySnapshot, a: MarketSnapshot, b: MarketSnapshot, reason: str
    ) -> list[Action]:
        orders = []
        for m, leg in ((a, "a"), (b, "b")):
            base = snap.base(MarketType.PERP, m.perp_market_index)
            if base != 0:
                direction = PositionDirection.LONG if base < 0 else PositionDirection.SHORT
                orders.append(self._order(m, direction, abs(base), "exit", leg, reduce_only=True))
        return [PlaceOrders(tuple(orders), reason=reason)] if orders else []

    def _rebalance(
        self, snap: StrategySnapshot, a: MarketSnapshot, b: MarketSnapshot
    ) -> list[Action]:
        """Bring leg B's notional back to leg A's when they drifted apart."""
        base_a = snap.base(MarketType.PERP, a.perp_market_index)
        base_b = snap.base(MarketType.PERP, b.perp_market_index)
        n_a, n_b = _notional(base_a, a.oracle_price), _notional(base_b, b.oracle_price)
        mean = (n_a + n_b) / 2
        if mean == 0 or abs(n_a - n_b) <= self.config.rebalance_band * mean:
            return []
        # B's sign is the opposite of A's (the held side says which when A is gone).
        b_sign = 1 if self.state.side == "short_a" else -1
        target_b = b_sign * (n_a * BASE_PRECISION // b.oracle_price)
        change = target_b - base_b
        size = round_down_to_step(abs(change), b.perp_step_size)
        if size < b.perp_min_order_size:
            return []
        direction = PositionDirection.LONG if change > 0 else PositionDirection.SHORT
        reduce_only = abs(target_b) < abs(base_b) and (
            target_b == 0 or (target_b > 0) == (base_b > 0)
        )
        order = self._order(b, direction, size, "rebalance", "b", reduce_only=reduce_only)
        return [PlaceOrders((order,), reason=f"rebalance legs {n_a} vs {n_b} micro-USDC")]

    # ------------------------------------------------------------------ callbacks
    def on_tick(self, snapshot: StrategySnapshot) -> list[Action]:
        cfg, st = self.config, self.state
        pair = self._pair(snapshot)
        if pair is None:
            return []
        a, b = pair
        ts = snapshot.ts
        holding = self._holding(snapshot, a, b)

        if st.side == "flat":
            if holding and self._can_act(ts):
                self._mark(ts, "close leftovers")
                return self._close_orders(snapshot, a, b, "close leftovers")
            if holding or not self._can_act(ts):
                return []
            spread = self.spread(a, b)
            if spread is None:
                return []
            if spread > cfg.entry_apr:
                side: Side = "short_a"
            elif spread < -cfg.entry_apr:
                side = "long_a"
            else:
                return []
            actions = self._entry(snapshot, a, b, side)
            if actions:
                self._entered(ts, side)
            return actions

        if holding and snapshot.margin.health < cfg.min_health:
            return self._exit(snapshot, a, b, f"health {snapshot.margin.health} < {cfg.min_health}")
        carry = self.carry(a, b, st.side)
        if self._exit_due(carry, ts):
            return self._exit(snapshot, a, b, f"carry {carry:.2%} below {cfg.exit_apr:.2%}")
        if not holding:
            if self._can_act(ts):  # the entry never filled: decide afresh next tick
                st.side = "flat"
                st.entered_at = None
            return []
        if not self._can_act(ts):
            return []
        actions = self._rebalance(snapshot, a, b)
        if actions:
            st.rebalances += 1
            self._mark(ts, "rebalance")
        return actions

    def _exit(
        self, snap: StrategySnapshot, a: MarketSnapshot, b: MarketSnapshot, reason: str
    ) -> list[Action]:
        self._exited(snap.ts, reason)
        return self._close_orders(snap, a, b, f"exit: {reason}")

    # ------------------------------------------------------------------ wake conditions
    def wake_conditions(self, snapshot: StrategySnapshot) -> tuple[WakeCondition, ...]:
        """The next funding record of either market always matters (the spread and the
        exit clock move only then); in a position also the health floor and the price
        bands inside which the legs stay within `rebalance_band`; plus the time at which
        a blocked retry or a time-based exit becomes due."""
        cfg, st = self.config, self.state
        pair = self._pair(snapshot)
        if pair is None:
            return EVERY_TICK
        a, b = pair
        out: list[WakeCondition] = [NextFunding(a.symbol), NextFunding(b.symbol)]
        ts = snapshot.ts
        blocked = not self._can_act(ts)
        if blocked and st.last_action_ts is not None:
            out.append(AtTime(st.last_action_ts + cfg.retry_after_s))
        holding = self._holding(snapshot, a, b)
        if st.side == "flat":
            if holding and not blocked:
                return EVERY_TICK  # leftovers are closed at the next tick
            return tuple(out)
        if st.below_exit_since is not None:
            out.append(AtTime(st.below_exit_since + cfg.exit_window_hours * 3600))
        if not holding:
            return EVERY_TICK if not blocked else tuple(out)
        out.append(HealthBelow(cfg.min_health))
        bands = self._no_rebalance_bands(snapshot, a, b)
        if bands is None:
            return EVERY_TICK if not blocked else tuple(out)
        out.extend(bands)
        return tuple(out)

    def _no_rebalance_bands(
        self, snap: StrategySnapshot, a: MarketSnapshot, b: MarketSnapshot
    ) -> tuple[PriceOutside, PriceOutside] | None:
        """Price bands for A and B such that, while both prices stay inside, the legs'
        notional ratio stays inside the rebalance band; None if it is outside now."""
        n_a = _notional(snap.base(MarketType.PERP, a.perp_market_index), a.oracle_price)
        n_b = _notional(snap.base(MarketType.PERP, b.perp_market_index), b.oracle_price)
        if n_a <= 0 or n_b <= 0:
            return None
        band = self.config.rebalance_band
        # |nA - nB| <= band x mean  <=>  r = nA/nB within [1/r_hi, r_hi]
        r_hi = (2 + band) / (2 - band)
        r0 = n_a / n_b
        if not 1 / r_hi < r0 < r_hi:
            return None
        # Each price may move by a factor k either way: r then moves by at most k^2.
        k = min(math.sqrt(r_hi / r0), math.sqrt(r0 * r_hi))
        k = 1 + (k - 1) * BAND_SAFETY
        return (
            PriceOutside(a.symbol, math.ceil(a.oracle_price / k), int(a.oracle_price * k)),
            PriceOutside(b.symbol, math.ceil(b.oracle_price / k), int(b.oracle_price * k)),
        )


__all__ = ["FundingSpreadConfig", "FundingSpreadState", "FundingSpreadStrategy"]
