"""`sim.quiet.kept_terms` (a quiet hour's equity terms from the kept slots, with what each
slot's term reads besides its amounts kept: its market, leg key, balance type and
decimals' powers) gives exactly `equity_legs` (every slot read) and `refresh_legs`,
whatever the simulator did in between: funding updates settled or not, interest on
deposits and borrows, price moves, settle_pnl, deposits, withdrawals, fills, and what
`_from_terms` checks (a market in settlement, LP shares, another quote market, the
quote's price off $1, a balance type or market replaced). `KEPT_TERMS = False` is
`refresh_legs` (ADR-0020, session 19)."""

from __future__ import annotations

import copy

import pytest
from driftpy.types import MarketStatus, SpotBalanceType
from hypothesis import given, settings
from hypothesis import strategies as st

from drift_engine.core.types import MarketType
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.sim import quiet as sim_quiet
from drift_engine.sim.quiet import equity_legs, kept_legs, kept_terms, refresh_legs
from tests.sim.test_refresh_legs import HOUR, OPS, _apply, _sim

#: what `_from_terms` checks besides the records: each makes it answer None (then
#: `refresh_legs` answers) or, for "restore", gives its terms back
CHECKS = st.one_of(
    st.tuples(st.just("settlement"), st.booleans()),
    st.tuples(st.just("lp"), st.integers(0, 3)),
    st.tuples(st.just("quote_market"), st.integers(0, 1)),
    st.tuples(st.just("quote_price"), st.sampled_from([999_999, 1_000_000, 1_000_001])),
    st.tuples(st.just("balance_type"), st.just(0)),
    st.tuples(st.just("market_copy"), st.sampled_from(["perp", "spot"])),
    st.tuples(st.just("interest"), st.integers(1, 6)),
)


_CHECKED = {
    "settlement",
    "lp",
    "quote_market",
    "quote_price",
    "balance_type",
    "market_copy",
    "interest",
}


def _check(sim, k, op: tuple, ts: int) -> None:
    """One of `CHECKS`: a change `_from_terms` must see (no record is written)."""
    kind = op[0]
    user = sim.user(k)
    perp = sim.perp_markets[0]
    if kind == "settlement":
        perp.status = MarketStatus.Settlement() if op[1] else MarketStatus.Active()
    elif kind == "lp":
        for pp in user.perp_positions:  # (a position in use: a slot out of use that
            if pp.market_index == 0 and pp.base_asset_amount:  # comes into use is a record's)
                pp.lp_shares = op[1]
    elif kind == "quote_market":
        perp.quote_spot_market_index = op[1]
    elif kind == "quote_price":
        sim._spot_prices[0] = op[1]
    elif kind == "balance_type":  # the same variant, another object: a new type read
        for sp in user.spot_positions:
            if sp.scaled_balance:
                kind_now = type(sp.balance_type)
                sp.balance_type = kind_now()
    elif kind == "market_copy":  # a market object replaced by an equal copy
        markets = sim.perp_markets if op[1] == "perp" else sim.spot_markets
        markets[0] = copy.deepcopy(markets[0])
    elif kind == "interest":  # hours of interest without a funding update
        sim.accrue_interest(ts + op[1] * 60)


@settings(max_examples=120, deadline=None)
@given(
    usdc=st.one_of(st.just(0), st.integers(1, 10**11)),
    sol=st.one_of(st.just(0), st.integers(1, 10**10)),
    perp=st.one_of(st.just(0), st.integers(-(10**10), 10**10).map(lambda b: b - b % 10**7)),
    ops=st.lists(st.one_of(OPS, CHECKS), min_size=1, max_size=16),
    auto_settle=st.booleans(),
    rates=st.tuples(st.integers(0, 400_000), st.integers(0, 600_000)),
)
def test_kept_terms_equal_the_legs_of_every_slot(usdc, sol, perp, ops, auto_settle, rates):
    sim = _sim(auto_settle)
    k = sim.open_account()
    if usdc:
        sim.deposit(k, "USDC", usdc, DEFAULT_ORIGIN)
    if sol or not usdc:
        sim.deposit(k, "SOL", sol or 10**9, DEFAULT_ORIGIN)
    sim.set_interest_rates("USDC", rates[0], rates[1], DEFAULT_ORIGIN)
    sim.set_interest_rates("SOL", rates[0], rates[1], DEFAULT_ORIGIN)
    _apply(sim, k, ("fill", perp), DEFAULT_ORIGIN)
    _, slots = kept_legs(sim, k)
    _, twin = kept_legs(sim, k)  # the reference's own slots
    ts = DEFAULT_ORIGIN
    for op in ops:
        ts += HOUR
        if op[0] in _CHECKED:
            _check(sim, k, op, ts)
        else:
            _apply(sim, k, op, ts)
            sim.accrue_interest(ts)
        legs, slots = kept_terms(sim, k, slots)
        reference, twin = refresh_legs(sim, k, twin)
        assert legs == reference == equity_legs(sim, k), op
        assert (slots is None) == (twin is None), op


