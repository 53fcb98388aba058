"""The hour tick's pull the fast ways and the reference ways give the same backtests.

- `data.columns.TICK_SLOTS`: a `LazyEvents` row's `OracleTick` made through its slots
  and a slice read in one loop (reference: `OracleTick(...)` per row, `_row` per sliced
  row). The synthetic minutes and the bridged real minutes are read as columns.
- `sim.accounts.LAZY_ORACLES`: a price move leaves each DriftClient's oracle cache entry
  to be made when driftpy reads it (reference: every move stores it). The kept
  database's daily vault snapshots read the cache (`venue.margin`), as do the LUNA
  crash's liquidations and halts.

Whole fast backtests both ways (`flag_runs`, tests/backtest/flag_scenarios.py): the
report and every sample, every table's rows, the ticks, the heartbeat's counters, the
simulator's records, account and prices. With the flag on the fast path is taken, with
it off never. The focused tests of both paths are tests/data/test_lazy_ticks.py and
tests/sim/test_lazy_oracles.py.
"""

from __future__ import annotations

import pytest

from drift_engine.data import columns
from drift_engine.sim import accounts
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
    assert runs[True]["spied"] > 100


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
    assert runs[True]["spied"] > 50  # (held short: its 4 days' hourly moves)
