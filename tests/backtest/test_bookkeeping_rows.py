"""A backtest's bookkeeping writes the same rows whichever way they are built.

The weekly flush sends ledger entries to the driver as tuples already in its form
(`vaults.bulk.DriverInsert`, a UTC datetime as its `isoformat` text: `bulk.UTC_TEXT`);
the reference (`bulk.DRIVER_ROWS = False`) is Core's executemany of dicts, with
SQLAlchemy's per-row parameter processing. Heartbeat rows
go as driver tuples with their JSON built from kept pieces (`store.HEARTBEAT_PIECES`;
reference: Core's executemany, `json.dumps` per row; the funding tuples a row shares
with the last one taken as one slice of its text, `store.HEARTBEAT_RUNS`, a tuple's
twin rates formatted once, `store.FLOAT_TWINS`), a flush
reads its vaults with the driver (`bulk.LOCK_DRIVER`, SQLite; reference: the Core
statement) and a vault's balance from its kept mark (`bulk.BALANCE_MARKS`; reference:
the SUM over the whole ledger), asks which of its keys are booked before reading their
entries (`bulk.BOOKED_PROBE`, SQLite; reference: the entries of every key read), reads
a fresh week's entries into the insert's columns a booking at a time (`bulk.ROWS_ONCE`;
reference: entry by entry) leaving out the columns None in all of them
(`bulk.NULLS_LEFT_OUT`; reference: every column bound), a UTC datetime's text written
from its fields (`bulk.UTC_FIELDS`; reference: `isoformat`), written before its keys
are read (`bulk.FRESH_FIRST`; reference: after), and a quiet funding hour's
payments are booked by `quiet.book_payments` (reference: the engine's `_drain`), each
held with less work (`ledger.QUIET_LEAN`; reference: `common_form`, `_count` and `_ts`
per booking), the usual hour's two with one call of the sink (`quiet.HOUR_PAIR`;
reference: one booking each). A run of a strategy that trades, pays funding and
crosses weekly flushes must leave every row of every table the same, value for value as
the driver reads it back (SQLite: the stored text of each datetime), ids and keys
included. The wall clocks (booking and recording times) are frozen so that they can be
compared too; a tick's measured duration is the one column left out.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

import drift_engine.backtest.attribution as attribution
import drift_engine.backtest.runner as runner
import drift_engine.core.frozen as frozen
import drift_engine.data.columns as columns
import drift_engine.engine.ledger as ledger
import drift_engine.engine.quiet as quiet
import drift_engine.engine.store as store
import drift_engine.sim.accounts as sim_accounts
import drift_engine.sim.funding_interest as funding_interest
import drift_engine.sim.liquidation as liquidation
import drift_engine.sim.quiet as sim_quiet
import drift_engine.sim.stretch as stretch
import drift_engine.storage.engine as storage_engine
import drift_engine.tape as tape
import drift_engine.vaults.registry as registry
from drift_engine.backtest.runner import run_backtest
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.storage.database import Database
from drift_engine.storage.models import Base
from drift_engine.storage.testing import throwaway_database_url
from drift_engine.strategies import base as strategies_base
from drift_engine.vaults import VaultRegistry, bulk
from tests.backtest.strategy_kit import Hold

DAY = 86_400
WALL = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
#: the tick's measured wall time: the only stored value that is not the run's
NOT_COMPARED = {("heartbeats", "duration_ms")}


class _FrozenDatetime(datetime):
    @classmethod
    def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
        return WALL if tz is not None else WALL.replace(tzinfo=None)


class _FrozenRegistry(VaultRegistry):
    """The paper stack's registry (`PaperStack` builds it) with its clock frozen."""

    def __init__(self, db: Database, **kw: Any) -> None:
        super().__init__(db, clock=lambda: WALL, **kw)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not os.environ.get("DATABASE_URL"):
        pytest.skip("PostgreSQL variant runs when DATABASE_URL is set")
    return request.param


