"""A quiet hour's payments carry the kept maintenance calculation (ADR-0020 point 58).

`sim.liquidation.CHARGED_SLACK`: a funding update, a settled pnl and interest on USDC move
the kept (collateral, requirement) by their exact terms instead of dropping it; the
liquidation check, `quiet_bands` and the hourly health sample (`health_now`) work from the
kept pair at the kept prices plus bounds of the price moves since. Checked here:

- the simulator itself (Hypothesis: accounts near maintenance, USDC deposits and
  borrows, SOL collateral, long and short perps, funding settled or not, interest, price
  moves, settle_pnl, deposits, withdrawals, fills): after every operation the kept pair
  is the program's calculation at the kept prices; a "not liquidatable" from the kept
  bound is never wrong; `health_now` is the exact health; each band's corners keep the
  account above maintenance and its health floors; and the records and account bytes are
  those of the reference (`CHARGED_SLACK = False`);
- whole backtests with the flag on and off: the report (samples included), every ledger
  row and every stored row, on synthetic minutes, the real LUNA crash and random paths
  near liquidation.
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from typing import Any

import pytest
from driftpy.math.margin import MarginCategory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import drift_engine.sim.liquidation as liquidation
from drift_engine.backtest.runner import run_backtest
from drift_engine.core.margin import health as margin_health
from drift_engine.core.program_math import calculate_margin
from drift_engine.core.types import MarketType, OrderIntent, PositionDirection
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.risk import RiskLimits
from drift_engine.sim import DriftSimulator
from drift_engine.sim.quiet import quiet_bands
from drift_engine.storage.testing import throwaway_database_url
from tests.backtest.flag_scenarios import IGNORED, LIQUIDATION_ONLY
from tests.backtest.strategy_kit import Hold, LeveragedLong
from tests.backtest.test_bookkeeping_rows import _dump, frozen_walls  # noqa: F401
from tests.backtest.test_fast_stepping import _luna_events, _path

HOUR = 3600
PERP = (MarketType.PERP, 0)
SOL = (MarketType.SPOT, 1)

OPS = st.one_of(
    st.tuples(st.just("funding"), st.integers(-40_000_000, 40_000_000)),
    st.tuples(st.just("rates"), st.integers(0, 3_000_000), st.integers(0, 5_000_000)),
    st.tuples(st.just("price"), st.sampled_from(["SOL", "SOL-PERP"]), st.floats(0.9, 1.1)),
    st.tuples(st.just("price"), st.sampled_from(["SOL", "SOL-PERP"]), st.floats(0.995, 1.005)),
    st.tuples(st.just("settle_pnl"), st.just(0)),
    st.tuples(st.just("deposit"), st.sampled_from(["USDC", "SOL"]), st.integers(1, 10**9)),
    st.tuples(st.just("withdraw"), st.sampled_from(["USDC", "SOL"]), st.integers(1, 10**10)),
    st.tuples(st.just("fill"), st.integers(-(10**10), 10**10).map(lambda b: b - b % 10**7)),
    st.tuples(st.just("unsettled"), st.booleans()),
)


def _sim(auto_settle: bool) -> DriftSimulator:
    return DriftSimulator(
        {"SOL-PERP": 100_000_000, "SOL": 100_000_000},
        ts=DEFAULT_ORIGIN,
        auto_settle_pnl=auto_settle,
    )


def _apply(sim: DriftSimulator, k: Any, op: tuple, ts: int, charged: bool) -> Any:
    """`op` on `sim` with `CHARGED_SLACK = charged`, then the liquidation check (as
    `apply` does after each event); what it returned (or the refusal's type)."""
    kind = op[0]
    old = liquidation.CHARGED_SLACK
    liquidation.CHARGED_SLACK = charged
    try:
        if kind == "funding":
            out = sim.update_funding("SOL-PERP", ts=ts, funding_rate=op[1])
        elif kind == "rates":
            out = sim.set_interest_rates("USDC", op[1], op[2], ts)
            out += sim.set_interest_rates("SOL", op[1], op[2], ts)
        elif kind == "price":
            key = SOL if op[1] == "SOL" else PERP
            price = max(1_000_000, int(sim._prices[key] * op[2]))
            out = sim.set_oracle_price(op[1], price, ts)
        elif kind == "settle_pnl":
            out = sim.settle_pnl(k, "SOL-PERP", ts)
        elif kind == "deposit":
            out = sim.deposit(k, op[1], op[2], ts)
        elif kind == "withdraw":
            out = sim.withdraw(k, op[1], op[2], ts)
        elif kind == "fill" and op[1]:
            side = PositionDirection.LONG if op[1] > 0 else PositionDirection.SHORT
            out = sim.place_order(k, OrderIntent(0, MarketType.PERP, side, abs(op[1])), ts)
        elif kind == "unsettled":
            sim.settle_funding_on_update = op[1]
            out = None
        else:
            out = None
    except Exception as exc:  # noqa: BLE001 - a refused operation (margin, amount): state kept
        out = type(exc).__name__
    try:
        return out, sim.liquidate_if_needed(ts)
    finally:
        liquidation.CHARGED_SLACK = old


def _exact(sim: DriftSimulator, k: Any) -> tuple[int, int]:
    calc = calculate_margin(sim.user(k), sim.market_snapshot(), MarginCategory.MAINTENANCE)
    return calc.total_collateral, calc.margin_requirement


def _at(sim: DriftSimulator, prices: dict, fn: Any) -> Any:
    """`fn()` with the oracle prices set to `prices` (then put back; no matching)."""
    now = dict(sim._prices)
    for key, p in prices.items():
        if sim._prices[key] != p:
            sim._set_price(key, p)
    try:
        return fn()
    finally:
        for key, p in now.items():
            if sim._prices[key] != p:
                sim._set_price(key, p)


def _check_kept(sim: DriftSimulator, k: Any, floors: tuple[int, ...]) -> None:
    """The invariants of the kept check of `k` (with `CHARGED_SLACK` on)."""
    acct = sim._account(k)
    if acct.user.status & liquidation._BEING_LIQUIDATED:
        return
    safe = acct.safe
    if safe is not None:
        # the kept pair is the program's calculation at the kept prices, exactly
        assert safe[4] == _at(sim, safe[3], lambda: _exact(sim, k))
        assert safe[0] == safe[4][0] - safe[4][1]
    tc, req = _exact(sim, k)
    # "cannot be liquidatable" from the kept bound is never wrong
    if not sim._possibly_liquidatable(acct):
        assert tc >= req
    # the hourly health sample is exact (from bounds or a new calculation)
    acct.safe = safe
    assert sim.health_now(k) == margin_health(tc, req)
    # every band keeps the account above maintenance and its health floors at its corners
    acct.safe = safe
    bands = quiet_bands(sim, k, floors)
    if not bands:
        return
    keys = [key for key in bands if key != (MarketType.SPOT, 0)]
    sides = [(max(1, bands[key][0]), bands[key][1]) for key in keys]  # prices stay > 0
    for corner in itertools.product(*sides):
        c_tc, c_req = _at(sim, dict(zip(keys, corner, strict=True)), lambda: _exact(sim, k))
        assert c_tc >= c_req, (corner, bands)
        for h in floors:
            assert margin_health(c_tc, c_req) >= h, (corner, bands, h)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    usdc=st.one_of(st.just(0), st.integers(10**6, 10**11)),
    sol=st.one_of(st.just(0), st.integers(10**7, 10**10)),
    # up to ~10x of the collateral: near maintenance (and past it)
    leverage=st.floats(0.0, 10.5),
    short=st.booleans(),
    borrow=st.integers(0, 10**10),  # USDC borrowed against SOL (interest on a liability)
    ops=st.lists(OPS, min_size=1, max_size=16),
    auto_settle=st.booleans(),
    floors=st.sampled_from([(), (30,), (80, 95)]),
)
def test_the_kept_pair_is_the_programs_and_its_bounds_hold(
    usdc, sol, leverage, short, borrow, ops, auto_settle, floors
):
    charged, reference = _sim(auto_settle), _sim(auto_settle)
    k = charged.open_account()
    reference.open_account()
    setup: list[tuple] = []
    if usdc:
        setup.append(("deposit", "USDC", usdc))
    if sol or not usdc:
        setup.append(("deposit", "SOL", sol or 10**9))
    if borrow:
        setup.append(("withdraw", "USDC", borrow))
    equity = usdc + (sol or (0 if usdc else 10**9)) * 100 // 1000
    base = int(equity * leverage) * 10**9 // 100_000_000
    base -= base % 10**7
    setup.append(("fill", -base if short else base))
    ts = DEFAULT_ORIGIN
    for op in setup + ops:
        if op not in setup:
            ts += HOUR
        got = _apply(charged, k, op, ts, True)
        want = _apply(reference, k, op, ts, False)
        assert got == want, op
        _check_kept(charged, k, floors)
    assert charged.records == reference.records
    assert charged.account_bytes() == reference.account_bytes()


