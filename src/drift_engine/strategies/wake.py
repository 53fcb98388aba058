"""Wake conditions: when a strategy next needs to be asked for a decision.

A strategy declares them with `DriftStrategy.wake_conditions(snapshot)`, called after a
step with the snapshot as it stands after that step's actions. The declaration is a
promise: *until one of these conditions fires, `on_tick` would return no action and
leave the strategy's state as it is.* The default is `EVERY_TICK` (no promise), so a
strategy that says nothing is stepped on every tick, exactly as today.

Conditions (prices PRICE 1e6 integers, times unix seconds, health 0-100):
- `EveryTick()`              - no promise: wake on every tick;
- `AtTime(ts)`               - wake at or after `ts` (a retry, a time-based exit);
- `NextFunding(market)`      - wake when `market` gets a funding record newer than the
                               one in the snapshot (the hourly funding update);
- `PriceOutside(market, low, high)` - wake when the oracle price of `market` leaves
                               [low, high] (a rebalance or stop band);
- `HealthBelow(health)`      - wake when the account's margin health falls below it;
- `FundingOutside(market, low, high, side=None)` - wake at a funding record of `market`
                               whose hourly rate (`MarketSnapshot.funding_rate`, a
                               fraction; with `side` "long"/"short" the rate that side
                               paid/received, `funding_rate_long`/`_short`) is outside
                               [low, high] (a carry strategy's entry/exit band);
- `NextSpotRate(market)`     - wake at a spot-rate update (deposit/borrow APR) of
                               `market`'s spot leg (a funding record does not wake it);
- `FundingAprOutside(market, lookback, low, high, side=None, unknown_wakes=True)` - wake
                               at a funding record of `market` after which the mean APR
                               of its last `lookback` records (`MarketSnapshot.
                               funding_apr_over`, the figure a carry strategy compares)
                               is outside [low, high] (or unknown, unless
                               `unknown_wakes` is False).

Funding hours: a strategy that declares `NextFunding(market)` is woken by every funding
record of `market` (and by every spot-rate update). One that declares conditions without
it promises that funding records and rate updates alone do not change its decision (a
`FundingOutside` band narrows that promise to the rates inside the band): the engine
still books every payment (`on_funding` is called), but fast stepping need not ask
`on_tick` at those hours (quiet stretches, ADR-0020).

Paper and live engines step every strategy on every tick, as per-bar backtest stepping
(the reference) does. Fast backtest stepping (ADR-0020, `engine/quiet.py`) uses these
declarations to jump from one wake to the next; `fired` is the reference check of when
a condition holds, so a strategy's declarations can be tested against per-tick stepping.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from drift_engine.strategies.base import MarketSnapshot, StrategySnapshot


def _invalid(c: PriceOutside | FundingOutside | FundingAprOutside, what: str) -> ValueError:
    """The error for condition `c` built with `what` wrong (raised by its __post_init__,
    which keeps its checks inline: conditions are built on every step)."""
    return ValueError(f"{type(c).__name__}({c.market}): {what}")


def _band(c: PriceOutside | FundingOutside | FundingAprOutside) -> str:
    return f"low {c.low} > high {c.high}"


@dataclass(frozen=True, slots=True)
class EveryTick:
    """Wake on every tick: the safe default."""


@dataclass(frozen=True, slots=True)
class AtTime:
    """Wake at or after `ts` (unix seconds)."""

    ts: int


@dataclass(frozen=True, slots=True)
class NextFunding:
    """Wake when `market` gets a funding record newer than the declaring snapshot's."""

    market: str


@dataclass(frozen=True, slots=True)
class PriceOutside:
    """Wake when the oracle price of perp `market` leaves [low, high] (PRICE 1e6)."""

    market: str
    low: int
    high: int

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise _invalid(self, _band(self))


@dataclass(frozen=True, slots=True)
class HealthBelow:
    """Wake when margin health (0-100) falls below `health`."""

    health: int


@dataclass(frozen=True, slots=True)
class FundingOutside:
    """Wake at a funding record of `market` whose hourly rate (a fraction of notional,
    `MarketSnapshot.funding_rate`) is outside [low, high]; with `side` "long" / "short"
    the rate longs paid / shorts received (`funding_rate_long` / `funding_rate_short`,
    `market_board.hourly_sides` of the record)."""

    market: str
    low: float
    high: float
    side: str | None = None

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise _invalid(self, _band(self))
        if self.side not in (None, "long", "short"):
            raise _invalid(self, f"side {self.side!r}")


