"""An hour tick's events fed to the board and the feed the short ways against the
references.

- `market_board.FUNDING_ONCE`: `MarketBoard.apply` takes a funding record in its own
  frame (reference: `add_funding(market, ts, hourly_rate(e), *hourly_sides(e))`); the
  oracle ticks between go to `set_price` both ways.
- `paper.FEED_FUNDING`: `SimulatorFeed.apply` finds the record's perp market by the
  simulator's symbol map (reference: `sim.perp_market(market)`, a KeyError a miss).

Drawn records and ticks (rates and TWAPs of any sign, a zero TWAP, markets on the board
and not, the spot leg's name, lower case, times going back) fed to twin boards and feeds, one
with the flag on and one off: the same history, sides, last time, snapshot (its floats
to the bit), open interest, or the same error. The whole backtests are
tests/backtest/test_pull_flags.py's."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drift_engine.data.models import FundingRecord, OracleTick
from drift_engine.engine import market_board
from drift_engine.engine.market_board import MarketBoard
from drift_engine.sim import DriftSimulator
from drift_engine.venues import paper
from drift_engine.venues.paper import PaperVenue, SimulatorFeed

T0 = 1_751_328_000
PRICE = 150_000_000

_rate = st.integers(-(10**9), 10**9)
_record = st.builds(
    FundingRecord,
    st.integers(T0 - 7_200, T0 + 10 * 3_600),
    st.sampled_from(["SOL-PERP", "sol-perp", "SOL", "BTC-PERP", "ETH-PERP"]),
    st.just(0),
    _rate,
    _rate,
    _rate,
    st.just(0),
    st.just(0),
    st.one_of(st.just(0), st.integers(-(10**9), 10**10)),
    st.integers(0, 10**10),
)


_tick = st.builds(
    OracleTick,
    st.integers(T0 - 7_200, T0 + 10 * 3_600),
    st.sampled_from(["SOL-PERP", "SOL", "sol", "BTC", "wBTC", "BTC-PERP", "ETH-PERP"]),
    st.integers(-(10**9), 10**12),
)


def _fed(on: bool, board: MarketBoard, event) -> object:
    was = market_board.FUNDING_ONCE
    market_board.FUNDING_ONCE = on
    try:
        board.apply(event)
        return None
    except Exception as exc:  # noqa: BLE001 - the same error both ways
        return type(exc), str(exc)
    finally:
        market_board.FUNDING_ONCE = was


def _board_state(board: MarketBoard) -> tuple:
    out = [board.last_ts]
    for symbol in board.symbols:
        m = board._markets[symbol]
        out.append((list(m.history), list(m.sides), m.dirty, m.funding_stale))
        snap = board.snapshot(symbol)
        out.append(tuple(repr(getattr(snap, f)) for f in snap.__dataclass_fields__))
    return tuple(out)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(_record, _tick, _tick, st.just(None)), max_size=30))
def test_property_the_board_takes_ticks_and_funding_records_as_the_reference(records):
    boards = {on: MarketBoard(["SOL-PERP", "BTC-PERP"]) for on in (True, False)}
    for record in records:
        if record is None:  # (a snapshot read between: the funding fields worked out)
            assert _board_state(boards[True]) == _board_state(boards[False])
            continue
        assert _fed(True, boards[True], record) == _fed(False, boards[False], record)
    assert _board_state(boards[True]) == _board_state(boards[False])


def test_a_record_without_a_rate_fails_both_ways_before_the_board_changes():
    bad = FundingRecord(T0, "SOL-PERP", 0, None, 1, 1, 0, 0, PRICE, PRICE)  # type: ignore[arg-type]
    missing = FundingRecord(T0, "ETH-PERP", 0, None, 1, 1, 0, 0, PRICE, PRICE)  # type: ignore[arg-type]
    boards = {on: MarketBoard(["SOL-PERP"]) for on in (True, False)}
    for record in (bad, missing):
        got = _fed(True, boards[True], record)
        assert got is not None and got == _fed(False, boards[False], record)
    assert _board_state(boards[True]) == _board_state(boards[False])
    assert boards[True].last_ts == 0


def _feed(on: bool, feed: SimulatorFeed, event) -> object:
    was = paper.FEED_FUNDING
    paper.FEED_FUNDING = on
    try:
        feed.apply(event)
        return None
    except Exception as exc:  # noqa: BLE001 - the same error both ways
        return type(exc), str(exc)
    finally:
        paper.FEED_FUNDING = was


def _simulated() -> tuple[DriftSimulator, SimulatorFeed, MarketBoard]:
    sim = DriftSimulator({"SOL-PERP": PRICE, "SOL": PRICE}, ts=T0)
    venue = PaperVenue(sim)
    venue.fund(10_000_000_000, T0)
    board = MarketBoard(["SOL-PERP", "BTC-PERP"])
    return sim, SimulatorFeed(sim, board), board


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.one_of(
            _record,
            st.builds(
                lambda t, p: OracleTick(T0 + t, "SOL", p),
                st.integers(0, 10 * 3_600),
                st.integers(10**6, 10**9),
            ),
        ),
        max_size=12,
    ),
    st.integers(-(10**12), 10**12),
)
def test_property_the_feed_sets_the_open_interest_as_the_reference(events, base):
    twins = {on: _simulated() for on in (True, False)}
    for sim, _, _ in twins.values():  # (an open interest to publish)
        sim.perp_markets[0].amm.base_asset_amount_long = base
    for event in sorted(events, key=lambda e: (e.ts, e.rank)):
        got = {on: _feed(on, feed, event) for on, (_, feed, _) in twins.items()}
        assert got[True] == got[False]
        (sim1, feed1, board1), (sim0, feed0, board0) = twins[True], twins[False]
        assert feed1.records == feed0.records and sim1.records == sim0.records
        assert board1.snapshot("SOL-PERP") == board0.snapshot("SOL-PERP")
        assert board1.snapshot("BTC-PERP") == board0.snapshot("BTC-PERP")


def test_the_feed_over_another_simulator_takes_the_reference():
    class Other:
        def __init__(self, sim):
            self.sim = sim
            self.asked = 0

        def apply(self, event):
            return self.sim.apply(event)

        def perp_market(self, market):
            self.asked += 1
            return self.sim.perp_market(market)

    sim, _, board = _simulated()
    other = Other(sim)
    feed = SimulatorFeed(other, board)
    record = FundingRecord(T0 + 3_600, "SOL-PERP", 0, 5, 5, 5, 0, 0, PRICE, PRICE)
    assert _feed(True, feed, record) is None
    assert other.asked == 1


@pytest.mark.parametrize("market", ["SOL-PERP", "BTC-PERP", "SOL"])
def test_the_open_interest_of_a_record_is_the_simulated_long_base(market):
    twins = {on: _simulated() for on in (True, False)}
    for sim, _, _ in twins.values():
        sim.perp_markets[0].amm.base_asset_amount_long = 123
    record = FundingRecord(T0 + 3_600, market, 0, 5, 5, 5, 0, 0, PRICE, PRICE)
    got = [_feed(on, feed, record) for on, (_, feed, _) in twins.items()]
    assert got[0] == got[1]
    assert (got[0] is None) == (market != "SOL")  # ("SOL": not a perp, the simulator says)
    snaps = [board.snapshot("SOL-PERP") for _, _, board in twins.values()]
    assert snaps[0] == snaps[1]
    assert snaps[0].open_interest == (123 if market == "SOL-PERP" else 0)
