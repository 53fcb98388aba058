"""`sim.quiet.refresh_legs` (a quiet funding hour's equity terms, read from the slots the
last terms were read from) gives exactly `equity_legs` (every slot read), whatever the
simulator did in between: funding updates (settled or not), interest, price moves,
settle_pnl, deposits, withdrawals, fills. Where a slot may have come into use it must
read every slot again (ADR-0020, session 8)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drift_engine.core.types import MarketType, OrderIntent, PositionDirection
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.sim import DriftSimulator
from drift_engine.sim.quiet import equity_legs, kept_legs, refresh_legs

HOUR = 3600

OPS = st.one_of(
    st.tuples(st.just("funding"), st.integers(-3_000_000, 3_000_000)),
    st.tuples(st.just("rates"), st.integers(0, 400_000), st.integers(0, 600_000)),
    st.tuples(st.just("price"), st.sampled_from(["SOL", "SOL-PERP"]), st.floats(0.7, 1.4)),
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


def _apply(sim: DriftSimulator, k: object, op: tuple, ts: int) -> None:
    kind = op[0]
    try:
        if kind == "funding":
            sim.update_funding("SOL-PERP", ts=ts, funding_rate=op[1])
        elif kind == "rates":
            sim.set_interest_rates("USDC", op[1], op[2], ts)
            sim.set_interest_rates("SOL", op[1], op[2], ts)
        elif kind == "price":
            price = max(1_000_000, int(sim._prices[(MarketType.PERP, 0)] * op[2]))
            sim.set_oracle_price(op[1], price, ts)
        elif kind == "settle_pnl":
            sim.settle_pnl(k, "SOL-PERP", ts)
        elif kind == "deposit":
            sim.deposit(k, op[1], op[2], ts)
        elif kind == "withdraw":
            sim.withdraw(k, op[1], op[2], ts)
        elif kind == "fill" and op[1]:
            side = PositionDirection.LONG if op[1] > 0 else PositionDirection.SHORT
            sim.place_order(k, OrderIntent(0, MarketType.PERP, side, abs(op[1])), ts)
        elif kind == "unsettled":
            sim.settle_funding_on_update = op[1]
    except Exception:  # noqa: BLE001 - a refused operation (margin, amount): state kept
        pass


@settings(max_examples=150, deadline=None)
@given(
    # each holding often absent: an operation may then open its slot
    usdc=st.one_of(st.just(0), st.integers(1, 10**11)),
    sol=st.one_of(st.just(0), st.integers(1, 10**10)),
    perp=st.one_of(st.just(0), st.integers(-(10**10), 10**10).map(lambda b: b - b % 10**7)),
    ops=st.lists(OPS, min_size=1, max_size=14),
    auto_settle=st.booleans(),
)
def test_refreshed_legs_equal_the_legs_of_every_slot(usdc, sol, perp, ops, auto_settle):
    sim = _sim(auto_settle)
    k = sim.open_account()
    if usdc:
        sim.deposit(k, "USDC", usdc, DEFAULT_ORIGIN)
    if sol or not usdc:
        sim.deposit(k, "SOL", sol or 10**9, DEFAULT_ORIGIN)
    _apply(sim, k, ("fill", perp), DEFAULT_ORIGIN)
    legs, slots = kept_legs(sim, k)
    assert legs == equity_legs(sim, k)
    ts = DEFAULT_ORIGIN
    for op in ops:
        ts += HOUR
        _apply(sim, k, op, ts)
        legs, slots = refresh_legs(sim, k, slots)
        assert legs == equity_legs(sim, k), op


def test_a_settle_pnl_that_opens_the_quote_slot_is_read():
    # all collateral in SOL, a long at a loss: settle_pnl borrows the loss in a USDC slot
    # that was not in use when the slots were taken
    sim = _sim(auto_settle=False)  # (the fill's fee stays in the perp's quote amount)
    k = sim.open_account()
    sim.deposit(k, "SOL", 10 * 10**9, DEFAULT_ORIGIN)
    sim.place_order(
        k, OrderIntent(0, MarketType.PERP, PositionDirection.LONG, 10**9), DEFAULT_ORIGIN
    )
    legs, slots = kept_legs(sim, k)
    assert slots is not None and all(sp.market_index != 0 for sp in slots.spots)
    sim.set_oracle_price("SOL-PERP", 80_000_000, DEFAULT_ORIGIN + 60)
    sim.settle_pnl(k, "SOL-PERP", DEFAULT_ORIGIN + 120)
    assert sim.records[-1].kind == "settle_pnl"
    refreshed, _ = refresh_legs(sim, k, slots)
    assert refreshed == equity_legs(sim, k)
    assert refreshed is not None and refreshed != legs


@pytest.mark.parametrize("rate", [2_000_000, -2_000_000])
def test_payment_hours_read_the_kept_slots_only(rate, monkeypatch):
    # funding and interest hours: the kept slots are read (no full pass) and give the
    # full pass's legs
    import drift_engine.sim.quiet as sim_quiet

    sim = _sim(auto_settle=False)  # (with it, each hour's funding is a settle_pnl too)
    k = sim.open_account()
    sim.deposit(k, "USDC", 10**10, DEFAULT_ORIGIN)
    sim.set_interest_rates("USDC", 50_000, 80_000, DEFAULT_ORIGIN)
    sim.place_order(
        k, OrderIntent(0, MarketType.PERP, PositionDirection.SHORT, 10**9), DEFAULT_ORIGIN
    )
    legs, slots = kept_legs(sim, k)
    full = []
    real = sim_quiet.kept_legs
    monkeypatch.setattr(sim_quiet, "kept_legs", lambda *a: full.append(1) or real(*a))
    for h in range(1, 6):
        sim.update_funding("SOL-PERP", ts=DEFAULT_ORIGIN + h * HOUR, funding_rate=rate)
        sim.accrue_interest(DEFAULT_ORIGIN + h * HOUR)
        refreshed, slots = refresh_legs(sim, k, slots)
        assert refreshed == real(sim, k)[0]
        assert refreshed != legs
        legs = refreshed
    assert full == []  # every hour read the kept slots
