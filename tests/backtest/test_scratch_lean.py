"""A backtest into a scratch database (`run_backtest` without `database_url`, the CLI's
default: the file is deleted when the run ends) writes no heartbeat rows or vault
snapshots, and saves the engine record only at its start and its end
(`runner.SCRATCH_LEAN`, `DriftEngine.saves_records`): nobody could read them. Everything
the run leaves that can be read is the same as with them written: the report (every
figure and sample), and every other table of the scratch database as the report reads
it (the vault, its ledger entries, the engine's last record and its events). A kept
database (`--db`) still gets them all. On the bench's kind of data (quiet funding
hours, weekly flushes), the real LUNA crash (fills, a liquidation, hourly funding) and
the real SOL year held delta-neutral (slow).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from drift_engine.backtest import runner
from drift_engine.engine.store import SqlEngineStore
from drift_engine.storage import scratch
from drift_engine.storage.testing import throwaway_database_url
from tests.backtest.flag_scenarios import named, scenario
from tests.backtest.test_bookkeeping_rows import _dump
from tests.backtest.test_bookkeeping_rows import frozen_walls as frozen_walls

#: the tables a lean scratch run leaves empty (nobody reads them)
NOT_WRITTEN = ("heartbeats", "vault_snapshots")
TIMING = {"wall_seconds": 0.0, "events_per_second": 0.0}


def _scratch_run(case: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, dict, int]:
    """The scenario's report, its scratch database's tables, read as the run reads its
    ledger figures back (after the last flush, before the file is deleted), and how
    many times the engine saved its record."""
    made: list[Path] = []
    tables: dict[str, list[tuple]] = {}
    saves = [0]
    real_save = SqlEngineStore.save
    real_scratch = scratch.scratch_database
    real_figures = runner._ledger_figures

    def scratch_database(path: Path, *a: Any, **k: Any) -> Any:
        made.append(Path(path))
        return real_scratch(path, *a, **k)

    def ledger_figures(db: Any, vault: Any) -> Any:
        tables.update(_dump(f"sqlite:///{made[-1]}"))
        return real_figures(db, vault)

    def save(self: Any, record: Any) -> Any:
        saves[0] += 1
        return real_save(self, record)

    with monkeypatch.context() as mp:
        mp.setattr(scratch, "scratch_database", scratch_database)
        mp.setattr(runner, "_ledger_figures", ledger_figures)
        mp.setattr(SqlEngineStore, "save", save)
        report = runner.run_backtest(*case.args, **case.kw)
    assert made and tables, "the run did not use a scratch database"
    return report, tables, saves[0]


@pytest.mark.parametrize(
    "name", named("bench", "luna-liquidated-off-the-hour", "sol-year-delta-neutral")
)
def test_a_scratch_backtest_leaves_out_only_what_nobody_reads(
    name: str, frozen_walls, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = scenario(name)
    reports, dumps, saves = {}, {}, {}
    for lean in (False, True):
        monkeypatch.setattr(runner, "SCRATCH_LEAN", lean)
        reports[lean], dumps[lean], saves[lean] = _scratch_run(case, monkeypatch)
    # the reference saves the record at least once a simulated day (`persist_every_s`)
    days = (case.end - case.start) // 86_400
    assert saves[False] >= days, saves
    assert saves[True] <= 2 + reports[True].trades, saves  # (start, end; a trade may halt)
    full, lean = dumps[False], dumps[True]
    for table in NOT_WRITTEN:
        assert full[table], f"the reference wrote no {table}"
        assert lean[table] == [], table
    assert full["ledger_entries"], "no ledger entries to compare"
    assert full.keys() == lean.keys()
    for table in full:
        if table not in NOT_WRITTEN:
            assert lean[table] == full[table], table
    assert replace(reports[True], **TIMING) == replace(reports[False], **TIMING)


def test_a_kept_database_still_gets_heartbeats_and_snapshots(frozen_walls, tmp_path: Path) -> None:
    assert runner.SCRATCH_LEAN
    case = scenario("bench")
    with throwaway_database_url("sqlite", tmp_path) as url:
        runner.run_backtest(*case.args, database_url=url, **case.kw)
        tables = _dump(url)
    for table in NOT_WRITTEN:
        assert tables[table], table
