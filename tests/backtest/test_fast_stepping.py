"""Fast stepping (ADR-0020) equals per-bar stepping: the same fills, fees, funding,
liquidations, ledger entries (to the micro-USDC), samples, strategy state and high-water
mark, on synthetic minute data, the real LUNA crash (liquidation in the same minute) and
the real SOL year. And the exact equity terms the fast path uses equal the program's
user equity at any prices.

Quiet stretches (funding hours passed without asking the strategy: `engine.quiet.
passes_hour`) are exercised by strategies that declare no `NextFunding`: a held short, a
carry strategy with a `FundingOutside` band; on synthetic minutes, the LUNA crash with
hourly funding, an account that funding alone drags into liquidation mid-stretch, random
price and funding paths (Hypothesis), and the real SOL year."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import drift_engine.engine.quiet as engine_quiet
from drift_engine.backtest.runner import run_backtest
from drift_engine.core.program_math import user_equity
from drift_engine.core.types import MarketType, OrderIntent, PositionDirection
from drift_engine.data.bundled import luna_ticks
from drift_engine.data.models import OracleTick
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.risk import RiskLimits
from drift_engine.sim import DriftSimulator
from drift_engine.sim.quiet import equity_legs
from drift_engine.storage.database import Database
from drift_engine.vaults import VaultRegistry
from tests.backtest.flag_scenarios import DAY, IGNORED, LIQUIDATION_ONLY, _funding, scenario
from tests.backtest.strategy_kit import Carry, Hold, LeveragedLong


def _run(tmp_path: Path, mode: str, strategy, market, start, end, params, **kw):
    url = f"sqlite:///{tmp_path / f'{mode}.db'}"
    report = run_backtest(
        strategy,
        market,
        start,
        end,
        params,
        stepping=mode,
        margin_refresh_move=0.0,
        database_url=url,
        **kw,
    )
    db = Database.open(url)
    try:
        name = f"backtest-{report.strategy}-{market}"
        # (the capital transfer is stamped with the wall clock: its time is left out)
        entries = [
            (e.kind.value, e.amount, e.fee, e.key, e.market_index)
            + ((e.occurred_at,) if e.kind.value != "transfer_in" else ())
            for e in VaultRegistry(db).ledger.entries(name)
        ]
    finally:
        db.dispose()
    return report, entries


def _assert_equal(tmp_path, strategy, market, start, end, params=None, **kw):
    fast, fast_entries = _run(tmp_path, "fast", strategy, market, start, end, params, **kw)
    bar, bar_entries = _run(tmp_path, "bar", strategy, market, start, end, params, **kw)
    for f in dataclasses.fields(fast):
        if f.name in IGNORED:
            continue
        assert getattr(fast, f.name) == getattr(bar, f.name), f.name
    assert fast_entries == bar_entries
    assert fast.events == bar.events and fast.ticks == bar.ticks
    return fast, fast_entries


def test_synthetic_minutes_delta_neutral_in_the_market(tmp_path):
    case = scenario("delta-neutral-in-the-market")
    report, entries = _assert_equal(tmp_path, *case.args, **case.kw)
    assert report.fills >= 2 and report.funding_payments > 50
    assert sum(1 for e in entries if e[0] == "funding") > 50


def test_synthetic_minutes_entries_exits_and_rebalances(tmp_path):
    # a strategy that enters and leaves on the funding signal (an exit window, retries)
    case = scenario("delta-neutral-in-and-out")
    report, _ = _assert_equal(tmp_path, *case.args, **case.kw)
    assert report.trades >= 2  # in and out at least once


def _luna_events():
    ts, prices = luna_ticks()
    return [OracleTick(t, "SOL-PERP", p) for t, p in zip(ts, prices, strict=True)]


@pytest.mark.parametrize(
    ("leverage", "limits", "exit_health"),
    [
        (5.0, LIQUIDATION_ONLY, 0),
        (5.0, RiskLimits(max_leverage=10), 0),  # the health floor deleverages first
        (2.0, RiskLimits(max_drawdown=0.3), 30),  # the drawdown halt / the strategy exit
    ],
)
def test_real_luna_crash(tmp_path, leverage, limits, exit_health):
    events = _luna_events()
    start, end = events[0].ts - 60, events[-1].ts + 60
    report, entries = _assert_equal(
        tmp_path,
        LeveragedLong,
        "SOL-PERP",
        start,
        end,
        {"leverage": leverage, "exit_health": exit_health},
        data=(events, "real LUNA oracle, 2022-05-09..11"),
        risk=limits,
    )
    assert report.fills >= 1
    if limits.health_floor == 0:
        liquidations = [e for e in entries if e[0] == "liquidation"]
        assert report.liquidations >= 1 and liquidations


def test_real_sol_minutes_with_bridge(tmp_path):
    case = scenario("sol-minutes-delta-neutral")
    _assert_equal(tmp_path, *case.args, **case.kw)


@pytest.mark.slow
def test_the_real_sol_year(tmp_path):
    case = scenario("sol-year-delta-neutral")
    report, _ = _assert_equal(tmp_path, *case.args, **case.kw)
    assert report.funding_hours > 7000


@pytest.fixture
def quiet_hours(monkeypatch):
    """Counts the funding hours fast stepping passed quietly (no real step)."""
    seen = []
    real = engine_quiet.quiet_step

    def counting(engine, ts, *args):
        seen.append(ts)
        real(engine, ts, *args)

    monkeypatch.setattr(engine_quiet, "quiet_step", counting)
    return seen


def test_quiet_stretches_held_short_synthetic(tmp_path, quiet_hours):
    report, entries = _assert_equal(
        tmp_path,
        Hold,
        "SOL-PERP",
        DEFAULT_ORIGIN,
        DEFAULT_ORIGIN + 3 * DAY,
        {"leverage": 2.0},
        source="synthetic",
    )
    funding = [e for e in entries if e[0] == "funding"]
    assert report.fills == 1 and len(funding) > 60
    assert report.strategy_state["funding"] == sum(e[1] for e in funding) == report.funding
    # every funding hour but the day's record saves passed without a real step
    assert len(quiet_hours) >= len(funding) - 4


def test_quiet_stretches_carry_band(tmp_path, quiet_hours):
    case = scenario("entering-and-leaving")
    report, _ = _assert_equal(tmp_path, *case.args, **case.kw)
    assert report.fills >= 2 and report.funding_payments > 10  # in and out
    assert quiet_hours


def _path(start: int, hours: int, prices, rates) -> list:
    """Minute oracle ticks (`prices`, one a minute) and a funding record each hour."""
    events: list = []
    for i, p in enumerate(prices):
        t = start + 60 * i
        events.append(OracleTick(t, "SOL-PERP", int(p), "synthetic"))
        if i and i % 60 == 0 and i // 60 <= hours:
            events.append(_funding(t, int(p), rates[i // 60 - 1]))
    return events


def test_funding_alone_drags_the_account_into_liquidation(tmp_path, quiet_hours):
    # a flat price, a 9x short paying 0.5 % of notional an hour: after a few quiet hours
    # the funding has eaten the margin and the simulator liquidates at a funding hour
    start = DEFAULT_ORIGIN
    hours = 30
    prices = [100_000_000 + (7_000 if i % 2 else 0) for i in range(hours * 60 + 1)]
    events = _path(start, hours, prices, [-0.005] * hours)
    limits = RiskLimits(
        health_floor=0, target_health=1, max_drawdown=1.0, max_leverage=10, halt_health=0
    )
    report, entries = _assert_equal(
        tmp_path,
        Hold,
        "SOL-PERP",
        start,
        start + hours * 3600,
        {"leverage": 9.0},
        data=(events, "synthetic: flat price, heavy funding"),
        risk=limits,
    )
    liquidations = [e for e in entries if e[0] == "liquidation"]
    assert report.liquidations >= 1 and liquidations
    first = min(e[5] for e in liquidations)
    assert any(ts < first.timestamp() for ts in quiet_hours)  # quiet hours came first
    assert first.minute == 0  # at a funding hour, the funding's own doing


def test_real_luna_crash_with_hourly_funding(tmp_path, quiet_hours):
    case = scenario("luna-liquidated-off-the-hour")
    report, entries = _assert_equal(tmp_path, *case.args, **case.kw)
    assert report.liquidations >= 1
    assert quiet_hours


@settings(max_examples=8, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    vol=st.floats(0.0, 0.01),
    funding=st.floats(-0.004, 0.004),
    leverage=st.floats(1.0, 9.0),
    short=st.booleans(),
)
def test_property_fast_equals_per_bar_on_random_paths(
    tmp_path_factory, seed, vol, funding, leverage, short
):
    import numpy as np

    rng = np.random.default_rng(seed)
    hours = 10
    steps = rng.normal(0.0, vol, hours * 60)
    prices = 100_000_000 * np.exp(np.concatenate([[0.0], np.cumsum(steps)]))
    rates = funding + rng.normal(0.0, abs(funding) + 1e-5, hours)
    events = _path(DEFAULT_ORIGIN, hours, np.maximum(prices, 1_000_000), rates)
    limits = RiskLimits(
        health_floor=0, target_health=1, max_drawdown=1.0, max_leverage=10, halt_health=0
    )
    _assert_equal(
        tmp_path_factory.mktemp("p"),
        Hold,
        "SOL-PERP",
        DEFAULT_ORIGIN,
        DEFAULT_ORIGIN + hours * 3600,
        {"leverage": leverage, "short": short},
        data=(events, "synthetic random path"),
        risk=limits,
    )


@pytest.mark.slow
def test_the_real_sol_year_quiet_stretches(tmp_path, quiet_hours):
    report, entries = _assert_equal(
        tmp_path,
        Hold,
        "SOL-PERP",
        1_744_588_800,  # 2025-04-14
        1_775_001_600,  # 2026-04-01
        {"leverage": 1.0, "short": False},
        source="bundled",
        # no drawdown halt: the position is held all year (a halt flattens it)
        risk=LIQUIDATION_ONLY,
    )
    assert report.funding_hours > 7000 and len(quiet_hours) > 7000


@settings(max_examples=60, deadline=None)
@given(
    spot=st.integers(-(10**10), 10**11),
    perp=st.integers(-(10**11), 10**11).map(lambda b: b - b % 10**7),
    price=st.integers(1_000_000, 900_000_000),
    moved=st.integers(1_000_000, 900_000_000),
)
def test_equity_legs_equal_the_programs_user_equity(spot, perp, price, moved):
    sim = DriftSimulator({"SOL-PERP": price, "SOL": price}, ts=DEFAULT_ORIGIN)
    k = sim.open_account()
    sim.deposit(k, "USDC", 10**12, DEFAULT_ORIGIN)
    if spot > 0:
        sim.deposit(k, "SOL", spot, DEFAULT_ORIGIN)
    if perp:
        side = PositionDirection.LONG if perp > 0 else PositionDirection.SHORT
        sim.place_order(k, OrderIntent(0, MarketType.PERP, side, abs(perp)), DEFAULT_ORIGIN)
    legs = equity_legs(sim, k)
    assert legs is not None
    assert legs.at(sim._prices) == user_equity(sim.user(k), sim.market_snapshot())
    sim.set_oracle_price("SOL", moved, DEFAULT_ORIGIN + 1)
    assert legs.at(sim._prices) == user_equity(sim.user(k), sim.market_snapshot())


# ---------------------------------------------------------------------- quiet stretches
# (session 5: a run of quiet hours is one unit; ADR-0020 "Session 5")


def _flipping_rates(hours: int, period: int, size: float) -> list[float]:
    """Hourly rates that change sign every `period` hours (a small wobble inside)."""
    return [
        size * (1 if (h // period) % 2 == 0 else -1) * (1 + 0.1 * (h % 3)) for h in range(hours)
    ]


def test_multi_day_stretches_with_flipping_funding_wake_a_band_mid_run(tmp_path, quiet_hours):
    # five days of minutes; the rate flips sign every 14 hours: the carry strategy's
    # `FundingOutside` band wakes it at a flip (in, then out, then in again), and the
    # hours between flips pass quietly in stretches of many hours
    import numpy as np

    hours = 5 * 24
    rng = np.random.default_rng(5)
    prices = 100_000_000 * np.exp(
        np.concatenate([[0.0], np.cumsum(rng.normal(0, 4e-4, hours * 60))])
    )
    events = _path(DEFAULT_ORIGIN, hours, prices, _flipping_rates(hours, 14, 0.00004))
    report, entries = _assert_equal(
        tmp_path,
        Carry,
        "SOL-PERP",
        DEFAULT_ORIGIN,
        DEFAULT_ORIGIN + hours * 3600,
        {"entry_rate": 0.00002, "exit_rate": -0.00002},
        data=(events, "synthetic: funding flipping sign"),
    )
    assert report.fills >= 3  # woken mid-run by the band, more than once
    assert len(quiet_hours) > hours // 2
    funding = [e for e in entries if e[0] == "funding"]
    assert {e[1] > 0 for e in funding} == {True, False}  # paid and received


def test_hour_without_its_own_price_ticks_keeps_the_skipped_last_price(tmp_path, quiet_hours):
    # the funding records come in a minute of their own, with no price tick: the skip's
    # last prices are not set again by the funding tick, so they must be applied (the
    # hourly sample at the funding tick values the account at them)
    import numpy as np

    hours = 30
    rng = np.random.default_rng(9)
    steps = rng.normal(0, 6e-4, hours * 60)
    prices = 100_000_000 * np.exp(np.concatenate([[0.0], np.cumsum(steps)]))
    events: list = []
    for i, p in enumerate(prices):
        t = DEFAULT_ORIGIN + 60 * i
        if i % 60 == 0 and 0 < i // 60 <= hours:
            events.append(_funding(t, int(p), -0.0003 if (i // 60) % 5 else 0.0004))
        else:
            events.append(OracleTick(t, "SOL-PERP", int(p), "synthetic"))
    _assert_equal(
        tmp_path,
        Hold,
        "SOL-PERP",
        DEFAULT_ORIGIN,
        DEFAULT_ORIGIN + hours * 3600,
        {"leverage": 3.0},
        data=(events, "synthetic: funding in minutes without a price"),
    )
    assert quiet_hours


def test_quiet_hours_save_the_record_a_full_build_would(tmp_path, monkeypatch, quiet_hours):
    # every engine record saved (quiet hours build it from the last full record) equals
    # the record `_record` builds at that moment, field for field
    from drift_engine.engine.engine import DriftEngine

    saved = []
    real_save = DriftEngine._save

    def checked(self, rec, *unhedged):
        assert rec == self._record()
        if unhedged:  # the repr `_persist_quiet` passes is the record's own
            assert unhedged[0] == repr(rec.extra.get("unhedged"))
        saved.append(rec.last_ts)
        real_save(self, rec, *unhedged)

    monkeypatch.setattr(DriftEngine, "_save", checked)
    _run(
        tmp_path,
        "fast",
        Hold,
        "SOL-PERP",
        DEFAULT_ORIGIN,
        DEFAULT_ORIGIN + 2 * DAY,
        {"leverage": 2.0},
        source="synthetic",
    )
    assert len(quiet_hours) > 24 and len(saved) > 24


# ---------------------------------------------------------------------- session 8


@pytest.mark.parametrize("short", [True, False])
def test_every_quiet_hours_legs_read_from_the_kept_slots_are_every_slots_legs(
    tmp_path, monkeypatch, quiet_hours, short
):
    # `passes_hour` reads the hour's equity terms from the slots the last terms were read
    # from (`refresh_legs`); at every quiet hour of a whole run they are the terms of
    # every slot (`equity_legs`), and the run equals the per-bar one
    import numpy as np

    from drift_engine.sim import quiet as sim_quiet

    kept = []
    real = sim_quiet.refresh_legs

    def checked(sim, key, slots):
        legs, slots = real(sim, key, slots)
        assert legs == sim_quiet.equity_legs(sim, key)
        kept.append(slots is not None)
        return legs, slots

    monkeypatch.setattr(engine_quiet, "refresh_legs", checked)
    real_terms = sim_quiet.kept_terms  # (`sim.quiet.KEPT_TERMS`: the same legs, checked so)

    def checked_terms(sim, key, slots):
        legs, slots = real_terms(sim, key, slots)
        assert legs == sim_quiet.equity_legs(sim, key)
        kept.append(slots is not None)
        return legs, slots

    monkeypatch.setattr(engine_quiet, "kept_terms", checked_terms)
    hours = 3 * 24
    rng = np.random.default_rng(8)
    prices = 100_000_000 * np.exp(
        np.concatenate([[0.0], np.cumsum(rng.normal(0, 5e-4, hours * 60))])
    )
    events = _path(DEFAULT_ORIGIN, hours, prices, _flipping_rates(hours, 9, 0.00003))
    _assert_equal(
        tmp_path,
        Hold,
        "SOL-PERP",
        DEFAULT_ORIGIN,
        DEFAULT_ORIGIN + hours * 3600,
        {"leverage": 2.0, "short": short},
        data=(events, "synthetic: funding flipping sign"),
    )
    assert len(kept) == len(quiet_hours) > hours // 2 and all(kept)
