"""A backtest's replay runs with what its set-up built frozen out of the garbage
collections, and unfrozen after it (`heap.frozen_set_up`, ADR-0026): a full collection
in the replay walks only what the replay made. A process that froze its own heap (a
dashboard serving research) keeps its freeze. The report and the ledger are the same
as with the heap collected as any (the flag off: the reference)."""

from __future__ import annotations

import dataclasses
import gc

import drift_engine.backtest.runner as runner
from drift_engine.backtest.runner import run_backtest
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from tests.backtest.strategy_kit import Hold
from tests.backtest.test_fast_stepping import _run

HOUR = 3_600
IGNORED = {"wall_seconds", "events_per_second"}


def _frozen_during(**kw) -> tuple[list[int], object]:
    seen: list[int] = []
    report = run_backtest(
        Hold,
        "SOL-PERP",
        DEFAULT_ORIGIN,
        DEFAULT_ORIGIN + 12 * HOUR,
        progress=lambda _p: seen.append(gc.get_freeze_count()),
        progress_every_s=HOUR,
        **kw,
    )
    return seen, report


def test_the_replay_runs_with_the_set_up_heap_frozen():
    assert gc.get_freeze_count() == 0
    seen, report = _frozen_during()
    assert report.fills == 1 and report.funding_hours >= 11
    # every progress call came from inside the replay, set-up frozen (>10^4 objects)
    assert len(seen) >= 12 and min(seen[:-1]) > 10_000
    assert gc.get_freeze_count() == 0  # back to the collector after it


def test_a_process_that_froze_keeps_its_freeze():
    gc.freeze()
    before = gc.get_freeze_count()
    try:
        seen, _report = _frozen_during()
        # the block did not unfreeze the process's heap (the count only falls by the
        # frozen objects freed since: reference counting frees frozen objects as before)
        assert before > 10_000
        assert min(seen) > before // 2 and gc.get_freeze_count() > before // 2
    finally:
        gc.unfreeze()


def test_the_report_and_ledger_are_those_of_a_replay_collected_as_any(tmp_path, monkeypatch):
    args = ("SOL-PERP", DEFAULT_ORIGIN, DEFAULT_ORIGIN + 3 * 24 * HOUR, None)
    frozen, frozen_entries = _run(tmp_path / "a", "fast", Hold, *args)
    monkeypatch.setattr(runner, "FREEZE_SET_UP", False)
    plain, plain_entries = _run(tmp_path / "b", "fast", Hold, *args)
    assert frozen_entries == plain_entries and len(frozen_entries) > 70
    for f in dataclasses.fields(frozen):
        if f.name not in IGNORED:
            assert getattr(frozen, f.name) == getattr(plain, f.name), f.name
