"""Paper state survives a process restart: SIGKILL mid-position, restart on the same
database -> the same positions and strategy state, no entry booked twice, and the run
ends exactly where an uninterrupted one does (tests/engine/paper_proc.py is the process).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from drift_engine.engine.store import SqlEngineStore
from drift_engine.storage.database import Database
from drift_engine.vaults.registry import VaultRegistry

PROC = Path(__file__).with_name("paper_proc.py")
HOURS = 60  # enters long carry after ~14 h, exits after ~50 h (synthetic seed 7)


def run(url: str, *args: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(PROC), url, str(HOURS), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
    )


def state_of(url: str) -> tuple[dict, list, int]:
    """(last checkpoint, ledger entries of the engine's vault, ledger balance)."""
    db = Database.open(url)
    try:
        ck = SqlEngineStore(db).load_checkpoint("engine:dn")
        reg = VaultRegistry(db)
        return ck, reg.ledger.entries("dn"), reg.ledger.balance("dn")
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[dict, list, int]:
    url = f"sqlite:///{tmp_path_factory.mktemp('ref') / 'ref.db'}"
    done = run(url)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "RESTORED" not in done.stdout and "long_carry" in done.stdout
    return state_of(url)


def _assert_same_end(url: str, reference) -> None:
    ck, entries, balance = state_of(url)
    ref_ck, ref_entries, _ = reference
    # positions, orders, every account byte of the simulated Drift: as uninterrupted
    assert ck["state"]["sim"]["users"] == ref_ck["state"]["sim"]["users"]
    assert ck["state"]["sim"]["perp_markets"] == ref_ck["state"]["sim"]["perp_markets"]
    rec = ck["state"]["engines"]["dn"]["record"]
    ref_rec = ref_ck["state"]["engines"]["dn"]["record"]
    assert json.loads(rec["strategy_state"]) == json.loads(ref_rec["strategy_state"])
    assert rec["state"] == ref_rec["state"]
    # the ledger: no key twice, the same entries as the uninterrupted run, balance = sum
    keys = Counter(e.key for e in entries)
    assert keys and max(keys.values()) == 1
    assert sorted((e.key, e.kind, e.amount, e.fee) for e in entries) == sorted(
        (e.key, e.kind, e.amount, e.fee) for e in ref_entries
    )
    assert balance == sum(e.amount - e.fee for e in entries)


def _restored(stdout: str) -> dict:
    (line,) = [ln for ln in stdout.splitlines() if ln.startswith("RESTORED ")]
    return json.loads(line.removeprefix("RESTORED "))


def test_sigkill_mid_tick_after_a_booking_resumes_and_books_nothing_twice(tmp_path, reference):
    url = f"sqlite:///{tmp_path / 'paper.db'}"
    # hourly USDC interest, 2 entry fills, funding: the 30th booking is mid-position; the
    # process dies right after it, before the strategy hears of it and before the tick's
    # commit (ADR-0011: the tick's entries commit with its checkpoint, or not at all)
    killed = run(url, 30)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    ck, entries, _ = state_of(url)
    assert ck["state"]["engines"]["dn"]["record"]["state"] == "running"
    assert json.loads(ck["state"]["engines"]["dn"]["record"]["strategy_state"])["side"] == (
        "long_carry"
    )
    # nothing of the interrupted tick reached the database: every entry is the checkpoint's
    assert max(e.id for e in entries) == ck["ledger_mark"]

    resumed = run(url)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    restored = _restored(resumed.stdout)
    # the restarted process holds exactly the persisted positions and strategy state
    assert restored["users"] == ck["state"]["sim"]["users"]
    assert restored["ts"] == ck["ts"]
    assert restored["strategy_state"] == ck["state"]["engines"]["dn"]["record"]["strategy_state"]
    _assert_same_end(url, reference)


def test_sigkill_from_outside_mid_position(tmp_path, reference):
    url = f"sqlite:///{tmp_path / 'paper.db'}"
    proc = subprocess.Popen(
        [sys.executable, str(PROC), url, str(HOURS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    in_position = 0
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("TICK") and line.split()[2] == "long_carry":
            in_position += 1
            if in_position == 60:  # ~5 h into the position
                proc.send_signal(signal.SIGKILL)
                break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    ck, _, _ = state_of(url)
    assert ck is not None

    resumed = run(url)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    restored = _restored(resumed.stdout)
    assert restored["users"] == ck["state"]["sim"]["users"]
    assert restored["strategy_state"] == ck["state"]["engines"]["dn"]["record"]["strategy_state"]
    _assert_same_end(url, reference)
