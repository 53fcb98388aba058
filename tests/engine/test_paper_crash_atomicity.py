"""What a crash of `drift-engine run` (paper) may leave behind — nothing half done
(ADR-0011):

* a kill lost in a crash: the operator command, the flatten fills it causes and the
  checkpoint commit as one unit, so a restart sees all of them or none;
* a crash between creating and funding an engine's vault: the vault, its capital and the
  engine's record are one transaction; an engine with no capital refuses to run;
* a market added to the config of an existing paper database joins the restored
  simulator.
"""

from __future__ import annotations

import signal
from collections import Counter

import pytest

from tests.engine.run_helpers import (
    clean_env,
    engine_account,
    ledger,
    open_db,
    records,
    restart_cmd,
    run_cmd,
    write_config,
)

USDC = 1_000_000


@pytest.fixture
def setup(tmp_path):
    url = f"sqlite:///{tmp_path / 'engines.db'}"
    return tmp_path, url, clean_env(url)


def test_a_kill_crashed_mid_flatten_is_all_or_nothing(setup):
    tmp, url, env = setup
    config = write_config(tmp, lease_s=1)
    run = ("run", "--config", str(config))
    assert run_cmd(env, *run, "--hours", "24").returncode == 0
    before = engine_account(url, "dn-sol")
    assert before["perp_base"] != 0  # in the carry
    booked = [e.key for e in ledger(url, "dn-sol")[0]]
    assert run_cmd(env, "engines", "kill", "dn-sol").returncode == 0

    died = run_cmd(env, *run, "--hours", "1", die="kill-fill")
    assert died.returncode == -signal.SIGKILL, died.stderr[-2000:]
    # nothing of the applying tick reached the database: the position is still open in
    # the checkpoint, and no flatten fill is booked for it
    assert engine_account(url, "dn-sol")["perp_base"] == before["perp_base"]
    assert [e.key for e in ledger(url, "dn-sol")[0]] == booked

    again = restart_cmd(env, *run, "--hours", "1")
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    after = engine_account(url, "dn-sol")
    assert after["state"] == "halted" and after["perp_base"] == 0
    entries, balance = ledger(url, "dn-sol")
    assert max(Counter(e.key for e in entries).values()) == 1
    # flat: the ledger's cash is what the sub-account holds (to the value of spot dust
    # below the order step); before ADR-0011 the flatten fills stayed booked while the
    # engine came back RUNNING with its position
    assert balance == pytest.approx(after["equity"], abs=USDC)


def test_a_crash_between_creating_and_funding_a_vault_leaves_no_empty_engine(setup):
    tmp, url, env = setup
    config = write_config(tmp, lease_s=1)
    run = ("run", "--config", str(config))
    died = run_cmd(env, *run, "--hours", "1", die="vault-created")
    assert died.returncode == -signal.SIGKILL, died.stderr[-2000:]

    again = restart_cmd(env, *run, "--hours", "1")
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    account = engine_account(url, "dn-sol")
    assert account["equity"] == pytest.approx(10_000 * USDC, rel=1e-3)
    entries, balance = ledger(url, "dn-sol")
    assert [e.amount for e in entries if e.kind.value == "transfer_in"] == [10_000 * USDC]
    assert balance == pytest.approx(account["equity"], abs=USDC)


def test_an_engine_without_capital_refuses_to_run(setup):
    tmp, url, env = setup
    from drift_engine.vaults.registry import VaultRegistry

    db = open_db(url)
    try:  # what an interrupted creation left before ADR-0011: a vault never funded
        VaultRegistry(db).create_vault("dn-sol", "dn-sol", active=True)
    finally:
        db.dispose()
    r = run_cmd(env, "run", "--config", str(write_config(tmp)), "--hours", "1")
    assert r.returncode == 1
    out = " ".join(r.stderr.split())  # the one error line (commands/errors.py)
    assert out.startswith("error: refusing to run") and len(r.stderr.splitlines()) == 1
    assert "refusing to run" in out and "'dn-sol' holds no capital" in out
    assert "Traceback" not in r.stdout + r.stderr
    assert records(url)["dn-sol"].state == "stopped"  # bound, never started

    r = run_cmd(env, "vaults", "deposit", "dn-sol", "2500")
    assert r.returncode == 0 and "queued" in r.stdout  # for the engine's next run
    r = run_cmd(env, "run", "--config", str(write_config(tmp)), "--hours", "1")
    assert r.returncode == 0, r.stdout[-2000:]
    assert engine_account(url, "dn-sol")["equity"] == pytest.approx(2_500 * USDC, rel=1e-3)


def test_adding_a_market_to_an_existing_paper_database(setup):
    tmp, url, env = setup
    sol_only = write_config(tmp, ("dn-sol",), name="sol.toml")
    assert run_cmd(env, "run", "--config", str(sol_only), "--hours", "24").returncode == 0
    sol = engine_account(url, "dn-sol")
    assert sol["perp_base"] != 0

    both = write_config(tmp, ("dn-sol", "dn-btc"), name="both.toml")
    r = run_cmd(env, "run", "--config", str(both), "--hours", "6")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    # the new engine trades in a simulator of its own (ADR-0019): nothing is added to
    # dn-sol's saved simulator, which carries on untouched
    assert "added" not in r.stdout
    sol_after, btc = engine_account(url, "dn-sol"), engine_account(url, "dn-btc")
    assert sol_after["perp_base"] == sol["perp_base"]  # the SOL carry carried on
    assert btc["state"] == "running"
    assert btc["equity"] == pytest.approx(10_000 * USDC, rel=0.01)
    # and once more from that checkpoint: both markets are in it now
    r = run_cmd(env, "run", "--config", str(both), "--hours", "1")
    assert r.returncode == 0 and "added" not in r.stdout
