"""The funding hour's records made through their twins (`core.frozen.TWIN_BUILD`) at
the call sites that use them: `_funding_written`'s `FundingRateRecord`, the one pass's
`FundingPaymentRecord` and the interest pass's `InterestRecord`
(`sim.funding_interest`), and `PaperVenue.funding_event`'s `FundingEvent`.

- on the simulator (Hypothesis, `test_event_path`'s scenarios: a levered perp long or
  short, a resting order, a spot long; drawn ticks, funding records and rate updates),
  the kept check carried or not: after every event the same records returned and kept
  (each of exactly its record class), account bytes, markets, kept checks, margin,
  clock, sequence and prices; at a funding record, with the flag off every hour record
  is made by its class's `__init__`, with it on the rate record never is and fewer in
  all (the reference's own calls, where the one pass gives way to them, still make
  theirs by the class);
- the paper venue's funding events of every funding record and interest events of
  USDC and SOL interest records, both ways: equal, exactly `FundingEvent`s and
  `InterestEvent`s, with the venue's epoch or without.

What a twin makes, class by class: tests/core/test_twin_build.py. Whole backtests both
ways: tests/backtest/test_pull_flags.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drift_engine.core import frozen
from drift_engine.engine.ports import InterestEvent
from drift_engine.sim import DriftSimulator, liquidation, records
from drift_engine.strategies.base import FundingEvent
from drift_engine.venues.paper import PaperVenue

from .conftest import BASE, QUOTE, SOL, T0, make_sim, perp, spot
from .test_event_path import ACCOUNT, EVENTS, _events, _setup
from .test_funding_event import sim_state

HOUR_RECORDS = (records.FundingRateRecord, records.FundingPaymentRecord, records.InterestRecord)


def _apply(sim: DriftSimulator, event: Any, twin: bool, made: list) -> Any:
    """`sim.apply(event)` with `TWIN_BUILD = twin`: its records, or its error; `made`
    gets the hour records made by their classes' `__init__` meanwhile."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(frozen, "TWIN_BUILD", twin)
        for cls in HOUR_RECORDS:
            init = cls.__init__

            def counted(self, *args, _init=init, _cls=cls, **kw):
                made.append(_cls)
                _init(self, *args, **kw)

            mp.setattr(cls, "__init__", counted)
        try:
            return sim.apply(event)
        except Exception as exc:  # noqa: BLE001 - the same error both ways
            return repr(exc)


def _state(sim: DriftSimulator, k: Any) -> tuple:
    return (*sim_state(sim, k), dict(sim._prices))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**ACCOUNT, charged=st.booleans(), steps=EVENTS)
def test_the_twin_made_records_are_the_reference(
    leverage, short, resting, spot_long, charged, steps
):
    (fast, k), (ref, _) = _setup(leverage, short, resting, spot_long)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(liquidation, "CHARGED_SLACK", charged)
        for ev in _events(fast, steps):
            made_fast: list = []
            made_ref: list = []
            kept = len(ref.records)
            got = _apply(fast, ev, True, made_fast)
            want = _apply(ref, ev, False, made_ref)
            assert got == want, ev
            assert [type(r) for r in got] == [type(r) for r in want]
            assert all(type(r) in records._RECORD_TYPES.values() for r in fast.records)
            assert _state(fast, k) == _state(ref, k), ev
            if ev.kind == "funding" and not isinstance(got, str):
                # with the flag off every hour record is made by its class; with it on
                # the market's rate record never is (`_funding_written`), and the rest
                # only where the one pass gives way to the reference's calls
                assert sorted(map(id, made_ref)) == sorted(
                    id(type(r)) for r in ref.records[kept:] if type(r) in HOUR_RECORDS
                )
                assert records.FundingRateRecord not in made_fast
                assert len(made_fast) < len(made_ref)


@pytest.mark.parametrize("epoch", ["", "e2"])
def test_the_venues_funding_events_are_the_reference(epoch):
    sim = make_sim(derive_funding=False)
    venue = PaperVenue(sim, epoch=epoch)
    venue.fund(2_000 * QUOTE, T0)
    venue.sim.place_order(venue.key, perp("short", 3 * BASE), T0)
    paid = []
    for hour, rate in enumerate((120_000, -80_000, 0, 5_000_000, -1)):
        paid += sim.update_funding("SOL-PERP", ts=T0 + 3600 * (hour + 1), funding_rate=rate)
    assert len(paid) >= 4
    for rec in paid:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(frozen, "TWIN_BUILD", True)
            got = venue.funding_event(rec)
            mp.setattr(frozen, "TWIN_BUILD", False)
            want = venue.funding_event(rec)
        assert type(got) is FundingEvent and got == want and repr(got) == repr(want)
        assert got.record_id == (f"{epoch}:{rec.record_id}" if epoch else rec.record_id)


@pytest.mark.parametrize("epoch", ["", "e2"])
def test_the_venues_interest_events_are_the_reference(epoch):
    sim = make_sim(derive_funding=False)
    venue = PaperVenue(sim, epoch=epoch)
    venue.fund(2_000 * QUOTE, T0)
    sim.set_interest_rates("USDC", 200_000, 300_000, T0)
    sim.set_interest_rates("SOL", 100_000, 400_000, T0)
    sim.place_order(venue.key, spot("long", 3 * SOL), T0)  # a SOL deposit
    sim.place_order(venue.key, spot("short", 1 * SOL), T0)  # (still a deposit)
    paid = []
    for day in range(1, 6):
        paid += sim.accrue_interest(T0 + 86_400 * day)
    assert {rec.market_index for rec in paid} == {0, 1}
    for rec in paid:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(frozen, "TWIN_BUILD", True)
            got = venue.interest_event(rec)
            mp.setattr(frozen, "TWIN_BUILD", False)
            want = venue.interest_event(rec)
        assert type(got) is InterestEvent and got == want and repr(got) == repr(want)
        assert got.record_id == (f"{epoch}:{rec.record_id}" if epoch else rec.record_id)
