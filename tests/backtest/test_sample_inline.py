"""The hourly sample read inline (`backtest.runner.SAMPLE_INLINE`) gives the same
backtests as through its calls (reference: `sample_due`, `health()` and a look-up of the
account each).

With the flag on, `run_backtest`'s `on_tick` answers `sample_due` itself where the tick is
the hour's funding update in a new clock hour (either way of `sample_due`'s answer
holds then), reads the account once for `holds_perp` and the health's liquidation test,
and asks `health_now` as `health()` does. Whole fast backtests both ways (`flag_runs`,
tests/backtest/flag_scenarios.py): the report and every sample (time, value, funding,
in the market, health), every table's rows, the ticks, the heartbeat's counters, the
simulator's records, account and prices. The scenarios: every hour quiet and sampled at
its funding tick; in and out of the market; liquidated (health 0 while being
liquidated); no funding at all (every hour through `sample_due`); real minutes (the
update minutes after the hour, bars before it); real hours delta-neutral. With the flag
on the account is looked up fewer times.
"""

from __future__ import annotations

import pytest

from drift_engine.backtest import runner
from drift_engine.sim import accounts
from tests.backtest.flag_scenarios import flag_runs, named


def _user_calls(mp: pytest.MonkeyPatch):
    """Counts the simulator's `user` look-ups."""
    calls = [0]
    real = accounts.AccountsMixin.user

    def counted(self, *args, **kw):
        calls[0] += 1
        return real(self, *args, **kw)

    mp.setattr(accounts.AccountsMixin, "user", counted)
    return lambda: calls[0]


@pytest.mark.parametrize(
    "name",
    named(
        "held-short",
        "entering-and-leaving",
        "luna-liquidated",
        "luna-no-funding",
        "sol-minutes",
        "sol-hours-delta-neutral",
    ),
)
def test_a_backtest_is_the_same_with_the_hourly_sample_inline(tmp_path, name):
    runs = flag_runs(tmp_path, name, runner, "SAMPLE_INLINE", _user_calls)
    assert runs[True]["spied"] < runs[False]["spied"]
    assert runs[True]["report"]["samples"]  # (compared sample by sample by `_same`)
