"""The hour tick's pull the fast ways and the reference ways give the same backtests.

- `data.columns.TICK_SLOTS`: a `LazyEvents` row's `OracleTick` made through its slots
  and a slice read in one loop (reference: `OracleTick(...)` per row, `_row` per sliced
  row). The synthetic minutes and the bridged real minutes are read as columns.
- `sim.accounts.LAZY_ORACLES`: a price move leaves each DriftClient's oracle cache entry
  to be made when driftpy reads it (reference: every move stores it). The kept
  database's daily vault snapshots read the cache (`venue.margin`), as do the LUNA
  crash's liquidations and halts.

- `engine.market_board.FUNDING_ONCE`: the board takes a funding record in `apply`'s
  frame (reference: `add_funding` with `hourly_rate` and `hourly_sides`);
  `venues.paper.FEED_FUNDING`: the feed finds a funding record's perp market by the
  simulator's symbol map (reference: `sim.perp_market`). The kept database's heartbeat
  rows hold the board's funding rows and state.

Whole fast backtests both ways (`flag_runs`, tests/backtest/flag_scenarios.py): the
report and every sample, every table's rows, the ticks, the heartbeat's counters, the
simulator's records, account and prices. With the flag on the fast path is taken, with
it off never. The focused tests of both paths are tests/data/test_lazy_ticks.py and
tests/sim/test_lazy_oracles.py, tests/engine/test_funding_once.py.
"""

from __future__ import annotations

import pytest

from drift_engine.data import columns
from drift_engine.engine import market_board
from drift_engine.sim import accounts
from drift_engine.venues import paper
from tests.backtest.flag_scenarios import flag_runs, named


def _ticks(mp: pytest.MonkeyPatch):
    """Counts the ticks `_tick` made."""
    made = [0]
    tick = columns._tick

    def spy(*args):
        made[0] += 1
        return tick(*args)

    mp.setattr(columns, "_tick", spy)
    return lambda: made[0]


def _lazy_moves(mp: pytest.MonkeyPatch):
    """Counts the price moves `_set_prices_lazily` took."""
    moves = [0]
    lazily = accounts.AccountsMixin._set_prices_lazily

    def spy(self, keys, price):
        moves[0] += 1
        return lazily(self, keys, price)

    mp.setattr(accounts.AccountsMixin, "_set_prices_lazily", spy)
    return lambda: moves[0]


@pytest.mark.parametrize("name", named("held-short", "bench", "sol-minutes"))
def test_a_backtest_is_the_same_with_ticks_made_through_their_slots(tmp_path, name):
    runs = flag_runs(tmp_path, name, columns, "TICK_SLOTS", _ticks)
    assert runs[False]["spied"] == 0
    assert runs[True]["spied"] > 50


@pytest.mark.parametrize(
    "name",
    named(
        "held-short",
        "luna-liquidated",
        "luna-halted",
        "sol-hours-delta-neutral",
        "sol-year-delta-neutral",
    ),
)
def test_a_backtest_is_the_same_with_oracle_entries_made_when_read(tmp_path, name):
    runs = flag_runs(tmp_path, name, accounts, "LAZY_ORACLES", _lazy_moves)
    assert runs[False]["spied"] == 0
    assert runs[True]["spied"] > 50


def _funding_added(mp: pytest.MonkeyPatch):
    """Counts the board's `add_funding` calls (the reference's, from `apply`)."""
    added = [0]
    add = market_board.MarketBoard.add_funding

    def spy(self, *args):
        added[0] += 1
        return add(self, *args)

    mp.setattr(market_board.MarketBoard, "add_funding", spy)
    return lambda: added[0]


_BOARD_RUNS = named("held-short", "bench", "luna-liquidated", "sol-hours-delta-neutral")


@pytest.mark.parametrize("name", _BOARD_RUNS)
def test_a_backtest_is_the_same_with_the_board_taking_funding_in_its_frame(tmp_path, name):
    runs = flag_runs(tmp_path, name, market_board, "FUNDING_ONCE", _funding_added)
    assert runs[True]["spied"] == 0
    assert runs[False]["spied"] > 50


@pytest.mark.parametrize("name", _BOARD_RUNS)
def test_a_backtest_is_the_same_with_the_feed_finding_the_perp_by_its_symbol(tmp_path, name):
    flag_runs(tmp_path, name, paper, "FEED_FUNDING")
