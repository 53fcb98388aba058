"""A quiet hour's payments held as rows (`VaultLedgerSink.book_quiet`, ADR-0020 session
10, points 71-72) give what `book_entry` and a `NewEntry` give (`QUIET_ROWS = False`).

Whole backtests both ways (`flag_runs` of tests/backtest/flag_scenarios.py): the report
and its samples, every row of every table (ledger entries with their keys, amounts,
times and ids; engine records; vault snapshots with their cash; heartbeat rows), the
ticks `on_tick` saw with the engine's bookkeeping, the simulator's records and accounts.
Cases: held short, a strategy entering and leaving (fills booked between quiet hours),
the real LUNA crash (a liquidation, a drawdown halt), real SOL minutes and real SOL
hours (held short, delta-neutral). Each run must
hold rows, the reference none. Hypothesis, on the sink itself: drawn bookings (amounts
at and past the money bounds, zero, repeated keys, record writes and other writes
between them) give the same answers, errors, balance, totals, keys and held values
both ways; `common_form` says True only for values `NewEntry` accepts, and True for
every payment of the common form (bounds included: a narrower test would only slow the
quiet hour, and only this catches it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from drift_engine.engine import ledger as sink_module
from drift_engine.engine.ledger import VaultLedgerSink
from drift_engine.engine.store import WriteBatch
from drift_engine.storage.enums import EntryKind
from drift_engine.vaults import bulk
from drift_engine.vaults.entries import (
    KINDS_WITH_FEES,
    MAX_KEY_LENGTH,
    SIGN_RULES,
    EntryRow,
    NewEntry,
    Sign,
    common_form,
)
from drift_engine.vaults.errors import IdempotencyConflictError
from drift_engine.vaults.money import MAX_AMOUNT
from tests.backtest.flag_scenarios import BOOKKEEPING, flag_runs, named
from tests.engine.sink_fakes import FakeLedger as _Ledger
from tests.engine.sink_fakes import other_write as _other
from tests.engine.sink_fakes import record_write as _record
from tests.vaults.conftest import database_url  # noqa: F401 - a fixture (two_dbs')
from tests.vaults.test_bulk_tick_writes import (  # noqa: F401 - two_dbs: a fixture
    NOW,
    POINT,
    _bulk,
    _rows,
    _sequential,
    two_dbs,
)

#: the scenarios run with rows held and without (tests/backtest/flag_scenarios.py)
SCENARIOS = named(*BOOKKEEPING)
#: how many rows a run must hold at the least (funding and interest of most of the
#: held short's 96 hours)
HELD = {"held-short": 150}


def _held_rows(mp: pytest.MonkeyPatch):
    """Counts the rows the run's flushes were given held (`EntryRow`s)."""
    held = [0]
    flush = bulk.TickVaultWrites.flush

    def counted(self, session):
        for op in self.ops:
            if op[0] == "book":
                held[0] += sum(type(e) is EntryRow for e in op[3])
        return flush(self, session)

    mp.setattr(bulk.TickVaultWrites, "flush", counted)
    return lambda: held[0]


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_backtest_is_the_same_with_rows_held(tmp_path, name):
    # the rows run held some, the reference none
    runs = flag_runs(tmp_path, name, sink_module, "QUIET_ROWS", _held_rows)
    assert runs[False]["spied"] == 0
    assert runs[True]["spied"] >= HELD.get(name, 1)


# -- the sink itself ---------------------------------------------------------------------


_amounts = st.one_of(
    st.integers(-(10**9), 10**9),
    st.sampled_from([0, MAX_AMOUNT, -MAX_AMOUNT, MAX_AMOUNT + 1, -MAX_AMOUNT - 1]),
)
_step = st.one_of(
    st.tuples(
        st.just("book"),
        st.sampled_from([EntryKind.FUNDING, EntryKind.INTEREST]),
        _amounts,
        st.integers(0, 5),  # the key's hour: repeated keys are replays
        st.sampled_from([0, 1, None]),
    ),
    st.tuples(st.sampled_from(["record", "other", "load", "replay"])),
)


def _run(steps: list, rows: bool, opening: int, loaded: bool) -> dict:
    sink = VaultLedgerSink(_Ledger(opening), "e1", 7)
    sink.batch = WriteBatch()
    if loaded:
        sink.load()
    answers: list[Any] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sink_module, "QUIET_ROWS", rows)
        for step in steps:
            if step[0] == "book":
                _, kind, amount, hour, index = step
                ts = 1_700_000_000 + hour * 3_600
                key = f"{kind.value}:{index or 0}:{ts}"
                try:  # (the reference: `book_entry` itself, which `book_quiet` promises)
                    if rows:
                        answers.append(sink.book_quiet(kind, amount, key, index, ts))
                    else:
                        answers.append(sink.book_entry(kind, amount, 0, key, index, None, ts))
                except Exception as exc:  # noqa: BLE001 - the error is compared
                    answers.append((type(exc).__name__, str(exc)))
            elif step[0] == "load":
                sink.load()
            elif step[0] == "replay":  # a restored sink meets a key again
                sink._replay = {f"funding:0:{1_700_000_000}": 5}
            else:
                sink.batch.add(_record if step[0] == "record" else _other)
    held = [
        (
            type(w).__name__,
            [
                (
                    e.kind,
                    e.amount,
                    e.key,
                    e.fee,
                    e.market_index,
                    e.counterparty_vault_id,
                    e.memo,
                    e.occurred_at,
                    e.net,
                )
                for e in w.booking[3]
            ]
            if hasattr(w, "booking")
            else w.__name__,
        )
        for w in sink.batch.writes
    ]
    return {
        "answers": answers,
        "balance": sink.balance(),
        "cached": sink._balance,
        "totals": sink.totals(),
        "keys": sorted(sink._known()),
        "held": held,
        "replay": dict(sink._replay),
    }


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_step, max_size=30),
    st.integers(-(10**12), 10**12),
    st.booleans(),
)
@example(  # a restored sink meets a replayed key with another amount: refused both ways
    [
        ("load",),
        ("replay",),
        ("book", EntryKind.FUNDING, 7, 0, 0),
        ("book", EntryKind.FUNDING, 5, 0, 0),
    ],
    0,
    True,
)
def test_book_quiet_is_book_entry(steps, opening, loaded):
    assert _run(steps, True, opening, loaded) == _run(steps, False, opening, loaded)


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(list(EntryKind)),
    _amounts,
    st.one_of(_amounts, st.just(0)),
    st.text(max_size=205),
    st.sampled_from([None, datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 1)]),  # noqa: DTZ001
)
def test_common_form_says_true_only_for_what_new_entry_accepts(kind, amount, fee, key, at):
    if not common_form(kind, amount, fee, key, at):
        return
    entry = NewEntry(kind=kind, amount=amount, fee=fee, key=key, occurred_at=at)
    entry._check()  # the full rules: no error
    row = EntryRow(kind, amount, key, fee, None, None, None, at)
    assert row.net == entry.net
    assert tuple(row) == tuple(getattr(entry, name) for name in EntryRow._fields)


