"""The paper tick's commit writes the same rows whichever way it sends them.

A persisting paper stack commits each tick's engine events with one INSERT and the
engine records with one UPDATE, executed many times. `store.TICK_DRIVER_ROWS` sends
their parameters to the driver as tuples processed by the statements' own bind
processors (`vaults.bulk.DriverInsert`, `DriverStatement`: compiled once per process);
the reference (`TICK_DRIVER_ROWS = False`) is Core's executemany of the row dicts. A
run of paper engines that enter the carry at one tick (the entry tick: fills, bookings,
events, records) and are paid funding must leave every row of every table the same,
value for value as the driver reads it back, with the wall clocks frozen (ADR-0020,
s12-hb).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

import drift_engine.engine.store as store
import drift_engine.vaults.registry as registry
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.engine.ports import EngineRecord
from drift_engine.storage.database import Database
from tests.backtest.test_bookkeeping_rows import _dump, _FrozenDatetime, _FrozenRegistry
from tests.engine.test_changed_checkpoints import _events, _run, _stack

HOUR = 3_600
START = DEFAULT_ORIGIN


@pytest.fixture
def frozen_walls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "VaultRegistry", _FrozenRegistry)
    monkeypatch.setattr(store, "datetime", _FrozenDatetime)


def test_a_paper_run_writes_the_same_rows_with_driver_rows_as_with_core(
    frozen_walls: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dumps = {}
    end = START + 2 * HOUR + 10 * 60  # the entry, two funding hours
    events = _events(end)
    for fast in (False, True):
        monkeypatch.setattr(store, "TICK_DRIVER_ROWS", fast)
        url = f"sqlite:///{tmp_path / f'{fast}.db'}"
        db = Database.open(url)
        stack = _stack(db)
        stack.checkpoint(START)
        _run(stack, events, START + 60, end)
        db.dispose()
        dumps[fast] = _dump(url)
    reference, driver = dumps[False], dumps[True]
    assert reference["ledger_entries"] and reference["engine_events"]
    entered = [r for r in reference["engine_events"] if r[3] == "orders"]
    assert len(entered) >= 2  # both carry engines placed their entry orders
    assert reference.keys() == driver.keys()
    for table in reference:
        assert driver[table] == reference[table], table


#: event payloads and records the JSON column must store the same either way
PAYLOADS: list[Any] = [
    {},
    {"a": 1, "b": [1, 2.5, None, True], "c": {"d": "é ✓ \u0000"}},
    {"neg_zero": -0.0, "big": 10**30, "tiny": 5e-324, "inf": math.inf, "nan": math.nan},
    {"nested": [[{"x": []}], {"y": {}}], "s": '"quoted" \\ back'},
]


def _rows(db: Database) -> tuple[list[tuple], list[tuple]]:
    """The two tables' rows as the driver reads them back (the JSON columns' text)."""
    with db.engine.connect() as c:
        events = [tuple(r) for r in c.exec_driver_sql("SELECT * FROM engine_events ORDER BY id")]
        records = [
            tuple(r) for r in c.exec_driver_sql("SELECT * FROM engine_records ORDER BY engine_id")
        ]
    return events, records


def _record(engine_id: str, n: int, extra: dict[str, Any]) -> EngineRecord:
    return EngineRecord(
        engine_id=engine_id,
        strategy="delta-neutral",
        config={"entry_apr": 0.1 * n, "names": ["a", "b"], "none": None},
        mode="paper",
        state="running" if n % 2 else "paused",
        strategy_state=f'{{"k": {n}}}',
        high_water_mark=10**12 + n,
        last_ts=START + n,
        vault_id=f"v-{engine_id}",
        extra=extra,
    )


def test_events_and_record_updates_store_the_same_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = {}
    for driver in (False, True):
        monkeypatch.setattr(store, "TICK_DRIVER_ROWS", driver)
        db = Database.open(f"sqlite:///{tmp_path / f'{driver}.db'}")
        st = store.SqlEngineStore(db)
        for n, engine_id in enumerate(("e-1", "e-2", "e-3")):
            st.save(_record(engine_id, n, {}))  # the rows exist (written one by one)
        with db.write() as s:
            store._insert_events(
                s,
                [
                    {"engine_id": "e-1", "ts": START + i, "kind": "k", "message": "m", "data": p}
                    for i, p in enumerate(PAYLOADS)
                ],
            )
            records = [_record(e, n + 7, PAYLOADS[n + 1]) for n, e in enumerate(("e-3", "e-1"))]
            store._update_records(s, records)
        out[driver] = _rows(db)
        db.dispose()
    events, records = out[True]
    assert len(events) == len(PAYLOADS) and len(records) == 3
    assert records[0][-1] != "{}" and records[2][-1] != "{}"  # e-1, e-3 updated
    assert records[1][-1] == "{}"  # e-2 not
    assert out[True] == out[False]
