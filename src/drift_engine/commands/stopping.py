"""Ctrl-C and SIGTERM as a stop flag, not an exception (ADR 0023).

Python's default SIGINT handler raises KeyboardInterrupt in the main thread at whatever
bytecode it is running: inside a `with lock:`, a database transaction, a `finally`,
before the runner's threads are stopped. A long-running command (`run`, `demo`) instead
installs `StopSignal`: the first SIGINT or SIGTERM only sets a flag and wakes whoever
waits on it (the clock's sleep between ticks); the heartbeat loop sees the flag between
ticks and the command runs its ordinary, ordered shutdown. A second signal forces an
immediate exit (for a shutdown that is itself stuck; the console says so).

The handler touches no lock: it sets a plain attribute and writes one byte to a
non-blocking pipe; `wait` selects on that pipe. (A `threading.Event` would be simpler,
but its `set()` takes a lock that the interrupted main thread may itself hold inside
`Event.wait`: a signal handler must not take a lock its own thread can hold.)
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

#: Exit status of a forced exit (the second signal): 128 + SIGINT, as a shell reports it.
FORCED_EXIT = 130
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignal:
    """The stop flag of a long-running command; a context manager that installs the
    SIGINT/SIGTERM handlers in the main thread and restores the previous ones.

    `is_set()` says whether a stop was asked; `wait(timeout)` sleeps until then (True)
    or the timeout (False); `signal_name` names the signal that asked."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._requested = False
        self.signal_name: str | None = None
        self._previous: dict[int, Any] = {}

    # ------------------------------------------------------------------ flag
    def is_set(self) -> bool:
        return self._requested

    def set(self, name: str = "stop") -> None:
        """Ask for a stop (the signal handler's first call; also usable by code)."""
        if self.signal_name is None:
            self.signal_name = name
        self._requested = True
        with contextlib.suppress(OSError):  # the pipe is full (already woken) or closed
            os.write(self._write, b"!")

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep until a stop is asked (True) or `timeout` seconds pass (False). Safe to
        call again after it returned True: it then returns at once."""
        if self._requested:
            return True
        # a signal during the select runs the handler, which makes the pipe readable;
        # the select (retried by Python after the handler, PEP 475) returns at once.
        # The pipe is never drained: once set, every later wait returns at once.
        select.select([self._read], [], [], timeout)
        return self._requested

    # ------------------------------------------------------------------ handlers
    def _handle(self, signum: int, _frame: Any) -> None:
        if self._requested:
            os.write(2, b"\nsecond stop signal: forced exit, nothing more is saved\n")
            os._exit(FORCED_EXIT)
        self.set(signal.Signals(signum).name)

    def install(self) -> StopSignal:
        """Install the handlers (only the main thread can; elsewhere the flag is only set
        by `set()`)."""
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def restore(self) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._read = self._write = -1

    def __enter__(self) -> StopSignal:
        return self.install()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.restore()

    def __repr__(self) -> str:
        return f"StopSignal(requested={self._requested}, signal={self.signal_name})"


def stopping_line(stop: StopSignal) -> str:
    """What the console says once the command has seen the stop flag."""
    what = "Ctrl-C" if stop.signal_name == "SIGINT" else (stop.signal_name or "stop")
    return f"[yellow]stopping[/] ({what}): saving and shutting down; Ctrl-C again forces exit"


def either(stop: StopSignal | None, other: Callable[[], bool] | None) -> Callable[[], bool]:
    """A `should_stop` for a heartbeat loop: the stop flag, or `other` (e.g. a lost lease)."""

    def should_stop() -> bool:
        return (stop is not None and stop.is_set()) or (other is not None and other())

    return should_stop


__all__ = ["FORCED_EXIT", "STOP_SIGNALS", "StopSignal", "either", "stopping_line"]
