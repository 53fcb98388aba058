"""Stopping a child `drift-engine run`/`demo`/`localnet` in a test, and seeing why when
it will not stop.

`stop_child` sends the signal (SIGINT: a trader's Ctrl-C) and waits; a child still alive
after `timeout` gets SIGUSR1, which makes it print every thread's stack to stderr
(faulthandler, registered by the CLI: `drift_engine.cli.dump_stacks_on_sigusr1`), then
SIGKILL, and the test fails with that dump and the tail of the child's output, so a hang
names the line it is stuck on instead of only "timed out". The child's remaining output
is read while waiting (`communicate`), so a full pipe cannot hold it up either.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable

import pytest

#: Generous: a loaded 2-core CI machine; a clean stop takes a few seconds.
STOP_TIMEOUT_S = 120.0
#: How long the stack dump is given to reach the pipe before SIGKILL.
DUMP_WAIT_S = 3.0


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def stop_child(
    proc: subprocess.Popen,
    sig: int = signal.SIGINT,
    *,
    timeout: float = STOP_TIMEOUT_S,
    output: Callable[[], str] | None = None,
) -> tuple[str, str]:
    """Send `sig` (unless the child already exited) and wait up to `timeout` s for it to
    exit; return what is left of its (stdout, stderr) ("" for a stream not piped or
    read elsewhere). A child that does not exit in time: stack dump, SIGKILL, test
    failure naming the signal and showing the dump. `output` returns what a reader
    thread of the test collected, for a child whose pipe the test reads itself."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        out, err = _communicate(proc, timeout, output)
    except subprocess.TimeoutExpired:
        dump = _dump_and_kill(proc, output)
        pytest.fail(
            f"pid {proc.pid} did not exit within {timeout:.0f} s of "
            f"{signal.Signals(sig).name}; every thread's stack (SIGUSR1) and its last "
            f"output:\n{dump}",
            pytrace=False,
        )
    return out, err


def _communicate(
    proc: subprocess.Popen, timeout: float, output: Callable[[], str] | None
) -> tuple[str, str]:
    if output is not None:  # the test's own reader drains the pipe
        proc.wait(timeout=timeout)
        return "", ""
    out, err = proc.communicate(timeout=timeout)
    return _text(out), _text(err)


def _dump_and_kill(proc: subprocess.Popen, output: Callable[[], str] | None) -> str:
    try:
        proc.send_signal(signal.SIGUSR1)
        time.sleep(DUMP_WAIT_S)
    finally:
        proc.kill()
    if output is not None:
        proc.wait()
        time.sleep(0.5)  # the reader thread's last lines
        return output()[-20_000:]
    out, err = proc.communicate()
    return f"--- stderr ---\n{_text(err)[-15_000:]}\n--- stdout ---\n{_text(out)[-5_000:]}"


__all__ = ["STOP_TIMEOUT_S", "stop_child"]
