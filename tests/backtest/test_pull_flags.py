"""The hour tick's pull the fast ways and the reference ways give the same backtests.

- `data.columns.TICK_SLOTS`: a `LazyEvents` row's `OracleTick` made through its slots
  and a slice read in one loop (reference: `OracleTick(...)` per row, `_row` per sliced
  row). The synthetic minutes and the bridged real minutes are read as columns.
- `sim.accounts.LAZY_ORACLES`: a price move leaves each DriftClient's oracle cache entry
  to be made when driftpy reads it (reference: every move stores it). The kept
  database's daily vault snapshots read the cache (`venue.margin`), as do the LUNA
  crash's liquidations and halts.

- `sim.funding_interest.PAYMENT_INLINE`: the funding record's one pass settles each
  position's funding with its kept-check carry and writes inline (reference:
  `_perp_quote_moved`, `_funding_paid`; the payment is `funding.funding_payment`'s
  both ways).
- `sim.funding_interest.INTEREST_INLINE`: the interest pass books each holder inline
  (reference: `_interest_paid`; the amounts are `token_amount_at`'s both ways).
- `engine.market_board.APPLY_INLINE`: the board feeds funding records inline
  (reference: `add_funding` of `hourly_rate` and `hourly_sides`).
- `sim.funding_interest.PULL_PLAIN`: the funding record's fields read as attributes,
  an oracle tick's moved keys found in a loop and written by `_set_prices_lazily`
  (reference: `getattr` per field, the comprehension, `_set_prices`).
- `sim.funding_interest.HOUR_PLAN`: a funding record's key and perp market from a
  plan made at its name's first record, the spot markets walked in the order kept at
  construction (reference: the look-ups and `sorted` an hour).
- `core.frozen.TWIN_BUILD`: the funding hour's records and the venue's funding event
  made through their classes' twins (reference: the classes' `set_by_slots` `__init__`).

Whole fast backtests both ways (`flag_runs`, tests/backtest/flag_scenarios.py): the
report and every sample, every table's rows, the ticks, the heartbeat's counters, the
simulator's records, account and prices. With the flag on the fast path is taken, with
it off never. The focused tests are tests/data/test_lazy_ticks.py,
tests/sim/test_lazy_oracles.py, tests/sim/test_funding_inline.py,
tests/engine/test_board_apply_inline.py, tests/sim/test_pull_plain.py,
tests/sim/test_hour_plan.py, tests/core/test_twin_build.py and
tests/sim/test_twin_records.py.
"""

from __future__ import annotations

import pytest

from drift_engine.core import frozen
from drift_engine.data import columns
from drift_engine.engine import market_board
from drift_engine.sim import accounts, funding_interest, records
from tests.backtest.flag_scenarios import calls_of, flag_runs, named


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
    runs = flag_runs(tmp_path, name, columns, "TICK_SLOTS", calls_of(columns, "_tick"))
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


@pytest.mark.parametrize(
    "name",
    named("held-short", "luna-liquidated", "sol-hours-delta-neutral", "sol-year-delta-neutral"),
)
def test_a_backtest_is_the_same_with_payments_inline(tmp_path, name):
    # the reference's `_funding_paid` calls: each hour's settlement in the pass
    spy = calls_of(funding_interest.FundingInterestMixin, "_funding_paid")
    runs = flag_runs(tmp_path, name, funding_interest, "PAYMENT_INLINE", spy)
    assert runs[False]["spied"] > runs[True]["spied"]


@pytest.mark.parametrize(
    "name",
    named(
        "held-short", "entering-and-leaving", "sol-hours-delta-neutral", "sol-year-delta-neutral"
    ),
)
def test_a_backtest_is_the_same_with_interest_inline(tmp_path, name):
    spy = calls_of(funding_interest.FundingInterestMixin, "_interest_paid")
    runs = flag_runs(tmp_path, name, funding_interest, "INTEREST_INLINE", spy)
    assert runs[False]["spied"] > runs[True]["spied"]


@pytest.mark.parametrize(
    "name", named("held-short", "entering-and-leaving", "luna-halted", "sol-minutes")
)
def test_a_backtest_is_the_same_with_the_board_fed_inline(tmp_path, name):
    runs = flag_runs(
        tmp_path, name, market_board, "APPLY_INLINE", calls_of(market_board, "hourly_sides")
    )
    assert runs[True]["spied"] < runs[False]["spied"]
    assert runs[False]["spied"] > 50


@pytest.mark.parametrize(
    "name", named("held-short", "entering-and-leaving", "luna-liquidated", "sol-minutes")
)
def test_a_backtest_is_the_same_with_the_pulls_plain_reads(tmp_path, name):
    # the reference's `_set_prices` calls: each oracle tick's move, from `apply`
    spy = calls_of(accounts.AccountsMixin, "_set_prices")
    runs = flag_runs(tmp_path, name, funding_interest, "PULL_PLAIN", spy)
    assert runs[True]["spied"] < runs[False]["spied"]
    assert runs[False]["spied"] > 50


@pytest.mark.parametrize(
    "name",
    named("held-short", "entering-and-leaving", "luna-liquidated", "sol-year-delta-neutral"),
)
def test_a_backtest_is_the_same_with_the_hours_plan(tmp_path, name):
    # the plans made: one per market name with the flag (not one an hour), none without
    spy = calls_of(funding_interest.FundingInterestMixin, "_funding_plan")
    runs = flag_runs(tmp_path, name, funding_interest, "HOUR_PLAN", spy)
    assert 0 < runs[True]["spied"] <= 3
    assert runs[False]["spied"] == 0


def _class_made_rates(mp: pytest.MonkeyPatch):
    """Counts the `FundingRateRecord`s made by the class's own `__init__`."""
    made = [0]
    init = records.FundingRateRecord.__init__

    def counted(self, *args, **kw):
        made[0] += 1
        init(self, *args, **kw)

    mp.setattr(records.FundingRateRecord, "__init__", counted)
    return lambda: made[0]


@pytest.mark.parametrize(
    "name", named("held-short", "luna-liquidated", "sol-hours-delta-neutral", "sol-minutes")
)
def test_a_backtest_is_the_same_with_the_hours_records_made_by_twins(tmp_path, name):
    runs = flag_runs(tmp_path, name, frozen, "TWIN_BUILD", _class_made_rates)
    assert runs[True]["spied"] == 0
    assert runs[False]["spied"] > 50
