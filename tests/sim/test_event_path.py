"""`DriftSimulator.apply`'s per-event path decides exactly what the uncached rules decide.

`apply` resolves an oracle event's market name to its linked keys once (`_event_keys`),
writes only the prices that moved, and decides "cannot be liquidated" from the kept check
(`acct.safe`: free maintenance collateral and a price-sensitivity bound) while the
account is unchanged. The reference here drops every kept value before each event
(`acct.safe = None`, the name cache emptied), so every liquidation decision is a fresh
program margin calculation, and drives the public entry points `apply` documents
(`set_oracle_price` of the linked symbol; `accrue_interest` + `update_funding`;
`set_interest_rates`; `liquidate_if_needed`). Both must leave the same records, the same
margin after every event, the same account bytes, and liquidate in the same minute.

`simulator.EVENT_INLINE` (ADR-0020 point 86: the oracle tick's writes and the kept
check's bound in `apply`'s own frame) against `_move_oracle` and `_liquidate_due`: the
same on these scenarios event by event (records, bytes, kept checks, margin) and in
whole fast backtests of the real LUNA crash (a liquidation, a drawdown halt).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from drift_engine.data.models import FundingRecord, OracleTick, SpotRateRecord
from drift_engine.sim import DriftSimulator, LiquidationRecord, liquidation, simulator
from tests.backtest.flag_scenarios import LUNA_LABEL, LUNA_LONGS, _luna, _same, _whole
from tests.backtest.strategy_kit import Hold

from .conftest import BASE, PRICE, QUOTE, SOL, T0, limit, make_sim, perp, spot

#: oracle names: simulated, linked to a simulated market ("sol": case), not simulated
NAMES = ("SOL", "SOL-PERP", "sol", "BTC", "SOL")

TICK = st.tuples(
    st.just("tick"),
    st.sampled_from(NAMES),
    # per mille of the current price; 0 repeats it (the second tick of one feed)
    st.one_of(st.just(0), st.integers(-120, 120), st.integers(-450, -200)),
)
#: (rate FUNDING_RATE 1e9, mark TWAP per mille above the oracle)
FUNDING = st.tuples(st.just("funding"), st.integers(-400_000, 400_000), st.integers(-5, 5))
#: (deposit, borrow) APR per mille
RATES = st.tuples(st.just("spot_rate"), st.integers(0, 300), st.integers(0, 600))
EVENTS = st.lists(st.one_of(TICK, TICK, TICK, FUNDING, RATES), min_size=1, max_size=30)


#: per (short, resting, spot_long): two simulators with the deposit, the spot buy and the
#: rates made, and their `snapshot()` (opening an account builds a DriftClient: ~0.3 s)
_BASES: dict[tuple[bool, bool, bool], list] = {}


def _base(resting: bool, spot_long: bool) -> list:
    pair = []
    for _ in range(2):
        sim = make_sim(derive_funding=False)
        k = sim.open_account()
        sim.deposit(k, "USDC", 1_000 * QUOTE, T0)
        if spot_long:
            sim.place_order(k, spot("long", SOL), T0)
        sim.set_interest_rates("USDC", Decimal("0.05"), Decimal("0.09"), T0)
        pair.append([sim, k, sim.snapshot()])
    return pair


#: `_setup`'s drawn account: a perp long or short of 1-9x leverage, a resting order, a
#: spot long (Hypothesis strategies by argument name)
ACCOUNT = {
    "leverage": st.integers(1, 9),
    "short": st.booleans(),
    "resting": st.booleans(),
    "spot_long": st.booleans(),
}


def _setup(leverage: int, short: bool, resting: bool, spot_long: bool) -> list:
    """Two equal simulators holding a `leverage`x perp position (and a resting order)."""
    pair = _BASES.get((short, resting, spot_long))
    if pair is None:
        pair = _BASES[(short, resting, spot_long)] = _base(resting, spot_long)
    for entry in pair:
        sim, k, snap = entry
        sim.restore(snap)
        entry[2] = sim.snapshot()  # the live objects now hold `snap`'s values
        sim._event_keys.clear()
        sim.place_order(k, perp("short" if short else "long", leverage * 10 * BASE), T0)
        if resting:
            price = 110 * PRICE if short else 90 * PRICE
            sim.place_order(k, limit("short" if short else "long", BASE, price), T0)
    return [(sim, k) for sim, k, _ in pair]


def _events(sim, steps):
    """The market-data events of `steps`, from the simulator's own prices (by minute)."""
    price = sim.oracle_price("SOL")
    out = []
    ts = T0
    for kind, a, b in steps:
        ts += 60
        if kind == "tick":
            price = max(PRICE // 100, price + price * b // 1000)
            out.append(OracleTick(ts, a, price))
        elif kind == "funding":
            ts = (ts // 3600 + 1) * 3600  # funding on the hour, each hour once
            out.append(
                FundingRecord(ts, "SOL-PERP", 0, a, a, a, 0, 0, price, price + price * b // 1000)
            )
        else:
            out.append(SpotRateRecord(ts, "USDC", 0, Decimal(a) / 1000, Decimal(b) / 1000))
    return out


def _reference_apply(sim, ev) -> list:
    """`apply` with every kept value dropped first, through the public entry points."""
    sim._event_keys.clear()
    for acct in sim._accounts.values():
        acct.safe = None
    out: list = []
    if ev.kind == "oracle":
        symbol = sim._link_symbol(ev.market)
        if symbol is None:
            return out
        out.extend(sim.set_oracle_price(symbol, ev.price, ev.ts))
    elif ev.kind == "funding":
        out.extend(sim.accrue_interest(ev.ts))
        out.extend(sim.update_funding(ev.market, ev))
    else:
        out.extend(sim.set_interest_rates(ev.market, ev.deposit_rate, ev.borrow_rate, ev.ts))
    for acct in sim._accounts.values():
        acct.safe = None
    out.extend(sim.liquidate_if_needed(ev.ts))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    **ACCOUNT,
    steps=EVENTS,
)
def test_apply_decides_as_the_uncached_rules(leverage, short, resting, spot_long, steps):
    (fast, k), (ref, _) = _setup(leverage, short, resting, spot_long)
    for ev in _events(fast, steps):
        got = fast.apply(ev)
        want = _reference_apply(ref, ev)
        assert got == want, ev
        assert fast.maintenance_now(k) == fast.maintenance(k) == ref.maintenance(k), ev
    assert fast.records == ref.records
    assert fast.account_bytes() == ref.account_bytes()
    liquidated = any(isinstance(r, LiquidationRecord) for r in fast.records)
    event(f"liquidated: {liquidated}")


def test_a_repeated_tick_only_moves_the_clock():
    """The second tick of one feed (SOL after SOL-PERP at the same price) writes nothing."""
    (sim, k), _ = _setup(3, True, False, False)
    sim.apply(OracleTick(T0 + 60, "SOL-PERP", 101 * PRICE))
    before = sim.account_bytes()
    assert sim.apply(OracleTick(T0 + 120, "SOL", 101 * PRICE)) == []
    assert sim.now == T0 + 120
    assert sim.account_bytes() == before
    assert sim.oracle_price("SOL") == sim.oracle_price("SOL-PERP") == 101 * PRICE


# -- `simulator.EVENT_INLINE` (ADR-0020 point 86): the tick and the check in `apply`'s frame


def _apply_inline(sim, ev, inline: bool) -> list:
    old = simulator.EVENT_INLINE
    simulator.EVENT_INLINE = inline
    try:
        return sim.apply(ev)
    finally:
        simulator.EVENT_INLINE = old


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    **ACCOUNT,
    charged=st.booleans(),
    steps=EVENTS,
)
def test_the_inline_tick_and_check_are_the_reference(
    leverage, short, resting, spot_long, charged, steps
):
    """`apply` with `EVENT_INLINE` and without (`_move_oracle`, `_liquidate_due`): the
    same records returned and kept, account bytes, kept checks and margin after every
    event, the same liquidations; the inline run never asks `_liquidate_due` (with the
    kept check carried) nor `_move_oracle`."""
    (fast, k), (ref, _) = _setup(leverage, short, resting, spot_long)
    asked = {"_liquidate_due": 0, "_move_oracle": 0}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(liquidation, "CHARGED_SLACK", charged)
        for name in asked:
            method = getattr(DriftSimulator, name)

            def counted(self, *a, _name=name, _method=method):
                if self is fast:
                    asked[_name] += 1
                return _method(self, *a)

            mp.setattr(DriftSimulator, name, counted)
        for ev in _events(fast, steps):
            assert _apply_inline(fast, ev, True) == _apply_inline(ref, ev, False), ev
            assert fast.records == ref.records, ev
            assert fast.account_bytes() == ref.account_bytes(), ev
            assert [a.safe for a in fast._accounts.values()] == [
                a.safe for a in ref._accounts.values()
            ], ev
            assert fast.maintenance(k) == ref.maintenance(k), ev
    assert asked["_move_oracle"] == 0
    if charged:  # (without it the inline path hands the check to `_liquidate_due`)
        assert asked["_liquidate_due"] == 0
    event(f"liquidated: {any(isinstance(r, LiquidationRecord) for r in fast.records)}")


@pytest.mark.parametrize(("params", "limits"), LUNA_LONGS)
def test_the_inline_tick_and_check_in_whole_backtests(tmp_path, params, limits):
    # the real LUNA crash held long, fast stepping (a liquidation; a drawdown halt):
    # everything the backtest leaves is the same both ways
    events = _luna(True)
    got = {}
    for inline in (True, False):
        where = tmp_path / str(inline)
        where.mkdir()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(simulator, "EVENT_INLINE", inline)
            got[inline] = _whole(
                where,
                True,
                Hold,
                "SOL-PERP",
                events[0].ts,
                events[-1].ts + 60,
                params,
                data=(events, LUNA_LABEL),
                risk=limits,
            )
    _same(got[True], got[False])
    if limits.health_floor == 0:
        assert got[True]["report"]["liquidations"] >= 1
