"""Drawn steps on a simulator for the attribution's flag tests (`KEPT_BOOKING`,
`HOUR_ATTRIBUTION`): each test feeds the same steps to an attribution with its flag on
and one with it off and compares them after every step.

A step is a price move, a funding update, a spot rate change, hours of interest, a
perp or spot order, a settle_pnl, a deposit or withdrawal, or (`OTHER`) another
sub-account's deposit; `apply_step` carries one out and says which market event (if
any) the attributions are to be fed; `flag_switch` runs a call with the flag on or off,
`attribution_pair` makes the two attributions over one funded simulator, and
`count_fused_hours` counts the hours `_check_hour` (`HOUR_FUSED`) booked itself."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from drift_engine.backtest import attribution
from drift_engine.core.types import MarketType, OrderIntent, PositionDirection
from drift_engine.data.models import FundingRecord, OracleTick, SpotRateRecord
from drift_engine.engine.ports import VenueError
from drift_engine.sim import DriftSimulator
from drift_engine.sim.state import SimulationError
from drift_engine.venues.paper import PaperVenue

HOUR = 3_600
T0 = 1_751_328_000  # 2025-07-01 00:00 UTC
CAPITAL = 10_000_000_000
PRICE = 150_000_000

#: the account's own steps
OPS = st.one_of(
    st.tuples(st.just("price"), st.sampled_from(["SOL-PERP", "SOL"]), st.integers(-300, 300)),
    st.tuples(st.just("funding"), st.integers(-2_000_000, 2_000_000)),
    st.tuples(
        st.just("rate"),
        st.sampled_from(["USDC", "SOL"]),
        st.sampled_from(["0", "0.01", "0.05", "0.3"]),
        st.sampled_from(["0", "0.03", "0.08", "0.9"]),
    ),
    st.tuples(st.just("accrue"), st.integers(1, 48)),  # hours of interest
    st.tuples(
        st.sampled_from(["perp", "spot"]),
        st.sampled_from(["long", "short"]),
        st.integers(1, 3_000),  # x 0.01 SOL
    ),
    st.tuples(st.just("settle")),
    st.tuples(
        st.sampled_from(["deposit", "withdraw"]),
        st.sampled_from(["USDC", "SOL"]),
        st.integers(1, 10**10),
    ),
)
#: another sub-account's deposit (its interest: the same authority, another sub-account)
OTHER = st.tuples(st.just("other"), st.integers(1, 10**9))


def funded_simulator(auto_settle: bool, others: int = 0) -> tuple[DriftSimulator, list]:
    """A SOL-PERP / SOL simulator with interest rates on USDC and SOL, and `1 + others`
    paper venues (sub-accounts 0, 1, ...) each funded with `CAPITAL`."""
    sim = DriftSimulator({"SOL-PERP": PRICE, "SOL": PRICE}, ts=T0, auto_settle_pnl=auto_settle)
    for market, deposit, borrow in (("USDC", "0.05", "0.08"), ("SOL", "0.006", "0.03")):
        sim.apply(SpotRateRecord(T0, market, None, Decimal(deposit), Decimal(borrow)))
    venues = []
    for sub in range(1 + others):
        venue = PaperVenue(sim, sub_account_id=sub)
        venue.fund(CAPITAL, T0)
        venues.append(venue)
    return sim, venues


def apply_step(
    sim: DriftSimulator, venue: PaperVenue, other: PaperVenue | None, step: tuple, ts: int,
    prices: dict[str, int],
) -> tuple[int, Any]:  # fmt: skip
    """Carries out one drawn step on `venue`'s account (an `OTHER` step on `other`'s);
    returns (the time, the market event to feed to the simulator and the attributions,
    or None: the step acted on the simulator itself)."""
    kind = step[0]
    if kind == "price":
        market = step[1]
        prices[market] = max(1_000_000, prices[market] + prices[market] * step[2] // 10_000)
        return ts, OracleTick(ts, market, prices[market], "synthetic")
    if kind == "funding":
        ts = (ts // HOUR + 1) * HOUR + 5  # the next hour's update, just after the hour
        p = prices["SOL-PERP"]
        return ts, FundingRecord(ts, "SOL-PERP", 0, step[1], step[1], step[1], 0, 0, p, p,
                                 "synthetic")  # fmt: skip
    if kind == "rate":
        return ts, SpotRateRecord(ts, step[1], None, Decimal(step[2]), Decimal(step[3]))
    if kind == "accrue":
        ts += step[1] * HOUR
        sim.accrue_interest(ts)
    elif kind in ("perp", "spot"):
        index = 0 if kind == "perp" else 1
        market_type = MarketType.PERP if kind == "perp" else MarketType.SPOT
        intent = OrderIntent(index, market_type, PositionDirection(step[1]), step[2] * 10**7)
        with contextlib.suppress(VenueError):  # refused (margin): nothing changed
            venue.place([intent], ts)
    elif kind == "settle":
        sim.settle_pnl(venue.key, "SOL-PERP", ts)
    elif kind == "other":
        assert other is not None
        other.fund(step[1], ts)
    else:
        amount = step[2] if step[1] == "USDC" else step[2] * 100
        with contextlib.suppress(SimulationError, VenueError):
            getattr(sim, kind)(venue.key, step[1], amount, ts)
    return ts, None


def flag_switch(flag: str) -> Callable[..., Any]:
    """`call(on, fn, *args)`: `fn(*args)` with `backtest.attribution.<flag>` set to `on`
    (put back after), so one attribution is always fed with the flag on and its twin
    with it off."""

    def call(on: bool, fn: Callable[..., Any], *args: Any) -> Any:
        was = getattr(attribution, flag)
        setattr(attribution, flag, on)
        try:
            return fn(*args)
        finally:
            setattr(attribution, flag, was)

    return call


def attribution_pair(flag: str, auto_settle: bool) -> tuple:
    """(simulator, venue, another sub-account's venue, the attribution made with `flag`
    on, its twin made with it off), over `funded_simulator(auto_settle, others=1)`."""
    sim, (venue, other) = funded_simulator(auto_settle, others=1)
    switch = flag_switch(flag)
    on = switch(True, attribution.PnlAttribution, sim, venue, CAPITAL)
    off = switch(False, attribution.PnlAttribution, sim, venue, CAPITAL)
    return sim, venue, other, on, off


def count_fused_hours(mp: Any, count: list[int]) -> None:
    """Spies on `PnlAttribution.check` and `_check_hour` (through `mp`, a pytest
    MonkeyPatch): `count[0]` grows by one for each `_check_hour` that returned without
    calling `check` (the hour booked by the one function)."""
    pnl = attribution.PnlAttribution
    check_hour, check = pnl._check_hour, pnl.check
    general = [0]

    def spy_check(self: Any) -> Any:
        general[0] += 1
        return check(self)

    def spy_hour(self: Any) -> None:
        before = general[0]
        check_hour(self)
        count[0] += general[0] == before

    mp.setattr(pnl, "check", spy_check)
    mp.setattr(pnl, "_check_hour", spy_hour)