def test_a_usdc_borrow_pays_interest_into_the_kept_requirement():
    # SOL collateral, USDC borrowed, a short: interest grows the borrow (requirement) and
    # funding and settled pnl move the borrow; the kept pair follows exactly
    sim = _sim(auto_settle=True)
    k = sim.open_account()
    sim.deposit(k, "SOL", 10 * 10**9, DEFAULT_ORIGIN)
    sim.withdraw(k, "USDC", 300 * 10**6, DEFAULT_ORIGIN)
    sim.place_order(
        k, OrderIntent(0, MarketType.PERP, PositionDirection.SHORT, 5 * 10**9), DEFAULT_ORIGIN
    )
    sim.set_interest_rates("USDC", 200_000, 900_000, DEFAULT_ORIGIN)
    sim.liquidate_if_needed(DEFAULT_ORIGIN)
    carried = 0
    for h in range(1, 6):
        kept = sim._account(k).safe
        ts = DEFAULT_ORIGIN + h * HOUR
        # the short gains (a settled pnl with a negative uPnL checks maintenance itself)
        sim.set_oracle_price("SOL-PERP", 100_000_000 - h * 200_000, ts)
        sim.update_funding("SOL-PERP", ts=ts, funding_rate=-5_000_000)
        sim.accrue_interest(ts)
        sim.liquidate_if_needed(ts)
        safe = sim._account(k).safe
        assert safe is not None
        carried += kept is not None and safe[3] == kept[3]  # carried, not recomputed
        assert safe[4] == _at(sim, safe[3], lambda: _exact(sim, k))
        assert sim.health_now(k) == margin_health(*_exact(sim, k))
    assert carried >= 4
    assert any(r.kind == "interest" and r.amount < 0 for r in sim.records)  # a borrow's


