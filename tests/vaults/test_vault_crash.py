"""Crash safety: a booking process SIGKILLed at random moments loses nothing it
committed, books nothing twice, and leaves balances equal to the sums of entries."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from booking_worker import planned_entry

from drift_engine.storage import Database
from drift_engine.vaults import EntryKind, VaultRegistry

WORKER = Path(__file__).with_name("booking_worker.py")
ROUNDS = 5


def _start_worker(url: str, log: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), url, "--vault", "main", "--engine", "crashy",
         "--partner", "side", "--log", str(log), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def test_sigkill_loses_nothing_committed_and_books_nothing_twice(
    database_url: str, tmp_path: Path
) -> None:
    db = Database.open(database_url)
    registry = VaultRegistry(db)
    registry.create_vault("main", "crashy")
    registry.create_vault("side", "crashy")
    log = tmp_path / "committed.log"
    rng = random.Random(20260301)

    for _round in range(ROUNDS):
        worker = _start_worker(database_url, log)
        assert worker.stdout is not None and worker.stdout.readline() == "ready\n", (
            worker.stderr.read() if worker.stderr else ""
        )
        time.sleep(rng.uniform(0.1, 0.6))
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        assert worker.returncode == -signal.SIGKILL

    # "Restart": a fresh handle on the database, as the app gets when it starts again.
    db.dispose()
    db = Database.open(database_url)
    registry = VaultRegistry(db)
    committed = set(log.read_text().split())
    assert committed, "the worker never committed anything before being killed"

    main, side = registry.ledger.entries("main"), registry.ledger.entries("side")
    keys = Counter(e.key for e in main)
    assert all(n == 1 for n in keys.values()), "a key was booked twice"
    assert committed <= set(keys), f"lost committed entries: {committed - set(keys)}"
    # At most one booking per kill can be committed but not yet logged.
    assert len(set(keys) - committed) <= ROUNDS
    for entry in main:  # every entry is exactly the planned one
        index = int(entry.key.split(":")[-1].lstrip("dftw"))
        op, key, amount, fee = planned_entry(index)
        signed = -amount if op in ("withdraw", "transfer") else amount
        assert (entry.key, entry.amount, entry.fee) == (key, signed, fee)
    # Transfers are whole: every TRANSFER_OUT in main has its TRANSFER_IN in side.
    outs = {e.key: -e.amount for e in main if e.kind is EntryKind.TRANSFER_OUT}
    ins = {e.key: e.amount for e in side}
    assert outs == ins
    for vault, entries in (("main", main), ("side", side)):
        assert registry.ledger.balance(vault) == sum(e.net for e in entries)
        assert registry.summary(vault).balance == sum(e.net for e in entries)
    db.dispose()
