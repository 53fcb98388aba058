"""The acceptance sweep: a 10 x 10 grid of delta-neutral thresholds on the real SOL
year, through `drift-engine sweep` (table, statistics, JSON and heat-map).

    .venv/bin/python bench/sweep_grid_real_year.py [--workers N] [--ray] [--out DIR]

entry_apr 0.01..0.10 x exit_apr -0.09..0.00 (every pair valid: exit <= entry). Prints the
sweep's own output and the total wall time; writes DIR/grid.json and DIR/grid.png.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from drift_engine.cli import app


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", default=None)
    ap.add_argument("--ray", action="store_true")
    ap.add_argument("--out", default="var/bench-sweep")
    ap.add_argument("--start", default="2025-04-14")
    ap.add_argument("--end", default="2026-04-01")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    argv = [
        "sweep", "--market", "SOL-PERP", "--start", args.start, "--end", args.end,
        "--grid", "entry_apr=0.01:0.10:0.01", "--grid", "exit_apr=-0.09:0.0:0.01",
        "--output", str(out / "grid.json"), "--plot", str(out / "grid.png"),
    ]  # fmt: skip
    if args.workers:
        argv += ["--workers", args.workers]
    if args.ray:
        argv.append("--ray")
    t0 = time.perf_counter()
    result = CliRunner().invoke(app, argv)
    sys.stdout.write(result.output)
    print(f"exit code {result.exit_code}; wall {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