# ------------------------------------------------------------------ whole backtests


def _backtest(tmp_path: Path, charged: bool, monkeypatch, strategy, start, end, params, **kw):
    monkeypatch.setattr(liquidation, "CHARGED_SLACK", charged)
    where = tmp_path / str(charged)
    where.mkdir()
    with throwaway_database_url("sqlite", where) as url:
        report = run_backtest(strategy, "SOL-PERP", start, end, params, database_url=url, **kw)
        return report, _dump(url)


def _assert_same(tmp_path, monkeypatch, strategy, start, end, params=None, **kw):
    (on, on_rows), (off, off_rows) = (
        _backtest(tmp_path, c, monkeypatch, strategy, start, end, params, **kw)
        for c in (True, False)
    )
    for f in dataclasses.fields(on):
        if f.name not in IGNORED:
            assert getattr(on, f.name) == getattr(off, f.name), f.name
    assert on_rows == off_rows
    assert on.samples and on_rows["ledger_entries"]
    return on


@pytest.mark.usefixtures("frozen_walls")
@pytest.mark.parametrize("short", [True, False])
def test_synthetic_minutes_held(tmp_path, monkeypatch, short):
    report = _assert_same(
        tmp_path,
        monkeypatch,
        Hold,
        DEFAULT_ORIGIN,
        DEFAULT_ORIGIN + 16 * 86_400,
        {"leverage": 3.0, "short": short},
        source="synthetic",
    )
    assert report.funding_hours > 300


@pytest.mark.usefixtures("frozen_walls")
def test_synthetic_minutes_delta_neutral(tmp_path, monkeypatch):
    _assert_same(
        tmp_path,
        monkeypatch,
        "delta-neutral",
        DEFAULT_ORIGIN,
        DEFAULT_ORIGIN + 16 * 86_400,
        source="synthetic",
    )


