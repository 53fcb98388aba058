"""Ctrl-C and SIGTERM stop `drift-engine run` cleanly wherever they land (ADR 0023).

The signal only sets a flag (`commands.stopping.StopSignal`); the heartbeat sees it
between ticks and the runner shuts down in order. So a stop at startup, in the middle of
a tick, inside a checkpoint's transaction, or while the dashboard holds an idle
keep-alive connection exits 0 with "interrupted", releases the leases, and a restart
ends entry for entry where an uninterrupted run ends (nothing lost, nothing doubled).
A runner started with SIGINT ignored (a shell's background job, nohup: how the CI hang
happened) still stops on it.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from drift_engine.clock import AcceleratedClock, WallClock
from drift_engine.commands.stopping import FORCED_EXIT, StopSignal
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.heartbeat import HeartbeatDataCollector
from tests.childproc import stop_child
from tests.engine.run_helpers import ROOT, clean_env, open_db, run_cmd, write_config
from tests.engine.test_sigkill_loop import _end_state

H = 3600
END_H = 54  # the SOL engine enters its carry ~18 h in and exits ~54 h in (seed 7)
#: Generous: a thread told to stop returns long before this on any machine.
JOIN_S = 60


# --------------------------------------------------------------------------- the flag
def test_a_signal_sets_the_flag_wakes_a_waiter_and_the_handlers_are_restored():
    before = signal.getsignal(signal.SIGINT)
    with StopSignal() as stop:
        woke = threading.Event()
        waiter = threading.Thread(target=lambda: stop.wait() and woke.set(), daemon=True)
        waiter.start()
        assert not stop.wait(0)
        os.kill(os.getpid(), signal.SIGINT)  # no KeyboardInterrupt: only the flag
        waiter.join(JOIN_S)
        assert woke.is_set() and stop.is_set() and stop.signal_name == "SIGINT"
        assert stop.wait(0)  # stays set
    assert signal.getsignal(signal.SIGINT) is before


def test_a_second_signal_forces_the_exit():
    code = (
        "import os, signal, time\n"
        "from drift_engine.commands.stopping import StopSignal\n"
        "stop = StopSignal().install()\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n"
        "assert stop.wait(60)\n"
        "print('stopping', flush=True)\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "time.sleep(60)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == FORCED_EXIT, done.stderr
    assert done.stdout == "stopping\n" and "forced exit" in done.stderr


@pytest.mark.parametrize("clock", ["accelerated", "wall"])
def test_the_clock_wakes_from_a_long_sleep_when_a_stop_is_asked(clock):
    stop = StopSignal()
    try:
        c = AcceleratedClock(1.0, 0, stop=stop) if clock == "accelerated" else WallClock(stop=stop)
        sleeper = threading.Thread(target=c.sleep_until, args=(c.now() + 10**8,), daemon=True)
        sleeper.start()
        stop.set()
        sleeper.join(JOIN_S)
        assert not sleeper.is_alive()  # not ~3 years later
    finally:
        stop.restore()


def test_the_heartbeat_loop_runs_no_tick_once_its_sleep_ended_in_a_stop():
    stop = StopSignal()
    ticks: list[int] = []

    class Clock:  # the stop arrives while the loop sleeps until its tick
        def now(self) -> int:
            return 0

        def sleep_until(self, t: int) -> None:
            if t >= 120:
                stop.set()

    hb = SimpleNamespace(tick=lambda t, lag_s=0.0: ticks.append(t), exhausted=False, _pending=None)
    try:
        HeartbeatDataCollector.run(hb, Clock(), start=0, interval_s=60, should_stop=stop.is_set)
    finally:
        stop.restore()
    assert ticks == [0, 60]  # the tick at 120 never started


# --------------------------------------------------------------------------- a run
def _until() -> str:
    return datetime.fromtimestamp(DEFAULT_ORIGIN + END_H * H, UTC).isoformat()


def _checkpoint_ts(url: str) -> int:
    from tests.engine.run_helpers import checkpoint

    return checkpoint(url, "dn-sol")["ts"]


def _leases_free(url: str) -> bool:
    from drift_engine.engine.lease import engine_lease, live_holder

    db = open_db(url)
    try:
        return all(live_holder(db, engine_lease(e)) is None for e in ("dn-sol", "dn-btc"))
    finally:
        db.dispose()


def _last_session(url: str) -> str:
    from drift_engine.sessions import read_sessions

    db = open_db(url)
    try:
        with db.read() as s:
            return read_sessions(s, limit=1)[0].status
    finally:
        db.dispose()


def test_a_stop_anywhere_ends_where_an_uninterrupted_run_ends(tmp_path):
    config = write_config(tmp_path, ("dn-sol", "dn-btc"))
    args = ("run", "--config", str(config), "--until", _until())
    ref_url = f"sqlite:///{tmp_path / 'reference.db'}"
    done = run_cmd(clean_env(ref_url), *args)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    reference = _end_state(ref_url)

    url = f"sqlite:///{tmp_path / 'stopped.db'}"
    reached = []
    # at startup (before any tick), mid-tick (inside a booking), inside a checkpoint's
    # transaction; SIGINT (Ctrl-C) and SIGTERM (systemd, docker)
    for at in ("INT:startup", "INT:booking:2", "TERM:checkpoint:3"):
        run = run_cmd(clean_env(url, RUN_PROC_SIGNAL=at), *args)
        assert run.returncode == 0, f"{at}: {run.stdout[-2000:]}{run.stderr[-2000:]}"
        assert "interrupted: engines keep their last checkpoint" in run.stdout, at
        assert "Traceback" not in run.stderr, run.stderr[-3000:]
        assert _leases_free(url), at  # released: the next run starts at once
        assert _last_session(url) == "interrupted", at
        if at != "INT:startup":
            reached.append(_checkpoint_ts(url))
    # each stop kept every tick before it: the next run carried on from there
    assert reached == sorted(reached) and len(set(reached)) == len(reached)
    assert reached[-1] < DEFAULT_ORIGIN + END_H * H  # stopped before the end
    final = run_cmd(clean_env(url), *args)
    assert final.returncode == 0, final.stdout[-2000:] + final.stderr[-2000:]
    assert _end_state(url) == reference


def test_ctrl_c_stops_a_runner_started_with_sigint_ignored_and_an_open_keep_alive(tmp_path):
    url = f"sqlite:///{tmp_path / 'engines.db'}"
    config = write_config(tmp_path, ("dn-sol", "dn-btc"), speed=3000)  # a tick / 0.1 s
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.engine.run_proc", "run", "--config", str(config)]
        + ["--hours", "10000", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=clean_env(url),
        cwd=str(ROOT),
        # as a child of `cmd &` in a script, or of nohup: Python then installs no
        # KeyboardInterrupt handler, and a runner relying on it ignored Ctrl-C
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    conn = None
    seen: list[str] = []
    try:
        assert proc.stdout is not None
        port = None
        for line in proc.stdout:
            seen.append(line)
            found = re.search(r"dashboard: http://127\.0\.0\.1:(\d+)/", line)
            port = int(found.group(1)) if found else port
            if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d dn-", line):  # a tick ran
                break
        assert port is not None, "".join(seen)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=JOIN_S)
        conn.request("GET", "/api/health")  # HTTP/1.1: the connection stays open, idle
        assert conn.getresponse().read()
    finally:
        out, _ = stop_child(proc, signal.SIGINT)
        if conn is not None:
            conn.close()
    out = "".join(seen) + out
    assert proc.returncode == 0, out[-3000:]
    assert "stopping (Ctrl-C)" in out and "interrupted: engines keep their last checkpoint" in out
    assert _leases_free(url) and _last_session(url) == "interrupted"