def _held_short(rate: int, usdc_type: str = "deposit"):
    """An account holding USDC (or borrowing it against SOL) and short the perp, with
    interest rates set: every hour a funding update and interest only."""
    sim = _sim(auto_settle=False)
    k = sim.open_account()
    if usdc_type == "deposit":
        sim.deposit(k, "USDC", 10**10, DEFAULT_ORIGIN)
    else:  # SOL collateral, USDC borrowed
        sim.deposit(k, "SOL", 100 * 10**9, DEFAULT_ORIGIN)
        sim.withdraw(k, "USDC", 10**9, DEFAULT_ORIGIN)
    sim.set_interest_rates("USDC", 50_000, 80_000, DEFAULT_ORIGIN)
    sim.set_interest_rates("SOL", 30_000, 70_000, DEFAULT_ORIGIN)
    from drift_engine.core.types import OrderIntent, PositionDirection

    sim.place_order(
        k, OrderIntent(0, MarketType.PERP, PositionDirection.SHORT, 10**9), DEFAULT_ORIGIN
    )
    return sim, k


@pytest.mark.parametrize("usdc_type", ["deposit", "borrow"])
@pytest.mark.parametrize("rate", [2_000_000, -2_000_000, 0])
@pytest.mark.parametrize("settled", [True, False])
def test_payment_hours_take_the_kept_terms(rate, usdc_type, settled, monkeypatch):
    # funding and interest hours: after the first (`refresh_legs`, the terms then kept)
    # every hour is answered from the kept terms, equal to the full pass; a borrow's
    # amount rounds up, a deposit's down; unsettled funding is the position's payment
    sim, k = _held_short(rate, usdc_type)
    sim.settle_funding_on_update = settled
    if usdc_type == "borrow":
        assert any(
            type(sp.balance_type) is type(SpotBalanceType.Borrow())
            for sp in sim.user(k).spot_positions
            if sp.scaled_balance
        )
    _, slots = kept_legs(sim, k)
    refreshed = []
    real = sim_quiet.refresh_legs
    monkeypatch.setattr(sim_quiet, "refresh_legs", lambda *a: refreshed.append(1) or real(*a))
    for h in range(1, 8):
        ts = DEFAULT_ORIGIN + h * HOUR
        sim.update_funding("SOL-PERP", ts=ts, funding_rate=rate)
        sim.accrue_interest(ts)
        legs, slots = kept_terms(sim, k, slots)
        assert legs is not None and legs == equity_legs(sim, k)
        assert slots is not None and slots.terms is not None
    assert refreshed == [1]  # the first hour only: its terms kept, then used


def test_a_kept_terms_hour_after_a_fill_reads_every_slot():
    # a record that is not a payment (a fill) since the terms were kept: `refresh_legs`,
    # which reads every slot (the fill may open one), and its terms kept again
    sim, k = _held_short(1_000_000)
    _, slots = kept_legs(sim, k)
    legs, slots = kept_terms(sim, k, slots)
    assert slots.terms is not None
    kept = slots.terms
    from drift_engine.core.types import OrderIntent, PositionDirection

    sim.deposit(k, "SOL", 10**9, DEFAULT_ORIGIN + HOUR)
    sim.place_order(
        k,
        OrderIntent(0, MarketType.PERP, PositionDirection.SHORT, 10**8),
        DEFAULT_ORIGIN + HOUR,
    )
    moved, slots = kept_terms(sim, k, slots)
    assert moved == equity_legs(sim, k) and moved != legs
    assert slots.terms is not None and slots.terms is not kept
    assert len(slots.spots) == 2  # the SOL slot that came into use is read


@pytest.mark.parametrize(
    "change",
    [
        ("settlement", True),
        ("lp", 1),
        ("quote_market", 1),
        ("quote_price", 999_999),
        ("balance_type", 0),
        ("market_copy", "perp"),
        ("market_copy", "spot"),
    ],
)
def test_each_check_of_the_kept_terms_hands_over_to_refresh_legs(change, monkeypatch):
    # each thing `_from_terms` checks, changed without a record: it answers None and
    # `refresh_legs` answers (the legs `equity_legs` gives, None for the first four)
    sim, k = _held_short(1_000_000)
    _, slots = kept_legs(sim, k)
    _, slots = kept_terms(sim, k, slots)
    assert slots.terms is not None
    _check(sim, k, change, DEFAULT_ORIGIN + HOUR)
    assert sim_quiet._from_terms(sim, k, slots, slots.terms) is None
    legs, after = kept_terms(sim, k, slots)
    assert legs == equity_legs(sim, k)
    if change[0] in ("settlement", "lp", "quote_market", "quote_price"):
        assert legs is None
    else:
        assert legs is not None and after is slots and slots.terms is not None
        assert sim_quiet._from_terms(sim, k, slots, slots.terms) == legs  # kept again


def test_no_terms_are_kept_where_a_slots_market_is_not_loaded():
    sim, k = _held_short(1_000_000)
    _, slots = kept_legs(sim, k)
    markets = sim.market_snapshot()
    saved = markets.spot_markets.pop(0)
    try:
        assert sim_quiet._terms_of(sim, slots) is None
    finally:
        markets.spot_markets[0] = saved
    saved = markets.perp_markets.pop(0)
    try:
        assert sim_quiet._terms_of(sim, slots) is None
    finally:
        markets.perp_markets[0] = saved
    assert sim_quiet._terms_of(sim, slots) is not None
