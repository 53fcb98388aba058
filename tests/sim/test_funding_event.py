"""`apply`'s funding record in one pass (`sim.funding_interest.FUNDING_EVENT`, ADR-0020
point 84, with its interest, `INTEREST_PASS`, point 85, and its pnl test, `PNL_TEST`,
point 88) gives what `accrue_interest` then `update_funding` give (`FUNDING_EVENT =
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
- the pnl settlement's test in the pass (`PNL_TEST`, point 88) drawn with the pnl pool's
  excess;
- the interest in one pass (`INTEREST_PASS`, point 85) on USDC and SOL deposits and a
  SOL borrow of two accounts: what `_accrue_market` per market gives, and the reference;
- whole backtests both ways (`tests/backtest/test_quiet_run.py`'s harness): synthetic
  minutes held short, the real LUNA crash (a liquidation) and real SOL hours
  delta-neutral (interest on the spot leg): the report, samples, every table's rows,
  ticks, records and accounts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from solders.pubkey import Pubkey

from drift_engine.data.models import FundingRecord, OracleTick
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.sim import DriftSimulator, funding_interest, liquidation
from drift_engine.sim.state import SimulationError
from tests.backtest.flag_scenarios import (
    DAY,
    HOUR,
    LIQUIDATION_ONLY,
    LUNA_LABEL,
    SOL_YEAR,
    _luna,
    _same,
    _whole,
)
from tests.backtest.strategy_kit import Hold

from .conftest import BASE, PRICE, QUOTE, SOL, T0, make_sim, perp, spot
from .test_event_path import ACCOUNT, EVENTS, _events, _setup

_SETTINGS = ("auto_settle_pnl", "settle_funding_on_update", "derive_funding", "pnl_pool_excess")


@contextlib.contextmanager
def _updates(name: str = "update_funding") -> Iterator[dict[int, int]]:
    """id(sim) -> calls of the simulator's method `name` while the block runs."""
    calls: dict[int, int] = {}
    method = getattr(DriftSimulator, name)

    def counted(self: Any, *a: Any, **k: Any) -> Any:
        calls[id(self)] = calls.get(id(self), 0) + 1
        return method(self, *a, **k)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(DriftSimulator, name, counted)
        yield calls


_FLAGS = ("FUNDING_EVENT", "INTEREST_PASS", "PNL_TEST")


def apply_with(sim: DriftSimulator, event: Any, flags: dict[str, bool]) -> Any:
    """`sim.apply(event)` with `sim.funding_interest`'s module flags set as `flags` for
    the call: its records, or its error."""
    old = {name: getattr(funding_interest, name) for name in flags}
    for name, value in flags.items():
        setattr(funding_interest, name, value)
    try:
        return sim.apply(event)
    except SimulationError as exc:
        return repr(exc)
    finally:
        for name, value in old.items():
            setattr(funding_interest, name, value)


def _apply(
    sim: DriftSimulator, event: Any, one_pass: bool, interest: bool = True, pnl: bool = True
) -> Any:
    """`sim.apply(event)` with `FUNDING_EVENT = one_pass`, `INTEREST_PASS = interest` and
    `PNL_TEST = pnl`: its records, or its error."""
    return apply_with(sim, event, dict(zip(_FLAGS, (one_pass, interest, pnl), strict=True)))


def sim_state(sim: DriftSimulator, k: Any) -> tuple:
    """What a funding event may change: records, accounts, markets, kept checks, the
    maintenance calculation, the clock and the record sequence."""
    return (
        sim.records,
        sim.account_bytes(),
        sim.perp_markets,
        sim.spot_markets,
        [acct.safe for acct in sim._accounts.values()],
        sim.maintenance(k),
        sim.now,
        sim._seq,
    )


_state = sim_state


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    **ACCOUNT,
    charged=st.booleans(),
    interest=st.booleans(),
    pnl=st.booleans(),
    excess=st.sampled_from([0, 0, 1, 10**6]),
    flags=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    steps=EVENTS,
)
def test_the_one_pass_is_the_reference(
    leverage, short, resting, spot_long, charged, interest, pnl, excess, flags, steps
):
    (fast, k), (ref, _) = _setup(leverage, short, resting, spot_long)
    kept = [(sim, [getattr(sim, name) for name in _SETTINGS]) for sim in (fast, ref)]
    try:
        for sim in (fast, ref):
            for name, value in zip(_SETTINGS, (*flags, excess), strict=True):
                setattr(sim, name, value)
        with pytest.MonkeyPatch.context() as mp, _updates() as calls:
            mp.setattr(liquidation, "CHARGED_SLACK", charged)
            for ev in _events(fast, steps):
                assert _apply(fast, ev, True, interest, pnl) == _apply(ref, ev, False), ev
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


