"""Stop `drift-engine run` with a signal at random moments, many times, and report any
child that does not exit promptly, with every thread's stack (ADR 0023's reproduction).

    python scripts/sigint_stress.py [--rounds N] [--burners K] [--signal INT|TERM]
                                    [--max-delay S] [--timeout S] [--keep-alive]
                                    [--ignore-sigint]

Each round starts a paper `run` (synthetic data, speed 3000, the dashboard on a free
port) on one SQLite database kept across rounds (so rounds also restart from the last
checkpoint), waits a random 0..max-delay seconds from the spawn (startup, catch-up,
mid-tick, checkpoints), sends the signal and waits `timeout` seconds. A child that is
still alive gets SIGUSR1 (faulthandler, registered by the wrapper below, so old code
dumps too), then SIGKILL; its output is saved and named in the summary. `--burners`
CPU-bound processes run beside it for the whole run (a loaded CI machine).
`--keep-alive` holds an idle HTTP/1.1 keep-alive connection to the dashboard open
across the stop. Children start with SIGINT at its default disposition, whatever this
script inherited; `--ignore-sigint` starts them with SIGINT ignored instead, as a child
of a shell's background job (`cmd &` without job control) or of `nohup` inherits it:
Python then never installs its KeyboardInterrupt handler (the CI hang, ADR 0023). The
code under test is whatever `drift_engine` this Python imports
(PYTHONPATH can point at another checkout).
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WRAPPER = (
    "import faulthandler, signal, sys\n"
    "faulthandler.register(signal.SIGUSR1, all_threads=True)\n"
    "from drift_engine.cli import app\n"
    "sys.argv = ['drift-engine', *sys.argv[1:]]\n"
    "app()\n"
)


def _burn() -> None:  # pragma: no cover - a CPU hog
    x = 0
    while True:
        x = (x * 31 + 7) % 1_000_003


def _dashboard_port(log: Path, deadline: float) -> int | None:
    while time.monotonic() < deadline:
        found = re.search(r"dashboard: http://127\.0\.0\.1:(\d+)/", log.read_text())
        if found:
            return int(found.group(1))
        time.sleep(0.1)
    return None


def _wait_for_running(log: Path, proc: subprocess.Popen) -> None:
    while proc.poll() is None and "running " not in log.read_text():
        time.sleep(0.1)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--burners", type=int, default=1)
    p.add_argument("--signal", default="INT", choices=["INT", "TERM"])
    p.add_argument("--max-delay", type=float, default=8.0)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--keep-alive", action="store_true")
    p.add_argument("--ignore-sigint", action="store_true")
    p.add_argument(
        "--after-running",
        action="store_true",
        help="Count the delay from the child's 'running' line, not from its spawn "
        "(a loaded machine can take longer than the delay just to import).",
    )
    p.add_argument("--out", default=None, help="Folder for the logs (default: a temp dir).")
    args = p.parse_args()
    from tests.engine.run_helpers import clean_env, write_config

    out = Path(args.out or tempfile.mkdtemp(prefix="sigint-stress-"))
    out.mkdir(parents=True, exist_ok=True)
    config = write_config(out, speed=3000)
    env = clean_env(f"sqlite:///{out / 'engines.db'}")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(ROOT)) if p)
    sig = getattr(signal, f"SIG{args.signal}")
    disposition = signal.SIG_IGN if args.ignore_sigint else signal.SIG_DFL

    def child_signals() -> None:
        signal.signal(signal.SIGINT, disposition)

    burners = [multiprocessing.Process(target=_burn, daemon=True) for _ in range(args.burners)]
    for b in burners:
        b.start()
    hung, codes = [], {}
    try:
        for n in range(args.rounds):
            log = out / f"round-{n:03d}.log"
            with log.open("w") as sink:
                proc = subprocess.Popen(
                    [sys.executable, "-c", WRAPPER, "run", "--config", str(config)]
                    + ["--hours", "10000", "--port", "0"],
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=str(out),
                    preexec_fn=child_signals,
                )
                delay = random.uniform(0, args.max_delay)
                if args.after_running:
                    _wait_for_running(log, proc)
                conn = None
                if args.keep_alive:
                    port = _dashboard_port(log, time.monotonic() + delay)
                    if port is not None:
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                        try:
                            conn.request("GET", "/api/engines")
                            conn.getresponse().read()  # the connection stays open, idle
                        except OSError:
                            conn = None
                time.sleep(delay)
                proc.send_signal(sig)
                try:
                    code = proc.wait(timeout=args.timeout)
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGUSR1)
                    time.sleep(3)
                    proc.kill()
                    proc.wait()
                    code = "HUNG"
                    hung.append(log)
                if conn is not None:
                    conn.close()
            codes[code] = codes.get(code, 0) + 1
            print(f"round {n}: signal after {delay:.1f}s -> {code}", flush=True)
    finally:
        for b in burners:
            b.terminate()
    print(f"exit codes: {codes}; logs in {out}")
    for log in hung:
        print(f"HUNG: {log}")
    return 1 if hung else 0


if __name__ == "__main__":
    sys.exit(main())
