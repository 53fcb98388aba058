"""Helpers for tests that drive `drift-engine run` (in this process or another): a small
synthetic-data config, a clean environment, and reads of what a run left in the database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

ENGINE = """
[[engines]]
id = "{id}"
capital_usdc = 10000.0
[engines.params]
market = "{market}"
lookback_hours = 2
entry_apr = 0.02
exit_apr = 0.0
exit_window_hours = 6
retry_after_s = 0
"""

#: seed-7 synthetic data, one tick per 5 simulated minutes: the SOL engine enters a long
#: carry about 18 h in and exits about 54 h in.
CONFIG = """
[data]
source = "synthetic"
seed = 7
speed = {speed}

[heartbeat]
interval_s = 300
snapshot_every_s = 3600
"""

MARKETS = {"dn-sol": "SOL-PERP", "dn-btc": "BTC-PERP"}


def write_config(
    directory: Path,
    engines: tuple[str, ...] = ("dn-sol",),
    *,
    speed: float = 1e9,
    lease_s: float | None = None,
    name: str = "engines.toml",
) -> Path:
    text = CONFIG.format(speed=speed)
    from drift_engine.engine.config_file import HeartbeatSpec

    if lease_s is not None and "lease_s" in HeartbeatSpec.model_fields:  # (not before ADR-0011)
        text = text.replace("[heartbeat]\n", f"[heartbeat]\nlease_s = {lease_s}\n")
    for engine_id in engines:
        text += ENGINE.format(id=engine_id, market=MARKETS[engine_id])
    path = directory / name
    path.write_text(text)
    return path


def clean_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a `drift-engine` subprocess: no stray DRIFT_ENGINE_* settings
    (they are refused), the test's database, the repository importable."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith("DRIFT_ENGINE") and k != "DATABASE_URL"
    }
    env["DATABASE_URL"] = database_url
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(ROOT)) if p)
    env.update(extra)
    return env


def run_cmd(
    env: dict[str, str], *args: str, die: str | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """`drift-engine ARGS` in a subprocess (tests/engine/run_proc.py), dying as `die` says."""
    full = dict(env)
    if die:
        full["RUN_PROC_DIE"] = die
    return subprocess.run(
        [sys.executable, "-m", "tests.engine.run_proc", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full,
        cwd=str(ROOT),
    )


def restart_cmd(env: dict[str, str], *args: str, **kw: Any) -> subprocess.CompletedProcess:
    """`run_cmd`, again while the runner that died still holds its leases (a restart
    right after a crash waits for them to expire: the config's short `lease_s`)."""
    import time

    for _ in range(240):
        done = run_cmd(env, *args, **kw)
        if done.returncode == 1 and "refusing to start" in done.stderr:
            time.sleep(0.25)
            continue
        return done
    raise AssertionError(f"the leases never expired: {done.stdout[-500:]}")


def popen_cmd(env: dict[str, str], *args: str, die: str | None = None) -> subprocess.Popen:
    full = dict(env)
    if die:
        full["RUN_PROC_DIE"] = die
    return subprocess.Popen(
        [sys.executable, "-m", "tests.engine.run_proc", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full,
        cwd=str(ROOT),
    )


# --------------------------------------------------------------------------- reading
def open_db(url: str) -> Any:
    from drift_engine.storage.database import Database

    return Database.open(url)


def checkpoint(url: str, engine_id: str) -> dict | None:
    """The last checkpoint of an engine's paper cell (its own simulator, ADR-0019)."""
    from drift_engine.engine.paper import cell_checkpoint
    from drift_engine.engine.store import SqlEngineStore

    db = open_db(url)
    try:
        return SqlEngineStore(db).load_checkpoint(cell_checkpoint(engine_id))
    finally:
        db.dispose()


def engine_account(url: str, engine_id: str) -> dict[str, Any]:
    """What the last checkpoint holds for one engine: its state, its sub-account's equity
    (micro-USDC, at the checkpoint's oracle prices), USDC deposit and perp base amount."""
    from drift_engine.sim import DriftSimulator
    from drift_engine.venues.paper import PaperVenue

    ck = checkpoint(url, engine_id)
    assert ck is not None, "no paper checkpoint"
    info = ck["state"]["engines"][engine_id]
    sim = DriftSimulator.load(ck["state"]["sim"])
    key = next(k for k in sim.accounts if k[1] == info["sub_account_id"])
    venue = PaperVenue(sim, key)
    perp = MARKETS[engine_id]
    pos = sim.perp_position(key, perp)
    from drift_engine.engine.market_board import spot_symbol_for

    spot = spot_symbol_for(perp)
    return {
        "state": info["record"]["state"],
        "equity": venue.equity(),
        "usdc": sim.token_amount(key, "USDC"),
        "perp_base": 0 if pos is None else pos.base_asset_amount,
        "spot_base": sim.token_amount(key, spot),
        "high_water_mark": info["record"]["high_water_mark"],
        "ts": ck["ts"],
    }


def ledger(url: str, vault: str) -> tuple[list[Any], int]:
    """(entries, balance) of a vault."""
    from drift_engine.vaults.registry import VaultRegistry

    db = open_db(url)
    try:
        reg = VaultRegistry(db)
        return reg.ledger.entries(vault), reg.ledger.balance(vault)
    finally:
        db.dispose()


def records(url: str) -> dict[str, Any]:
    from drift_engine.engine.store import SqlEngineStore

    db = open_db(url)
    try:
        return {r.engine_id: r for r in SqlEngineStore(db).records()}
    finally:
        db.dispose()


def summary(url: str, vault: str) -> Any:
    from drift_engine.vaults.registry import VaultRegistry

    db = open_db(url)
    try:
        return VaultRegistry(db).summary(vault)
    finally:
        db.dispose()
