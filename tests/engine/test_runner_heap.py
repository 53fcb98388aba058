"""`drift-engine run` and the demo tick their paper engines with the start-up heap
frozen (heap.py): no collection walks what start-up built while the heartbeat runs, and
the objects go back to the collector when the run ends (ADR-0020, s8-entry). Each tick
runs with automatic collection paused; the collection it made due runs after it, between
ticks (ADR-0026)."""

from __future__ import annotations

import gc
import io
import weakref

from rich.console import Console

from drift_engine.commands.run import serve
from drift_engine.data.pipeline import open_market_data
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.engine.paper import PaperStack
from drift_engine.heap import collect_due, collected_after, frozen_start_up
from drift_engine.storage.database import Database
from drift_engine.strategies import DeltaNeutralStrategy


def test_the_runner_ticks_with_the_start_up_heap_frozen(tmp_path):
    start = DEFAULT_ORIGIN
    db = Database.open(f"sqlite:///{tmp_path / 'run.db'}")
    stack = PaperStack(db, ["SOL-PERP"], start, persist=True)
    engine = stack.add_engine("dn", DeltaNeutralStrategy({"lookback_hours": 1}), 10_000_000_000)
    engine.start(start)
    data = open_market_data("synthetic", ["SOL-PERP"], start, start + 600)
    frozen: list[int] = []
    collecting: list[bool] = []  # the collector on, seen from inside each tick
    assert gc.get_freeze_count() == 0
    hb, interrupted = serve(
        stack,
        data.events,
        start=start + 60,
        until=start + 300,
        speed=1e9,
        console=Console(file=io.StringIO()),
        on_tick=lambda _r: (
            frozen.append(gc.get_freeze_count()),
            collecting.append(gc.isenabled()),
        ),
    )
    assert not interrupted and hb.ticks == len(frozen) == 5
    # every tick ran with what start-up built frozen (the stack alone: >10^4 objects)
    assert min(frozen) > 10_000
    assert gc.get_freeze_count() == 0  # unfrozen once the run is over
    # and with the collector paused, which is back on between ticks and after the run
    assert collecting == [False] * 5
    assert gc.isenabled()
    db.dispose()


def test_frozen_start_up_collects_first_and_unfreezes_on_error():
    class Cycle:
        pass

    garbage = Cycle()
    garbage.me = garbage
    gone = weakref.ref(garbage)
    del garbage
    try:
        with frozen_start_up():
            assert gc.get_freeze_count() > 0
            # the cyclic garbage was collected before the freeze, not frozen with it
            assert gone() is None
            raise RuntimeError("tick failed")
    except RuntimeError:
        pass
    assert gc.get_freeze_count() == 0


def test_the_demo_replays_with_the_start_up_heap_frozen(tmp_path, monkeypatch):
    """The README's main job (`drift-engine demo`) ticks as `run` does: start-up's heap
    frozen (its dashboard serves from the same process), unfrozen after the replay."""
    import drift_engine.commands.run as run_command
    from drift_engine.commands.demo import _replay
    from drift_engine.commands.stopping import StopSignal
    from drift_engine.dashboard.reader import LatestMarkets

    start = DEFAULT_ORIGIN
    db = Database.open(f"sqlite:///{tmp_path / 'demo.db'}")
    stack = PaperStack(db, ["SOL-PERP"], start, persist=True)
    engine = stack.add_engine("dn", DeltaNeutralStrategy({"lookback_hours": 1}), 10_000_000_000)
    engine.start(start)
    data = open_market_data("synthetic", ["SOL-PERP"], start, start + 600)
    frozen: list[int] = []
    collecting: list[bool] = []
    monkeypatch.setattr(
        run_command,
        "progress_printer",
        lambda *_a: (
            lambda _r: (
                frozen.append(gc.get_freeze_count()),
                collecting.append(gc.isenabled()),
            )
        ),
    )
    assert gc.get_freeze_count() == 0
    interrupted = _replay(
        stack,
        data.events,
        start + 60,
        start + 300,
        1e9,
        LatestMarkets(),
        Console(file=io.StringIO()),
        StopSignal(),
    )
    assert not interrupted and len(frozen) == 5
    assert min(frozen) > 10_000
    assert gc.get_freeze_count() == 0
    assert collecting == [False] * 5 and gc.isenabled()
    db.dispose()


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_a_block_leaves_its_garbage_to_the_collection_at_its_end():
    gc.collect()
    assert collect_due() is None  # nothing allocated since: no collection is due
    threshold = gc.get_threshold()[0]
    seen: list[tuple[int, ...]] = []
    gc.callbacks.append(lambda phase, info: seen.append((phase, info["generation"])))
    try:
        with collected_after():
            assert not gc.isenabled()
            first = weakref.ref(_Cycle())
            for _ in range(3 * threshold):  # three times what triggers a collection
                _Cycle()
            # no collection ran inside the block: the first cycle is still there
            assert first() is not None and seen == []
            assert gc.get_count()[0] > threshold
    finally:
        gc.callbacks.pop()
    assert gc.isenabled()
    assert first() is None  # collected at the block's end, by one collection
    assert [phase for phase, _ in seen] == ["start", "stop"]
    assert gc.get_count()[0] < threshold


def test_a_block_entered_with_the_collector_off_collects_nothing():
    gc.disable()
    try:
        with collected_after():
            first = weakref.ref(_Cycle())
            for _ in range(2 * gc.get_threshold()[0]):
                _Cycle()
        assert not gc.isenabled()
        assert first() is not None  # the caller turned it off: not ours to run
    finally:
        gc.enable()
        gc.collect()
