"""The funding record's one pass with its payments inline (`sim.funding_interest.
PAYMENT_INLINE`: each position's kept-check carry and settlement without
`_perp_quote_moved` and `_funding_paid`; `INTEREST_INLINE`: each holder's interest
without `_interest_paid`; the rules' own numbers (`funding.funding_payment`,
`token_amount_at`) still called) gives what the calls give (the flags False, the
reference):

- on the simulator (Hypothesis, `test_event_path`'s scenarios: a levered perp long or
  short, a resting order, a spot long, drawn ticks, funding records and USDC rate
  updates), with and without the kept check carried (`CHARGED_SLACK`), auto-settle,
  settlement on update and a pnl pool excess: after every event the same records
  returned and kept, the same account bytes, markets, kept checks, margin and sequence;
- a position with funding left unsettled before the hour (settlement off, then on: the
  move's second payment), long and short, rates of both signs and zero;
- interest on USDC and SOL deposits and a SOL borrow of two accounts, each way of the
  kept check; with the USDC kept at another quote price the check is dropped;
- funding updates at uneven times (a second, an hour, a day and more apart: the 24 h
  average's weights and its clamp) with rates of both signs.

The whole backtests both ways are tests/backtest/test_pull_flags.py.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from solders.pubkey import Pubkey

from drift_engine.data.models import FundingRecord, OracleTick
from drift_engine.sim import DriftSimulator, liquidation

from .conftest import BASE, PRICE, QUOTE, SOL, T0, make_sim, perp, spot
from .test_event_path import ACCOUNT, EVENTS, _events, _setup
from .test_funding_event import apply_with, sim_state

_FLAGS = ("PAYMENT_INLINE", "INTEREST_INLINE")
_SETTINGS = ("auto_settle_pnl", "settle_funding_on_update", "pnl_pool_excess")


def _apply(sim: DriftSimulator, event: Any, inline: bool) -> Any:
    """`sim.apply(event)` with the three flags `inline`: its records, or its error."""
    return apply_with(sim, event, dict.fromkeys(_FLAGS, inline))


_state = sim_state


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    **ACCOUNT,
    charged=st.booleans(),
    excess=st.sampled_from([0, 0, 1, 10**6]),
    flags=st.tuples(st.booleans(), st.booleans()),
    steps=EVENTS,
)
def test_the_inline_payments_are_the_calls(
    leverage, short, resting, spot_long, charged, excess, flags, steps
):
    (fast, k), (ref, _) = _setup(leverage, short, resting, spot_long)
    kept = [(sim, [getattr(sim, name) for name in _SETTINGS]) for sim in (fast, ref)]
    try:
        for sim in (fast, ref):
            for name, value in zip(_SETTINGS, (*flags, excess), strict=True):
                setattr(sim, name, value)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(liquidation, "CHARGED_SLACK", charged)
            for ev in _events(fast, steps):
                assert _apply(fast, ev, True) == _apply(ref, ev, False), ev
                assert _state(fast, k) == _state(ref, k), ev
    finally:
        for sim, values in kept:
            for name, value in zip(_SETTINGS, values, strict=True):
                setattr(sim, name, value)


@pytest.mark.parametrize("charged", [True, False])
@pytest.mark.parametrize("short", [True, False])
def test_funding_left_unsettled_before_the_hour(short, charged):
    # settlement off for some hours (the rates move, the position's last rate stays),
    # then on: the hour's move is the payment now less the one before the update (the
    # second `funding_payment`); rates of both signs and zero
    (fast, k), (ref, _) = _setup(4, short, False, True)
    kept = [(sim, sim.settle_funding_on_update) for sim in (fast, ref)]
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(liquidation, "CHARGED_SLACK", charged)
            price = fast.oracle_price("SOL-PERP")
            rates = [700_000, -300_000, 0, 250_000, -1_900_000, 0, 0, 5, -5, 123_456]
            for h, rate in enumerate(rates, start=1):
                on = h % 4 == 0 or h > 7
                for sim in (fast, ref):
                    sim.settle_funding_on_update = on
                ts = T0 + h * 3600
                price += price * (h % 3 - 1) // 200
                for ev in (
                    OracleTick(ts - 60, "SOL-PERP", price),
                    FundingRecord(ts, "SOL-PERP", 0, rate, rate, rate, 0, 0, price, price),
                ):
                    assert _apply(fast, ev, True) == _apply(ref, ev, False), (h, ev)
                    assert _state(fast, k) == _state(ref, k), (h, ev)
        assert sum(r.kind == "funding" for r in fast.records) >= 4
    finally:
        for sim, on in kept:
            sim.settle_funding_on_update = on


@pytest.mark.parametrize("quote_moved", [False, True])
@pytest.mark.parametrize("charged", [True, False])
def test_interest_on_deposits_and_borrows(charged, quote_moved):
    # two accounts (holders sorted by authority), USDC deposits, one SOL deposit and one
    # SOL borrow, rates on both markets; with the quote's kept price not $1 the check
    # is dropped, as `_exact_terms` drops it
    sims = []
    owners = sorted((Pubkey.new_unique() for _ in range(2)), key=str, reverse=True)
    for _ in range(2):
        sim = make_sim(derive_funding=False)
        a = sim.open_account(owners[0])
        b = sim.open_account(owners[1])
        for k in (a, b):
            sim.deposit(k, "USDC", 10_000 * QUOTE, T0)
        sim.deposit(a, "SOL", 7 * SOL + 123, T0)
        sim.place_order(b, spot("short", 3 * SOL), T0)  # a SOL borrow
        sim.place_order(b, perp("short", 2 * BASE), T0)
        sim.set_interest_rates("USDC", Decimal("0.05"), Decimal("0.09"), T0)
        sim.set_interest_rates("SOL", Decimal("0.031"), Decimal("0.077"), T0)
        sims.append(sim)
    fast, ref = sims
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(liquidation, "CHARGED_SLACK", charged)
        for sim in sims:
            sim.maintenance(b)  # a kept check for each account
            sim.maintenance(a)
            if quote_moved:
                for acct in sim._accounts.values():
                    if acct.safe is not None:
                        prices = dict(acct.safe[3])
                        prices[liquidation._QUOTE] += 1
                        acct.safe = (*acct.safe[:3], prices, *acct.safe[4:])
        for h in range(1, 30):
            price = 100 * PRICE + h * 37_000
            ev = FundingRecord(
                T0 + h * 3600, "SOL-PERP", 0, 9_000, 9_000, 9_000, 0, 0, price, price
            )
            assert _apply(fast, ev, True) == _apply(ref, ev, False), h
            assert _state(fast, b) == _state(ref, b), h
            assert _state(fast, a) == _state(ref, a), h
    amounts = {
        (r.authority, r.market_index, r.amount > 0) for r in fast.records if r.kind == "interest"
    }
    assert len(amounts) == 4  # USDC both, SOL a deposit and a borrow
    assert any(not up for _, index, up in amounts if index == 1)


@pytest.mark.parametrize("short", [True, False])
def test_funding_updates_at_uneven_times(short):
    (fast, k), (ref, _) = _setup(2, short, False, False)
    price = fast.oracle_price("SOL-PERP")
    ts = T0
    gaps = [3600, 1, 86_400, 2 * 86_400 + 7, 3600, 86_399, 60, 3600, 3600, 90_000, 1]
    rates = [0, 800_000, -800_000, 3, -3, 0, 1_500_000, -1, 1, 0, 250_000]
    for gap, rate in zip(gaps, rates, strict=True):
        ts += gap
        for ev in (
            OracleTick(ts - 1, "SOL-PERP", price),
            FundingRecord(ts, "SOL-PERP", 0, rate, rate, rate, 0, 0, price, price + 1000),
        ):
            assert _apply(fast, ev, True) == _apply(ref, ev, False), (gap, ev)
            assert _state(fast, k) == _state(ref, k), (gap, ev)
        price += price // 97
    averages = {fast.perp_markets[0].amm.last24h_avg_funding_rate}
    assert fast.perp_markets[0].amm.last_funding_rate_ts == ts
    assert averages != {0}
