"""The hourly health sample answered from the last agreeing corners
(`sim.liquidation.HEALTH_BOX`) is the exact health, as both corners asked give it
(`HEALTH_BOX = False`).

`health_now` bounds the collateral and the requirement by the kept pair plus the price
moves times the per-side slopes, and answers when the two corners give one health. With
the flag, the last corners that agreed are kept with their health: `health` grows with
the collateral and falls with the requirement (the fact the corners' test rests on), so
corners inside that box have that health too, and `health` is not asked. Checked here:
the box's four edges one by one (on the edge: answered from the box; one unit outside:
asked); price walks over kept pairs of held positions, against the exact health and the
reference; the box taken from one account answering for another; whole backtests with
the flag on and off (tests/backtest/flag_scenarios.py)."""

from __future__ import annotations

import pytest

import drift_engine.sim.liquidation as liquidation
from drift_engine.core.margin import health as margin_health
from drift_engine.core.types import MarketType, OrderIntent, PositionDirection
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.sim import DriftSimulator
from tests.backtest.flag_scenarios import flag_runs, named
from tests.sim.test_quiet_slack import _at, _exact

HOUR = 3600
PERP = (MarketType.PERP, 0)
SOL = (MarketType.SPOT, 1)
#: a health `margin_health` never gives: an answer from a planted box
PLANTED = 777


@pytest.fixture(autouse=True)
def _fresh_box(monkeypatch):
    monkeypatch.setattr(liquidation, "_HEALTH_BOX", [None])


def _held(short: bool = True, leverage: int = 3) -> tuple[DriftSimulator, tuple]:
    sim = DriftSimulator({"SOL-PERP": 100_000_000, "SOL": 100_000_000}, ts=DEFAULT_ORIGIN)
    k = sim.open_account()
    sim.deposit(k, "USDC", 1_000 * 10**6, DEFAULT_ORIGIN)
    side = PositionDirection.SHORT if short else PositionDirection.LONG
    sim.place_order(k, OrderIntent(0, MarketType.PERP, side, leverage * 10 * 10**9), DEFAULT_ORIGIN)
    sim.liquidate_if_needed(DEFAULT_ORIGIN)
    ts = DEFAULT_ORIGIN + HOUR
    sim.update_funding("SOL-PERP", ts=ts, funding_rate=2_000_000)
    sim.accrue_interest(ts)
    return sim, k


def _planted(sim: DriftSimulator, k: tuple, box: tuple) -> int:
    """`health_now` of a kept pair (10**9, 10**8) whose perp moved 1,000 price units,
    with slopes (10, 5) per unit: corners (tc -+ 10,001, req +- 5,001), and `box`
    planted with the health `PLANTED`."""
    acct = sim._account(k)
    kept = dict(sim._prices)
    kept[PERP] -= 1_000
    acct.safe = (
        9 * 10**8,
        {},
        len(sim.records),
        kept,
        (10**9, 10**8),
        (0.0, 0.0, {PERP: (10.0, 5.0)}),
    )
    liquidation._HEALTH_BOX[0] = (*box, PLANTED)
    return sim.health_now(k)


def test_each_edge_of_the_box_decides():
    sim, k = _held()
    tc, req, d_tc, d_req = 10**9, 10**8, 10_001, 5_001
    edges = (tc - d_tc, req + d_req, tc + d_tc, req - d_req)
    assert _planted(sim, k, edges) == PLANTED  # on every edge: inside
    exact = margin_health(10**9, 10**8)
    for i, outward in enumerate((1, -1, -1, 1)):  # one unit too narrow on one edge
        box = list(edges)
        box[i] += outward
        assert _planted(sim, k, tuple(box)) == exact, i
        # the corners agreed: their box is kept for the next sample
        assert liquidation._HEALTH_BOX[0] == (*edges, exact)
    with pytest.MonkeyPatch.context() as mp:  # the reference never reads a box
        mp.setattr(liquidation, "HEALTH_BOX", False)
        assert _planted(sim, k, edges) == exact


@pytest.mark.parametrize("short", [True, False])
@pytest.mark.parametrize("leverage", [1, 3, 9])
def test_a_price_walk_samples_the_exact_health(short, leverage):
    # a kept pair, then the perp and SOL walked out and back (the box answers on the
    # way back), each sample against the exact health and the flag off
    sim, k = _held(short, leverage)
    acct = sim._account(k)
    kept = acct.safe
    assert kept is not None
    boxed = 0
    path = [*range(0, 400, 7), *range(400, -400, -13), *range(-400, 0, 5)]
    for i in path:
        p = 100_000_000 + i * 25_000
        prices = {PERP: p, SOL: p}
        acct.safe = kept
        before = liquidation._HEALTH_BOX[0]
        got = _at(sim, prices, lambda: sim.health_now(k))
        boxed += before is not None and liquidation._HEALTH_BOX[0] is before
        want = _at(sim, prices, lambda: margin_health(*_exact(sim, k)))
        acct.safe = kept
        liquidation.HEALTH_BOX = False
        try:
            ref = _at(sim, prices, lambda: sim.health_now(k))
        finally:
            liquidation.HEALTH_BOX = True
        assert got == want == ref, (i, got, want, ref)
    assert boxed > len(path) // 4


def test_a_box_from_one_account_answers_for_another():
    first, k1 = _held(True, 3)
    second, k2 = _held(False, 1)
    for sim, k in ((first, k1), (second, k2), (first, k1)):
        acct = sim._account(k)
        kept = acct.safe
        for i in (3, -2, 1):
            prices = {PERP: kept[3][PERP] + i * 10_000}
            acct.safe = kept
            got = _at(sim, prices, lambda: sim.health_now(k))  # noqa: B023
            assert got == _at(sim, prices, lambda: margin_health(*_exact(sim, k))), i  # noqa: B023


def _boxed(mp: pytest.MonkeyPatch):
    """Counts the samples asked of `margin_health` through the corners."""
    calls = [0]
    real = liquidation.margin_health

    def counted(tc: int, req: int) -> int:
        calls[0] += 1
        return real(tc, req)

    mp.setattr(liquidation, "margin_health", counted)
    mp.setattr(liquidation, "_HEALTH_BOX", [None])
    return lambda: calls[0]


@pytest.mark.parametrize(
    "name", named("held-short", "entering-and-leaving", "luna-liquidated", "sol-minutes")
)
def test_a_backtest_is_the_same_with_the_health_box(tmp_path, name):
    runs = flag_runs(tmp_path, name, liquidation, "HEALTH_BOX", _boxed)
    assert runs[True]["spied"] < runs[False]["spied"]