#: the kinds of any sign (`common_form`'s kinds), and those of them that carry a fee
_ANY_SIGN = [k for k in EntryKind if SIGN_RULES[k] is Sign.ANY]
_FEE_KINDS = [k for k in _ANY_SIGN if k in KINDS_WITH_FEES]
_TIMES = [None, datetime(2025, 1, 1, tzinfo=UTC)]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(_ANY_SIGN),
    st.integers(-MAX_AMOUNT, MAX_AMOUNT),
    st.integers(1, MAX_KEY_LENGTH),
    st.sampled_from(_TIMES),
)
def test_common_form_takes_every_payment_of_the_common_form(kind, amount, length, at):
    # the other way round: a quiet hour's payment (no fee) of any amount in the money
    # bounds but 0, any key up to the longest and an aware time (or none) is decided
    # without `NewEntry` (a narrower test would route every payment to the slow check)
    if amount:
        assert common_form(kind, amount, 0, "k" * length, at)
    else:
        assert not common_form(kind, 0, 0, "k" * length, at)  # (an empty entry: refused)


@pytest.mark.parametrize("kind", _FEE_KINDS)
@pytest.mark.parametrize(
    ("amount", "fee"),
    [(MAX_AMOUNT, 0), (-MAX_AMOUNT, 0), (0, MAX_AMOUNT), (0, -MAX_AMOUNT), (1, 1), (-5, 3)],
)
def test_common_form_takes_fills_at_the_money_bounds(kind, amount, fee) -> None:
    # a fee on a kind that carries one, amounts and fees at the bounds, a fee alone
    key = "k" * MAX_KEY_LENGTH
    assert common_form(kind, amount, fee, key, _TIMES[1])
    NewEntry(kind=kind, amount=amount, fee=fee, key=key, occurred_at=_TIMES[1])._check()


# -- the flush: held rows as `NewEntry`s ----------------------------------------------


def _funding(key: str, amount: int, row: bool) -> Any:
    values = (EntryKind.FUNDING, amount, key, 0, 0, None, None, NOW)
    return tuple.__new__(EntryRow, values) if row else NewEntry(*values)


@pytest.mark.parametrize(
    "same", [True, False], ids=["the same event twice", "two events under one key"]
)
def test_the_flush_checks_a_held_row_met_again_as_a_new_entry(two_dbs, same) -> None:  # noqa: F811
    # the same key twice in one flush: a replay is booked once, a conflict refused (the
    # row seen first is the one checked against)
    orm_db, bulk_db = two_dbs
    ops = [
        ("book", "e0", "e0-vault", [_funding("funding:0:1", 5, True)]),
        ("book", "e0", "e0-vault", [_funding("funding:0:1", 5 if same else 6, True)]),
        ("snapshot", "e0", "e0-vault", POINT),
    ]
    reference = [(k, e, v, [_funding(n.key, n.amount, False) for n in b]) for k, e, v, b in ops[:2]]
    reference.append(ops[2])
    if same:
        _sequential(orm_db, reference)
        _bulk(bulk_db, ops)
    else:
        with pytest.raises(IdempotencyConflictError):
            _sequential(orm_db, reference)
        with pytest.raises(IdempotencyConflictError):
            _bulk(bulk_db, ops)
    assert _rows(orm_db) == _rows(bulk_db)


def test_held_rows_booked_one_write_at_a_time(two_dbs) -> None:  # noqa: F811
    # a batch with a write of no bulk form runs its writes one by one: the held write
    # books its entries with `Ledger.book_in`, rows as `NewEntry`s
    rows_db, ref_db = two_dbs
    keys = [("funding:0:1", 5), ("interest:0:1", -3), ("funding:0:2", 7), ("funding:0:1", 5)]
    for db, row in ((rows_db, True), (ref_db, False)):
        _sequential(
            db,
            [
                ("book", "e0", "e0-vault", [_funding(k, a, row) for k, a in keys[:3]]),
                ("snapshot", "e0", "e0-vault", POINT),
                ("book", "e0", "e0-vault", [_funding(k, a, row) for k, a in keys[3:]]),
            ],
        )
    assert _rows(rows_db) == _rows(ref_db)
