"""`program_math.calculate_margins` (the Initial and the Maintenance calculation in one pass
over the positions, `MARGIN_ONE_PASS`) gives exactly what `calculate_margin` gives once
per category (the reference, `MARGIN_ONE_PASS = False`): on drawn accounts (every branch
of the spot and perp passes: deposits, borrows, open orders, custom and high-leverage
margin, strict TWAPs, Settlement, the liquidation buffer) and on every margin computation
of a delta-neutral backtest of the real SOL year, whose report is also the same.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from driftpy.types import MarginMode, MarketStatus
from hypothesis import given, settings
from hypothesis import strategies as st

import drift_engine.core.margin as core_margin
from drift_engine.core import program_math as pm
from tests.core.test_margin_support import (
    PRICE,
    SOL,
    SOL_PERP,
    SOL_SPOT,
    USDC,
    borrow,
    deposit,
    markets,
    new_user,
    perp,
)

REAL_SOL = (1_744_588_800, 1_775_001_600)  # 2025-04-14 -> 2026-04-01, bundled hours


def _outcome(call: Any) -> Any:
    """What a calculation returns, or the exception it raises (type and message)."""
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - both paths must fail alike
        return (type(exc), str(exc))


def _both_ways(monkeypatch, *args: Any, **kw: Any) -> tuple[Any, Any]:
    """`calculate_margins` with the one pass and with the reference."""
    monkeypatch.setattr(pm, "MARGIN_ONE_PASS", True)
    fast = _outcome(lambda: pm.calculate_margins(*args, **kw))
    monkeypatch.setattr(pm, "MARGIN_ONE_PASS", False)
    reference = _outcome(lambda: pm.calculate_margins(*args, **kw))
    return fast, reference


_tokens = st.integers(0, 5_000)
_open = st.integers(-3 * SOL, 3 * SOL)


@st.composite
def _accounts(draw: Any) -> tuple[Any, pm.MarketSnapshot]:
    price = draw(st.integers(1, 400)) * PRICE + draw(st.integers(0, PRICE - 1))
    perps, spots = markets(price)
    user = new_user()
    if draw(st.booleans()):
        deposit(user, 0, spots[0], draw(_tokens) * USDC)
    else:
        borrow(user, 0, spots[0], draw(_tokens) * USDC)
    sol_kind = draw(st.sampled_from(("none", "deposit", "borrow")))
    if sol_kind != "none":
        (deposit if sol_kind == "deposit" else borrow)(user, 1, spots[SOL_SPOT], draw(_tokens))
        sp = user.spot_positions[1]
        if draw(st.booleans()):
            sp.open_bids, sp.open_asks = draw(st.integers(0, 3 * SOL)), -draw(st.integers(0, SOL))
            sp.open_orders = draw(st.integers(0, 3))
    if draw(st.booleans()):
        base = draw(st.integers(-50 * SOL, 50 * SOL))
        perp(user, 0, SOL_PERP, base, draw(st.integers(1, 400)) * PRICE)
        pp = user.perp_positions[0]
        pp.quote_asset_amount += draw(st.integers(-1_000 * USDC, 1_000 * USDC))
        pp.last_cumulative_funding_rate = draw(st.integers(-(10**12), 10**12))
        if draw(st.booleans()):
            pp.open_bids, pp.open_asks = draw(st.integers(0, 3 * SOL)), -draw(st.integers(0, SOL))
            pp.open_orders = draw(st.integers(0, 3))
        pp.max_margin_ratio = draw(st.sampled_from((0, 0, 500, 2_000, 10_000)))
    market = perps[SOL_PERP]
    market.amm.cumulative_funding_rate_long = draw(st.integers(-(10**12), 10**12))
    market.amm.cumulative_funding_rate_short = draw(st.integers(-(10**12), 10**12))
    if draw(st.integers(0, 9)) == 0:
        market.status = MarketStatus.Settlement()
        market.expiry_price = draw(st.integers(1, 400)) * PRICE
    if draw(st.booleans()):
        market.high_leverage_margin_ratio_initial = draw(st.integers(0, 500))
        market.high_leverage_margin_ratio_maintenance = draw(st.integers(0, 300))
    market.unrealized_pnl_max_imbalance = draw(st.sampled_from((0, 1_000 * USDC)))
    spots[SOL_SPOT].scale_initial_asset_weight_start = draw(st.sampled_from((0, 10**6 * USDC)))
    user.max_margin_ratio = draw(st.sampled_from((0, 0, 1_000, 5_000)))
    user.margin_mode = draw(
        st.sampled_from(
            (MarginMode.Default(), MarginMode.HighLeverage(), MarginMode.HighLeverageMaintenance())
        )
    )
    for m in spots.values():
        m.historical_oracle_data.last_oracle_price_twap5min = draw(st.integers(-PRICE, 400 * PRICE))
    spot_prices = {0: draw(st.sampled_from((PRICE, PRICE - 200, PRICE + 300))), 1: price}
    snapshot = pm.MarketSnapshot(perps, spots, {SOL_PERP: price}, spot_prices)
    return user, snapshot


@settings(max_examples=300, derandomize=True, deadline=None)
@given(_accounts(), st.booleans(), st.sampled_from((0, 100, 200)))
def test_one_pass_equals_a_calculation_per_category(account, strict, buffer):
    user, snapshot = account
    with pytest.MonkeyPatch.context() as monkeypatch:
        fast, reference = _both_ways(
            monkeypatch, user, snapshot, strict=strict, maintenance_buffer=buffer
        )
    assert fast == reference


def test_one_pass_on_a_hedged_account_is_both_categories(monkeypatch):
    """A spot long and a perp short with a SOL borrow-free USDC balance: the reference
    gives different Initial and Maintenance sums, and the one pass the same two."""
    perps, spots = markets(150 * PRICE)
    user = new_user()
    deposit(user, 0, spots[0], 1_000 * USDC)
    deposit(user, 1, spots[SOL_SPOT], 10 * SOL)
    perp(user, 0, SOL_PERP, -10 * SOL, 151 * PRICE)
    snapshot = pm.MarketSnapshot(perps, spots, {SOL_PERP: 150 * PRICE}, {0: PRICE, 1: 150 * PRICE})
    fast, reference = _both_ways(monkeypatch, user, snapshot, maintenance_buffer=200)
    assert fast == reference
    initial, maintenance = fast
    assert initial.category == pm.MarginCategory.INITIAL
    assert maintenance.category == pm.MarginCategory.MAINTENANCE
    assert initial.margin_requirement > maintenance.margin_requirement > 0
    assert maintenance.margin_requirement_plus_buffer > maintenance.margin_requirement


def _real_year_report() -> Any:
    from drift_engine.backtest.runner import run_backtest
    from drift_engine.data.pipeline import open_market_data

    start, end = REAL_SOL
    opened = open_market_data("bundled", ["SOL-PERP"], start, end)
    return run_backtest(
        "delta-neutral",
        "SOL-PERP",
        start,
        end,
        data=(opened.events, opened.label()),
        stepping="fast",
    )


@pytest.mark.slow
def test_the_real_sol_year_delta_neutral(monkeypatch):
    """Every `compute_from` of the real year's delta-neutral backtest: the one pass equals
    the reference on the same account; and the report without the one pass is the same."""
    real = pm.calculate_margins
    compared = []

    def checked(*args: Any, **kw: Any) -> Any:
        monkeypatch.setattr(pm, "MARGIN_ONE_PASS", False)
        reference = real(*args, **kw)
        monkeypatch.setattr(pm, "MARGIN_ONE_PASS", True)
        fast = real(*args, **kw)
        assert fast == reference
        compared.append(fast[1].total_perp_liability_value != 0)
        return fast

    monkeypatch.setattr(core_margin, "calculate_margins", checked)
    fast = _real_year_report()
    assert len(compared) > 1_000 and sum(compared) > 1_000  # the hedge was held
    monkeypatch.setattr(core_margin, "calculate_margins", real)
    monkeypatch.setattr(pm, "MARGIN_ONE_PASS", False)
    reference = _real_year_report()
    skip = {"wall_seconds", "events_per_second"}
    for f in dataclasses.fields(fast):
        if f.name not in skip:
            assert getattr(fast, f.name) == getattr(reference, f.name), f.name
