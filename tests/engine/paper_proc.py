"""A paper run in its own process, for the restart tests (test_paper_restart.py).

    python paper_proc.py DATABASE_URL HOURS [DIE_AFTER_BOOKINGS]

Runs one delta-neutral paper engine (PaperStack on synthetic data, simulated clock, one
tick per 5 minutes) from the synthetic origin — or, on a database holding a paper
checkpoint, from the tick after it — until HOURS after the origin, then writes a final
checkpoint. With DIE_AFTER_BOOKINGS > 0 the process SIGKILLs itself right after that
many ledger entries were booked (mid-tick: before the engine tells its strategy and
before the tick's commit, which holds the entries with the checkpoint). Prints one JSON
line "RESTORED ..." when it resumed and one "TICK ts side" line per tick.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from drift_engine.backtest.runner import market_events
from drift_engine.clock import SimulatedClock
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.engine.paper import PaperStack
from drift_engine.storage.database import Database
from drift_engine.strategies import DeltaNeutralStrategy

INTERVAL = 300
CONFIG = {
    "lookback_hours": 2,
    "entry_apr": 0.02,
    "exit_apr": 0.0,
    "exit_window_hours": 6,
    "retry_after_s": 0,
}


def main() -> None:
    url, hours = sys.argv[1], int(sys.argv[2])
    die_after = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    db = Database.open(url)
    stack = PaperStack(db, ["SOL-PERP"], DEFAULT_ORIGIN, epoch="run", persist=True)
    engine = stack.add_engine("dn", DeltaNeutralStrategy(CONFIG), 10_000 * 10**6)
    if stack.restored_ts is None:
        start = DEFAULT_ORIGIN
        engine.start(start)
    else:
        start = stack.restored_ts + INTERVAL
        user = stack.sim.dump()["users"]
        print(
            "RESTORED "
            + json.dumps(
                {
                    "ts": stack.restored_ts,
                    "users": user,
                    "strategy_state": engine.strategy.dump_state(),
                    "state": engine.state.value,
                }
            ),
            flush=True,
        )
    if die_after:
        sink, booked = engine.ledger, [0]
        real_book = sink.book

        def book(posting):
            new = real_book(posting)
            if new and sink._replay is not None:
                booked[0] += 1
                if booked[0] >= die_after:
                    sys.stdout.flush()
                    os.kill(os.getpid(), signal.SIGKILL)
            return new

        sink.book = book
    until = DEFAULT_ORIGIN + hours * 3600
    # the run's own data stream, resumed after the checkpoint (a stream opened at a later
    # start would begin with that moment's spot rates: not the events the run saw)
    events, _ = market_events("synthetic", ["SOL-PERP"], DEFAULT_ORIGIN, until, 7)
    events = stack.resume_events(events)

    def on_tick(result) -> None:
        print(f"TICK {result.ts} {engine.strategy.state.side}", flush=True)

    hb = stack.heartbeat(events, on_tick=on_tick)
    hb.run(SimulatedClock(start), start=start, until=until, interval_s=INTERVAL)
    engine.persist()
    stack.checkpoint(hb.last_ts if hb.last_ts is not None else start)
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
