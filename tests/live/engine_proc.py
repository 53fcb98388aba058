"""A live engine process for the restart test: `python -m tests.live.engine_proc RPC_URL
KEYPAIR_FILE DATABASE_URL ENGINE_ID`.

It checks LIVE is allowed, connects, runs the startup reconciliation, then ticks the
heartbeat (board fed from the chain's own accounts) until killed, logging at DEBUG to
stderr and printing `READY` / `TICK <ts> <state>` lines to stdout.
"""

from __future__ import annotations

import logging
import sys
import time

from drift_engine.engine.market_board import MarketBoard
from drift_engine.live.client import DriftClient, DriftClientConfig
from drift_engine.live.start import (
    ChainMarketData,
    LiveEngineStack,
    LiveRunner,
    check_live_allowed,
)
from drift_engine.storage.database import Database
from tests.live.live_helpers import dn_strategy


def main(argv: list[str]) -> int:
    url, keypair_path, database_url, engine_id = argv
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    path = check_live_allowed(True, keypair_path)
    config = DriftClientConfig(
        rpc_url=url,
        confirm_timeout_s=1.0,
        confirm_poll_s=0.05,
        backoff_initial_s=0.01,
        backoff_max_s=0.05,
    )
    client = DriftClient.from_keypair_file(config, path)
    db = Database.open(database_url)
    stack = LiveEngineStack(db, client, engine_id=engine_id)
    board = MarketBoard(["SOL-PERP"])
    market_data = ChainMarketData(board)
    state = client.run(client.connect())
    ts = market_data.update(state)
    engine = stack.start(dn_strategy(), board, ts)
    if engine.state.value == "stopped":
        engine.start(ts)
    runner = LiveRunner([stack], board, store=stack.store, market_data=market_data)
    print("READY", stack.report.booked_fills, stack.report.cancelled_orders, flush=True)
    last = ts
    while True:
        ts = max(runner.feed(), last)  # chain time: the latest funding update
        result = runner.heartbeat.tick(ts)
        last = ts
        print(f"TICK {ts} {engine.state.value} errors={len(result.errors)}", flush=True)
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
