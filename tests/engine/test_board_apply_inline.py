"""`MarketBoard.apply` with its funding records fed inline (`engine.market_board.
APPLY_INLINE`; oracle ticks go through `set_price` both ways) leaves what `add_funding`
of `hourly_rate` and `hourly_sides` leaves (the flag False, the reference): drawn events of
the perp, its spot leg under each name, a market not on the board, TWAPs of zero,
times going back, candles and spot rates; after every event the same pending and
published values, histories, sides, flags and time, the same snapshot when read, and
the same error for a record without rates. The whole backtests both ways are
tests/backtest/test_pull_flags.py."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drift_engine.data.models import Candle, FundingRecord, OracleTick, SpotRateRecord
from drift_engine.engine import market_board
from drift_engine.engine.market_board import MarketBoard

T0 = 1_751_328_000
NAMES = ("SOL-PERP", "SOL", "sol", "BTC-PERP", "BTC", "ETH", "SOL-PERP")

rates = st.integers(-(10**7), 10**7)
event = st.one_of(
    st.tuples(st.just("tick"), st.sampled_from(NAMES), st.integers(0, 10**9), st.integers(-5, 5)),
    st.tuples(
        st.just("funding"),
        st.sampled_from(("SOL-PERP", "SOL-PERP", "BTC-PERP", "ETH")),
        rates,
        rates,
        rates,
        st.sampled_from((0, 0, 1, 99_876_543, 150 * 10**6)),
        st.integers(-5, 5),
    ),
    st.tuples(st.just("read")),
    st.tuples(st.just("spot_rate")),
    st.tuples(st.just("candle"), st.integers(1, 10**9)),
)


def _events(steps: list[tuple]) -> list[Any]:
    out: list[Any] = []
    ts = T0
    for step in steps:
        kind = step[0]
        if kind == "tick":
            _, name, price, back = step
            ts += 60
            out.append(OracleTick(ts + back * 600, name, price))
        elif kind == "funding":
            _, name, rate, lng, sht, twap, back = step
            ts += 3600
            out.append(FundingRecord(ts + back * 3600, name, 0, rate, lng, sht, 0, 0, twap, twap))
        elif kind == "spot_rate":
            out.append(SpotRateRecord(ts, "SOL", 1, Decimal("0.031"), Decimal("0.077")))
        elif kind == "candle":
            out.append(Candle(ts, "SOL-PERP", 60, step[1], step[1], step[1], step[1], 1))
        else:
            out.append(None)  # a snapshot read
    return out


def _state(board: MarketBoard) -> tuple:
    return (
        board.last_ts,
        [
            (m.pending, m.values, tuple(m.history), tuple(m.sides), m.dirty, m.funding_stale)
            for m in board._markets.values()
        ],
    )


def _apply(board: MarketBoard, ev: Any, inline: bool) -> Any:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(market_board, "APPLY_INLINE", inline)
        if ev is None:
            return board.snapshots()
        try:
            return board.apply(ev)
        except TypeError as exc:
            return repr(exc)


@settings(max_examples=80, deadline=None)
@given(st.lists(event, min_size=1, max_size=60))
def test_the_inline_apply_is_the_reference(steps):
    fast, ref = MarketBoard(["SOL-PERP", "BTC-PERP"]), MarketBoard(["SOL-PERP", "BTC-PERP"])
    for ev in _events(steps):
        assert _apply(fast, ev, True) == _apply(ref, ev, False), ev
        assert _state(fast) == _state(ref), ev
    assert fast.snapshots() == ref.snapshots()


def test_a_record_without_rates_fails_as_the_reference():
    got = []
    for inline in (True, False):
        board = MarketBoard(["SOL-PERP"])
        events = [
            FundingRecord(T0, "SOL-PERP", 0, 5, None, None, 0, 0, 100, 100),
            FundingRecord(T0, "SOL-PERP", 0, None, None, None, 0, 0, 100, 100),
            FundingRecord(T0, "SOL-PERP", 0, None, None, None, 0, 0, 0, 0),
        ]
        got.append(([_apply(board, ev, inline) for ev in events], _state(board)))
    assert got[0] == got[1]
    assert got[0][0][0] is not None and got[0][0][1] is not None  # both raised
    assert got[0][0][2] is None  # no TWAP: no rate is read
