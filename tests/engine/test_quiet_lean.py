"""A quiet hour's payment held with less per-booking work (`VaultLedgerSink.book_quiet`
with `engine.ledger.QUIET_LEAN`) gives what the held-row path gives without it: the
common form's test of a fee-free payment inline, the kind's totals row found by the kind
and the hour's datetime made from the last one (`_occurred_at`).

Whole backtests both ways (`flag_runs` of tests/backtest/flag_scenarios.py: the report,
every row of every table with the entries' times, the ticks, the simulator's records):
the flag-on runs make most hours' datetimes by adding an hour, the reference none.
Hypothesis, on the sink itself: drawn bookings (kinds as members and as values, kinds
of a fixed sign, amounts at and past the money bounds, zero, repeated and long keys,
hours in order, repeated, skipped and back, float times, record writes and other writes
between them) give the same answers, errors, balance, totals, keys and held values
both ways; `_occurred_at` gives `datetime.fromtimestamp(ts, UTC)`'s value, zone and fold
for any sequence of times."""

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
from drift_engine.vaults.entries import MAX_KEY_LENGTH
from drift_engine.vaults.money import MAX_AMOUNT
from tests.backtest.flag_scenarios import BOOKKEEPING, flag_runs, named
from tests.engine.sink_fakes import FakeLedger as _Ledger
from tests.engine.sink_fakes import other_write as _other
from tests.engine.sink_fakes import record_write as _record

SCENARIOS = named(*BOOKKEEPING)
T0 = 1_700_000_000 - 1_700_000_000 % 3_600


def _hours_added(mp: pytest.MonkeyPatch):
    """Counts the run's `_ts` calls (the datetimes not made by adding an hour) and its
    bookings through `book_quiet` (two for a pair `book_quiet_two` held:
    `engine.quiet.HOUR_PAIR`): returns (bookings - `_ts` calls)."""
    counts = {"ts": 0, "quiet": 0}
    ts, quiet = sink_module._ts, VaultLedgerSink.book_quiet
    two = VaultLedgerSink.book_quiet_two

    def counted_two(self: Any, *a: Any) -> bool:
        done = two(self, *a)
        counts["quiet"] += 2 * done
        return done

    def counted_ts(t: int) -> datetime:
        counts["ts"] += 1
        return ts(t)

    def counted_quiet(self: Any, *a: Any) -> bool:
        counts["quiet"] += 1
        return quiet(self, *a)

    mp.setattr(sink_module, "_ts", counted_ts)
    mp.setattr(VaultLedgerSink, "book_quiet", counted_quiet)
    mp.setattr(VaultLedgerSink, "book_quiet_two", counted_two)
    return lambda: (counts["quiet"], counts["ts"])


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_backtest_is_the_same_with_lean_bookings(tmp_path, name):
    runs = flag_runs(tmp_path, name, sink_module, "QUIET_LEAN", _hours_added)
    booked, made = runs[True]["spied"]
    ref_booked, ref_made = runs[False]["spied"]
    assert booked == ref_booked
    if booked > 20:  # (an hour's two payments share a datetime either way)
        assert ref_made >= booked // 2 - 2
        assert made < ref_made  # hours' datetimes added, not made
        if name == "held-short":  # (every hour quiet: nearly all added)
            assert made < ref_made // 4


# -- the sink itself ---------------------------------------------------------------------


_amounts = st.one_of(
    st.integers(-(10**9), 10**9),
    st.sampled_from([0, 1, -1, MAX_AMOUNT, -MAX_AMOUNT, MAX_AMOUNT + 1, -MAX_AMOUNT - 1]),
)
_kinds = st.sampled_from(
    [
        EntryKind.FUNDING,
        EntryKind.INTEREST,
        "funding",  # a kind given as its value
        "interest",
        EntryKind.DEPOSIT,  # a kind of a fixed sign: `common_form` decides
        EntryKind.WITHDRAW,
        "sync_adjustment",
        "nonsense",  # no kind: both ways refuse it
    ]
)
_step = st.one_of(
    st.tuples(
        st.just("book"),
        _kinds,
        _amounts,
        st.sampled_from([0, 1, 2, 3, 5, 1, 0, -1, 0.5]),  # the key's hour (repeats: replays)
        st.sampled_from([0, 1, None]),
        st.sampled_from([0, 1, MAX_KEY_LENGTH]),  # the key's padding: long keys refused
    ),
    st.tuples(st.sampled_from(["record", "other", "load", "replay"])),
)


