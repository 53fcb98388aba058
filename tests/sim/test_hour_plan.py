"""The funding hour's plumbing done once (`sim.funding_interest.HOUR_PLAN`: `apply` finds
a funding record's key and perp market in a plan made at the name's first record,
and `_accrue_all` walks the spot markets in the order kept at construction) gives what
the reference gives (the look-ups and `sorted` an hour):

- on the simulator (Hypothesis, `test_event_path`'s scenarios: a levered perp long or
  short, a resting order, a spot long; drawn ticks, funding records and rate updates),
  the kept check carried or not: after every event the same records returned and kept,
  account bytes, markets, kept checks, margin, clock, sequence and prices;
- funding records of other names: a lower-case name, a spot market's (the reference's
  refusal, after the hour's interest), a market not simulated (nothing), each name's
  plan made once and kept;
- three spot markets with rates, one without, holders in two: the interest records in
  index order, the rate-less market's clock moved, as the reference.

The whole backtests both ways are tests/backtest/test_pull_flags.py.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drift_engine.data.models import FundingRecord
from drift_engine.sim import DriftSimulator, funding_interest, liquidation

from .conftest import AT_ORACLE, PRICE, QUOTE, T0, spot
from .test_event_path import ACCOUNT, EVENTS, _events, _setup
from .test_funding_event import apply_with, sim_state


def _apply(sim: DriftSimulator, event: Any, plan: bool) -> Any:
    """`sim.apply(event)` with `HOUR_PLAN = plan`: its records, or its error."""
    return apply_with(sim, event, {"HOUR_PLAN": plan})


def _state(sim: DriftSimulator, k: Any) -> tuple:
    return (*sim_state(sim, k), dict(sim._prices))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**ACCOUNT, charged=st.booleans(), steps=EVENTS)
def test_the_hour_plan_is_the_reference(leverage, short, resting, spot_long, charged, steps):
    (fast, k), (ref, _) = _setup(leverage, short, resting, spot_long)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(liquidation, "CHARGED_SLACK", charged)
        for ev in _events(fast, steps):
            assert _apply(fast, ev, True) == _apply(ref, ev, False), ev
            assert _state(fast, k) == _state(ref, k), ev


def _funding(ts: int, market: str, rate: int = 250_000) -> FundingRecord:
    return FundingRecord(ts, market, 0, rate, rate, rate, 0, 0, 100 * PRICE, 100 * PRICE)


def test_other_names_are_the_reference_and_each_plan_is_made_once(monkeypatch):
    (fast, k), (ref, _) = _setup(3, True, False, True)
    fast._funding_plans.clear()  # (the shared simulators keep their plans)
    made: list[str] = []
    plan_of = funding_interest.FundingInterestMixin._funding_plan

    def counted(self, name):
        made.append(name)
        return plan_of(self, name)

    monkeypatch.setattr(funding_interest.FundingInterestMixin, "_funding_plan", counted)
    names = ("SOL-PERP", "sol-perp", "USDC", "BTC-PERP", "SOL-PERP", "sol-perp", "BTC-PERP")
    for h, name in enumerate(names, start=1):
        ev = _funding(T0 + h * 3600, name, 100_000 * h)
        got = _apply(fast, ev, True)
        assert got == _apply(ref, ev, False), name
        assert _state(fast, k) == _state(ref, k), name
        if name == "USDC":  # the reference's refusal, after the hour's interest
            assert "not a perp market" in got
        if name == "BTC-PERP":
            assert got == []
    # one plan per name: the raw name is the key (a lower-case name has its own)
    assert made == ["SOL-PERP", "sol-perp", "USDC", "BTC-PERP"]
    assert fast._funding_plans["BTC-PERP"] is None
    assert fast._funding_plans["USDC"] == (("spot", 0), None)
    key, pm = fast._funding_plans["sol-perp"]
    assert key == ("perp", 0) and pm is fast.perp_markets[0]


def _three_spot() -> tuple[DriftSimulator, Any]:
    """USDC, SOL and mSOL spot markets: rates on USDC and SOL (none on mSOL), a USDC
    deposit and a SOL borrow (and an mSOL deposit), a perp short."""
    sim = DriftSimulator(
        {"SOL-PERP": 100 * PRICE, "SOL": 100 * PRICE, "mSOL": 120 * PRICE},
        ts=T0,
        default_price_model=AT_ORACLE,
        derive_funding=False,
    )
    k = sim.open_account()
    sim.deposit(k, "USDC", 5_000 * QUOTE, T0)
    sim.deposit(k, "mSOL", 2 * 10**9, T0)
    sim.place_order(k, spot("short", 10**9), T0)  # a SOL borrow
    sim.set_interest_rates("USDC", Decimal("0.05"), Decimal("0.09"), T0)
    sim.set_interest_rates("SOL", Decimal("0.08"), Decimal("0.15"), T0)
    return sim, k


def test_the_spot_markets_accrue_in_index_order():
    (fast, k), (ref, _) = _three_spot(), _three_spot()
    assert [i for i, _, _ in fast._spot_order] == sorted(fast.spot_markets)
    assert all(m is fast.spot_markets[i] for i, _, m in fast._spot_order)
    for h in range(1, 8):
        ev = _funding(T0 + h * 3600, "SOL-PERP", (-1) ** h * 300_000)
        got = _apply(fast, ev, True)
        assert got == _apply(ref, ev, False), h
        assert _state(fast, k) == _state(ref, k), h
    interest = [r.market_index for r in got if r.kind == "interest"]
    assert interest == sorted(interest) and len(set(interest)) == 2
    assert fast.spot_markets[2].last_interest_ts == T0 + 7 * 3600