@dataclass(frozen=True, slots=True)
class NextSpotRate:
    """Wake at a spot-rate update of perp `market`'s spot leg (its deposit or borrow APR)."""

    market: str


@dataclass(frozen=True, slots=True)
class FundingAprOutside:
    """Wake at a funding record of `market` after which the mean funding APR of its last
    `lookback` records, as the strategy reads it (`MarketSnapshot.funding_apr_over(
    lookback, side=side)`: the same call, so the same float), is outside [low, high];
    an unknown mean (fewer than `lookback` records) wakes unless `unknown_wakes` is
    False. Unlike a `FundingOutside` band on each record's rate, it holds for any number
    of records: it is the strategy's own comparison, asked after each record."""

    market: str
    lookback: int
    low: float
    high: float
    side: str | None = None
    unknown_wakes: bool = True

    def __post_init__(self) -> None:
        if self.lookback < 1 or not self.low <= self.high:
            raise _invalid(self, f"lookback {self.lookback}, [{self.low}, {self.high}]")
        if self.side not in (None, "long", "short"):
            raise _invalid(self, f"side {self.side!r}")

    def outside(self, m: MarketSnapshot) -> bool:
        """The condition holds for market snapshot `m` (one holding the new records)."""
        apr = m.funding_apr_over(self.lookback, side=self.side)
        if apr is None:
            return self.unknown_wakes
        return not self.low <= apr <= self.high


WakeCondition = (
    EveryTick
    | AtTime
    | NextFunding
    | PriceOutside
    | HealthBelow
    | FundingOutside
    | NextSpotRate
    | FundingAprOutside
)

#: The default declaration: no promise, step on every tick.
EVERY_TICK: tuple[WakeCondition, ...] = (EveryTick(),)


def fired(
    conditions: Iterable[WakeCondition], declared: StrategySnapshot, now: StrategySnapshot
) -> bool:
    """True if any of `conditions`, declared at `declared`, holds at `now`.

    A market missing from a snapshot counts as fired (the strategy should look).
    Prices and health are checked at `now` only: with per-bar data that is every price
    the engine saw; the fast stepping of #14 checks the bars in between.
    """
    for c in conditions:
        if isinstance(c, EveryTick):
            return True
        if isinstance(c, AtTime):
            if now.ts >= c.ts:
                return True
        elif isinstance(c, NextFunding):
            pair = _before_after(c.market, declared, now)
            if pair is None or _new_record(*pair):
                return True
        elif isinstance(c, PriceOutside):
            m = now.markets.get(c.market)
            if m is None or not c.low <= m.oracle_price <= c.high:
                return True
        elif isinstance(c, HealthBelow):
            if now.margin.health < c.health:
                return True
        elif isinstance(c, FundingOutside):
            pair = _before_after(c.market, declared, now)
            if pair is None:
                return True
            before, after = pair
            if c.side is None:
                rate = after.funding_rate
            else:
                rate = after.funding_rate_long if c.side == "long" else after.funding_rate_short
            if _new_record(before, after) and not c.low <= rate <= c.high:
                return True
        elif isinstance(c, NextSpotRate):
            pair = _before_after(c.market, declared, now)
            if pair is None or _new_spot_rate(*pair):
                return True
        elif isinstance(c, FundingAprOutside):
            pair = _before_after(c.market, declared, now)
            if pair is None or (_new_record(*pair) and c.outside(pair[1])):
                return True
        else:
            raise TypeError(f"unknown wake condition {c!r}")
    return False


def _before_after(
    market: str, declared: StrategySnapshot, now: StrategySnapshot
) -> tuple[MarketSnapshot, MarketSnapshot] | None:
    """`market` in the declaring snapshot and now; None if either lacks it (fired)."""
    before = declared.markets.get(market)
    after = now.markets.get(market)
    if before is None or after is None:
        return None
    return before, after


def _new_record(before: MarketSnapshot, after: MarketSnapshot) -> bool:
    """A funding record newer than the declaring snapshot's has arrived."""
    return after.last_funding_ts > before.last_funding_ts


def _new_spot_rate(before: MarketSnapshot, after: MarketSnapshot) -> bool:
    """The spot leg's deposit or borrow APR has changed (a rate update)."""
    return (
        after.spot_deposit_apr != before.spot_deposit_apr
        or after.spot_borrow_apr != before.spot_borrow_apr
    )


__all__ = [
    "EVERY_TICK",
    "AtTime",
    "EveryTick",
    "FundingAprOutside",
    "FundingOutside",
    "HealthBelow",
    "NextFunding",
    "NextSpotRate",
    "PriceOutside",
    "WakeCondition",
    "fired",
]
