"""One runner per engine (ADR-0011): leases in the database, on SQLite and PostgreSQL.

The primitives: taking a set of leases is all or nothing, only one of many racing runners
wins, a lease is taken over only after it expired, a runner that lost its lease commits
nothing more (the paper tick's commit renews it and rolls back if it cannot). And the
real thing: two `drift-engine run` on one database — the second refuses, naming the
first's process, and takes over only once the first (SIGKILLed) let its lease expire.
"""

from __future__ import annotations

import signal
import threading

import pytest
from tests.engine.run_helpers import (
    clean_env,
    ledger,
    popen_cmd,
    restart_cmd,
    run_cmd,
    write_config,
)

from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.engine.lease import (
    Holder,
    LeaseHeldError,
    LeaseLostError,
    Leases,
    engine_lease,
    stack_lease,
)


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def leases(db, pid: int, clock: Clock, ttl: float = 10) -> Leases:
    return Leases(db, holder=Holder("host-a", pid, 1), ttl_s=ttl, clock=clock)


def test_a_lease_is_taken_over_only_after_it_expired(db):
    clock = Clock()
    first, second = leases(db, 101, clock), leases(db, 202, clock)
    assert first.acquire([engine_lease("dn-sol")]) == []
    clock.t += 9.9
    with pytest.raises(LeaseHeldError, match="engine dn-sol is held by another runner: pid 101"):
        second.acquire([engine_lease("dn-sol")])
    first.renew()  # the holder renews: 10 more seconds
    clock.t += 9.9
    with pytest.raises(LeaseHeldError):
        second.acquire([engine_lease("dn-sol")])
    clock.t += 0.2  # expired now
    (taken,) = second.acquire([engine_lease("dn-sol")])
    assert taken.holder.pid == 101
    with pytest.raises(LeaseLostError, match="pid 202"):
        first.renew()
    first.release()  # releases nothing it no longer holds
    assert Leases.read(db)[engine_lease("dn-sol")].holder.pid == 202
    second.release()
    assert Leases.read(db) == {}


def test_taking_several_leases_is_all_or_nothing(db):
    clock = Clock()
    a, b = leases(db, 1, clock), leases(db, 2, clock)
    b.acquire([engine_lease("dn-btc")])
    with pytest.raises(LeaseHeldError, match="dn-btc"):
        a.acquire([stack_lease("paper"), engine_lease("dn-sol"), engine_lease("dn-btc")])
    assert set(Leases.read(db)) == {engine_lease("dn-btc")}  # a took nothing


def test_one_of_many_racing_runners_wins(db):
    clock = Clock()
    racers = [leases(db, pid, clock) for pid in range(8)]
    start = threading.Barrier(len(racers))
    won: list[int] = []
    refused: list[int] = []

    def race(lease: Leases) -> None:
        start.wait()
        try:
            lease.acquire([stack_lease("paper"), engine_lease("dn-sol")])
            won.append(lease.holder.pid)
        except LeaseHeldError:
            refused.append(lease.holder.pid)

    threads = [threading.Thread(target=race, args=(r,)) for r in racers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(refused) == len(racers) - 1
    held = Leases.read(db)
    assert {info.holder.pid for info in held.values()} == set(won)


def test_a_runner_that_lost_its_lease_commits_nothing(db):
    from drift_engine.engine.paper import PaperStack
    from drift_engine.strategies import DeltaNeutralStrategy
    from drift_engine.vaults.registry import VaultRegistry

    clock = Clock()
    mine = leases(db, 1, clock)
    mine.acquire([stack_lease("paper"), engine_lease("dn-sol")])
    stack = PaperStack(db, ["SOL-PERP"], DEFAULT_ORIGIN, epoch="f", persist=True)
    stack.leases = mine
    engine = stack.add_engine(
        "dn-sol", DeltaNeutralStrategy({"market": "SOL-PERP"}), 10_000 * 10**6
    )
    engine.start(DEFAULT_ORIGIN)
    stack.checkpoint(DEFAULT_ORIGIN)
    entries = VaultRegistry(db).ledger.entries("dn-sol")

    clock.t += 11  # this runner stalled past its lease; another one took the engine
    leases(db, 2, clock).acquire([stack_lease("paper"), engine_lease("dn-sol")])
    engine.kill(DEFAULT_ORIGIN + 60, "a write the new holder must never see")
    with pytest.raises(LeaseLostError):
        stack.checkpoint(DEFAULT_ORIGIN + 60)
    assert VaultRegistry(db).ledger.entries("dn-sol") == entries
    assert stack.store.load_checkpoint(engine_lease("dn-sol"))["ts"] == DEFAULT_ORIGIN
    assert stack.store.load("dn-sol").state == "running"


def test_two_runners_on_one_database(database_url, tmp_path):
    """The second `drift-engine run` refuses while the first lives, naming it; after the
    first is SIGKILLed it takes over only once the lease expired."""
    from drift_engine.storage import Database

    config = write_config(tmp_path, speed=60, lease_s=15)  # a 5-minute tick every 5 s
    env = clean_env(database_url)
    args = ("run", "--config", str(config))
    first = popen_cmd(env, *args, "--hours", "10000")
    try:
        assert first.stdout is not None
        for line in first.stdout:
            if line.startswith("running 1 engine"):
                break
        second = run_cmd(env, *args, "--hours", "1", "--speed", "1e9")
        assert second.returncode == 1, second.stdout + second.stderr
        out = " ".join(second.stderr.split())  # the refusal is on stderr
        assert "refusing to start" in out and f"pid {first.pid} on" in out
        assert "Traceback" not in second.stdout + second.stderr
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)

    db = Database.open(database_url)
    try:  # right after the kill the lease still stands: nobody may take the engine
        with pytest.raises(LeaseHeldError, match=f"pid {first.pid}"):
            Leases(db, holder=Holder("other", 1, 0)).acquire([engine_lease("dn-sol")])
    finally:
        db.dispose()

    second = restart_cmd(env, *args, "--hours", "1", "--speed", "1e9")
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    out = " ".join(second.stdout.split())
    assert f"took over engine:dn-sol from pid {first.pid}" in out
    assert "(its lease had expired)" in out
    entries, balance = ledger(database_url, "dn-sol")
    assert len({e.key for e in entries}) == len(entries)
    assert balance == sum(e.amount - e.fee for e in entries)
    db = Database.open(database_url)
    try:
        assert Leases.read(db) == {}  # released on a clean exit
    finally:
        db.dispose()
