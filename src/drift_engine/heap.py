"""The garbage collector of a long-lived process: its start-up heap out of the collections.

What a runner builds before its first tick (imports, the IDL and catalogs, the markets,
the simulators, the engines; the in-process dashboard's FastAPI, pydantic and
SQLAlchemy) lives as long as the process: ~3.4 x 10^5 tracked objects for ten paper
engines, whose full collection costs ~200 ms of CPU and lands in whichever tick
allocates the object that triggers it. `gc.freeze()` moves them to the permanent
generation, which no collection walks; a full collection then walks only what was made
since (ADR-0020, s8-entry). Reference counting frees frozen objects as before; only
cyclic garbage among them waits for `gc.unfreeze()`.

A heartbeat's tick runs with automatic collection paused and the collection it made
due runs after it, before the runner sleeps (`collected_after`).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


def freeze_start_up() -> None:
    """Collect what start-up left behind, then freeze everything alive: the rest of
    the process's life (the dashboard's `serve`, a runner's heartbeat)."""
    gc.collect()
    gc.freeze()


@contextmanager
def frozen_start_up() -> Iterator[None]:
    """`freeze_start_up()` for the block; after it the frozen objects go back to the
    oldest generation (`gc.unfreeze`), so a process that goes on (tests, a caller of
    the runner in-process) collects them as before."""
    freeze_start_up()
    try:
        yield
    finally:
        gc.unfreeze()


@contextmanager
def collected_after() -> Iterator[None]:
    """No automatic collection inside the block (a heartbeat tick); at its end, the one
    its allocations made due (`collect_due`), then the collector back on. A tick that
    places orders allocates enough to trigger a generation-1 collection, 1.5-2 ms of
    CPU inside it; after it, in the gap before the next tick, the same collection costs
    ~0.5 ms, the tick's temporary objects being gone (ADR-0026). A block entered with
    the collector off leaves it off and collects nothing."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        collect_due()
        gc.enable()


def collect_due() -> int | None:
    """Run the collection CPython's own policy would have run by now, if any: once
    generation 0's count is over its threshold, the oldest generation whose count is
    over its own (a block under `collected_after` may have passed generation 0's several
    times over: one collection of that generation covers it all). Returns the
    generation collected, or None (nothing due, or thresholds of 0: automatic
    collection off).

    CPython also skips a full collection while few long-lived objects are new
    (`long_lived_pending < long_lived_total / 4`); Python does not expose those
    counts, so here generation 2 is collected whenever its count is over its
    threshold. After `freeze_start_up` a full collection walks only what was made
    since start-up, and it runs between ticks, not inside one."""
    counts, thresholds = gc.get_count(), gc.get_threshold()
    if thresholds[0] == 0 or counts[0] <= thresholds[0]:
        return None
    generation = next((g for g in (2, 1) if counts[g] > thresholds[g]), 0)
    gc.collect(generation)
    return generation


@contextmanager
def frozen_set_up() -> Iterator[None]:
    """A backtest's replay with what its set-up built (the data's arrays and tables, the
    simulator, the engine, the stack) frozen out of the collections, and back after it.
    A full collection the replay triggers then walks only what the replay made: one
    over the set-up's heap cost ~100 ms of a 60-day replay's 0.5 s. No collection
    first, unlike `freeze_start_up`: it would cost as much as the one it avoids; the
    garbage frozen with the heap goes back to the collector after the replay.

    A process that froze already (a dashboard serving research, a runner) keeps its
    freeze: the block then freezes nothing and unfreezes nothing."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


#: a replay's generation-0 threshold (`rare_young_collections`): CPython's default is 700
REPLAY_YOUNG_THRESHOLD = 50_000


@contextmanager
def rare_young_collections(threshold: int = REPLAY_YOUNG_THRESHOLD) -> Iterator[None]:
    """A backtest's replay with generation 0 collected once `threshold` objects are new,
    not 700, and the process's thresholds back after it.

    A young collection walks every container made since the last one and what each
    refers to. In the replay those are mostly alive: the chunk's tables (`TapeRows`,
    `HourTable`: lists of ~20k events' facts) and the week's held rows, until the chunk
    or the flush lets them go; the hours' own objects are freed by reference counting.
    The bench's 30-day replay triggered 11 young collections, 7.8 M instructions (1.5 %
    of the replay), mostly walking those lists; at 50,000 it triggers none. Cyclic
    garbage is still collected, once 50,000 objects are new (a few MB), as CPython's
    policy does at 700. A process whose automatic collection is off (threshold 0) or
    higher already keeps its thresholds. Replays on threads of one process share the
    thresholds: the first to enter raises them, the others find them raised and leave
    them, and the first puts them back when it ends (the others then run at 700: slower,
    never different)."""
    old = gc.get_threshold()
    if old[0] == 0 or old[0] >= threshold:
        yield
        return
    gc.set_threshold(threshold, *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)
