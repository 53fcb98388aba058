"""The session-4 quiet-stretch shortcuts equal what they replace (ADR-0020 amendment):

- `plan_fast` (a skip planned from the tape's `TapeIndex`: range extremes, next
  non-price event, last event per symbol) gives exactly `plan_skip`'s skip whenever it
  decides, on random tapes, bands, due times and ends;
- `DriftSimulator.maintenance_now` (the liquidation check's calculation kept while the
  account and prices are as it saw them) equals a fresh maintenance calculation, and
  the backtest's health sample from it equals `DriftMarginMonitor`'s health, through
  prices, funding hours, spot interest, a liquidation;
- the ledger's Core bulk insert books the same rows, keys and ids as one-by-one
  booking, and refuses a key reused for another event;
- a quiet hour's open-order test (the order slots read directly) says what the
  venue's open-order list says.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drift_engine.core.margin import DriftMarginMonitor
from drift_engine.core.margin import health as margin_health
from drift_engine.core.program_math import is_being_liquidated
from drift_engine.core.types import MarketType, OrderIntent, PositionDirection
from drift_engine.data.models import FundingRecord, OracleTick, SpotRateRecord
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.fastforward import UNDECIDED, EventTape, plan_fast, plan_skip
from drift_engine.sim import DriftSimulator
from drift_engine.storage.database import Database
from drift_engine.storage.enums import EntryKind
from drift_engine.vaults import VaultRegistry
from drift_engine.vaults.entries import NewEntry
from drift_engine.vaults.errors import IdempotencyConflictError

HOUR = 3600
PERP = (MarketType.PERP, 0)


def _funding(ts: int, rate: int, price: int) -> FundingRecord:
    return FundingRecord(ts, "SOL-PERP", 0, rate, rate, rate, 0, 0, price, price)


# ---------------------------------------------------------------------- plan_fast


@st.composite
def tapes(draw):
    n_bars = draw(st.integers(2, 400))
    price = draw(st.integers(50_000_000, 150_000_000))
    events = []
    ts = DEFAULT_ORIGIN
    for i in range(n_bars):
        ts += 60
        price = max(1, price + draw(st.integers(-2_000_000, 2_000_000)))
        for symbol in draw(st.sampled_from([("SOL-PERP",), ("SOL-PERP", "SOL"), ("SOL",)])):
            events.append(OracleTick(ts, symbol, price + draw(st.integers(-50_000, 50_000))))
        if i % 60 == 59 or draw(st.integers(0, 200)) == 0:
            events.append(_funding(ts, 1000, price))
    return events


@settings(max_examples=150, deadline=None)
@given(
    events=tapes(),
    width=st.integers(0, 20_000_000),
    centre=st.integers(-5_000_000, 5_000_000),
    due_in=st.one_of(st.none(), st.integers(0, 30_000)),
    until_in=st.one_of(st.none(), st.integers(0, 30_000)),
    skip_first=st.integers(0, 30),
)
def test_plan_fast_equals_plan_skip(events, width, centre, due_in, until_in, skip_first):
    sim = DriftSimulator({"SOL-PERP": 100_000_000, "SOL": 100_000_000}, ts=DEFAULT_ORIGIN)
    tape = EventTape(iter(events), 60)
    tape.refill()
    tape.pos = min(skip_first, max(0, len(tape.buf) - 1))
    mid = int(tape.price[tape.pos]) or 100_000_000
    bands = {PERP: (mid + centre - width, mid + centre + width)}
    due = None if due_in is None else DEFAULT_ORIGIN + due_in
    until = None if until_in is None else DEFAULT_ORIGIN + until_in
    fast = plan_fast(tape, sim, bands, due, until)
    ref = plan_skip(tape, sim, bands, due, until)
    if fast is UNDECIDED:
        return
    if ref is None:
        assert fast is None
        return
    assert fast is not None
    assert (fast.start, fast.stop, fast.ticks, fast.last_tick, fast.apply) == (
        ref.start,
        ref.stop,
        ref.ticks,
        ref.last_tick,
        ref.apply,
    )
    assert np.array_equal(fast.tick_ends, ref.tick_ends)


def test_plan_fast_decides_a_quiet_hour_in_one_go():
    """An hour of minutes inside the band up to the funding record: decided by the
    index, the skip stops before the funding tick."""
    events = [
        OracleTick(DEFAULT_ORIGIN + 60 * i, "SOL-PERP", 100_000_000 + i) for i in range(1, 61)
    ]
    events.append(_funding(DEFAULT_ORIGIN + HOUR, 1000, 100_000_000))
    events += [
        OracleTick(DEFAULT_ORIGIN + HOUR + 60 * i, "SOL-PERP", 100_000_000) for i in range(60)
    ]
    sim = DriftSimulator({"SOL-PERP": 100_000_000, "SOL": 100_000_000}, ts=DEFAULT_ORIGIN)
    tape = EventTape(iter(events), 60)
    skip = plan_fast(tape, sim, {PERP: (90_000_000, 110_000_000)}, None, None)
    assert skip is not UNDECIDED and skip is not None
    assert skip.ticks == 59 and skip.last_tick == DEFAULT_ORIGIN + 59 * 60
    # a price out of the band: the index cannot decide, the scan does
    assert plan_fast(tape, sim, {PERP: (90_000_000, 100_000_030)}, None, None) is UNDECIDED


# ---------------------------------------------------------------------- maintenance_now


def _monitor_health(sim: DriftSimulator, key) -> int:
    metrics = DriftMarginMonitor().compute_for(
        sim.user(key), sim.perp_markets, sim.spot_markets, sim.now
    )
    return metrics.health


def _sample_health(sim: DriftSimulator, key) -> int:
    if is_being_liquidated(sim.user(key)):
        return 0
    return margin_health(*sim.maintenance_now(key))


@settings(max_examples=40, deadline=None)
@given(
    leverage=st.integers(1, 12),
    short=st.booleans(),
    moves=st.lists(
        st.tuples(st.integers(-8, 8), st.integers(-3_000, 3_000), st.booleans()),
        min_size=1,
        max_size=40,
    ),
)
def test_maintenance_now_equals_a_fresh_calculation(leverage, short, moves):
    price = 100_000_000
    sim = DriftSimulator({"SOL-PERP": price, "SOL": price}, ts=DEFAULT_ORIGIN)
    k = sim.open_account()
    sim.deposit(k, "USDC", 10_000_000_000, DEFAULT_ORIGIN)
    sim.apply(SpotRateRecord(DEFAULT_ORIGIN, "USDC", 0, Decimal("0.05"), Decimal("0.08")))
    base = leverage * 10_000 * 10**9 // 100 // 10**7 * 10**7
    side = PositionDirection.SHORT if short else PositionDirection.LONG
    sim.place_order(k, OrderIntent(0, MarketType.PERP, side, base), DEFAULT_ORIGIN)
    ts = DEFAULT_ORIGIN
    for pct, rate, hour in moves:
        ts += HOUR if hour else 60
        price = max(1_000_000, price * (100 + pct) // 100)
        sim.apply(OracleTick(ts, "SOL-PERP", price))
        if hour:
            sim.apply(_funding(ts, rate * 1000, price))
        assert sim.maintenance_now(k) == sim.maintenance(k)
        assert _sample_health(sim, k) == _monitor_health(sim, k)
        # asked twice at the same state: the kept calculation, still equal
        assert sim.maintenance_now(k) == sim.maintenance(k)


# ---------------------------------------------------------------------- bulk insert


@pytest.fixture
def registry(tmp_path):
    db = Database.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    reg = VaultRegistry(db)
    yield reg, db
    db.dispose()


def _entries(n: int, offset: int = 0) -> list[NewEntry]:
    return [
        NewEntry(
            kind=EntryKind.FUNDING,
            amount=1000 + i,
            key=f"funding:0:{DEFAULT_ORIGIN + (offset + i) * HOUR}",
            market_index=0,
        )
        for i in range(n)
    ]


def test_bulk_insert_books_what_one_by_one_booking_books(registry, tmp_path):
    reg, db = registry
    other = Database.open(f"sqlite:///{tmp_path / 'one.db'}")
    try:
        reg2 = VaultRegistry(other)
        for r in (reg, reg2):
            r.create_vault("v", "e")
        bulk = reg.ledger.book_many("e", "v", _entries(30))
        one = [reg2.ledger.book("e", "v", e) for e in _entries(30)]
        assert [(e.id, e.kind, e.amount, e.fee, e.key, e.market_index) for e in bulk] == [
            (e.id, e.kind, e.amount, e.fee, e.key, e.market_index) for e in one
        ]
        stored = reg.ledger.entries("v")
        assert [(e.id, e.key, e.amount) for e in stored] == [(e.id, e.key, e.amount) for e in bulk]
        # booked again (a replay, half new): the booked ones come back, the new ones are added
        again = reg.ledger.book_many("e", "v", _entries(40))
        assert [e.id for e in again[:30]] == [e.id for e in bulk]
        assert len(reg.ledger.entries("v")) == 40
        assert reg.ledger.balance("v") == sum(1000 + i for i in range(40))
    finally:
        other.dispose()


def test_bulk_insert_refuses_a_key_reused_for_another_event(registry):
    reg, _db = registry
    reg.create_vault("v", "e")
    reg.ledger.book_many("e", "v", _entries(3))
    changed = _entries(3)
    changed[1] = NewEntry(kind=EntryKind.FUNDING, amount=7, key=changed[1].key, market_index=0)
    with pytest.raises(IdempotencyConflictError):
        reg.ledger.book_many("e", "v", changed)
    twice = _entries(2) + [NewEntry(kind=EntryKind.FUNDING, amount=9, key="k", market_index=0)] * 2
    twice[-1] = NewEntry(kind=EntryKind.FUNDING, amount=8, key="k", market_index=0)
    with pytest.raises(IdempotencyConflictError):
        reg.ledger.book_many("e", "v", twice)
    assert len(reg.ledger.entries("v")) == 3  # nothing of a refused batch is booked


# ---------------------------------------------------------------------- open orders


def test_the_quiet_open_order_test_equals_the_venues_open_orders():
    """`engine.quiet._has_open_order` (the order slots read directly) says what
    `open_orders_from_user` (the venue's list) says: limit orders resting, filled by a
    price move, cancelled."""
    from drift_engine.core.types import OrderType, open_orders_from_user
    from drift_engine.engine.quiet import _has_open_order

    sim = DriftSimulator({"SOL-PERP": 100_000_000, "SOL": 100_000_000}, ts=DEFAULT_ORIGIN)
    k = sim.open_account()
    sim.deposit(k, "USDC", 10_000_000_000, DEFAULT_ORIGIN)

    def same() -> bool:
        user = sim.user(k)
        return _has_open_order(user) == bool(open_orders_from_user(user))

    assert same() and not _has_open_order(sim.user(k))
    ids = []
    for i, price in enumerate((95_000_000, 90_000_000)):
        intent = OrderIntent(
            0, MarketType.PERP, PositionDirection.LONG, 10**9, OrderType.LIMIT, price
        )
        result = sim.place_order(k, intent, DEFAULT_ORIGIN + i)
        ids.append(result.order_id)
        assert same() and _has_open_order(sim.user(k))
    sim.apply(OracleTick(DEFAULT_ORIGIN + 60, "SOL-PERP", 94_000_000))  # fills the first
    assert len(open_orders_from_user(sim.user(k))) == 1
    assert same() and _has_open_order(sim.user(k))
    sim.cancel_order(k, ids[1], DEFAULT_ORIGIN + 120)
    assert same() and not _has_open_order(sim.user(k))


# ---------------------------------------------------------------------- holdings


@settings(max_examples=30, deadline=None)
@given(
    sol=st.integers(0, 10**11),
    borrow=st.integers(0, 2 * 10**9),
    perp=st.integers(-(10**11), 10**11).map(lambda b: b - b % 10**7),
    moves=st.lists(st.integers(-5, 5), max_size=6),
)
def test_holdings_of_user_equal_the_venues_positions(sol, borrow, perp, moves):
    """The attribution's holdings read from the User equal `holdings_of` the venue's
    positions (`positions_from_user`), with deposits, a borrow, a perp, funding hours."""
    from drift_engine.backtest.attribution import holdings_of, holdings_of_user
    from drift_engine.core.types import positions_from_user

    price = 100_000_000
    sim = DriftSimulator({"SOL-PERP": price, "SOL": price}, ts=DEFAULT_ORIGIN)
    k = sim.open_account()
    sim.deposit(k, "USDC", 10**11, DEFAULT_ORIGIN)
    if sol:
        sim.deposit(k, "SOL", sol, DEFAULT_ORIGIN)
    if borrow:  # a SOL borrow against the USDC
        sim.withdraw(k, "SOL", sol + borrow, DEFAULT_ORIGIN)
    if perp:
        side = PositionDirection.LONG if perp > 0 else PositionDirection.SHORT
        sim.place_order(k, OrderIntent(0, MarketType.PERP, side, abs(perp)), DEFAULT_ORIGIN)

    def same() -> bool:
        user = sim.user(k)
        direct = holdings_of_user(user, sim.spot_markets)
        return direct == holdings_of(positions_from_user(user, sim.spot_markets)) and list(
            direct
        ) == list(holdings_of(positions_from_user(user, sim.spot_markets)))

    assert same()
    ts = DEFAULT_ORIGIN
    for pct in moves:
        ts += HOUR
        price = price * (100 + pct) // 100
        sim.apply(OracleTick(ts, "SOL-PERP", price))
        sim.apply(_funding(ts, 5000, price))
        assert same()