@pytest.mark.usefixtures("frozen_walls")
def test_real_luna_crash(tmp_path, monkeypatch):
    events = _luna_events()
    report = _assert_same(
        tmp_path,
        monkeypatch,
        LeveragedLong,
        events[0].ts - 60,
        events[-1].ts + 60,
        {"leverage": 5.0, "exit_health": 0},
        data=(events, "real LUNA oracle, 2022-05-09..11"),
        risk=LIQUIDATION_ONLY,
    )
    assert report.liquidations >= 1


@pytest.mark.usefixtures("frozen_walls")
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**32 - 1),
    vol=st.floats(0.0, 0.01),
    funding=st.floats(-0.006, 0.006),
    leverage=st.floats(5.0, 9.5),
    short=st.booleans(),
)
def test_random_paths_near_liquidation(
    tmp_path_factory,
    monkeypatch,
    seed,
    vol,
    funding,
    leverage,
    short,
):
    import numpy as np

    rng = np.random.default_rng(seed)
    hours = 12
    steps = rng.normal(0.0, vol, hours * 60)
    prices = 100_000_000 * np.exp(np.concatenate([[0.0], np.cumsum(steps)]))
    rates = funding + rng.normal(0.0, abs(funding) + 1e-5, hours)
    events = _path(DEFAULT_ORIGIN, hours, np.maximum(prices, 1_000_000), rates)
    _assert_same(
        tmp_path_factory.mktemp("p"),
        monkeypatch,
        Hold,
        DEFAULT_ORIGIN,
        DEFAULT_ORIGIN + hours * HOUR,
        {"leverage": leverage, "short": short},
        data=(events, "synthetic random path"),
        risk=RiskLimits(
            health_floor=0, target_health=1, max_drawdown=1.0, max_leverage=10, halt_health=0
        ),
    )


@pytest.mark.parametrize("short", [True, False])
@pytest.mark.parametrize("leverage", [1, 3, 9])
@pytest.mark.parametrize("collateral", ["usdc", "sol-borrow"])
def test_the_health_sample_from_one_kept_pair_is_exact_across_prices(short, leverage, collateral):
    # one kept calculation, then payments carried into it, then every price on a fine
    # grid +-15 % around it (the perp and SOL together, and the perp alone): the sample
    # from the kept pair and the per-side slopes is the exact health at each, through
    # many of its integer steps
    sim = _sim(auto_settle=True)
    k = sim.open_account()
    if collateral == "usdc":
        sim.deposit(k, "USDC", 1_000 * 10**6, DEFAULT_ORIGIN)
        equity = 1_000
    else:
        sim.deposit(k, "SOL", 20 * 10**9, DEFAULT_ORIGIN)
        sim.withdraw(k, "USDC", 500 * 10**6, DEFAULT_ORIGIN)
        equity = 1_500
    side = PositionDirection.SHORT if short else PositionDirection.LONG
    base = equity * leverage * 10**9 // 100
    sim.place_order(k, OrderIntent(0, MarketType.PERP, side, base), DEFAULT_ORIGIN)
    sim.set_interest_rates("USDC", 100_000, 300_000, DEFAULT_ORIGIN)
    sim.liquidate_if_needed(DEFAULT_ORIGIN)
    ts = DEFAULT_ORIGIN + HOUR
    sim.update_funding("SOL-PERP", ts=ts, funding_rate=2_000_000)
    sim.accrue_interest(ts)
    acct = sim._account(k)
    kept = acct.safe
    assert kept is not None
    steps = seen = 0
    healths = set()
    for i in range(-600, 601):
        p = 100_000_000 + i * 25_000  # +-15 %
        for keys in ((PERP, SOL), (PERP,)):
            acct.safe = kept
            prices = {key: p for key in keys}
            got = _at(sim, prices, lambda: sim.health_now(k))
            want = _at(sim, prices, lambda: margin_health(*_exact(sim, k)))
            assert got == want, (p, keys)
            if abs(i) <= 40:  # within 1 %: decided from the kept pair, mostly
                steps += 1
                seen += acct.safe[3] == kept[3]
            healths.add(want)
    assert len(healths) > (3 if leverage > 1 else 0)  # the grid crosses integer steps
    if leverage == 1 and collateral == "usdc":  # (9x moves ~2 health points per 1 %)
        assert seen > steps // 2  # most are decided from the kept pair
