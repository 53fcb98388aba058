"""Delta-neutral funding carry on one asset in one Drift sub-account.

Long carry (funding positive, longs pay shorts): spot long + perp short of the same
asset; the short leg collects funding, the spot leg earns deposit interest, price moves
cancel. Reverse carry (funding negative, only with `allow_borrow`): perp long + spot
short (borrowed), entered only when the funding received beats the borrow cost.

Both legs always go out together in one `PlaceOrders` action (one `place_orders`
instruction on Drift). Sizing: each leg's notional = `target_leverage` x vault equity.
Exit: when the carry (funding APR over `lookback_hours`, minus borrow cost for the
reverse side) stays below `exit_apr` for `exit_window_hours`, or health falls below
`min_health`.

Legs that do not fill together. On chain each leg is its own auctioned order: one may
fill and the other expire, or fill only in part. While the engine has working orders in
the strategy's markets it proposes nothing (it never re-enters on top of open orders);
once they are done, a net delta (spot + perp base) beyond `rebalance_band` of the hedged
size is a residual: for `hedge_timeout_s` the strategy hedges it by trading the lagging
leg toward the target, after that it unwinds it by reducing the leading leg
(reduce-only). The whole entry is never re-sent while a leg is held, so exposure is
never doubled. While a residual exists `unhedged()` reports it (engine record, API).

Funding and PnL do not settle by themselves on chain: while holding the perp leg the
strategy asks for `settle_pnl` every `settle_every_s`.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

from driftpy.constants.numeric_constants import ONE_YEAR
from pydantic import Field, model_validator

from drift_engine.core.steps import round_down_to_step, round_up_to_step
from drift_engine.core.types import MarketType, OrderIntent, PositionDirection
from drift_engine.strategies.base import (
    HOURS_PER_YEAR,
    Action,
    MarketSnapshot,
    OrderRejected,
    PlaceOrders,
    SettlePnl,
    StrategyConfig,
    StrategySnapshot,
    UnhedgedExposure,
)
from drift_engine.strategies.carry import CarryState, CarryStrategy, check_thresholds
from drift_engine.strategies.wake import (
    EVERY_TICK,
    AtTime,
    FundingAprOutside,
    FundingOutside,
    HealthBelow,
    NextFunding,
    NextSpotRate,
    WakeCondition,
)

BASE_PRECISION = 10**9
PRICE_PRECISION = 10**6

Side = Literal["flat", "long_carry", "short_carry"]

#: wake conditions: a flat (no borrow) or long-carry position declares the band of the
#: next funding records' short-side rate inside which its carry comparison keeps its
#: side (`_carry_band`), a wake at a spot-rate update and the time the spot leg's
#: deposit interest could first change the residual/holding test (`_interest_until`);
#: False: `NextFunding` always (every funding hour a real step; the reference)
FUNDING_BANDS = True

#: with `FUNDING_BANDS`: the carry comparison itself is declared (`FundingAprOutside`:
#: the short side's `funding_apr_over(L)` against the threshold, asked after each
#: record), not a band on each record's rate that must hold for any number of records;
#: it also holds while flat with fewer than L records (on_tick waits) or unequal side
#: and market histories (the same call reads the same history). False: the band
#: (`_carry_band`, the reference of ADR-0020 point 76)
FUNDING_MEANS = True

#: relative margin of a band (and absolute, for windows of zeros): far above the float
#: error of `funding_apr_over` (at most ~(L+3) ulps of the window's magnitude)
_BAND_MARGIN = 1e-9
_BAND_FLOOR = 1e-30


def _carry_band(
    rates: list[float], threshold: float, stay_below: bool
) -> tuple[float, float] | None:
    """The hourly rates [low, high] such that, whatever number k >= 1 of new funding
    records arrive, each with its rate in the band, the mean of the last L = len(rates)
    rates annualised (`MarketSnapshot.funding_apr_over`: sum / L x HOURS_PER_YEAR) stays
    <= `threshold` (`stay_below`, strictly below: the band is narrower by a margin) or
    >= it. With k records the window is the last L - k known rates and k new ones, so
    high = min over k of (T - S_k) / k (low = max), T = threshold x L / HOURS_PER_YEAR,
    S_k the sum of the last L - k known rates (S_L = 0). None: no such band."""
    n = len(rates)
    target = threshold / HOURS_PER_YEAR * n
    margin = _BAND_MARGIN * (sum(abs(r) for r in rates) + abs(target)) + _BAND_FLOOR
    tail = 0.0  # S_k, from k = L (nothing known) down to k = 1
    bound = math.inf if stay_below else -math.inf
    for k in range(n, 0, -1):
        if stay_below:
            bound = min(bound, (target - tail - 2 * margin) / k)
        else:
            bound = max(bound, (target - tail + 2 * margin) / k)
        tail += rates[k - 1]
    if not math.isfinite(bound):
        return None
    return (-math.inf, bound) if stay_below else (bound, math.inf)


def _carry_condition(
    market: str, lookback: int, threshold: float, flat: bool, in_window: bool
) -> FundingAprOutside | None:
    """The carry comparison on_tick makes, as a wake: the short side's `funding_apr_over(
    lookback)` (what `expected_carry` reads for the long carry, the same call) leaving
    the side of `threshold` on which on_tick does nothing. Flat: at most the threshold
    (no entry while carry <= entry_apr); an unknown carry (fewer than L records) changes
    nothing (on_tick waits). Long carry inside the exit window: strictly below it (carry
    < exit_apr keeps `below_exit_since`: the next float down, closed); before it: at
    least it (carry >= exit_apr starts none). In a carry an unknown carry wakes. None
    for a threshold that makes no interval (NaN)."""
    low, high = -math.inf, math.inf
    if flat:
        high = threshold
    elif in_window:
        high = math.nextafter(threshold, -math.inf)
    else:
        low = threshold
    if not low <= high:
        return None
    return FundingAprOutside(market, lookback, low, high, "short", unknown_wakes=not flat)


class DeltaNeutralConfig(StrategyConfig):
    market: str = Field("SOL-PERP", pattern=r"^[A-Z0-9]+-PERP$", description="Perp market")
    sub_account_id: int = Field(0, ge=0, le=65535)
    entry_apr: float = Field(0.05, description="Enter when expected carry APR exceeds this")
    exit_apr: float = Field(0.0, description="Exit when carry stays below this ...")
    exit_window_hours: int = Field(24, ge=0, le=24 * 90, description="... for this long")
    lookback_hours: int = Field(24, ge=1, le=168, description="Funding APR lookback")
    target_leverage: float = Field(0.9, gt=0, le=5, description="Leg notional / equity")
    rebalance_band: float = Field(0.02, gt=0, lt=1, description="Net delta / hedged notional")
    min_health: int = Field(20, ge=0, le=100, description="Exit below this health")
    allow_borrow: bool = Field(False, description="Allow the reverse carry (spot borrow)")
    borrow_buffer_apr: float = Field(0.0, ge=0, description="Extra carry over borrow cost")
    retry_after_s: int = Field(300, ge=0, description="Wait before re-sending an action")
    hedge_timeout_s: int = Field(
        600, ge=0, description="Hedge a residual (legs not filled together) this long, then unwind"
    )
    settle_every_s: int = Field(
        3600, ge=0, description="Settle the perp leg's funding and PnL this often (0: never)"
    )

    @model_validator(mode="after")
    def _thresholds(self) -> DeltaNeutralConfig:
        check_thresholds(self)
        return self


class DeltaNeutralState(CarryState):
    side: Side = "flat"
    residual_since: int | None = None  # legs out of balance since (unix s)
    residual_action: str = ""  # "hedge" | "unwind" while a residual exists
    hedges: int = 0
    unwinds: int = 0
    rejections: int = 0
    last_settle_ts: int | None = None


class DeltaNeutralStrategy(CarryStrategy[DeltaNeutralConfig, DeltaNeutralState]):
    name: ClassVar[str] = "delta-neutral"
    config_model = DeltaNeutralConfig
    state_model = DeltaNeutralState

    def markets(self) -> list[str]:
        return [self.config.market]

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _spot_to_base(amount: int, m: MarketSnapshot) -> int:
        """Spot token amount (market decimals) in BASE precision (1e9)."""
        return amount * BASE_PRECISION // 10**m.spot_decimals

    @staticmethod
    def _base_to_spot(base: int, m: MarketSnapshot) -> int:
        return base * 10**m.spot_decimals // BASE_PRECISION

    def _legs(self, snap: StrategySnapshot, m: MarketSnapshot) -> tuple[int, int]:
        """(spot, perp) holdings, both in BASE precision."""
        perp = snap.base(MarketType.PERP, m.perp_market_index)
        spot = 0
        if m.spot_market_index is not None:
            spot = self._spot_to_base(snap.base(MarketType.SPOT, m.spot_market_index), m)
        return spot, perp

    @staticmethod
    def _order(
        m: MarketSnapshot,
        leg: MarketType,
        direction: PositionDirection,
        base: int,
        what: str,
        reduce_only: bool = False,
    ) -> OrderIntent:
        """An order on `m`'s `leg` (spot or perp), tagged with what it does and the leg."""
        spot = leg == MarketType.SPOT
        return OrderIntent(
            market_index=m.spot_market_index if spot else m.perp_market_index,
            market_type=leg,
            direction=direction,
            base_asset_amount=base,
            reduce_only=reduce_only,
            tags=("delta-neutral", what, "spot" if spot else "perp"),
        )

    def _common_step(self, m: MarketSnapshot) -> int:
        """A base step (1e9) that is a multiple of both legs' step sizes."""
        spot_step_base = max(1, self._spot_to_base(m.spot_step_size, m))
        a, b = max(1, m.perp_step_size), spot_step_base
        big, small = max(a, b), min(a, b)
        return big if big % small == 0 else a * b

    def _funding_apr(self, m: MarketSnapshot, perp_side: str = "short") -> float | None:
        """Funding APR the perp leg on `perp_side` earns (+: received by shorts): the
        short side's rate for a short perp, the long side's for a long one — they differ
        when the AMM caps what it pays (MarketSnapshot.funding_sides)."""
        # The history tuple is replaced only when a funding record arrives: memoise on it.
        cache = self.__dict__.setdefault("_apr_cache", {})
        hit = cache.get(perp_side)
        if hit is not None and hit[0] is m.funding_history:
            return hit[1]
        apr = m.funding_apr_over(self.config.lookback_hours, side=perp_side)
        cache[perp_side] = (m.funding_history, apr)
        return apr

    def expected_carry(self, m: MarketSnapshot, side: Side) -> float | None:
        if side == "long_carry":  # perp short: receives the short side's funding
            return self._funding_apr(m, "short")
        if side == "short_carry":  # perp long: pays the long side's funding
            apr = self._funding_apr(m, "long")
            if apr is None:
                return None
            return -apr - m.spot_borrow_apr - self.config.borrow_buffer_apr
        return 0.0

    # ------------------------------------------------------------------ actions
    def _entry(
        self, snap: StrategySnapshot, m: MarketSnapshot, side: Side, why: str = ""
    ) -> list[Action]:
        notional = int(snap.vault.equity * self.config.target_leverage)  # micro-USDC
        if notional <= 0 or m.oracle_price <= 0 or m.spot_market_index is None:
            return []
        base = round_down_to_step(notional * BASE_PRECISION // m.oracle_price, self._common_step(m))
        spot_amount = self._base_to_spot(base, m)
        if base < m.perp_min_order_size or spot_amount < m.spot_min_order_size:
            return []
        spot_dir = PositionDirection.LONG if side == "long_carry" else PositionDirection.SHORT
        orders = (
            self._order(m, MarketType.SPOT, spot_dir, spot_amount, "entry"),
            self._order(m, MarketType.PERP, spot_dir.opposite, base, "entry"),
        )
        return [PlaceOrders(orders, reason=f"enter {side}" + (f": {why}" if why else ""))]

    def _exit_orders(self, snap: StrategySnapshot, m: MarketSnapshot, reason: str) -> list[Action]:
        orders: list[OrderIntent] = []
        if m.spot_market_index is not None:
            spot = snap.base(MarketType.SPOT, m.spot_market_index)
            # Sell whole steps of a deposit (interest dust below a step stays); buy back a
            # borrow rounded up to a step so none of it is left owing.
            size = (
                round_down_to_step(spot, m.spot_step_size)
                if spot > 0
                else round_up_to_step(-spot, m.spot_step_size)
            )
            if spot != 0 and size >= m.spot_min_order_size:
                direction = PositionDirection.SHORT if spot > 0 else PositionDirection.LONG
                orders.append(
                    self._order(m, MarketType.SPOT, direction, size, "exit", reduce_only=True)
                )
        perp = snap.base(MarketType.PERP, m.perp_market_index)
        if perp != 0:
            direction = PositionDirection.LONG if perp < 0 else PositionDirection.SHORT
            orders.append(
                self._order(m, MarketType.PERP, direction, abs(perp), "exit", reduce_only=True)
            )
        return [PlaceOrders(tuple(orders), reason=reason)] if orders else []

    def _residual_order(
        self, snap: StrategySnapshot, m: MarketSnapshot, spot: int, perp: int, unwind: bool
    ) -> OrderIntent | None:
        """The order that hedges (trade the lagging leg) or unwinds (reduce the leading
        leg, reduce-only) a net delta `spot + perp` (BASE 1e9)."""
        net = spot + perp
        direction = PositionDirection.SHORT if net > 0 else PositionDirection.LONG
        lagging_is_perp = abs(perp) < abs(spot)
        use_perp = lagging_is_perp != unwind or m.spot_market_index is None
        what = "unwind" if unwind else "hedge"
        if use_perp:
            size = round_down_to_step(abs(net), m.perp_step_size)
            if unwind:
                size = min(size, abs(perp))
            if size < m.perp_min_order_size and not unwind:
                return None
            if size == 0:
                return None
            reduce = unwind or (perp != 0 and (perp > 0) != (net < 0) and size <= abs(perp))
            return self._order(m, MarketType.PERP, direction, size, what, reduce_only=reduce)
        size = round_down_to_step(self._base_to_spot(abs(net), m), m.spot_step_size)
        held = abs(snap.base(MarketType.SPOT, m.spot_market_index))
        if unwind:
            size = min(size, round_down_to_step(held, m.spot_step_size))
        if size == 0 or (size < m.spot_min_order_size and not unwind):
            return None
        return self._order(m, MarketType.SPOT, direction, size, what, reduce_only=unwind)

    def _out_of_balance(self, m: MarketSnapshot, spot: int, perp: int) -> bool:
        net = spot + perp
        hedged = max(abs(spot), abs(perp))
        step = self._common_step(m)
        return hedged > 0 and abs(net) > self.config.rebalance_band * hedged and abs(net) >= step

    def _residual(self, snap: StrategySnapshot, m: MarketSnapshot) -> list[Action]:
        """Hedge a residual for `hedge_timeout_s`, then unwind it (see module docstring)."""
        st, cfg, ts = self.state, self.config, snap.ts
        spot, perp = self._legs(snap, m)
        if not self._out_of_balance(m, spot, perp):
            st.residual_since = None
            st.residual_action = ""
            return []
        if st.residual_since is None:
            st.residual_since = ts
        unwind = ts - st.residual_since >= cfg.hedge_timeout_s
        order = self._residual_order(snap, m, spot, perp, unwind)
        if order is None and not unwind:
            unwind = True
            order = self._residual_order(snap, m, spot, perp, True)
        st.residual_action = "unwind" if unwind else "hedge"
        if order is None:
            return []
        if unwind:
            st.unwinds += 1
        else:
            st.hedges += 1
        self._mark(ts, f"{st.residual_action} residual {spot + perp}")
        return [PlaceOrders((order,), reason=f"{st.residual_action} residual delta {spot + perp}")]

    def _maybe_settle(self, snap: StrategySnapshot, m: MarketSnapshot) -> list[Action]:
        cfg, st = self.config, self.state
        if not cfg.settle_every_s or snap.base(MarketType.PERP, m.perp_market_index) == 0:
            return []
        if st.last_settle_ts is not None and snap.ts - st.last_settle_ts < cfg.settle_every_s:
            return []
        if st.last_settle_ts is None:
            st.last_settle_ts = snap.ts  # the first settle comes one period after entry
            return []
        st.last_settle_ts = snap.ts
        return [SettlePnl(m.perp_market_index, reason="periodic settle_pnl")]

    def unhedged(self, snapshot: StrategySnapshot) -> UnhedgedExposure | None:
        m = snapshot.markets.get(self.config.market)
        if m is None:
            return None
        spot, perp = self._legs(snapshot, m)
        if not self._out_of_balance(m, spot, perp):
            return None
        net = spot + perp
        return UnhedgedExposure(
            market=m.symbol,
            base=net,
            notional=abs(net) * m.oracle_price // BASE_PRECISION,
            since=self.state.residual_since or snapshot.ts,
            action=self.state.residual_action,
        )

    # ------------------------------------------------------------------ callbacks
    def on_tick(self, snapshot: StrategySnapshot) -> list[Action]:
        cfg, st = self.config, self.state
        m = snapshot.markets.get(cfg.market)
        if m is None:
            return []
        spot, perp = self._legs(snapshot, m)
        # Dust below a leg's minimum order size (e.g. interest on a sold deposit) is flat.
        holding = abs(perp) >= m.perp_min_order_size or abs(spot) >= self._spot_to_base(
            m.spot_min_order_size, m
        )
        ts = snapshot.ts
        mine = snapshot.working_orders(MarketType.PERP, m.perp_market_index)
        if m.spot_market_index is not None:
            mine += snapshot.working_orders(MarketType.SPOT, m.spot_market_index)
        if mine:
            # Orders still working (resting in their auctions, or with an unknown
            # outcome): never act on top of them; only settle what is held.
            return self._maybe_settle(snapshot, m)

        if st.side == "flat":
            if holding and self._can_act(ts):
                # Leftovers of an exit that did not fully fill: close them.
                self._mark(ts, "close leftovers")
                return self._exit_orders(snapshot, m, "close leftovers")
            if holding or not self._can_act(ts):
                return []
            if snapshot.margin.health < cfg.min_health and snapshot.margin.health != 0:
                return []
            long_carry = self.expected_carry(m, "long_carry")
            if long_carry is None:
                return []
            if long_carry > cfg.entry_apr:
                side: Side = "long_carry"
            elif cfg.allow_borrow and (self.expected_carry(m, "short_carry") or 0) > cfg.entry_apr:
                side = "short_carry"
            else:
                return []
            carry = long_carry if side == "long_carry" else self.expected_carry(m, side)
            why = (
                f"expected carry {carry:.2%} APR over {cfg.lookback_hours}h "
                f"> entry {cfg.entry_apr:.2%}"
            )
            actions = self._entry(snapshot, m, side, why)
            if actions:
                self._entered(ts, side)
            return actions

        # In a carry position (or trying to be).
        if holding and snapshot.margin.health < cfg.min_health:
            return self._exit(snapshot, m, f"health {snapshot.margin.health} < {cfg.min_health}")
        carry = self.expected_carry(m, st.side)
        if self._exit_due(carry, ts):
            return self._exit(snapshot, m, f"carry {carry:.2%} below {cfg.exit_apr:.2%}")
        if not holding:
            # Entry never filled (both legs expired): back to flat; the next tick decides.
            st.side = "flat"
            st.entered_at = None
            st.residual_since = None
            st.residual_action = ""
            return []
        actions = self._residual(snapshot, m)
        if actions:
            st.rebalances += 1
            return actions
        return self._maybe_settle(snapshot, m)

    def _exit(self, snap: StrategySnapshot, m: MarketSnapshot, reason: str) -> list[Action]:
        self._exited(snap.ts, reason)
        self.state.residual_since = None
        self.state.residual_action = ""
        return self._exit_orders(snap, m, f"exit: {reason}")

    def on_rejected(self, rejection: OrderRejected) -> None:
        """An entry the venue refused placed nothing: back to flat (retry after
        `retry_after_s`). Other refusals are retried by the next ticks' checks."""
        self.state.rejections += 1
        if any("entry" in o.tags for o in rejection.orders):
            self.state.side = "flat"
            self.state.entered_at = None

    def on_stop(self, snapshot: StrategySnapshot) -> list[Action]:
        return []

    # ------------------------------------------------------------------ wake conditions
    def _wants_entry(self, m: MarketSnapshot) -> bool:
        cfg = self.config
        long_carry = self.expected_carry(m, "long_carry")
        if long_carry is None:
            return False
        if long_carry > cfg.entry_apr:
            return True
        return cfg.allow_borrow and (self.expected_carry(m, "short_carry") or 0) > cfg.entry_apr

    def _funding_conditions(
        self, snap: StrategySnapshot, m: MarketSnapshot, spot: int, perp: int
    ) -> list[WakeCondition]:
        """What wakes it at funding hours: `NextFunding` (every funding record and
        spot-rate update), or with `FUNDING_BANDS`, where it can be proven, its carry
        comparison (`FUNDING_MEANS`: `_carry_condition`; else a band on the next records'
        short-side rate, `_carry_band`), `NextSpotRate` and the time the spot leg's
        interest could change a test (`_interest_until`).

        A funding hour (records, interest, payments) writes only: the funding history
        (the carry APR on_tick compares), the spot leg's balance (deposit interest: the
        `holding` and residual tests), the spot rates on a rate update (the borrow APR of
        the short carry, the deposit APR the interest follows), `funding_earned`
        (`on_funding`, called on every path) and margin health (`HealthBelow`, the
        engine's floors). So the proof is made for: flat, not holding, no borrow side
        (on_tick compares the short side's carry with `entry_apr`), and long carry with
        no residual (it compares the same carry with `exit_apr`, before or inside the
        exit window). The short carry (borrow APR), `allow_borrow` while flat, a borrowed
        spot leg, leftovers held while flat (and for the band: a short history or unequal
        sides): every funding record."""
        cfg, st = self.config, self.state
        every: list[WakeCondition] = [NextFunding(cfg.market)]
        if not FUNDING_BANDS or m.spot_market_index is None:
            return every
        sides = m.funding_sides
        n = cfg.lookback_hours
        means = FUNDING_MEANS
        if not means and (len(sides) != len(m.funding_history) or len(sides) < n):
            return every
        raw = snap.base(MarketType.SPOT, m.spot_market_index)
        if raw < 0:
            return every
        if st.side == "flat":
            if cfg.allow_borrow:
                return every
            # not holding while the spot base stays below the minimum order's
            limit = self._spot_to_base(m.spot_min_order_size, m) - 1
            threshold, below = cfg.entry_apr, True  # stays flat while carry <= entry
        elif st.side == "long_carry":
            band = cfg.rebalance_band
            if perp >= 0 or band > 0.999:
                return every
            # the residual test stays false while spot <= |perp| / (1 - band), less a
            # margin (spot below |perp|: the net shrinks toward zero, hedged = |perp|)
            limit = max(int(-perp * (1 - 1e-6) / (1 - band)), -perp)
            if spot > limit:
                return every
            threshold = cfg.exit_apr
            below = st.below_exit_since is not None  # inside the window: stays below
        else:
            return every
        carry: WakeCondition | None
        if means:
            carry = _carry_condition(cfg.market, n, threshold, st.side == "flat", below)
            if carry is None:
                return every
        else:
            rates = [r[2] for r in sides[-n:]]  # the short side's (a short perp's) rates
            got = _carry_band(rates, threshold, below)
            if got is None:
                return every
            carry = FundingOutside(cfg.market, got[0], got[1], side="short")
        out: list[WakeCondition] = [carry, NextSpotRate(cfg.market)]
        if raw > 0:
            until = self._interest_until(m, snap.ts, raw, limit)
            if until is None:
                return every
            out.append(AtTime(until))
        return out

    def _interest_until(self, m: MarketSnapshot, ts: int, amount: int, limit: int) -> int | None:
        """A time before which deposit interest cannot take the spot deposit `amount`
        (token units) above `limit` (BASE 1e9), at the snapshot's deposit APR (a rate
        update wakes it: `NextSpotRate`). The simulator's cumulative deposit interest
        grows by floor(cum x rate x dt / year) per accrual (`sim.rules`): at most by
        exp(rate x t / year) over t, the token amount floor(scaled x cum) at most by
        (amount + 1) x that. An accrual of less than a unit leaves its time pending
        (`last_interest_ts` stays): at most Y x 1e6 / (cum x rate) < 3,154 s with cum >=
        1e10 and a rate of at least one SPOT_RATE unit, so an hour is taken off. None
        when it could within that."""
        cap = limit * 10**m.spot_decimals // BASE_PRECISION  # token amounts with base <= limit
        ceiling = cap / ((amount + 1) * (1 + 1e-6))
        if ceiling <= 1:
            return None
        rate = m.spot_deposit_apr
        if not rate > 0:
            return None  # the simulator's rate not known from the snapshot
        seconds = math.log(ceiling) / (rate * (1 + 1e-6)) * ONE_YEAR - 3_600
        if not seconds >= 2:
            return None
        return ts + int(min(seconds, 100 * ONE_YEAR)) - 1

    def wake_conditions(self, snapshot: StrategySnapshot) -> tuple[WakeCondition, ...]:
        """What `on_tick` reads that can change between funding records: the time (a
        blocked retry, the exit window, the periodic settle) and margin health.
        Everything else it reads (the funding APR, both legs' base amounts, working
        orders) changes only with a funding record (with its interest), a fill or an
        order event, and each of those wakes the engine (funding records: see
        `_funding_conditions`). The residual rule compares base amounts, not notionals,
        so no price band is needed. Anything not covered (working orders, a residual
        being hedged, an entry waiting on health): every tick."""
        cfg, st = self.config, self.state
        m = snapshot.markets.get(cfg.market)
        if m is None or snapshot.working_orders():
            return EVERY_TICK
        spot, perp = self._legs(snapshot, m)
        # Inline, as in on_tick (a method call here costs ~0.2% of a backtest's instructions).
        holding = abs(perp) >= m.perp_min_order_size or abs(spot) >= self._spot_to_base(
            m.spot_min_order_size, m
        )
        ts = snapshot.ts
        can_act = self._can_act(ts)
        out: list[WakeCondition] = []
        if not can_act and st.last_action_ts is not None:
            out.append(AtTime(st.last_action_ts + cfg.retry_after_s))
        if st.side == "flat":
            if holding:
                return EVERY_TICK if can_act else (NextFunding(cfg.market), *out)
            health = snapshot.margin.health
            if health < cfg.min_health and health != 0:
                return EVERY_TICK  # an entry may wait for health to come back
            if can_act and self._wants_entry(m):
                return EVERY_TICK  # an entry that did not size up (it may at a new price)
            return (*self._funding_conditions(snapshot, m, spot, perp), *out)
        if not holding or self._out_of_balance(m, spot, perp) or st.residual_since is not None:
            return EVERY_TICK
        out.append(HealthBelow(cfg.min_health))
        if st.below_exit_since is not None:
            out.append(AtTime(st.below_exit_since + cfg.exit_window_hours * 3600))
        if cfg.settle_every_s and perp != 0:
            if st.last_settle_ts is None:
                return EVERY_TICK
            out.append(AtTime(st.last_settle_ts + cfg.settle_every_s))
        return (*self._funding_conditions(snapshot, m, spot, perp), *out)


__all__ = ["DeltaNeutralConfig", "DeltaNeutralState", "DeltaNeutralStrategy"]
