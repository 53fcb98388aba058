"""A scratch database made without the ledger's `vault_id` index
(`storage.scratch.LEAN_SCRATCH_INDEXES`: the unique (vault_id, idempotency_key) index
leads with the same column) gives every query the same result, and a scratch backtest
the same report and tables, as one made with it; a kept database keeps the index.

- The schema: each left-out index is a leading prefix of another index of its table in
  a migrated database; a lean scratch database has every table and every other index of
  a migrated one, the reference all of them; a kept database (`Database.open`) has it.
- The reads by vault (the report's sums per kind, the flush's balances, the balance
  above a mark that `vaults.bulk._balances_from_marks` reads by id in a database
  without the index) on drawn ledgers of several vaults: the same rows both ways.
- Whole scratch backtests (tests/backtest/test_scratch_lean.py's harness: the tables
  read just before the file is deleted) flag on and off: the same report and every
  table's rows; the lean run's balances read by id, the reference's by the index. The
  bench's kind of data (weekly flushes), the real LUNA crash liquidated off the hour,
  real SOL hours delta-neutral, the real SOL year delta-neutral (slow)."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drift_engine.backtest import runner
from drift_engine.storage import scratch
from drift_engine.storage.database import Database
from drift_engine.vaults import bulk
from tests.backtest.flag_scenarios import named, scenario
from tests.backtest.test_bookkeeping_rows import frozen_walls as frozen_walls
from tests.backtest.test_scratch_lean import TIMING, _scratch_run


def _indexes(path: Path) -> dict[str, tuple[str, tuple[str, ...]]]:
    """name -> (table, columns) of every index of the SQLite file at `path`."""
    with closing(sqlite3.connect(path)) as c:
        out = {}
        for name, table in c.execute(
            "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'"
        ).fetchall():
            cols = tuple(r[2] for r in c.execute(f"PRAGMA index_info('{name}')"))
            out[name] = (table, cols)
        return out


def _tables(path: Path) -> list[tuple[str, str]]:
    with closing(sqlite3.connect(path)) as c:
        return c.execute(
            "SELECT name, sql FROM sqlite_master WHERE type IN ('table', 'trigger') ORDER BY name"
        ).fetchall()


def _scratch_file(tmp_path: Path, lean: bool, name: str) -> Path:
    old = scratch.LEAN_SCRATCH_INDEXES
    scratch.LEAN_SCRATCH_INDEXES = lean
    try:
        scratch.scratch_database(tmp_path / name).dispose()
    finally:
        scratch.LEAN_SCRATCH_INDEXES = old
    return tmp_path / name


def test_the_left_out_indexes_are_prefixes_of_others_and_only_a_scratch_file_lacks_them(
    tmp_path: Path,
) -> None:
    Database.open(f"sqlite:///{tmp_path / 'kept.db'}").dispose()
    kept = _indexes(tmp_path / "kept.db")
    assert scratch.REDUNDANT_INDEXES == ("ix_ledger_entries_vault_id",)
    for name in scratch.REDUNDANT_INDEXES:
        table, cols = kept[name]
        assert any(
            t == table and other != name and c[: len(cols)] == cols
            for other, (t, c) in kept.items()
        ), name
    lean = _scratch_file(tmp_path, True, "lean.db")
    ref = _scratch_file(tmp_path, False, "ref.db")
    assert _indexes(ref) == kept
    assert _indexes(lean) == {k: v for k, v in kept.items() if k not in scratch.REDUNDANT_INDEXES}
    assert _tables(lean) == _tables(ref) == _tables(tmp_path / "kept.db")
    # a copy of the template each time, the flag read when the copy is made
    assert _indexes(_scratch_file(tmp_path, True, "lean2.db")) == _indexes(lean)
    assert _indexes(_scratch_file(tmp_path, False, "ref2.db")) == kept


ENTRIES = st.lists(
    st.tuples(
        st.integers(1, 3),
        st.sampled_from(["funding", "fee", "interest"]),
        st.integers(-(10**12), 10**12),
        st.integers(0, 10**6),
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(entries=ENTRIES, mark=st.integers(0, 70), order=st.permutations(range(60)))
def test_the_reads_by_vault_are_the_same_without_the_index(tmp_path_factory, entries, mark, order):
    where = tmp_path_factory.mktemp("reads")
    lean = _scratch_file(where, True, "lean.db")
    ref = _scratch_file(where, False, "ref.db")
    rows = [
        (v, kind, amount, fee, f"k{order[i % 60]}-{i}", "2025-01-01 00:00:00.000000")
        for i, (v, kind, amount, fee) in enumerate(entries)
    ]
    got = {}
    for path in (lean, ref):
        with closing(sqlite3.connect(path)) as c:
            c.executemany(
                "INSERT INTO ledger_entries (vault_id, kind, amount, fee, idempotency_key, "
                "occurred_at, booked_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(*r, r[-1]) for r in rows],
            )
            c.commit()
            since = bulk._SINCE_MARK_BY_ID if path == lean else bulk._SINCE_MARK
            got[path] = (
                [c.execute(since, (v, mark)).fetchall() for v in (1, 2, 3, 4)],
                [
                    c.execute(
                        "SELECT kind, SUM(amount), SUM(fee) FROM ledger_entries "
                        "WHERE vault_id = ? GROUP BY kind",
                        (v,),
                    ).fetchall()
                    for v in (1, 2, 3, 4)
                ],
                c.execute(
                    "SELECT vault_id, SUM(amount - fee) FROM ledger_entries "
                    "WHERE vault_id IN (1, 2, 4) GROUP BY vault_id"
                ).fetchall(),
                [
                    c.execute(
                        "SELECT id FROM ledger_entries WHERE vault_id = ? ORDER BY id", (v,)
                    ).fetchall()
                    for v in (1, 2, 3)
                ],
            )
    assert got[lean] == got[ref]
    # and the balance above the mark is what it says
    for v in (1, 2, 3, 4):
        mine = [(i + 1, a - f) for i, (w, _, a, f) in enumerate(entries) if w == v and i + 1 > mark]
        want = (sum(n for _, n in mine), max((i for i, _ in mine), default=None))
        assert got[lean][0][v - 1] == [want]


def test_the_balances_read_by_id_only_without_the_index(tmp_path: Path) -> None:
    from sqlalchemy import create_engine, event

    for lean, want in ((True, bulk._SINCE_MARK_BY_ID), (False, bulk._SINCE_MARK)):
        path = _scratch_file(tmp_path, lean, f"{lean}.db")
        engine = create_engine(f"sqlite:///{path}")
        sent: list[str] = []
        event.listen(engine, "before_cursor_execute", lambda *a, sent=sent: sent.append(a[2]))
        try:
            with engine.connect() as c:
                assert bulk._since_mark(c) == want
                sent.clear()
                assert bulk._since_mark(c) == want and sent == []  # (asked once per engine)
                got = bulk._balances_from_marks(c, {2, 1}, bulk.BalanceMarks())
                assert got == {1: 0, 2: 0} and sent == [want, want]
        finally:
            engine.dispose()
    shutil.rmtree(tmp_path, ignore_errors=True)


@pytest.mark.parametrize("scratch_lean", [True, False], ids=["lean-run", "full-run"])
@pytest.mark.parametrize(
    "name",
    named(
        "bench",
        "luna-liquidated-off-the-hour",
        "sol-hours-delta-neutral",
        "sol-year-delta-neutral",
    ),
)
def test_a_scratch_backtest_is_the_same_without_the_redundant_index(
    name: str, scratch_lean: bool, frozen_walls, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`scratch_lean`: `runner.SCRATCH_LEAN` (a full run also writes the daily vault
    snapshots, whose flushes read the balances above the marks)."""
    case = scenario(name)
    monkeypatch.setattr(runner, "SCRATCH_LEAN", scratch_lean)
    reports, dumps, reads = {}, {}, {}
    since = bulk._since_mark
    for lean in (True, False):
        monkeypatch.setattr(scratch, "LEAN_SCRATCH_INDEXES", lean)
        chosen: list[str] = []

        def spy(connection, chosen=chosen):
            chosen.append(since(connection))
            return chosen[-1]

        monkeypatch.setattr(bulk, "_since_mark", spy)
        reports[lean], dumps[lean], _ = _scratch_run(case, monkeypatch)
        reads[lean] = set(chosen)
    if scratch_lean:  # (no snapshot: no balance read)
        assert reads == {True: set(), False: set()}
    else:
        assert reads == {True: {bulk._SINCE_MARK_BY_ID}, False: {bulk._SINCE_MARK}}
        assert dumps[True]["vault_snapshots"], "no snapshots to compare"
    assert dumps[True]["ledger_entries"], "no ledger entries to compare"
    assert dumps[True] == dumps[False]
    assert replace(reports[True], **TIMING) == replace(reports[False], **TIMING)
