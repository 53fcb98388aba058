"""The tape refilled from column chunks with one copy of the rows (`tape.REFILL_ONCE`,
`EventTape._refill_joined`) against the reference (`_refill_columns`' three joins): on
drawn streams (up to three markets, one of them first seen late, funding records and
rate rows beside the prices, chunks of 1 to 40 rows) refilled by drawn amounts with part
of each refill read between, every array, the events, the spill, the symbol ids, the
position and the end of the data are the same at every refill, and the facts a quiet
hour reads (`TapeIndex`, `HourTable`) too. Whole backtests: tests/backtest/
test_refill_once_runs.py."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drift_engine import tape as tape_module
from drift_engine.data.columns import Codes, Columns, EventStream, from_events
from drift_engine.data.models import FundingRecord, OracleTick
from drift_engine.tape import EventTape

MARKETS = ("SOL-PERP", "BTC-PERP", "ETH-PERP")
ARRAYS = ("time", "bound", "sym", "price", "is_price")

#: a bar: its events, (market number, is a funding record); market 2 only after `late`
BARS = st.lists(
    st.lists(st.tuples(st.integers(0, 2), st.booleans()), min_size=1, max_size=4),
    min_size=0,
    max_size=80,
)

#: the reads: (want, events taken after each refill), one per refill
WANTS = st.lists(st.tuples(st.integers(1, 60), st.integers(0, 60)), min_size=1, max_size=8)


def _events(bars: list, late: int) -> list:
    out = []
    for i, bar in enumerate(bars):
        ts = 1_700_000_000 + 30 * i  # (two events a minute: bars of 60 s hold both)
        for k, (m, funding) in enumerate(bar):
            if m == 2 and i < late:
                m = 0
            market = MARKETS[m]
            if funding:
                out.append(FundingRecord(ts, market, 0, 5, 5, 5, 0, 0, 100, 100, "synthetic"))
            else:
                out.append(OracleTick(ts, market, 1_000 + 7 * i + k, "synthetic"))
    out.sort(key=lambda e: (e.time, e.rank, e.market))
    return out


def _stream(events: list, rows: int) -> EventStream:
    return EventStream(lambda: iter(events), lambda codes: _chunks(codes, events, rows))


def _chunks(codes: Codes, events: list, rows: int) -> Iterator[Columns]:
    """`from_events`' chunks with a price left in the rows that are not oracle ticks
    (the tape's prices are the oracle ticks' whatever a chunk holds there)."""
    for chunk in from_events(codes, events, rows):
        chunk.price = np.where(chunk.rank == 0, chunk.price, 999)
        yield chunk


def _state(tape: EventTape) -> dict:
    out = {name: getattr(tape, name) for name in ARRAYS}
    out.update(
        pos=tape.pos,
        exhausted=tape.exhausted,
        symbols=dict(tape.symbols),
        events=list(tape.buf[0 : len(tape.buf)]),
        spill=(tape._spill.time.tolist(), tape._spill.rank.tolist(), tape._spill.objects),
        objects=tape.buf.cols.objects,
    )
    return out


def _same(a: dict, b: dict) -> None:
    for name in ARRAYS:
        x, y = a[name], b[name]
        assert x.dtype == y.dtype and np.array_equal(x, y), name
    for name in ("pos", "exhausted", "symbols", "events", "spill", "objects"):
        assert a[name] == b[name], name


@settings(max_examples=300, deadline=None)
@given(
    BARS,
    st.integers(0, 80),
    st.integers(1, 40),
    WANTS,
)
def test_a_tape_refilled_with_one_copy_is_the_reference(bars, late, rows, wants):
    with pytest.MonkeyPatch.context() as monkeypatch:
        _compare(monkeypatch, _events(bars, late), rows, wants)


def _compare(monkeypatch: pytest.MonkeyPatch, events: list, rows: int, wants: list) -> None:
    tapes = {}
    for flag in (True, False):
        monkeypatch.setattr(tape_module, "REFILL_ONCE", flag)
        tapes[flag] = EventTape(_stream(events, rows), 60)
    states: dict[bool, list] = {True: [], False: []}
    for flag, tape in tapes.items():
        monkeypatch.setattr(tape_module, "REFILL_ONCE", flag)
        for want, eat in [*wants, (16_384, 0)]:
            tape.refill(want)
            index = tape.index()
            table = index.hours()
            states[flag].append(
                (
                    _state(tape),
                    index.tick_no.tolist(),
                    table.head,
                    table.apply,
                    table.gap_lo,
                    table.tick_hi,
                )
            )
            tape.pos += min(eat, len(tape))
    for got, want in zip(states[True], states[False], strict=True):
        _same(got[0], want[0])
        assert got[1:] == want[1:]
    # the whole stream read, in order, by the tape with the flag on
    assert states[True][-1][0]["exhausted"] or len(events) >= 16_384


def test_the_flag_picks_the_path(monkeypatch):
    events = _events([[(0, False), (1, True)]] * 30, 0)
    calls = []
    joined = EventTape._refill_joined
    monkeypatch.setattr(
        EventTape, "_refill_joined", lambda self, want: (calls.append(want), joined(self, want))
    )
    monkeypatch.setattr(tape_module, "LONG_READ", False)  # (reads of `want` rows)
    for flag, expect in ((True, [10]), (False, [])):
        calls.clear()
        monkeypatch.setattr(tape_module, "REFILL_ONCE", flag)
        tape = EventTape(_stream(events, 7), 60)
        tape.refill(10)
        assert calls == expect and len(tape.buf) == 10 and not tape.exhausted
