"""`drift-engine run` and the demo tick their paper engines with the start-up heap
frozen (heap.py): no collection walks what start-up built while the heartbeat runs, and
the objects go back to the collector when the run ends (ADR-0020, s8-entry)."""

from __future__ import annotations

import gc
import io
import weakref

from rich.console import Console

from drift_engine.commands.run import serve
from drift_engine.data.pipeline import open_market_data
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.engine.paper import PaperStack
from drift_engine.heap import frozen_start_up
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
    assert gc.get_freeze_count() == 0
    hb, interrupted = serve(
        stack,
        data.events,
        start=start + 60,
        until=start + 300,
        speed=1e9,
        console=Console(file=io.StringIO()),
        on_tick=lambda _r: frozen.append(gc.get_freeze_count()),
    )
    assert not interrupted and hb.ticks == len(frozen) == 5
    # every tick ran with what start-up built frozen (the stack alone: >10^4 objects)
    assert min(frozen) > 10_000
    assert gc.get_freeze_count() == 0  # unfrozen once the run is over
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
    monkeypatch.setattr(
        run_command,
        "progress_printer",
        lambda *_a: lambda _r: frozen.append(gc.get_freeze_count()),
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
    db.dispose()
