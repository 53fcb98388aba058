"""A quiet hour's two payments booked with one call of the sink
(`engine.quiet.HOUR_PAIR`: `_book_pair`, `VaultLedgerSink.book_quiet_two`) give what
booking each through `_book_usdc_interest` and `_book_funding` gives (`HOUR_PAIR =
False`).

Whole backtests both ways (`flag_runs`): the report and its samples, every row of every
table, the ticks, the simulator's records and account; the flag-on run books its usual
hours as pairs, the reference none. Hypothesis on one engine with a paper venue and a
batching sink (`test_quiet_kept_books._hours`): drawn hours, most of them the usual
shape (USDC interest, the rate update, the funding payment) with drawn amounts (zero,
out of bounds), repeated hours (replayed keys), a late record, another account's
payments, give the same decisions, held rows and their types, balance, totals, keys,
stats, strategy calls and cursor. `book_quiet_two` itself against two `book_quiet`
calls on drawn sink states: the same answer or nothing changed."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from drift_engine.engine import quiet as engine_quiet
from drift_engine.engine.ledger import VaultLedgerSink
from drift_engine.engine.store import WriteBatch
from drift_engine.vaults import entries
from drift_engine.vaults.money import MAX_AMOUNT
from tests.backtest.flag_scenarios import BOOKKEEPING, answers_of, flag_runs, named
from tests.engine.test_quiet_kept_books import _hours, _Ledger

SCENARIOS = named(*BOOKKEEPING)
#: the scenarios that hold one short perp on USDC (a delta-neutral account's SOL interest
#: is a third payment: those hours go one by one, as do hours without USDC interest)
_HELD = {"held-short", "sol-minutes", "sol-hours-held-short"}


#: counts the hours whose two payments `book_quiet_two` held
_pairs = answers_of(VaultLedgerSink, "book_quiet_two")


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_backtest_is_the_same_with_the_hours_payments_paired(tmp_path, name):
    runs = flag_runs(tmp_path, name, engine_quiet, "HOUR_PAIR", _pairs)
    assert runs[False]["spied"] == 0
    if name in _HELD:  # most of a held position's quiet hours are the usual pair
        assert runs[True]["spied"] > runs[True]["quiet"] // 2 > 0


# -- one engine, drawn hours ------------------------------------------------------------

_amount = st.one_of(
    st.integers(-(10**7), 10**7),
    st.sampled_from([0, 1, -1, MAX_AMOUNT, -MAX_AMOUNT, MAX_AMOUNT + 1, -MAX_AMOUNT - 1]),
)
#: the usual hour: the account's USDC interest, the market's rate update, its funding
#: payment (`_rec`'s draws: kind, ours, market index, amount)
_usual = st.builds(
    lambda i, f, ours_i, ours_f, index: [
        ("interest", ours_i, index, i),
        ("funding_rate", False, 0, 0),
        ("funding", ours_f, 0, f),
    ],
    _amount,
    _amount,
    st.sampled_from([True, True, True, False]),
    st.sampled_from([True, True, True, False]),
    st.sampled_from([0, 0, 0, 1]),
)
_other = st.lists(
    st.tuples(
        st.sampled_from(["funding_rate", "funding", "interest", "settle_pnl", "fill"]),
        st.booleans(),
        st.sampled_from([0, 1]),
        _amount,
    ),
    max_size=4,
)
_hour = st.tuples(
    st.one_of(_usual, _usual, _usual, _other),
    st.integers(0, 4),  # the hour (a repeated one: its keys are replays)
    st.sampled_from([False, False, False, True]),  # a record written after the decision
)

_USUAL = [("interest", True, 0, 3), ("funding_rate", False, 0, 0), ("funding", True, 0, 5)]
#: the first hour opens the held write (no pair), the second is paired, the third replays
#: the second's keys, the fourth has a zero interest, the fifth a late record
_EVERY_BRANCH = [
    (_USUAL, 0, False),
    (_USUAL, 1, False),
    (_USUAL, 1, False),
    ([("interest", True, 0, 0), *_USUAL[1:]], 2, False),
    (_USUAL, 3, True),
    (_USUAL, 4, False),
]


def _paired(hours: list, pair: bool, memory: bool, epoch: str) -> dict:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(engine_quiet, "HOUR_PAIR", pair)
        return _hours(hours, True, memory, epoch)


@settings(max_examples=100, deadline=None)
@given(
    hours=st.lists(_hour, min_size=1, max_size=7),
    memory=st.sampled_from([False, False, False, True]),
    epoch=st.sampled_from(["", "ep1"]),
)
@example(hours=_EVERY_BRANCH, memory=False, epoch="")
def test_drawn_hours_book_the_same_paired(hours, memory, epoch):
    assert _paired(hours, True, memory, epoch) == _paired(hours, False, memory, epoch)


def test_the_example_hours_reach_every_branch():
    """`_EVERY_BRANCH`: the held write opened by the first hour's booking, two hours
    paired, a replay (two duplicates), a zero interest and a late record (its key the
    hour's funding key: a third duplicate) booked one by one."""
    with pytest.MonkeyPatch.context() as mp:
        spied = _pairs(mp)
        got = _paired(_EVERY_BRANCH, True, False, "")
    assert spied() == 2
    assert got["held_types"] == [["NewEntry", "EntryRow", "EntryRow"] + ["EntryRow"] * 6]
    assert got["stats"]["duplicates"] == 3 and len(got["heard"]) == 5
    assert got == _paired(_EVERY_BRANCH, False, False, "")


# -- the sink's call against two `book_quiet` calls ---------------------------------------

_INTEREST, _FUNDING = entries.EntryKind.INTEREST, entries.EntryKind.FUNDING
_DEPOSIT = entries.EntryKind.DEPOSIT  # (a kind of one sign: `book_quiet`'s other way)
_key = st.sampled_from(["interest:0:7200", "funding:0:7200", "funding:1:7200", "", "k" * 300])


def _sink(state: tuple) -> VaultLedgerSink:
    batch, known, counted, held, replay = state
    sink = VaultLedgerSink(_Ledger(), "e1", 7)
    if batch:
        sink.batch = WriteBatch()
    sink.load()
    assert sink._keys is not None and sink._totals is not None
    sink._keys.update(known)
    for kind in counted:
        sink._count(sink._totals, kind, 5, 0)
    if batch and held:  # a held write the next rows join
        sink.book_entry(_FUNDING, 9, 0, "funding:9:0", 9, None, 0)
        if held == 2:  # then a write that reads the ledger: no row joins the held one
            sink.batch.add(lambda s: None)
    if replay:
        sink._replay = {"sig:x": 1}
    return sink


def _seen(sink: VaultLedgerSink) -> dict:
    return {
        "rows": [
            [tuple(e) if isinstance(e, tuple) else dataclasses.astuple(e) for e in w.booking[3]]
            for w in getattr(sink.batch, "writes", ())
            if hasattr(w, "booking")
        ],
        "types": [
            [type(e).__name__ for e in w.booking[3]]
            for w in getattr(sink.batch, "writes", ())
            if hasattr(w, "booking")
        ],
        "keys": sorted(sink._keys or ()),
        "totals": sink.totals(),
        "balance": sink.balance(),
    }


_state = st.tuples(
    st.sampled_from([True, True, False]),  # a batch
    st.lists(_key, max_size=2),  # keys known
    st.lists(st.sampled_from([_INTEREST, _FUNDING]), max_size=2),  # kinds counted
    st.sampled_from([1, 1, 0, 2]),  # a held write (2: another write after it)
    st.sampled_from([False, False, True]),  # a replay
)


@settings(max_examples=300, deadline=None)
@given(
    state=_state,
    kinds=st.tuples(st.sampled_from([_INTEREST, _FUNDING]), st.sampled_from([_FUNDING, _DEPOSIT])),
    amounts=st.tuples(_amount, _amount),
    keys=st.tuples(_key, _key),
    ts=st.sampled_from([7200, 3600, 10800]),
)
@example(
    state=(True, [], [_INTEREST, _FUNDING], 1, False),
    kinds=(_INTEREST, _FUNDING),
    amounts=(3, -5),
    keys=("interest:0:7200", "funding:0:7200"),
    ts=7200,
)
def test_book_quiet_two_holds_what_two_bookings_hold(state, kinds, amounts, keys, ts):
    """True: the two rows, keys, totals and balance of `book_quiet` twice (each True);
    False: nothing changed."""
    (k1, k2), (a1, a2), (key1, key2) = kinds, amounts, keys
    two = _sink(state)
    before = _seen(two)
    done = two.book_quiet_two(k1, a1, key1, 0, k2, a2, key2, 1, ts)
    ref = _sink(state)
    if done:
        assert ref.book_quiet(k1, a1, key1, 0, ts) is True
        assert ref.book_quiet(k2, a2, key2, 1, ts) is True
        assert _seen(two) == _seen(ref)
        assert _seen(two)["types"][-1][-2:] == ["EntryRow", "EntryRow"]
        assert two._last_time == ref._last_time  # (the booking time kept alike)
    else:
        assert _seen(two) == before == _seen(ref)


def test_book_quiet_two_holds_the_usual_pair_and_refuses_the_rest():
    usual = (True, [], [_INTEREST, _FUNDING], 1, False)
    args = (_INTEREST, 3, "interest:0:7200", 0, _FUNDING, -5, "funding:0:7200", 0, 7200)
    assert _sink(usual).book_quiet_two(*args) is True
    refused = [
        ((False, [], [_INTEREST, _FUNDING], 1, False), args),  # no batch
        ((True, ["funding:0:7200"], [_INTEREST, _FUNDING], 1, False), args),  # a known key
        ((True, [], [], 1, False), args),  # the interest not counted yet (the held: funding)
        ((True, [], [_INTEREST, _FUNDING], 0, False), args),  # no held write
        ((True, [], [_INTEREST, _FUNDING], 2, False), args),  # a write after the held one
        ((True, [], [_INTEREST, _FUNDING], 1, True), args),  # a replay
        (usual, (*args[:1], 0, *args[2:])),  # a zero amount
        (usual, (*args[:5], 0, *args[6:])),
        (usual, (*args[:1], MAX_AMOUNT + 1, *args[2:])),  # out of bounds
        (usual, (*args[:5], -MAX_AMOUNT - 1, *args[6:])),
        (usual, (*args[:2], "", *args[3:])),  # an empty key
        (usual, (*args[:6], "k" * 300, *args[7:])),  # a key too long
        (usual, (*args[:6], args[2], *args[7:])),  # the same key twice
        (usual, (*args[:4], _DEPOSIT, *args[5:])),  # a kind of one sign
    ]
    for state, refused_args in refused:
        sink = _sink(state)
        before = _seen(sink)
        assert sink.book_quiet_two(*refused_args) is False, (state, refused_args)
        assert _seen(sink) == before


def test_the_reference_books_no_pair(monkeypatch: pytest.MonkeyPatch):
    spied = _pairs(monkeypatch)
    _paired(_EVERY_BRANCH, False, False, "")
    assert spied() == 0