def _run(steps: list, lean: bool, opening: int, loaded: bool) -> dict:
    sink = VaultLedgerSink(_Ledger(opening), "e1", 7)
    sink.batch = WriteBatch()
    if loaded:
        sink.load()
    answers: list[Any] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sink_module, "QUIET_LEAN", lean)
        mp.setattr(sink_module, "_QUIET_FORM", None)  # (taken again: `_quiet_form` runs)
        for step in steps:
            if step[0] == "book":
                _, kind, amount, hour, index, pad = step
                ts = T0 + hour * 3_600
                if hour == 0.5:
                    ts = float(T0 + 3_600)  # a float time of an hour
                key = f"{str(kind)}:{index or 0}:{ts}" + "k" * pad
                try:
                    answers.append(sink.book_quiet(kind, amount, key, index, ts))
                except Exception as exc:  # noqa: BLE001 - the error is compared
                    answers.append((type(exc).__name__, str(exc)))
            elif step[0] == "load":
                sink.load()
            elif step[0] == "replay":  # a restored sink meets a key again
                sink._replay = {f"funding:0:{T0}": 5}
            else:
                sink.batch.add(_record if step[0] == "record" else _other)
    held = [
        (
            type(w).__name__,
            [
                (
                    type(e).__name__,
                    type(e.kind),
                    e.kind,
                    e.amount,
                    e.key,
                    e.fee,
                    e.market_index,
                    e.counterparty_vault_id,
                    e.memo,
                    e.occurred_at,
                    e.occurred_at.tzinfo,
                    e.occurred_at.fold,
                    e.net,
                )
                for e in w.booking[3]
            ]
            if hasattr(w, "booking")
            else w.__name__,
        )
        for w in sink.batch.writes
    ]
    totals = sink.totals()
    return {
        "answers": answers,
        "balance": sink.balance(),
        "cached": sink._balance,
        "totals": totals,
        "total kinds": [type(k) for k in totals],
        "keys": sorted(sink._known()),
        "held": held,
        "replay": dict(sink._replay),
    }


@settings(max_examples=400, deadline=None)
@given(st.lists(_step, max_size=30), st.integers(-(10**12), 10**12), st.booleans())
@example(  # consecutive hours held: each hour's datetime added, the totals found by kind
    [("load",)]
    + [("book", EntryKind.FUNDING, 7, h, 0, 0) for h in range(4)]
    + [("book", EntryKind.INTEREST, -3, h, 0, 0) for h in range(4)],
    0,
    True,
)
def test_lean_book_quiet_is_book_quiet(steps, opening, loaded):
    assert _run(steps, True, opening, loaded) == _run(steps, False, opening, loaded)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.integers(0, 6).map(lambda h: T0 + h * 3_600),
            st.integers(-(10**9), 4 * 10**9),
            st.integers(0, 3).map(lambda h: float(T0 + h * 3_600)),
        ),
        max_size=20,
    )
)
@example([T0, T0 + 3_600, T0 + 7_200, T0 + 7_200, T0 + 3_600, T0 + 10_800])
@example([0, 3_600, -3_600, 0])  # the epoch, before it
@example([float(T0), T0 + 3_600, float(T0 + 7_200), T0 + 10_800])
def test_occurred_at_is_the_timestamp_in_utc(times):
    sink = VaultLedgerSink(_Ledger(0), "e1", 7)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sink_module, "QUIET_LEAN", True)
        for ts in times:
            at, want = sink._occurred_at(ts), datetime.fromtimestamp(ts, UTC)
            assert (at, at.tzinfo, at.fold, type(at)) == (want, UTC, want.fold, datetime)


@pytest.mark.parametrize(
    ("times", "made"),
    [
        ([T0, T0, T0 + 3_600, T0 + 7_200, T0 + 7_200], 1),  # the same hour, the next hours
        ([T0, T0 + 3_601], 2),  # not an hour on: made
        ([T0, T0 - 3_600], 2),  # an hour back: made
        ([T0, float(T0 + 3_600)], 2),  # a float time: made as `_ts` makes it
        ([T0, T0 + 7_200], 2),  # two hours on: made
    ],
)
def test_an_hour_on_is_the_last_time_plus_an_hour(monkeypatch, times, made):
    """`_occurred_at` (`QUIET_LEAN`): the datetime of an int time exactly an hour after
    the last one is the last one plus an hour, no `_ts` call; every other time, a
    float one included, is `_ts`'s; the value is `_ts`'s either way (zone and fold)."""
    calls: list[Any] = []
    real = sink_module._ts

    def counted(t: Any) -> datetime:
        calls.append(t)
        return real(t)

    monkeypatch.setattr(sink_module, "_ts", counted)
    sink = VaultLedgerSink(_Ledger(0), "e1", 7)
    got = [sink._occurred_at(t) for t in times]
    assert got == [real(t) for t in times]
    assert [(d.tzinfo, d.fold) for d in got] == [(UTC, 0)] * len(times)
    assert len(calls) == made
