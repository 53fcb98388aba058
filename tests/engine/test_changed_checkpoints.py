"""A paper tick checkpoints only the cells that changed and writes only the engine rows
that differ (ADR-0020); a cell left at an older checkpoint is caught up on restart from
the data, so a restart after a crash ends exactly where an uninterrupted run does, and no
heartbeat row is recorded twice."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlalchemy import event, select

from drift_engine.data.pipeline import open_market_data
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.engine.commands import OperatorCommands
from drift_engine.engine.paper import PaperStack
from drift_engine.storage.database import Database
from drift_engine.storage.models import HeartbeatRow, LedgerEntryRow, PaperCheckpointRow
from drift_engine.strategies import DeltaNeutralStrategy

HOUR = 3_600
START = DEFAULT_ORIGIN
ENGINES = {  # two enter the carry at once, one never does (nothing changes in its cell)
    "dn-a": {"entry_apr": -1.0, "exit_apr": -2.0, "lookback_hours": 1},
    "dn-b": {"entry_apr": -1.0, "exit_apr": -2.0, "lookback_hours": 1},
    "idle": {"entry_apr": 50.0, "exit_apr": 40.0, "lookback_hours": 1},
}


def _events(until: int) -> list:
    return list(open_market_data("synthetic", ["SOL-PERP"], START, until).events)


def _stack(db: Database, *, restore: bool = False) -> PaperStack:
    stack = PaperStack(db, ["SOL-PERP"], START, persist=True, name="t", epoch="e1")
    if restore:
        stack.restore(list(ENGINES))
    for engine_id, config in ENGINES.items():
        engine = stack.add_engine(engine_id, DeltaNeutralStrategy(dict(config)), 10_000_000_000)
        if not engine.started:
            engine.start(START)
    return stack


def _run(
    stack: PaperStack, events: list, first: int, last: int, pause_at: int | None = None
) -> None:
    stack.commands = OperatorCommands.for_store(stack.store, capital=stack.capital, poll_s=0)
    hb = stack.heartbeat(stack.resume_events(events), snapshot_every_s=HOUR, record_every_s=60)
    t = first
    while t <= last:
        if t == pause_at:  # an operator pauses dn-a: its cell alone checkpoints at t
            assert stack.store.request("dn-a", "pause")
        hb.tick(t)
        t += 60


def _state(db: Database, stack: PaperStack) -> tuple:
    with db.read() as s:
        entries = [
            (r.vault_id, r.kind, r.amount, r.fee, r.idempotency_key)
            for r in s.scalars(select(LedgerEntryRow).order_by(LedgerEntryRow.id))
        ]
        beats = list(s.scalars(select(HeartbeatRow.ts)))
    accounts = {e.engine_id: e.venue.sim.account_bytes() for e in stack.engines}
    return sorted(entries, key=lambda e: e[4]), beats, accounts


def test_only_changed_cells_checkpoint_and_only_changed_rows_are_written(tmp_path: Path) -> None:
    db = Database.open(f"sqlite:///{tmp_path / 'p.db'}")
    stack = _stack(db)
    stack.checkpoint(START)
    events = _events(START + 3 * HOUR)
    updates: Counter[str] = Counter()

    @event.listens_for(db.engine, "before_cursor_execute")
    def count(conn, cursor, statement, params, context, executemany) -> None:  # noqa: ARG001
        for table in ("engine_records", "paper_checkpoints"):
            if statement.lstrip().upper().startswith("UPDATE " + table.upper()):
                updates[table] += 1

    _run(stack, events, START + 60, START + 2 * HOUR + 30 * 60)
    with db.read() as s:
        saved = dict(s.execute(select(PaperCheckpointRow.name, PaperCheckpointRow.ts)).all())
    ticks = 150
    # the idle engine's cell is written when due (hourly) or touched, not at every tick
    assert saved["engine:idle"] < START + 2 * HOUR + 30 * 60
    assert updates["paper_checkpoints"] < ticks * len(ENGINES) // 2
    assert updates["engine_records"] <= updates["paper_checkpoints"] + ticks
    db.dispose()


def test_restart_from_older_cell_checkpoints_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    end = START + 3 * HOUR
    events = _events(end + HOUR)

    ref_db = Database.open(f"sqlite:///{tmp_path / 'ref.db'}")
    ref = _stack(ref_db)
    ref.checkpoint(START)
    crash_at = START + HOUR + 37 * 60
    _run(ref, events, START + 60, end, pause_at=crash_at)

    db = Database.open(f"sqlite:///{tmp_path / 'crash.db'}")
    first = _stack(db)
    first.checkpoint(START)
    _run(first, events, START + 60, crash_at, pause_at=crash_at)
    first.discard()  # the process dies here: only what was committed stays
    db.dispose()

    db = Database.open(f"sqlite:///{tmp_path / 'crash.db'}")
    again = _stack(db, restore=True)
    restored = again.restored_ts
    assert restored == crash_at  # dn-a's checkpoint, written with its pause
    lagging = again.lagging()
    # the cells that did not change since an older checkpoint catch up from the data
    assert {c.engine_id for c in lagging} == {"dn-b", "idle"}
    for cell in lagging:
        again.catch_up(cell, events, restored, interval_s=60, snapshot_every_s=HOUR)
    _run(again, events, restored + 60, end)

    want_entries, want_beats, want_accounts = _state(ref_db, ref)
    got_entries, got_beats, got_accounts = _state(db, again)
    assert got_entries == want_entries
    assert got_accounts == want_accounts
    states = {e.engine_id: e.state.value for e in again.engines}
    assert states == {e.engine_id: e.state.value for e in ref.engines}
    assert states["dn-a"] == "paused"
    assert len(got_beats) == len(set(got_beats))  # no tick recorded twice
    assert set(got_beats) == set(want_beats)
    ref_db.dispose()
    db.dispose()