@pytest.fixture
def frozen_walls(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(registry, "VaultRegistry", _FrozenRegistry)
    monkeypatch.setattr(store, "datetime", _FrozenDatetime)
    yield


def _dump(url: str) -> dict[str, list[tuple]]:
    """Every table's rows in id order, as the driver returns them (no type processing)."""
    db = Database.open(url)
    try:
        out: dict[str, list[tuple]] = {}
        with db.engine.connect() as c:
            for table in Base.metadata.sorted_tables:
                skip = {col for t, col in NOT_COMPARED if t == table.name}
                cols = [col.name for col in table.columns if col.name not in skip]
                order = ", ".join(col.name for col in table.primary_key.columns)
                sql = f"SELECT {', '.join(cols)} FROM {table.name} ORDER BY {order}"
                out[table.name] = [tuple(r) for r in c.execute(text(sql))]
        return out
    finally:
        db.dispose()


def _run(url: str, strategy: Any) -> Any:
    return run_backtest(
        strategy,
        "SOL-PERP",
        DEFAULT_ORIGIN,
        DEFAULT_ORIGIN + 16 * DAY,  # two weekly flushes and the last one
        source="synthetic",
        database_url=url,
    )


#: delta-neutral trades (fills, spot interest, real steps at its funding wakes); the
#: held short passes its funding hours quietly (`quiet_step`)
STRATEGIES = {"delta-neutral": "delta-neutral", "hold": Hold}


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_a_backtest_writes_the_same_rows_with_driver_rows_as_with_core(
    backend, strategy: str, frozen_walls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    dumps = {}
    reports = {}
    quiet_hours = {}
    real_step = quiet.quiet_step

    def counting(engine: Any, ts: int, *args: Any) -> None:
        quiet_hours[fast] += 1
        real_step(engine, ts, *args)

    monkeypatch.setattr(quiet, "quiet_step", counting)
    for fast in (False, True):
        # every fast rule of the bookkeeping at once, against every reference at once
        monkeypatch.setattr(bulk, "DRIVER_ROWS", fast)
        monkeypatch.setattr(bulk, "BALANCE_MARKS", fast)
        monkeypatch.setattr(bulk, "BOOKED_PROBE", fast)
        monkeypatch.setattr(bulk, "LOCK_DRIVER", fast)
        monkeypatch.setattr(bulk, "UTC_TEXT", fast)
        monkeypatch.setattr(bulk, "ROWS_ONCE", fast)
        monkeypatch.setattr(bulk, "NULLS_LEFT_OUT", fast)
        monkeypatch.setattr(bulk, "UTC_FIELDS", fast)
        monkeypatch.setattr(bulk, "FRESH_FIRST", fast)
        monkeypatch.setattr(bulk, "HELD_TUPLES", fast)
        monkeypatch.setattr(storage_engine, "DRIVER_CURSOR", fast)
        monkeypatch.setattr(store, "HEARTBEAT_PIECES", fast)
        monkeypatch.setattr(store, "HEARTBEAT_RUNS", fast)
        monkeypatch.setattr(store, "FLOAT_TWINS", fast)
        monkeypatch.setattr(quiet, "QUIET_BOOKING", fast)
        monkeypatch.setattr(quiet, "HOUR_PAIR", fast)
        monkeypatch.setattr(quiet, "CARRY_SLOTS", fast)
        monkeypatch.setattr(sim_quiet, "KEPT_TERMS", fast)
        monkeypatch.setattr(attribution, "HOUR_ATTRIBUTION", fast)
        monkeypatch.setattr(attribution, "HOUR_FUSED", fast)
        monkeypatch.setattr(columns, "TICK_SLOTS", fast)
        monkeypatch.setattr(sim_accounts, "LAZY_ORACLES", fast)
        monkeypatch.setattr(funding_interest, "PULL_PLAIN", fast)
        monkeypatch.setattr(funding_interest, "HOUR_PLAN", fast)
        monkeypatch.setattr(frozen, "TWIN_BUILD", fast)
        monkeypatch.setattr(ledger, "QUIET_LEAN", fast)
        monkeypatch.setattr(tape, "ROWS_BY_ITEM", fast)
        monkeypatch.setattr(runner, "SAMPLE_INLINE", fast)
        monkeypatch.setattr(tape, "REFILL_ONCE", fast)
        monkeypatch.setattr(stretch, "TABLE_LEAN", fast)
        monkeypatch.setattr(tape, "SYMBOLS_ONCE", fast)
        monkeypatch.setattr(tape, "LONG_READ", fast)
        monkeypatch.setattr(strategies_base, "PLAIN_ASSIGNMENT", fast)
        monkeypatch.setattr(liquidation, "HEALTH_BOX", fast)
        quiet_hours[fast] = 0
        where = tmp_path / str(fast)
        where.mkdir()
        with throwaway_database_url(backend, where) as url:
            reports[fast] = _run(url, STRATEGIES[strategy])
            dumps[fast] = _dump(url)
    reference, driver = dumps[False], dumps[True]
    kinds = {row[2] for row in reference["ledger_entries"]}  # (id, vault_id, kind, ...)
    assert {"fill", "funding", "interest"} <= kinds, kinds  # it traded and was paid
    assert len(reference["ledger_entries"]) > 500 and reference["heartbeats"]
    if strategy == "hold":  # its funding hours were booked quietly, both ways
        assert quiet_hours[True] == quiet_hours[False] > 300
    assert reference.keys() == driver.keys()
    for table in reference:
        assert driver[table] == reference[table], table
    # the report's ledger figures are the sums over the ledger's rows
    names = [c.name for c in Base.metadata.tables["ledger_entries"].columns]
    rows = [dict(zip(names, r, strict=True)) for r in reference["ledger_entries"]]
    for report in reports.values():
        assert report.ledger_funding == sum(r["amount"] for r in rows if r["kind"] == "funding")
        assert report.ledger_fees == sum(
            r["fee"] for r in rows if r["kind"] in ("fill", "liquidation")
        )
    timing = {"wall_seconds": 0.0, "events_per_second": 0.0}  # measured, not the run's
    assert replace(reports[True], **timing) == replace(reports[False], **timing)


def test_heartbeat_rows_are_the_same_with_kept_runs(
    frozen_walls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """`store.HEARTBEAT_RUNS` against its reference (each funding tuple's text found on
    its own), the other fast rules on: the heartbeat rows' stored JSON text is the same,
    row for row, as is every other table's."""
    dumps = {}
    for runs in (False, True):
        monkeypatch.setattr(store, "HEARTBEAT_RUNS", runs)
        where = tmp_path / str(runs)
        where.mkdir()
        with throwaway_database_url("sqlite", where) as url:
            _run(url, Hold)
            dumps[runs] = _dump(url)
    beats = dumps[False]["heartbeats"]
    assert len(beats) > 10 and all('"funding_sides": [[' in str(b) for b in beats[2:])
    assert dumps[True] == dumps[False]
