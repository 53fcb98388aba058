"""The hour tick's plain reads (`sim.funding_interest.PULL_PLAIN`: `_funding_event`
reads the record's rates and TWAPs as attributes, `apply`'s oracle tick finds its moved
keys in a loop and writes them with `_set_prices_lazily` when `LAZY_ORACLES` is on) give
what the reference gives (`getattr` with None per field, the comprehension and
`_set_prices`):

- on the simulator (Hypothesis, `test_event_path`'s scenarios: a levered perp long or
  short, a resting order, a spot long; drawn ticks of simulated, linked and other
  names, repeated prices, funding records and rate updates), with the oracle caches
  made when read or at every move (`LAZY_ORACLES`), the kept check carried or not:
  after every event the same records returned and kept, account bytes, markets, kept
  checks, margin, clock, sequence and prices;
- a funding record without some of the fields (an object with `kind` "funding"): the
  `getattr` reads, the same records or error, and TWAPs of 0 (the oracle price taken).

The whole backtests both ways are tests/backtest/test_pull_flags.py.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drift_engine.data.models import FundingRecord
from drift_engine.sim import DriftSimulator, accounts, liquidation

from .conftest import T0
from .test_event_path import ACCOUNT, EVENTS, _events, _setup
from .test_funding_event import apply_with, sim_state


def _apply(sim: DriftSimulator, event: Any, plain: bool) -> Any:
    """`sim.apply(event)` with `PULL_PLAIN = plain`: its records, or its error."""
    return apply_with(sim, event, {"PULL_PLAIN": plain})


def _state(sim: DriftSimulator, k: Any) -> tuple:
    return (*sim_state(sim, k), dict(sim._prices))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**ACCOUNT, lazy=st.booleans(), charged=st.booleans(), steps=EVENTS)
def test_the_plain_reads_are_the_reference(
    leverage, short, resting, spot_long, lazy, charged, steps
):
    (fast, k), (ref, _) = _setup(leverage, short, resting, spot_long)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(accounts, "LAZY_ORACLES", lazy)
        mp.setattr(liquidation, "CHARGED_SLACK", charged)
        for ev in _events(fast, steps):
            assert _apply(fast, ev, True) == _apply(ref, ev, False), ev
            assert _state(fast, k) == _state(ref, k), ev


def _funding_like(ts: int, rate: int, price: int, **drop: bool) -> SimpleNamespace:
    """A funding event as `apply` reads one, with the fields named in `drop` left out."""
    fields = {
        "kind": "funding",
        "ts": ts,
        "market": "SOL-PERP",
        "funding_rate": rate,
        "funding_rate_long": rate,
        "funding_rate_short": -rate,
        "oracle_price_twap": price,
        "mark_price_twap": price + 1_000,
    }
    for name in drop:
        del fields[name]
    return SimpleNamespace(**fields)


@pytest.mark.parametrize(
    "drop",
    [
        {},
        {"mark_price_twap": True},
        {"funding_rate_long": True, "funding_rate_short": True},
        {"oracle_price_twap": True},
        {"funding_rate": True},
    ],
)
def test_a_record_without_some_fields_takes_the_getattr_reads(drop):
    (fast, k), (ref, _) = _setup(3, False, False, True)
    price = fast.oracle_price("SOL-PERP")
    for h, rate in enumerate((350_000, -120_000, 0), start=1):
        ev = _funding_like(T0 + h * 3600, rate, price, **drop)
        assert _apply(fast, ev, True) == _apply(ref, ev, False), (drop, h)
        assert _state(fast, k) == _state(ref, k), (drop, h)
    # TWAPs of 0: the oracle price both ways
    ev = FundingRecord(T0 + 9 * 3600, "SOL-PERP", 0, 99_000, 99_000, 98_000, 0, 0, 0, 0)
    assert _apply(fast, ev, True) == _apply(ref, ev, False)
    assert _state(fast, k) == _state(ref, k)
    update = [r for r in fast.records if r.kind == "funding_rate"][-1]
    assert update.oracle_price_twap == update.mark_price_twap == fast.oracle_price("SOL-PERP")
