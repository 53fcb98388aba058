"""`apply`'s funding record in one pass (`sim.funding_interest.FUNDING_EVENT`, ADR-0020
point 84) gives what `accrue_interest` then `update_funding` give (`FUNDING_EVENT =
False`, the reference):

- on the simulator (Hypothesis, `test_event_path`'s scenarios: a levered perp long or
  short, a resting order, a spot long, drawn ticks of both SOL names, funding records
  and USDC rate updates), with and without the kept check carried (`CHARGED_SLACK`),
  auto-settle, settlement on update and derived funding: after every event the same
  records returned and kept, the same account bytes, markets, kept checks and margin;
  the one-pass run settles its usual hours without `update_funding`, the reference
  every hour through it;
- records the one pass does not take (no rate and no TWAPs, a funding time not after
  the last, a spot market) fail as the reference fails and leave the same state;
- whole backtests both ways (`tests/backtest/test_quiet_run.py`'s harness): synthetic
  minutes held short, the real LUNA crash (a liquidation) and real SOL hours
  delta-neutral (interest on the spot leg): the report, samples, every table's rows,
  ticks, records and accounts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drift_engine.data.models import FundingRecord
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.risk import RiskLimits
from drift_engine.sim import DriftSimulator, funding_interest, liquidation
from drift_engine.sim.state import SimulationError
from tests.backtest.test_fast_stepping import Hold
from tests.backtest.test_quiet_run import DAY, HOUR, SOL_YEAR, _luna, _same, _whole

from .conftest import PRICE, T0
from .test_event_path import EVENTS, _events, _setup

_SETTINGS = ("auto_settle_pnl", "settle_funding_on_update", "derive_funding")


@contextlib.contextmanager
def _updates() -> Iterator[dict[int, int]]:
    """id(sim) -> `update_funding` calls while the block runs."""
    calls: dict[int, int] = {}
    update = DriftSimulator.update_funding

    def counted(self: Any, *a: Any, **k: Any) -> Any:
        calls[id(self)] = calls.get(id(self), 0) + 1
        return update(self, *a, **k)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(DriftSimulator, "update_funding", counted)
        yield calls


def _apply(sim: DriftSimulator, event: Any, one_pass: bool) -> Any:
    """`sim.apply(event)` with `FUNDING_EVENT = one_pass`: its records, or its error."""
    old = funding_interest.FUNDING_EVENT
    funding_interest.FUNDING_EVENT = one_pass
    try:
        return sim.apply(event)
    except SimulationError as exc:
        return repr(exc)
    finally:
        funding_interest.FUNDING_EVENT = old


def _state(sim: DriftSimulator, k: Any) -> tuple:
    return (
        sim.records,
        sim.account_bytes(),
        sim.perp_markets,
        sim.spot_markets,
        [acct.safe for acct in sim._accounts.values()],
        sim.maintenance(k),
        sim.now,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    leverage=st.integers(1, 9),
    short=st.booleans(),
    resting=st.booleans(),
    spot_long=st.booleans(),
    charged=st.booleans(),
    flags=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    steps=EVENTS,
)
def test_the_one_pass_is_the_reference(leverage, short, resting, spot_long, charged, flags, steps):
    (fast, k), (ref, _) = _setup(leverage, short, resting, spot_long)
    kept = [(sim, [getattr(sim, name) for name in _SETTINGS]) for sim in (fast, ref)]
    try:
        for sim in (fast, ref):
            for name, value in zip(_SETTINGS, flags, strict=True):
                setattr(sim, name, value)
        with pytest.MonkeyPatch.context() as mp, _updates() as calls:
            mp.setattr(liquidation, "CHARGED_SLACK", charged)
            for ev in _events(fast, steps):
                assert _apply(fast, ev, True) == _apply(ref, ev, False), ev
                assert _state(fast, k) == _state(ref, k), ev
        hours = sum(kind == "funding" for kind, _, _ in steps)
        assert calls.get(id(ref), 0) == hours
        _, on_update, derive = flags
        assert calls.get(id(fast), 0) == (hours if derive or not on_update else 0)
    finally:
        for sim, values in kept:
            for name, value in zip(_SETTINGS, values, strict=True):
                setattr(sim, name, value)


def test_records_the_one_pass_does_not_take_fail_as_the_reference():
    (fast, k), (ref, _) = _setup(3, True, False, False)
    hour = T0 + 3600
    cases = [
        FundingRecord(hour, "SOL-PERP", 0, None, None, None, 0, 0, 0, 0),  # no rate, TWAPs
        FundingRecord(hour, "SOL-PERP", 0, 5_000, 5_000, 5_000, 0, 0, 100 * PRICE, 0),
        FundingRecord(hour, "SOL-PERP", 0, 5_000, 5_000, 5_000, 0, 0, 0, 0),  # same time
        FundingRecord(hour + 3600, "SOL", 1, 5_000, 5_000, 5_000, 0, 0, 0, 0),  # spot
        FundingRecord(hour, "SOL-PERP", 0, 5_000, 5_000, 5_000, 0, 0, 0, 0),  # backwards
    ]
    with _updates() as calls:
        got = []
        for ev in cases:
            got.append(_apply(fast, ev, True))
            assert got[-1] == _apply(ref, ev, False), ev
            assert _state(fast, k) == _state(ref, k), ev
    assert [isinstance(g, str) for g in got] == [True, False, True, True, True]
    # through `update_funding`: the reference's every hour that reaches it (all but the
    # one going back in time), the one pass's all but the usual hour
    assert (calls[id(ref)], calls[id(fast)]) == (4, 3)


# ------------------------------------------------------------------ whole backtests


def _both(tmp_path, strategy, market, start, end, params=None, **kw) -> dict:
    """`_whole` with the one pass and without, compared; the one pass settles its hours
    without `update_funding`, the reference through it."""
    got: dict[bool, Any] = {}
    for one_pass in (True, False):
        where = tmp_path / ("one-pass" if one_pass else "ref")
        where.mkdir()
        with pytest.MonkeyPatch.context() as mp, _updates() as calls:
            mp.setattr(funding_interest, "FUNDING_EVENT", one_pass)
            got[one_pass] = _whole(where, True, strategy, market, start, end, params, **kw)
        got[one_pass]["updates"] = sum(calls.values())
    assert got[True]["updates"] == 0
    assert got[False]["updates"] >= got[False]["report"]["funding_hours"] > 0
    _same(got[True], got[False])
    return got[True]


def test_synthetic_minutes_held_short(tmp_path):
    _both(
        tmp_path, Hold, "SOL-PERP", DEFAULT_ORIGIN, DEFAULT_ORIGIN + 4 * DAY, {"leverage": 2.0},
        source="synthetic",
    )  # fmt: skip


def test_real_luna_crash(tmp_path):
    events = _luna(True)
    got = _both(
        tmp_path,
        Hold,
        "SOL-PERP",
        events[0].ts,
        events[-1].ts + 60,
        {"leverage": 5.0, "short": False},
        data=(events, "real LUNA oracle, 2022-05-09..11; synthetic hourly funding"),
        risk=RiskLimits(health_floor=0, target_health=1, max_drawdown=1.0, max_leverage=10),
    )
    assert got["report"]["liquidations"] >= 1


def test_real_sol_hours_delta_neutral(tmp_path):
    got = _both(
        tmp_path, "delta-neutral", "SOL-PERP", SOL_YEAR + 112 * DAY, SOL_YEAR + 133 * DAY,
        {"settle_every_s": 4 * HOUR}, source="bundled",
    )  # fmt: skip
    assert got["report"]["trades"] >= 2
