"""The demo's two paper engines in their own process, as `drift-engine run` would run them:
a run session row (pid, speed, data sources) and one heartbeat row per tick, a tick every
TICK_S wall seconds, until the process is killed.

    python -m tests.dashboard.runner_proc DATABASE_URL TICK_S

Prints "READY" once the engines have warmed up (positions, snapshots, funding).
"""

from __future__ import annotations

import sys
import time

from drift_engine.sessions import RunSession
from drift_engine.storage import Database

from .paper_engines import END, ENGINES, START, PaperEngines


def main() -> None:
    url, tick_s = sys.argv[1], float(sys.argv[2])
    db = Database.open(url)
    engines = PaperEngines(db)
    engines.warm_up(hours=12)
    RunSession.begin(
        db,
        kind="run",
        engines=list(ENGINES),
        speed=engines.tick_s / tick_s,
        sim_start=START,
        sim_end=END,
        data={"source": "bundled", "sources": {"funding": "real", "prices": "synthetic"}},
    )
    print("READY", flush=True)
    while engines.ts < END:
        engines._tick()
        time.sleep(tick_s)


if __name__ == "__main__":
    main()
