"""Wall time of the read-only CLI commands on the demo database (prints figures; the
target is under 1 s each on this machine — see ADR-0018; nothing is asserted).

    .venv/bin/python bench/cli_latency.py [RUNS]

Builds a demo database first (`drift-engine demo --hours 12 --no-dashboard`) in a
temporary data directory, then runs each command RUNS times (default 7) as a fresh
process, as a user would, and prints min / median / max wall seconds and the machine's
load average (other processes share these cores; the minimum is the least disturbed).
"""

from __future__ import annotations

import os
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
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                done = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True)
                times.append(time.perf_counter() - t0)
                if done.returncode != 0:
                    print(f"{label}: exit {done.returncode}: {done.stderr.strip()}")
                    break
            print(
                f"{label:48s} min {min(times):.3f} s  median {statistics.median(times):.3f} s"
                f"  max {max(times):.3f} s  ({len(times)} runs)"
            )
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
