"""Whole backtests write the same tables with the weekly flush's ledger entries read into
the insert's columns a booking at a time (`vaults.bulk.ROWS_ONCE`) as with the
reference (the entry-by-entry loop and `DriverInsert.run`), with the columns None in
every entry of a flush left out of its INSERT (`bulk.NULLS_LEFT_OUT`) and a UTC
datetime's text written from its fields (`bulk.UTC_FIELDS`) as bound and formatted by
`isoformat`, a fresh week written before its keys are read (`bulk.FRESH_FIRST`) as
after, its rows sent as INSERTs of many rows (`bulk.VALUES_ROWS`) as by one
executemany, a column equal in every row bound once per statement
(`bulk.SHARED_COLUMNS`) as in every row, a UTC datetime's text from its day's text
(`bulk.UTC_DAYS`) as from its fields, and with a heartbeat row's
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
from drift_engine.engine import store
from drift_engine.storage import engine as storage_engine
from drift_engine.storage.testing import throwaway_database_url
from drift_engine.vaults import bulk
from tests.backtest.flag_scenarios import named, scenario
from tests.backtest.test_bookkeeping_rows import _dump
from tests.backtest.test_bookkeeping_rows import frozen_walls as frozen_walls

#: the ledger kinds each run must book (the bench's kind of data: funding)
KINDS = {
    "luna-no-funding": {"fill", "liquidation"},
    "luna-liquidated-off-the-hour": {"funding", "liquidation"},
}


@pytest.mark.parametrize(
    "flag",
    [
        "ROWS_ONCE",
        "FLOAT_TWINS",
        "NULLS_LEFT_OUT",
        "UTC_FIELDS",
        "FRESH_FIRST",
        "VALUES_ROWS",
        "UTC_DAYS",
        "SHARED_COLUMNS",
        "DRIVER_CURSOR",
        "HELD_TUPLES",
    ],
)
@pytest.mark.parametrize(
    "name",
    named("bench", "luna-no-funding", "luna-liquidated-off-the-hour", "sol-year-delta-neutral"),
)
def test_a_backtest_writes_the_same_tables_with_rows_once(
    name: str, flag: str, frozen_walls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = {"FLOAT_TWINS": store, "DRIVER_CURSOR": storage_engine}.get(flag, bulk)
    case = scenario(name)
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
            reports[on] = run_backtest(*case.args, database_url=url, **case.kw)
            dumps[on] = _dump(url)
    if flag == "ROWS_ONCE":
        assert taken[False] == 0 and taken[True] >= 1
    else:
        assert taken[False] >= 1 and taken[True] >= 1
    reference, fresh = dumps[False], dumps[True]
    kinds = {row[2] for row in reference["ledger_entries"]}  # (id, vault_id, kind, ...)
    assert KINDS.get(name, {"funding"}) <= kinds, kinds
    assert reference["vault_snapshots"] and reference["heartbeats"]
    assert reference.keys() == fresh.keys()
    for table in reference:
        assert fresh[table] == reference[table], table
    timing = {"wall_seconds": 0.0, "events_per_second": 0.0}
    assert replace(reports[True], **timing) == replace(reports[False], **timing)
