"""The tape's long reads (`tape.LONG_READ`: a refill from column chunks takes
`LONG_READS` times `want` new rows, still when fewer than `want // 4` are left) against
reads of `want` rows: on the streams tests/data/test_refill_once.py draws (up to three
markets, one first seen late, funding records and rate rows beside the prices, chunks of
1 to 40 rows), with gaps of drawn lengths between bars, read a drawn number of events at
a time with a refill between, every event comes out the same, with the same arrays at
its position (time, bar, symbol, price, is-a-price), the same symbol ids and the same
end of the data; each chunk's `HourTable` is the table of its own arrays. Whole backtests:
tests/backtest/test_long_read_runs.py."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drift_engine import tape as tape_module
from drift_engine.sim.stretch import TapeIndex
from drift_engine.tape import EventTape
from tests.data.test_refill_once import BARS, WANTS, _events, _stream


def _gapped(events: list, gaps: list[int]) -> list:
    """The events with bar `i`'s time moved on by the sum of `gaps[:i+1]` minutes (hours
    and minutes without data between bars)."""
    if not gaps:
        return events
    out = []
    times = sorted({e.time for e in events})
    shift = {}
    total = 0
    for i, t in enumerate(times):
        total += 60 * gaps[i % len(gaps)]
        shift[t] = total
    for e in events:
        moved = type(e).__new__(type(e))
        for name in e.__dataclass_fields__:
            object.__setattr__(moved, name, getattr(e, name))
        object.__setattr__(moved, "ts", e.time + shift[e.time])
        out.append(moved)
    return out


def _walk(monkeypatch, long: bool, events: list, rows: int, reads: list, times: int) -> dict:
    """Read the tape to its end: per read (want, eat) a refill with `want`, then `eat`
    events one at a time. Per event: the event and its arrays' values; per refill that
    read: the chunk's table against a table of its arrays made anew (no table of an
    earlier chunk left standing)."""
    monkeypatch.setattr(tape_module, "LONG_READ", long)
    monkeypatch.setattr(tape_module, "LONG_READS", times)
    tape = EventTape(_stream(events, rows), 60)
    seen = []
    k = 0
    while True:
        want, eat = reads[k % len(reads)]
        k += 1
        before = tape.buf
        tape.refill(want)
        if tape.buf is not before:  # (a refill read: the chunk's table is its arrays')
            table = tape.index().hours()
            fresh = TapeIndex(tape.bound, tape.sym, tape.price, len(tape.symbols)).hours()
            assert (table.head, table.tick_end, table.apply) == (
                fresh.head,
                fresh.tick_end,
                fresh.apply,
            )
        if len(tape) == 0:
            break
        for _ in range(max(1, eat)):
            if len(tape) == 0:
                break
            i = tape.pos
            seen.append(
                (
                    tape.buf[i],
                    tape.time.item(i),
                    tape.bound.item(i),
                    tape.sym.item(i),
                    tape.price.item(i),
                    bool(tape.is_price[i]),
                )
            )
            tape.pos += 1
    assert tape.exhausted
    return {"seen": seen, "symbols": dict(tape.symbols)}


@settings(max_examples=300, deadline=None)
@given(
    BARS,
    st.integers(0, 80),
    st.integers(1, 40),
    WANTS,
    st.lists(st.integers(0, 180), max_size=6),
    st.integers(2, 5),
)
def test_long_reads_give_the_same_events(bars, late, rows, reads, gaps, times):
    events = _gapped(_events(bars, late), gaps)
    with pytest.MonkeyPatch.context() as monkeypatch:
        got = _walk(monkeypatch, True, events, rows, reads, times)
        want = _walk(monkeypatch, False, events, rows, reads, times)
    assert got["seen"] == want["seen"]
    assert got["symbols"] == want["symbols"]


def test_a_long_read_at_the_data_end(monkeypatch):
    """Data whose rows end exactly where a long read ends, a row after it and a row
    before it: the same events either way, and the tape's end is found by the read that
    comes short (the last one), as with short reads."""
    bars = [[(0, False), (1, False)]] * 40 + [[(0, True), (0, False)]]
    base = _events(bars, 0)
    for extra in (-1, 0, 1):
        events = base[: 64 + extra]  # (reads of 16 rows, 4 at a time: 64 rows)
        runs = {}
        for long in (True, False):
            monkeypatch.setattr(tape_module, "LONG_READ", long)
            monkeypatch.setattr(tape_module, "LONG_READS", 4)
            tape = EventTape(_stream(events, 5), 60)
            out, refills = [], 0
            while True:
                before = tape.buf
                tape.refill(16)
                refills += tape.buf is not before
                if len(tape) == 0:
                    break
                out.append((tape.buf[tape.pos], tape.bound.item(tape.pos)))
                tape.pos += 1
            runs[long] = (out, refills, tape.exhausted)
        assert runs[True][0] == runs[False][0] == [(e, -(-e.time // 60) * 60) for e in events]
        assert runs[True][2] and runs[False][2]
        # a long read of 64 rows: one read, or two when a row is left for the next
        assert runs[True][1] == (2 if extra >= 0 else 1)
        assert runs[False][1] > runs[True][1]


def test_a_long_read_takes_times_want_rows(monkeypatch):
    """The flag on: `LONG_READS` times `want` new rows, the unread ones kept ahead; off:
    `want`. Object streams (no columns) read `want` rows either way."""
    events = _events([[(0, False), (1, False)]] * 100, 0)
    for long, times, got in ((True, 4, 64), (True, 3, 48), (False, 4, 16)):
        monkeypatch.setattr(tape_module, "LONG_READ", long)
        monkeypatch.setattr(tape_module, "LONG_READS", times)
        tape = EventTape(_stream(events, 7), 60)
        tape.refill(16)
        assert len(tape) == got
        tape.pos = len(tape.buf) - 3  # (3 left: under 16 // 4)
        tape.refill(16)
        assert len(tape) == 3 + got
        assert np.array_equal(tape.time, [e.time for e in tape.buf])
    monkeypatch.setattr(tape_module, "LONG_READ", True)
    plain = EventTape(iter(events), 60)  # (no `columns`: the objects' way)
    plain.refill(16)
    assert len(plain) == 16
