"""A separate process that books into one vault in a loop, for the crash and concurrency
tests. It appends each idempotency key to --log only after the booking's commit returned,
so the log is a lower bound of what the database must hold.

Entries are a deterministic function of their index (`planned_entry`), so the parent can
check every booked amount, and a restarted worker replays earlier indexes (no-ops).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from drift_engine.storage import Database
from drift_engine.vaults import VaultRegistry


def planned_entry(i: int) -> tuple[str, str, int, int]:
    """(operation, key, amount, fee) of the i-th booking."""
    op = ("deposit", "fill", "transfer", "withdraw")[i % 4]
    if op == "deposit":
        return op, f"d{i}", 1_000 + i, 0
    if op == "fill":
        return op, f"fill:f{i}", (i * 7919) % 2_001 - 1_000, i % 13
    if op == "transfer":
        return op, f"transfer:t{i}", 1 + i % 5, 0
    return op, f"w{i}", 1 + i % 3, 0


def book(registry: VaultRegistry, engine: str, vault: str, partner: str | None, i: int) -> str:
    op, key, amount, fee = planned_entry(i)
    if op == "deposit":
        registry.deposit(vault, amount, key=key)
    elif op == "fill":
        registry.ledger.book_fill(engine, vault, fill_id=f"f{i}", amount=amount, fee=fee)
    elif op == "transfer" and partner is not None:
        registry.transfer(vault, partner, amount, key=f"t{i}")
    elif op == "withdraw":
        registry.withdraw(vault, amount, key=key)
    else:
        return ""
    return key


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--vault", required=True)
    parser.add_argument("--engine", required=True)
    parser.add_argument("--partner", help="vault to transfer into (crash test)")
    parser.add_argument("--log", required=True)
    parser.add_argument("--seconds", type=float, default=None, help="run this long, then exit")
    parser.add_argument("--count", type=int, default=10**9, help="stop after this many")
    parser.add_argument("--snapshot-every", type=int, default=0)
    args = parser.parse_args()

    db = Database.open(args.url)
    registry = VaultRegistry(db)
    log = os.open(args.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    print("ready", flush=True)
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    booked = 0
    for i in range(args.count):
        if deadline is not None and time.monotonic() >= deadline:
            break
        key = book(registry, args.engine, args.vault, args.partner, i)
        if key:
            os.write(log, f"{key}\n".encode())  # only after the commit returned
            booked += 1
        if args.snapshot_every and i % args.snapshot_every == 0:
            registry.snapshots.record(args.engine, args.vault, position_value=i, unrealized_pnl=0)
            registry.summary(args.vault)  # a read transaction among the writes
    os.close(log)
    db.dispose()
    print(f"done {booked}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
