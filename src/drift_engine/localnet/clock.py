"""Chain time for the local chain: milliseconds, injected, so slots follow a clock.

A Solana slot lasts about 400 ms; the local chain derives its slot from a clock with
millisecond resolution (`ChainClock.now_ms`). Two clocks:

* `ManualClock` — time moves only when someone advances it (`advance`, `sleep_until`,
  or `await asleep(s)`). Tests share one between the chain and the client
  (`DriftClient(clock=...)`), so waiting for a confirmation moves the chain forward by
  exactly the time waited and nothing sleeps on wall time. It also satisfies
  `drift_engine.clock.Clock` (integer seconds), so a heartbeat or `LiveRunner.run` can
  drive it.
* `WallChainClock` — real time (optionally `speed` times faster): `drift-engine
  localnet` and tests whose client runs in another process.

Both are thread-safe: the RPC server reads the clock from its own thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable


@runtime_checkable
class ChainClock(Protocol):
    def now_ms(self) -> int:
        """Unix time in milliseconds."""
        ...


class ManualClock:
    """A simulated clock in milliseconds: it moves only when advanced."""

    def __init__(self, start_s: int = 0) -> None:
        self._ms = int(start_s) * 1000
        self._lock = threading.Lock()

    # ChainClock -------------------------------------------------------------------
    def now_ms(self) -> int:
        with self._lock:
            return self._ms

    # drift_engine.clock.Clock (integer seconds) ----------------------------------
    def now(self) -> int:
        return self.now_ms() // 1000

    def sleep_until(self, t: int) -> None:
        """Move to unix second `t` (never backwards)."""
        with self._lock:
            self._ms = max(self._ms, int(t) * 1000)

    async def asleep_until(self, t: int) -> None:
        self.sleep_until(t)
        await asyncio.sleep(0)

    # waiting --------------------------------------------------------------------
    def advance(self, seconds: float) -> int:
        """Move forward by `seconds` (ms resolution); returns the new time in ms."""
        if seconds < 0:
            raise ValueError("a manual clock does not go backwards")
        with self._lock:
            self._ms += round(seconds * 1000)
            return self._ms

    def monotonic(self) -> float:
        return self.now_ms() / 1000

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))

    async def asleep(self, seconds: float) -> None:
        """What a waiting client does: time passes by `seconds`, at once."""
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)

    def __repr__(self) -> str:
        return f"ManualClock(now_ms={self._ms})"


class WallChainClock:
    """Wall time, `speed` times faster than real from the moment it is made."""

    def __init__(
        self,
        speed: float = 1.0,
        *,
        time_fn: Callable[[], float] = time.time,
        monotonic_fn: Callable[[], float] = time.monotonic,
    ) -> None:
        if not speed > 0:
            raise ValueError("speed must be positive")
        self.speed = float(speed)
        self._start = time_fn()
        self._t0 = monotonic_fn()
        self._monotonic = monotonic_fn

    def now_ms(self) -> int:
        return int((self._start + (self._monotonic() - self._t0) * self.speed) * 1000)

    def now(self) -> int:
        return self.now_ms() // 1000

    def monotonic(self) -> float:
        return self._monotonic()

    def sleep_until(self, t: int) -> None:
        while (wait := (t * 1000 - self.now_ms()) / 1000 / self.speed) > 0:
            time.sleep(wait)

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


__all__ = ["ChainClock", "ManualClock", "WallChainClock"]
