"""A backtest's replay runs with what its set-up built frozen out of the garbage
collections, and unfrozen after it (`heap.frozen_set_up`, ADR-0026): a full collection
in the replay walks only what the replay made. A process that froze its own heap (a
dashboard serving research) keeps its freeze. Generation 0 is collected once 50,000
objects are new, not 700 (`heap.rare_young_collections`), and the process's thresholds
are back after the replay. The report and the ledger are the same as with the heap
collected as any (the flags off: the reference)."""

from __future__ import annotations

import contextlib
import dataclasses
import gc

import pytest

import drift_engine.backtest.runner as runner
from drift_engine.backtest.runner import run_backtest
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.heap import REPLAY_YOUNG_THRESHOLD, rare_young_collections
from tests.backtest.flag_scenarios import flag_runs, named
from tests.backtest.strategy_kit import Hold
from tests.backtest.test_fast_stepping import _run

HOUR = 3_600
IGNORED = {"wall_seconds", "events_per_second"}


def _seen_during(read, hours: int = 12, **kw) -> tuple[list, object]:
    """`read()` at every hour's progress call of a short backtest (the last call comes
    after the replay), and the report."""
    seen: list = []
    report = run_backtest(
        Hold,
        "SOL-PERP",
        DEFAULT_ORIGIN,
        DEFAULT_ORIGIN + hours * HOUR,
        progress=lambda _p: seen.append(read()),
        progress_every_s=HOUR,
        **kw,
    )
    return seen, report


def _frozen_during(**kw) -> tuple[list[int], object]:
    return _seen_during(gc.get_freeze_count, **kw)


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


def test_the_replay_collects_generation_0_rarely_and_restores_the_thresholds():
    before = gc.get_threshold()
    assert before[0] < REPLAY_YOUNG_THRESHOLD
    seen, _report = _seen_during(gc.get_threshold)
    # inside the replay: generation 0 at 50,000, the older generations as they were
    assert len(seen) >= 12
    assert set(seen[:-1]) == {(REPLAY_YOUNG_THRESHOLD, *before[1:])}
    assert gc.get_threshold() == before  # (the last progress call is after the replay)


def test_the_replay_keeps_the_process_thresholds_with_the_flag_off(monkeypatch):
    monkeypatch.setattr(runner, "RARE_YOUNG_GC", False)
    before = gc.get_threshold()
    seen, _report = _seen_during(gc.get_threshold, hours=3)
    assert seen and set(seen) == {before}


@pytest.mark.parametrize("first", [0, 700, REPLAY_YOUNG_THRESHOLD, 10 * REPLAY_YOUNG_THRESHOLD])
def test_rare_young_collections_raises_only_a_lower_threshold(first):
    before = gc.get_threshold()
    try:
        gc.set_threshold(first, 11, 12)
        with rare_young_collections():
            inside = gc.get_threshold()
        after = gc.get_threshold()
    finally:
        gc.set_threshold(*before)
    # automatic collection off (0) stays off; a threshold as high or higher is kept
    want = REPLAY_YOUNG_THRESHOLD if 0 < first < REPLAY_YOUNG_THRESHOLD else first
    assert inside == (want, 11, 12)
    assert after == (first, 11, 12)


def test_rare_young_collections_restores_the_thresholds_when_the_block_raises():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), rare_young_collections(1_000):
        assert gc.get_threshold()[0] == max(1_000, before[0])
        raise RuntimeError("replay failed")
    assert gc.get_threshold() == before


def test_a_cycle_made_in_the_block_is_collected_once_the_threshold_is_passed():
    import weakref

    class Node:
        pass

    assert gc.isenabled()
    before = gc.get_threshold()
    gc.collect()
    with rare_young_collections(2_000):
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle: reference counting alone never frees it
        gone = weakref.ref(a)
        del a, b
        assert gone() is not None
        keep = [[] for _ in range(2_500)]  # 2,500 new containers: past the threshold
        assert gone() is None
        del keep
    assert gc.get_threshold() == before


@pytest.mark.parametrize("flag", ["FREEZE_SET_UP", "RARE_YOUNG_GC"])
def test_the_report_and_ledger_are_those_of_a_replay_collected_as_any(tmp_path, monkeypatch, flag):
    args = ("SOL-PERP", DEFAULT_ORIGIN, DEFAULT_ORIGIN + 3 * 24 * HOUR, None)
    frozen, frozen_entries = _run(tmp_path / "a", "fast", Hold, *args)
    monkeypatch.setattr(runner, flag, False)
    plain, plain_entries = _run(tmp_path / "b", "fast", Hold, *args)
    assert frozen_entries == plain_entries and len(frozen_entries) > 70
    for f in dataclasses.fields(frozen):
        if f.name not in IGNORED:
            assert getattr(frozen, f.name) == getattr(plain, f.name), f.name


def _young_threshold_raised(mp: pytest.MonkeyPatch):
    """Counts the replays run with generation 0's threshold raised."""
    raised = [0]
    rare = runner.rare_young_collections

    @contextlib.contextmanager
    def spy():
        with rare():
            raised[0] += gc.get_threshold()[0] == REPLAY_YOUNG_THRESHOLD
            yield

    mp.setattr(runner, "rare_young_collections", spy)
    return lambda: raised[0]


@pytest.mark.parametrize("name", named("bench", "luna-liquidated"))
def test_a_whole_backtest_is_the_same_with_rare_young_collections(tmp_path, name):
    runs = flag_runs(tmp_path, name, runner, "RARE_YOUNG_GC", _young_threshold_raised)
    assert runs[True]["spied"] == 1
    assert runs[False]["spied"] == 0
