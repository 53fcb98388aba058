"""Whole backtests write the same tables with the weekly flush's ledger entries read into
the insert's columns a booking at a time (`vaults.bulk.ROWS_ONCE`) as with the
reference (the entry-by-entry loop and `DriverInsert.run`), and with a heartbeat row's
funding tuples' twin rates formatted once (`engine.store.FLOAT_TWINS`) as with each
formatted: every row of every table,
value for value as the driver reads it back (wall clocks frozen, a tick's measured
duration left out), and the same report. On the bench's kind of data (synthetic
minutes held short: quiet funding hours, weekly flushes), the real LUNA crash (fills,
a liquidation; with hourly funding, quiet hours up to it) and the real SOL year held
delta-neutral (fills, interest, settles: slow). With `ROWS_ONCE` on each run must take
the column way at least once. The drawn batches are in tests/vaults/test_bulk_rows_once.py,
the drawn tuples in tests/engine/test_json_pieces.py.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from drift_engine.backtest.runner import run_backtest
from drift_engine.data.bundled import luna_ticks
from drift_engine.data.models import OracleTick
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.engine import store
from drift_engine.storage.testing import throwaway_database_url
from drift_engine.vaults import bulk
from tests.backtest.test_bookkeeping_rows import _dump
from tests.backtest.test_bookkeeping_rows import frozen_walls as frozen_walls
from tests.backtest.test_fast_stepping import (
    LIQUIDATION_ONLY,
    LUNA_LABEL,
    Hold,
    LeveragedLong,
    _funding,
)

DAY = 86_400


def _luna(with_funding: bool) -> list[Any]:
    ts, prices = luna_ticks()
    events: list[Any] = []
    last_hour = None
    for t, p in zip(ts, prices, strict=True):
        hour = t - t % 3600
        if with_funding and last_hour is not None and hour > last_hour:
            events.append(_funding(hour, p, 0.0002))
        last_hour = hour
        events.append(OracleTick(t, "SOL-PERP", p))
    events.sort(key=lambda e: (e.ts, e.rank))
    return events


def _case(name: str) -> tuple[Any, int, int, dict[str, Any]]:
    """(strategy, start, end, run_backtest's other arguments) of a named run."""
    if name == "bench":
        return Hold, DEFAULT_ORIGIN, DEFAULT_ORIGIN + 16 * DAY, {"source": "synthetic"}
    if name in ("luna", "luna-funding"):
        events = _luna(name == "luna-funding")
        kw: dict[str, Any] = {"data": (events, LUNA_LABEL), "risk": LIQUIDATION_ONLY}
        if name == "luna":
            kw["params"] = {"leverage": 5.0, "exit_health": 0}
            return LeveragedLong, events[0].ts - 60, events[-1].ts + 60, kw
        kw["params"] = {"leverage": 5.0, "short": False}
        return Hold, events[0].ts - 60, events[-1].ts + 60, kw
    return "delta-neutral", 1_744_588_800, 1_775_001_600, {"source": "bundled"}


@pytest.mark.parametrize("flag", ["ROWS_ONCE", "FLOAT_TWINS"])
@pytest.mark.parametrize(
    "name", ["bench", "luna", "luna-funding", pytest.param("real-sol-year", marks=pytest.mark.slow)]
)
def test_a_backtest_writes_the_same_tables_with_rows_once(
    name: str, flag: str, frozen_walls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = bulk if flag == "ROWS_ONCE" else store
    strategy, start, end, kw = _case(name)
    taken = {False: 0, True: 0}
    real = bulk.TickVaultWrites._flush_fresh

    def counting(self: Any, *a: Any) -> None:
        taken[on] += 1
        real(self, *a)

    monkeypatch.setattr(bulk.TickVaultWrites, "_flush_fresh", counting)
    dumps, reports = {}, {}
    for on in (False, True):
        monkeypatch.setattr(owner, flag, on)
        where = tmp_path / str(on)
        where.mkdir()
        with throwaway_database_url("sqlite", where) as url:
            reports[on] = run_backtest(strategy, "SOL-PERP", start, end, database_url=url, **kw)
            dumps[on] = _dump(url)
    if flag == "ROWS_ONCE":
        assert taken[False] == 0 and taken[True] >= 1
    else:
        assert taken[False] >= 1 and taken[True] >= 1
    reference, fresh = dumps[False], dumps[True]
    kinds = {row[2] for row in reference["ledger_entries"]}  # (id, vault_id, kind, ...)
    assert {"luna": {"fill", "liquidation"}, "luna-funding": {"funding", "liquidation"}}.get(
        name, {"funding"}
    ) <= kinds, kinds
    assert reference["vault_snapshots"] and reference["heartbeats"]
    assert reference.keys() == fresh.keys()
    for table in reference:
        assert fresh[table] == reference[table], table
    timing = {"wall_seconds": 0.0, "events_per_second": 0.0}
    assert replace(reports[True], **timing) == replace(reports[False], **timing)
