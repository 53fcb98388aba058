"""The garbage collector of a long-lived process: its start-up heap out of the collections.

What a runner builds before its first tick (imports, the IDL and catalogs, the markets,
the simulators, the engines; the in-process dashboard's FastAPI, pydantic and
SQLAlchemy) lives as long as the process: ~3.4 x 10^5 tracked objects for ten paper
engines, whose full collection costs ~200 ms of CPU and lands in whichever tick
allocates the object that triggers it. `gc.freeze()` moves them to the permanent
generation, which no collection walks; a full collection then walks only what was made
since (ADR-0020, s8-entry). Reference counting frees frozen objects as before; only
cyclic garbage among them waits for `gc.unfreeze()`.
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
