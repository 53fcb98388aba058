"""Clocks: the only way anything in drift-engine learns the time.

Time is integer unix seconds (UTC), the unit Drift uses on chain (`ts` fields, funding
period 3600 s) and the unit of every market data record. Strategies never read the wall
clock; the simulator, the engine and the heartbeat take a `Clock`.

- `SimulatedClock(start)`: backtests. `sleep_until(t)` jumps to t at once; time never goes
  backwards (sleeping until the past is a no-op).
- `AcceleratedClock(speed, start)`: demos. Simulated time runs `speed` times faster than
  wall time from `start`; `sleep_until(t)` really sleeps (t - now) / speed seconds.
- `WallClock()`: live. now() is the system time; sleep_until(t) sleeps until then.

Every clock also has `async asleep_until(t)` for code running inside an event loop.
Wall-time functions are injectable (`time_fn`, `sleep_fn`) so tests never really wait.
The two real-time clocks take a `stop` (anything with `wait(timeout) -> bool`, e.g.
`commands.stopping.StopSignal`): `sleep_until` then returns early once a stop is asked,
so Ctrl-C never waits out a tick interval (ADR 0023); the caller checks its stop flag
after the sleep.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now(self) -> int:
        """Current time, unix seconds."""
        ...

    def sleep_until(self, t: int) -> None:
        """Return once now() >= t (at once if t is not in the future)."""
        ...


class Stop(Protocol):
    def wait(self, timeout: float | None = None) -> bool:
        """Sleep up to `timeout` seconds; True (at once) when a stop was asked."""
        ...


def _slept(stop: Stop | None, sleep_fn: Callable[[float], None], seconds: float) -> bool:
    """Sleep `seconds` (on `stop` when there is one); True when a stop was asked."""
    if stop is None:
        sleep_fn(seconds)
        return False
    return stop.wait(seconds)


class SimulatedClock:
    """As fast as possible: time moves only when someone sleeps or advances it."""

    def __init__(self, start: int = 0) -> None:
        self._now = int(start)

    def now(self) -> int:
        return self._now

    def sleep_until(self, t: int) -> None:
        if t > self._now:
            self._now = int(t)

    async def asleep_until(self, t: int) -> None:
        self.sleep_until(t)

    def lag(self, t: int) -> float:
        """Wall seconds a tick due at `t` started late: never, on a simulated clock."""
        return 0.0

    def advance(self, seconds: int) -> int:
        if seconds < 0:
            raise ValueError("a simulated clock does not go backwards")
        self._now += int(seconds)
        return self._now

    def __repr__(self) -> str:
        return f"SimulatedClock(now={self._now})"


class AcceleratedClock:
    """Scaled wall time: `speed` simulated seconds pass per wall second, from `start`."""

    def __init__(
        self,
        speed: float,
        start: int | None = None,
        *,
        time_fn: Callable[[], float] = time.monotonic,
        sleep_fn: Callable[[float], None] = time.sleep,
        wall_now: Callable[[], float] = time.time,
        stop: Stop | None = None,
    ) -> None:
        if not speed > 0:
            raise ValueError("speed must be positive")
        self.speed = float(speed)
        self._time_fn = time_fn
        self._sleep_fn = sleep_fn
        self._stop = stop
        self._start = int(wall_now()) if start is None else int(start)
        self._t0 = time_fn()

    def _sim_time(self) -> float:
        return self._start + (self._time_fn() - self._t0) * self.speed

    def now(self) -> int:
        return math.floor(self._sim_time())

    def _wait_for(self, t: int) -> float:
        return max(0.0, (t - self._sim_time()) / self.speed)

    def sleep_until(self, t: int) -> None:
        while (wait := self._wait_for(t)) > 0:
            if _slept(self._stop, self._sleep_fn, wait):
                return

    def lag(self, t: int) -> float:
        """Wall seconds by which now is past `t` (a tick due at `t` running late)."""
        return max(0.0, (self._sim_time() - t) / self.speed)

    async def asleep_until(self, t: int) -> None:
        while (wait := self._wait_for(t)) > 0:
            await asyncio.sleep(wait)


class WallClock:
    """Real time."""

    def __init__(
        self,
        *,
        time_fn: Callable[[], float] = time.time,
        sleep_fn: Callable[[float], None] = time.sleep,
        stop: Stop | None = None,
    ) -> None:
        self._time_fn = time_fn
        self._sleep_fn = sleep_fn
        self._stop = stop

    def now(self) -> int:
        return math.floor(self._time_fn())

    def sleep_until(self, t: int) -> None:
        while (wait := t - self._time_fn()) > 0:
            if _slept(self._stop, self._sleep_fn, wait):
                return

    def lag(self, t: int) -> float:
        """Seconds by which now is past `t` (a tick due at `t` running late)."""
        return max(0.0, self._time_fn() - t)

    async def asleep_until(self, t: int) -> None:
        while (wait := t - self._time_fn()) > 0:
            await asyncio.sleep(wait)


__all__ = ["AcceleratedClock", "Clock", "SimulatedClock", "WallClock"]
