"""The SIGKILL loop: `drift-engine run` (paper, two engines) killed again and again —
from outside at random moments, and from inside right after a capital move was applied,
in the middle of a kill switch's flatten, after a random number of bookings — restarted
each time, ends entry for entry where an uninterrupted run ends: the same ledger entries
in every vault, the same simulated accounts, the same engine states, every operator
command applied (or refused) exactly once, at the same tick (ADR-0011).

The operator commands and capital moves are queued before the runs with the tick that
applies them (`due_ts`), so both runs meet them at the same engine time.
"""

from __future__ import annotations

import json
import random
import signal
import time
from collections import Counter
from datetime import UTC, datetime

from drift_engine.data.synthetic import DEFAULT_ORIGIN
from tests.engine.run_helpers import (
    checkpoint,
    clean_env,
    open_db,
    popen_cmd,
    restart_cmd,
    run_cmd,
    write_config,
)

H = 3600
USDC = 1_000_000
END_H = 54
SEED = 20_261_202

#: (hour, engine, kind, amount USDC, counterparty) — applied at DEFAULT_ORIGIN + hour
COMMANDS = [
    (3, "dn-sol", "deposit", 1_000, None),
    (6, "dn-btc", "transfer_in", 1_500, "treasury"),
    (20, "dn-sol", "transfer_out", 500, "dn-btc"),
    (22, "dn-sol", "withdraw", 9_000, None),  # in the carry: refused (would borrow)
    (24, "dn-btc", "pause", None, None),
    (26, "dn-btc", "start", None, None),
    (30, "dn-sol", "kill", None, None),
    (31, "dn-sol", "pause", None, None),  # weaker than the kill: changes nothing
    (32, "dn-sol", "withdraw", 3_000, None),  # flat after the kill: applied
    (40, "dn-sol", "start", None, None),
    (50, "dn-btc", "withdraw", 200, None),
]


def _prepare(url: str) -> None:
    """Queue COMMANDS (with their ticks) and give the treasury something to transfer."""
    from drift_engine.engine.commands import CommandQueue
    from drift_engine.vaults.registry import VaultRegistry

    db = open_db(url)
    try:
        reg = VaultRegistry(db)
        reg.deposit(reg.treasury().id, 5_000 * USDC, key="treasury-top-up")
        queue = CommandQueue(db)
        for i, (hour, engine, kind, amount, other) in enumerate(COMMANDS):
            queue.enqueue(
                engine,
                kind,
                amount=None if amount is None else amount * USDC,
                vault=engine if amount is not None else None,
                counterparty=other,
                key=f"loop-{i}",
                source="test",
                due_ts=DEFAULT_ORIGIN + hour * H,
            )
    finally:
        db.dispose()


def _end_state(url: str) -> dict:
    """Everything the comparison looks at, with each engine's epoch taken out of its
    vault's keys (each paper engine has its own simulator and checkpoint, ADR-0019)."""
    from drift_engine.engine.commands import CommandQueue
    from drift_engine.vaults.registry import VaultRegistry

    cks = {e: checkpoint(url, e) for e in ("dn-sol", "dn-btc")}
    assert all(ck is not None for ck in cks.values())
    epochs = {e: ck["epoch"] for e, ck in cks.items()}
    db = open_db(url)
    try:
        reg = VaultRegistry(db)
        ledgers = {}
        for vault in ("dn-sol", "dn-btc", "treasury"):
            entries = reg.ledger.entries(vault)
            keys = Counter(e.key for e in entries)
            assert max(keys.values()) == 1, f"{vault}: a key booked twice"
            epoch = epochs.get(vault)
            ledgers[vault] = sorted(
                (e.key.replace(epoch, "EPOCH") if epoch else e.key, e.kind.value, e.amount, e.fee)
                for e in entries
            )
        commands = [
            (c.key, c.kind, c.status, c.due_ts, c.result) for c in CommandQueue(db).history()
        ]
    finally:
        db.dispose()
    return {
        "ts": {e: ck["ts"] for e, ck in cks.items()},
        "users": {e: ck["state"]["sim"]["users"] for e, ck in cks.items()},
        "perp_markets": {e: ck["state"]["sim"]["perp_markets"] for e, ck in cks.items()},
        "spot_markets": {e: ck["state"]["sim"]["spot_markets"] for e, ck in cks.items()},
        "engines": {
            e: (
                info["record"]["state"],
                json.loads(info["record"]["strategy_state"]),
                info["record"]["high_water_mark"],
            )
            for ck in cks.values()
            for e, info in ck["state"]["engines"].items()
        },
        "ledgers": ledgers,
        "commands": sorted(commands),
    }


def test_random_sigkills_around_commands_and_capital_moves_change_nothing(tmp_path):
    until = datetime.fromtimestamp(DEFAULT_ORIGIN + END_H * H, UTC).isoformat()
    config = write_config(tmp_path, ("dn-sol", "dn-btc"), lease_s=1)
    args = ("run", "--config", str(config), "--until", until)

    ref_url = f"sqlite:///{tmp_path / 'reference.db'}"
    _prepare(ref_url)
    done = run_cmd(clean_env(ref_url), *args)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    reference = _end_state(ref_url)
    statuses = Counter(c[2] for c in reference["commands"])
    assert statuses == {"applied": len(COMMANDS) - 1, "refused": 1}
    assert reference["engines"]["dn-sol"][0] == "running"  # killed at 30 h, started at 40 h

    url = f"sqlite:///{tmp_path / 'killed.db'}"
    _prepare(url)
    env = clean_env(url)
    rng = random.Random(SEED)
    # first die where it matters, then wherever the dice say
    plan = ["capital", "kill-fill", "capital", "outside", f"bookings:{rng.randint(1, 40)}"]
    plan.append(rng.choice(["outside", f"bookings:{rng.randint(1, 60)}"]))
    kills = 0
    for how in plan:
        if how == "outside":
            proc = popen_cmd(env, *args)
            time.sleep(rng.uniform(0.5, 4.0))
            proc.send_signal(signal.SIGKILL)
            out, err = proc.communicate(timeout=120)
            if proc.returncode == 0:
                break  # it finished first
            if proc.returncode == 1 and "refusing to start" in err:
                time.sleep(1)  # the last one's lease had not expired yet
                continue
            assert proc.returncode == -signal.SIGKILL, out[-2000:] + err[-2000:]
            kills += 1
            continue
        died = restart_cmd(env, *args, die=how)
        if died.returncode == 0:
            continue  # this run never reached that moment (e.g. no capital move left)
        assert died.returncode == -signal.SIGKILL, died.stdout[-2000:] + died.stderr[-2000:]
        kills += 1
    assert kills >= 4
    final = restart_cmd(env, *args)
    assert final.returncode == 0, final.stdout[-2000:] + final.stderr[-2000:]

    assert _end_state(url) == reference
