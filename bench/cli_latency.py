"""Wall time of the read-only CLI commands on the demo database (prints figures; the
target is under 1 s each on this machine — see ADR-0018; nothing is asserted).

    .venv/bin/python bench/cli_latency.py [RUNS]

Builds a demo database first (`drift-engine demo --hours 12 --no-dashboard`) in a
temporary data directory, then runs each command RUNS times (default 7) as a fresh
process, as a user would, and prints min / median / max wall seconds, the median CPU
seconds (user + system) the command itself used, and the machine's load average. Other
processes share these cores: on a busy machine a command waits for a core, so its wall
time exceeds its CPU time; the CPU time is about what the wall time is on an idle
machine, and the minimum wall time is the least disturbed run.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = [sys.executable, "-c", "from drift_engine.cli import app; app()"]
COMMANDS = (
    ("drift-engine --help", ["--help"]),
    ("drift-engine engines --demo list", ["engines", "--demo", "list"]),
    ("drift-engine vaults --demo list", ["vaults", "--demo", "list"]),
    ("drift-engine engines --demo commands dn-sol", ["engines", "--demo", "commands", "dn-sol"]),
)


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFT_ENGINE_")}
    env.pop("DATABASE_URL", None)
    env["DRIFT_ENGINE_DATA_DIR"] = str(data_dir)
    env["COLUMNS"] = "160"
    return env


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    with tempfile.TemporaryDirectory() as tmp:
        env = _env(Path(tmp) / "var")
        subprocess.run(
            [*CLI, "demo", "--hours", "12", "--no-dashboard", "--speed", "1000000"],
            env=env,
            check=True,
            capture_output=True,
        )
        print(f"load average before: {os.getloadavg()[0]:.2f} (cpus: {os.cpu_count()})")
        for label, args in COMMANDS:
            times, cpu = [], []
            for _ in range(runs):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.perf_counter()
                done = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True)
                times.append(time.perf_counter() - t0)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
                if done.returncode != 0:
                    print(f"{label}: exit {done.returncode}: {done.stderr.strip()}")
                    break
            print(
                f"{label:48s} min {min(times):.3f} s  median {statistics.median(times):.3f} s"
                f"  max {max(times):.3f} s  cpu {statistics.median(cpu):.3f} s"
                f"  ({len(times)} runs)"
            )
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
