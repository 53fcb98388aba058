"""A quiet hour's books from the one walk over its records (`engine.quiet.KEPT_HOUR`,
ADR-0020 points 98-99) give what `books_pass`'s record test and `book_payments` (the
venue polled for the same records again) give (`KEPT_HOUR = False`).

Whole backtests both ways (`flag_runs` of tests/backtest/flag_scenarios.py): the report
and its samples, every row of every table (ledger entries with their keys, amounts,
times and ids; engine records; vault snapshots; heartbeat rows), the ticks `on_tick` saw
with the engine's bookkeeping, the simulator's records and accounts. Cases: held short
(the bench's strategy), a strategy entering and leaving, the real LUNA crash (a
liquidation, a drawdown halt), real SOL minutes, real SOL hours held short and
delta-neutral (its SOL deposit's interest: the `_handle` branch), and the real SOL year
delta-neutral (slow). Each run must book hours from kept payments, the reference none.

Hypothesis, on one engine with a paper venue and a batching sink: drawn hours of records
(every kind, ours and another account's, USDC and SOL interest, zero and out-of-bounds
amounts, repeated hours whose keys are replays, a record epoch, a record written
between the decision and the booking, a memory sink) give the same decision, quiet
step bookings, held rows, balance, totals, keys, stats, strategy calls and cursor."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.engine import DriftEngine
from drift_engine.engine import quiet as engine_quiet
from drift_engine.engine.ledger import MemoryLedgerSink, VaultLedgerSink
from drift_engine.engine.market_board import MarketBoard
from drift_engine.engine.store import WriteBatch
from drift_engine.sim import DriftSimulator
from drift_engine.strategies import DeltaNeutralStrategy
from drift_engine.vaults.money import MAX_AMOUNT
from drift_engine.venues.paper import PaperVenue
from tests.backtest.flag_scenarios import BOOKKEEPING, answers_of, flag_runs, named

HOUR = 3_600
#: the scenarios run with the hour's books kept and without (tests/backtest/flag_scenarios.py)
SCENARIOS = named(*BOOKKEEPING, "sol-year-delta-neutral")


#: counts the hours booked from kept payments (`book_kept` says it booked them)
_kept_hours = answers_of(engine_quiet, "book_kept")


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_backtest_is_the_same_with_the_hours_books_kept(tmp_path, name):
    # the kept run books hours from kept payments (the lean loop's hours, and the
    # general loop's), the reference none
    runs = flag_runs(tmp_path, name, engine_quiet, "KEPT_HOUR", _kept_hours)
    assert runs[False]["spied"] == 0
    assert runs[True]["spied"] >= runs[True]["quiet"] > 0


# -- one engine, drawn hours of records ---------------------------------------------------


class _Ledger:
    """What a sink reads of its ledger at first use: no entries, an opening balance."""

    def balance(self, vault: Any) -> int:
        return 10**9

    def entries(self, vault: Any) -> list:
        return []


_KINDS = ["funding_rate", "funding", "interest", "settle_pnl", "fill", "order", "deposit"]
_amount = st.one_of(
    st.integers(-(10**7), 10**7), st.sampled_from([0, MAX_AMOUNT + 1, -MAX_AMOUNT - 1])
)
_record = st.tuples(
    st.sampled_from(_KINDS),
    st.booleans(),  # ours
    st.sampled_from([0, 1]),  # market index (interest: USDC, SOL)
    _amount,
)
_hour = st.tuples(
    st.lists(_record, max_size=6),
    st.integers(0, 3),  # the hour (a repeated one: its keys are replays)
    st.booleans(),  # a record written between the decision and the booking
)


def _engine(memory: bool, epoch: str) -> tuple[DriftEngine, list]:
    sim = DriftSimulator({"SOL-PERP": 100_000_000, "SOL": 100_000_000}, ts=DEFAULT_ORIGIN)
    venue = PaperVenue(sim, epoch=epoch)
    venue.fund(10**9, DEFAULT_ORIGIN)
    if memory:
        sink: Any = MemoryLedgerSink(opening_balance=10**9)
    else:
        sink = VaultLedgerSink(_Ledger(), "e1", 7)
        sink.batch = WriteBatch()
        sink.load()
    engine = DriftEngine("e1", DeltaNeutralStrategy({}), venue, sink, MarketBoard(["SOL-PERP"]))
    heard: list = []
    engine.strategy.on_funding = heard.append  # type: ignore[method-assign]
    venue.poll_events(DEFAULT_ORIGIN)  # the funding's deposit record read
    return engine, heard


def _rec(draw: tuple, venue: PaperVenue, n: int, ts: int) -> SimpleNamespace:
    kind, ours, index, amount = draw
    return SimpleNamespace(
        kind=kind,
        authority=venue._authority if ours else "someone else",
        sub_account_id=venue.sub_account_id,
        market_index=index,
        ts=ts,
        record_id=f"r{n}",
        funding_payment=amount,
        amount=amount,
    )


def _hours(hours: list, kept: bool, memory: bool, epoch: str) -> dict:
    engine, heard = _engine(memory, epoch)
    venue, sink = engine.venue, engine.ledger
    records = venue.sim.records
    answers: list[Any] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(engine_quiet, "KEPT_HOUR", kept)
        for drawn, hour, late in hours:
            ts = DEFAULT_ORIGIN + (hour + 1) * HOUR
            mark = len(records)
            records.extend(_rec(d, venue, mark + i, ts) for i, d in enumerate(drawn))
            hour_records = records[mark:]
            if kept:
                passes = engine_quiet.keep_payments(engine, hour_records)
            else:
                passes = all(r.kind in engine_quiet._BOOKED_QUIETLY for r in hour_records)
            answers.append(passes)
            if not passes:
                venue._cursor = len(records)  # (a real step reads them)
                continue
            if late:
                records.append(_rec(("funding", True, 0, 7), venue, len(records), ts))
            try:
                engine_quiet.quiet_step(engine, ts, 10**9)
            except Exception as exc:  # noqa: BLE001 - the error is compared
                answers.append((type(exc).__name__, str(exc)))
            answers.append(engine._hour_books)
    held = [
        [tuple(e) if isinstance(e, tuple) else dataclasses.astuple(e) for e in w.booking[3]]
        for w in getattr(getattr(sink, "batch", None), "writes", ())
        if hasattr(w, "booking")
    ]
    return {
        "answers": answers,
        "held": held,
        "held_types": [
            [type(e).__name__ for e in w.booking[3]]
            for w in getattr(getattr(sink, "batch", None), "writes", ())
            if hasattr(w, "booking")
        ],
        "balance": sink.balance(),
        "totals": sink.totals() if not memory else dict(sink._totals),
        "keys": sorted(sink._known() if not memory else sink._keys),
        "stats": dataclasses.asdict(engine.stats),
        "heard": heard,
        "cursor": venue._cursor,
        "saved": engine._saved,
    }


@settings(max_examples=150, deadline=None)
@given(
    hours=st.lists(_hour, min_size=1, max_size=6),
    memory=st.booleans(),
    epoch=st.sampled_from(["", "ep1"]),
)
def test_drawn_hours_decide_and_book_the_same(hours, memory, epoch):
    got = _hours(hours, True, memory, epoch)
    ref = _hours(hours, False, memory, epoch)
    assert got == ref


_OURS = [("funding", True, 0, 5), ("interest", True, 0, 3), ("interest", True, 1, 2)]
#: hours that reach every branch (`test_the_drawn_hours_reach_every_branch`)
_EVERY_BRANCH = [(_OURS, 0, False), (_OURS, 0, False), (_OURS, 1, True)]


def test_the_drawn_hours_reach_every_branch():
    """The property's cases book funding and USDC interest held as rows, count SOL
    interest, meet replays, and fall back on a record written late."""
    calls: dict[str, int] = {"kept": 0, "fallback": 0}
    book_kept = engine_quiet.book_kept

    def counted(engine, hour):
        done = book_kept(engine, hour)
        calls["kept" if done else "fallback"] += 1
        return done

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(engine_quiet, "book_kept", counted)
        got = _hours(_EVERY_BRANCH, True, False, "")
    assert calls == {"kept": 2, "fallback": 1}
    # the first hour's funding opens the held write (`book_entry`), its interest joins it
    # as a row, the second hour replays both keys, the third books its two (the late
    # record's key is the hour's funding key: a replay)
    assert got["held_types"] == [["NewEntry", "EntryRow", "EntryRow", "EntryRow"]]
    assert got["stats"]["duplicates"] == 3 and got["stats"]["interest"] != 0
    assert len(got["heard"]) == 2
    assert got == _hours(_EVERY_BRANCH, False, False, "")


@settings(max_examples=100, deadline=None)
@given(
    hours=st.lists(_hour, min_size=1, max_size=6),
    memory=st.booleans(),
    epoch=st.sampled_from(["", "ep1"]),
)
@example(hours=_EVERY_BRANCH, memory=False, epoch="")
def test_drawn_hours_book_as_the_engine_handles_them(hours, memory, epoch):
    """Both ways above book through one pair of functions (`_book_funding`,
    `_book_usdc_interest`), so comparing them cannot see a wrong rule in that pair: the
    kept books against the engine's general `_drain`/`_handle` (`QUIET_BOOKING = False`):
    the same values held (as rows or as `NewEntry`s: `book_quiet`'s form, not compared),
    keys, stats, strategy calls."""
    got = _hours(hours, True, memory, epoch)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(engine_quiet, "QUIET_BOOKING", False)
        ref = _hours(hours, False, memory, epoch)
    del got["held_types"], ref["held_types"]
    assert got == ref
