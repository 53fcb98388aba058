"""Many runners, one database (issue 17): two `drift-engine run` processes share the
engines of one database, each holding some; SIGKILL one and the other picks its engine
up once the lease expired, catches it up from its checkpoint, and runs it to the end.
The ledgers are then entry for entry what one runner alone writes over the same data.

Runs on SQLite, and on PostgreSQL under `scripts/with_postgres.sh` (the deployment
case: runners on several machines, one PostgreSQL).
"""

from __future__ import annotations

import signal
import time
from typing import Any

from drift_engine.engine.lease import Leases, engine_lease
from drift_engine.storage.testing import throwaway_database_url
from tests.engine.run_helpers import (
    checkpoint,
    clean_env,
    ledger,
    open_db,
    popen_cmd,
    run_cmd,
    write_config,
)

ENGINES = ("dn-sol", "dn-btc")
UNTIL = "2026-01-03"  # 48 hours of the seed-7 synthetic data (from 2026-01-01)


def ledgers(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Each engine's vault ledger: (key with the engine's epoch taken out, kind, amount,
    fee), in booking order; no key twice."""
    out = {}
    for engine_id in ENGINES:
        ck = checkpoint(url, engine_id)
        assert ck is not None
        entries, balance = ledger(url, engine_id)
        assert len({e.key for e in entries}) == len(entries), f"{engine_id}: a key twice"
        assert balance == sum(e.amount - e.fee for e in entries)
        out[engine_id] = [
            (e.key.replace(ck["epoch"], "EPOCH"), e.kind.value, e.amount, e.fee) for e in entries
        ]
    return out


def first_difference(engine_id: str, got: list[Any], want: list[Any], log: str) -> str:
    """Where two ledgers part: the entries around the first difference, and the runner's
    log lines about the pick-up (what a failure needs to be understood)."""
    i = next((k for k, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), None)
    if i is None:
        i = min(len(got), len(want))
    lo = max(0, i - 3)
    lines = [f"{engine_id}: ledgers part at entry {i} (runner {len(got)}, alone {len(want)})"]
    lines += [f"  runner {k}: {e}" for k, e in enumerate(got[lo : i + 4], lo)]
    lines += [f"  alone  {k}: {e}" for k, e in enumerate(want[lo : i + 4], lo)]
    lines += [ln for ln in log.splitlines() if "dn-sol" in ln][:20]
    return "\n".join(lines)


def holders(url: str) -> dict[str, int]:
    db = open_db(url)
    try:
        held = Leases.read(db)
    finally:
        db.dispose()
    return {e: held[engine_lease(e)].holder.pid for e in ENGINES if engine_lease(e) in held}


def read_until(proc: Any, text: str, seen: list[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if text in line:
            return
    raise AssertionError(f"no {text!r} in: " + "".join(seen)[-3000:])


def test_a_runner_takes_over_the_engines_of_one_that_died(database_url, tmp_path):
    config = write_config(tmp_path, ENGINES, speed=10_000, lease_s=3)  # 48 h in ~17 s
    args = ("run", "--config", str(config), "--until", UNTIL)

    # what one runner alone writes over the same data
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    (tmp_path / "alone").mkdir()
    with throwaway_database_url(backend, tmp_path / "alone") as alone:
        r = run_cmd(clean_env(alone), *args, "--speed", "1e9")
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        expected = ledgers(alone)

    env = clean_env(database_url)
    first_out: list[str] = []
    second_out: list[str] = []
    first = popen_cmd(env, *args, "--engines", "dn-sol")
    second = None
    try:
        read_until(first, "running 1 engine", first_out)
        # the second runner selects both: it runs dn-btc and waits for dn-sol
        second = popen_cmd(env, *args, "--standby")
        read_until(second, "waiting for dn-sol", second_out)
        assert holders(database_url) == {"dn-sol": first.pid, "dn-btc": second.pid}
        # the first runner dies once its engine is in its carry (and has booked fills)
        read_until(first, "long_carry", first_out)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
        took = time.monotonic()
        read_until(second, "picked up dn-sol", second_out)
        assert time.monotonic() - took < 120
        out, err = second.communicate(timeout=240)
        second_out.append(out)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=60)
    text = "".join(second_out)
    assert second.returncode == 0, text[-3000:] + err[-3000:]
    assert "done" in text and "Traceback" not in text + err
    got = ledgers(database_url)
    for engine_id in ENGINES:
        assert got[engine_id] == expected[engine_id], first_difference(
            engine_id, got[engine_id], expected[engine_id], text
        )
    assert holders(database_url) == {}  # released on a clean exit


def test_an_engine_caught_up_to_an_hour_boundary_sees_that_hours_events(database_url, tmp_path):
    """Runs that stop and resume on an hour boundary lose nothing: the funding record and
    prices stamped exactly at a run's last tick (or at the tick a lagging engine catches
    up to) are applied once, as one run straight through applies them."""
    config = write_config(tmp_path, ENGINES)
    args = ("run", "--config", str(config))

    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    (tmp_path / "alone").mkdir()
    with throwaway_database_url(backend, tmp_path / "alone") as alone:
        r = run_cmd(clean_env(alone), *args, "--until", UNTIL)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        expected = ledgers(alone)

    env = clean_env(database_url)
    # dn-sol enters its carry ~18 h in; it stops on an hour boundary in its carry, dn-btc
    # runs alone to a later hour boundary, then one runner carries both to the end: dn-sol
    # catches up from its checkpoint to dn-btc's, which is an hour boundary too
    for extra in (
        ("--engines", "dn-sol", "--until", "2026-01-01T21:00"),
        ("--engines", "dn-btc", "--until", "2026-01-02T06:00"),
        ("--until", UNTIL),
    ):
        r = run_cmd(env, *args, *extra)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    got = ledgers(database_url)
    for engine_id in ENGINES:
        assert got[engine_id] == expected[engine_id], first_difference(
            engine_id, got[engine_id], expected[engine_id], r.stdout
        )