@pytest.mark.parametrize("excess", [0, 10**6])
@pytest.mark.parametrize("short", [True, False])
def test_the_pnl_test_in_the_pass(short, excess):
    # a 3x position through gains and losses, funding paid and received each hour, with
    # and without a pnl pool excess: the pass with `PNL_TEST`, without it, and the
    # reference leave the same state; some hours settle pnl, some are answered inline
    (fast, k), (ref, _) = _setup(3, short, False, False)
    kept = [(sim, sim.pnl_pool_excess, sim.auto_settle_pnl) for sim in (fast, ref)]
    try:
        for sim in (fast, ref):
            sim.pnl_pool_excess, sim.auto_settle_pnl = excess, True
        with _updates("_settle_position_pnl") as asked:
            price = fast.oracle_price("SOL-PERP")
            moves = [0, 20, -40, 80, -150, 10, 0, -5, 300, -200, 0, 0, 45, -45]
            for h, move in enumerate(moves, start=1):
                price += price * move // 1000
                ts = T0 + h * 3600
                rate = 400_000 if h % 3 else -900_000
                for ev in (
                    OracleTick(ts - 60, "SOL-PERP", price),
                    FundingRecord(ts, "SOL-PERP", 0, rate, rate, rate, 0, 0, price, price),
                ):
                    assert _apply(fast, ev, True) == _apply(ref, ev, False), (h, ev)
                    assert _state(fast, k) == _state(ref, k), (h, ev)
        settled = sum(r.kind == "settle_pnl" for r in fast.records)
        assert settled >= 2
        assert 0 < asked.get(id(fast), 0) <= asked[id(ref)] == len(moves)
        if not excess:  # (with it every gain has something to claim)
            assert asked[id(fast)] < asked[id(ref)]
    finally:
        for sim, excess_was, auto in kept:
            sim.pnl_pool_excess, sim.auto_settle_pnl = excess_was, auto


@pytest.mark.parametrize("charged", [True, False])
def test_interest_in_one_pass_on_deposits_and_borrows(charged):
    # two accounts (holders sorted by authority), USDC deposits, one SOL deposit and one
    # SOL borrow, rates on both markets: `INTEREST_PASS` against `_accrue_market`, and
    # against the reference funding branch
    sims = []
    owners = sorted((Pubkey.new_unique() for _ in range(2)), key=str, reverse=True)
    for _ in range(3):
        sim = make_sim(derive_funding=False)
        a = sim.open_account(owners[0])  # (opened first, sorted last)
        b = sim.open_account(owners[1])
        for k in (a, b):
            sim.deposit(k, "USDC", 10_000 * QUOTE, T0)
        sim.deposit(a, "SOL", 7 * SOL + 123, T0)
        sim.place_order(b, spot("short", 3 * SOL), T0)  # a SOL borrow
        sim.place_order(b, perp("short", 2 * BASE), T0)
        sim.set_interest_rates("USDC", Decimal("0.05"), Decimal("0.09"), T0)
        sim.set_interest_rates("SOL", Decimal("0.031"), Decimal("0.077"), T0)
        sims.append(sim)
    one, per_market, ref = sims
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(liquidation, "CHARGED_SLACK", charged)
        for h in range(1, 49):
            price = 100 * PRICE + h * 37_000
            ev = FundingRecord(
                T0 + h * 3600, "SOL-PERP", 0, 9_000, 9_000, 9_000, 0, 0, price, price
            )
            got = _apply(one, ev, True, True)
            assert got == _apply(per_market, ev, True, False) == _apply(ref, ev, False), h
            assert _state(one, b) == _state(per_market, b) == _state(ref, b), h
    amounts = {
        (r.authority, r.market_index, r.amount > 0) for r in one.records if r.kind == "interest"
    }
    assert len(amounts) == 4  # USDC both, SOL a deposit and a borrow
    assert any(not up for _, index, up in amounts if index == 1)


# ------------------------------------------------------------------ whole backtests


def _both(tmp_path, strategy, market, start, end, params=None, **kw) -> dict:
    """`_whole` with the one pass and without, compared; the one pass settles its hours
    without `update_funding` and `_accrue_market`, the reference through them."""
    got: dict[bool, Any] = {}
    for one_pass in (True, False):
        where = tmp_path / ("one-pass" if one_pass else "ref")
        where.mkdir()
        with (
            pytest.MonkeyPatch.context() as mp,
            _updates() as calls,
            _updates("_accrue_market") as per_market,
            _updates("_settle_position_pnl") as pnl_asked,
        ):
            mp.setattr(funding_interest, "FUNDING_EVENT", one_pass)
            got[one_pass] = _whole(where, True, strategy, market, start, end, params, **kw)
        got[one_pass]["updates"] = sum(calls.values())
        got[one_pass]["per_market"] = sum(per_market.values())
        got[one_pass]["pnl_asked"] = sum(pnl_asked.values())
    assert got[True]["updates"] == 0
    # (`INTEREST_PASS`): `_accrue_market` of the two spot markets at each funding record
    # in the reference only (a rate update accrues through it either way)
    assert got[False]["per_market"] - got[True]["per_market"] == 2 * got[False]["updates"]
    # (`PNL_TEST`): the hours that settle no pnl answered in the pass
    assert got[True]["pnl_asked"] < got[False]["pnl_asked"]
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
        data=(events, LUNA_LABEL),
        risk=LIQUIDATION_ONLY,
    )
    assert got["report"]["liquidations"] >= 1


def test_real_sol_hours_delta_neutral(tmp_path):
    got = _both(
        tmp_path, "delta-neutral", "SOL-PERP", SOL_YEAR + 112 * DAY, SOL_YEAR + 133 * DAY,
        {"settle_every_s": 4 * HOUR}, source="bundled",
    )  # fmt: skip
    assert got["report"]["trades"] >= 2
