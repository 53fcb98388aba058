"""A refill's symbol ids read once, by `take` (`tape.SYMBOLS_ONCE`), against the
reference (`sym_of[codes_at]` twice): on the streams tests/data/test_refill_once.py
draws (up to three markets, one first seen late, funding records and rate rows beside
the prices, chunks of 1 to 40 rows, refilled by drawn amounts with part of each refill
read between), with the tape refilled either way (`REFILL_ONCE` on and off), every
array, the events, the spill, the symbol ids and the chunk's `HourTable` are the same at
every refill. A refill that meets a new market takes the reference's way."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drift_engine import tape as tape_module
from drift_engine.tape import EventTape
from tests.data.test_refill_once import BARS, WANTS, _events, _same, _state, _stream


def _states(monkeypatch, once: bool, refill_once: bool, events, rows, wants) -> list:
    monkeypatch.setattr(tape_module, "SYMBOLS_ONCE", once)
    monkeypatch.setattr(tape_module, "REFILL_ONCE", refill_once)
    tape = EventTape(_stream(events, rows), 60)
    out = []
    for want, eat in [*wants, (16_384, 0)]:
        tape.refill(want)
        table = tape.index().hours()
        out.append((_state(tape), table.head, table.apply, table.apply_sids, table.gap_lo))
        tape.pos += min(eat, len(tape))
    return out


@settings(max_examples=300, deadline=None)
@given(
    BARS,
    st.integers(0, 80),
    st.integers(1, 40),
    WANTS,
    st.booleans(),
)
def test_symbols_read_once_are_the_reference(bars, late, rows, wants, refill_once):
    events = _events(bars, late)
    with pytest.MonkeyPatch.context() as monkeypatch:
        got = _states(monkeypatch, True, refill_once, events, rows, wants)
        want = _states(monkeypatch, False, refill_once, events, rows, wants)
    for a, b in zip(got, want, strict=True):
        _same(a[0], b[0])
        assert a[1:] == b[1:]
        assert a[0]["sym"].dtype == b[0]["sym"].dtype


def test_a_refill_of_known_markets_takes_the_ids_once(monkeypatch):
    """`_known_symbols` answers every refill with the flag on, the reference's way
    (then `np.unique`) taking only those that meet a market without an id: the first
    refill and the one where market 2 first appears; with the flag off it is not
    asked."""
    events = _events([[(0, False), (1, False), (2, False)]] * 40, 20)
    for once in (True, False):
        calls: dict[str, list] = {"known": [], "unique": []}
        unique = tape_module.np.unique
        known = EventTape._known_symbols

        def spy(self, *args, _known=known, _calls=calls):
            _calls["known"].append(_known(self, *args))
            return _calls["known"][-1]

        monkeypatch.setattr(EventTape, "_known_symbols", spy)
        monkeypatch.setattr(
            tape_module.np,
            "unique",
            lambda *a, _c=calls, _u=unique, **k: (_c["unique"].append(1), _u(*a, **k))[1],
        )
        monkeypatch.setattr(tape_module, "SYMBOLS_ONCE", once)
        monkeypatch.setattr(tape_module, "LONG_READ", False)  # (reads of 16 rows)
        tape = EventTape(_stream(events, 7), 60)
        for _ in range(8):
            tape.refill(16)
            tape.pos += 12
        monkeypatch.undo()
        assert len(calls["unique"]) == 2, once
        if once:
            assert calls["known"] == [False, True, True, False]  # (four refills)
        else:
            assert calls["known"] == []
        assert tape.symbols == {"BTC-PERP": 0, "SOL-PERP": 1, "ETH-PERP": 2}  # (first seen)
