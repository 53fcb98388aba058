"""Capital moves reach the engine (ADR-0011): `vaults deposit|withdraw|transfer` on a vault
that powers a paper engine is applied to its simulated sub-account by the engine's runner
at a tick boundary, booked once, in the same commit as the tick — or refused with a
reason. PnL stays measured against net capital in: a withdrawal is neither a loss for the
risk checks nor a profit in `vaults show`."""

from __future__ import annotations

import os
import signal

import pytest
from typer.testing import CliRunner

from drift_engine.cli import app
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.engine.paper import PaperStack
from drift_engine.storage.database import Database
from drift_engine.storage.enums import EntryKind
from drift_engine.strategies import DeltaNeutralStrategy
from tests.childproc import stop_child
from tests.engine.run_helpers import (
    clean_env,
    engine_account,
    ledger,
    popen_cmd,
    restart_cmd,
    run_cmd,
    summary,
    write_config,
)

USDC = 1_000_000
CAPITAL = {EntryKind.DEPOSIT, EntryKind.WITHDRAW, EntryKind.TRANSFER_IN, EntryKind.TRANSFER_OUT}
runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.upper().startswith("DRIFT_ENGINE"):
            monkeypatch.delenv(name)
    url = f"sqlite:///{tmp_path / 'engines.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return tmp_path, url


def invoke(*args: str):
    return runner.invoke(app, list(args))


def run(config, hours: float):
    r = invoke("run", "--config", str(config), "--hours", str(hours))
    assert r.exit_code == 0, r.output
    return r


def test_a_withdrawal_reaches_the_sub_account_and_is_not_pnl(env):
    tmp, url = env
    config = write_config(tmp)
    run(config, 62)  # entered (~18 h) and exited (~54 h): flat, about 9,966 USDC
    flat = engine_account(url, "dn-sol")
    assert flat["perp_base"] == 0 and flat["state"] == "running"

    r = invoke("vaults", "withdraw", "dn-sol", "6000")
    assert r.exit_code == 0, r.output
    assert "queued" in r.output  # no runner holds the engine now
    assert not [e for e in ledger(url, "dn-sol")[0] if e.kind is EntryKind.WITHDRAW]
    assert "waiting for engine 'dn-sol'" in " ".join(
        invoke("vaults", "show", "dn-sol").output.split()
    )

    run(config, 1)
    after = engine_account(url, "dn-sol")
    # the sub-account paid it: 6,000 USDC less, and flat, so no market move in between
    assert flat["equity"] - after["equity"] == pytest.approx(6000 * USDC, abs=USDC)
    assert after["state"] == "running"  # a 60% withdrawal is no drawdown for the risk checks
    assert after["high_water_mark"] < flat["high_water_mark"] * 0.41
    entries, balance = ledger(url, "dn-sol")
    withdrawals = [e for e in entries if e.kind is EntryKind.WITHDRAW]
    assert [e.amount for e in withdrawals] == [-6000 * USDC]
    # the ledger mirrors the flat sub-account: its cash is the sub-account's equity (but
    # for the value of a little spot interest dust below the order step)
    assert balance == pytest.approx(after["equity"], abs=USDC)
    s = summary(url, "dn-sol")
    assert s.net_deposits == 4000 * USDC
    assert abs(s.realized_pnl) < 50 * USDC  # not +6,000: the withdrawal is no profit
    assert abs(s.equity - after["equity"]) < USDC


def test_deposit_and_transfers_between_engines_and_the_treasury(tmp_path):
    from drift_engine.engine.commands import CommandQueue
    from drift_engine.vaults.errors import EngineBoundVaultError

    db = Database.open(f"sqlite:///{tmp_path / 'paper.db'}")
    try:
        stack = PaperStack(db, ["SOL-PERP", "BTC-PERP"], DEFAULT_ORIGIN, epoch="c", persist=True)
        sol = stack.add_engine(
            "dn-sol", DeltaNeutralStrategy({"market": "SOL-PERP"}), 10_000 * USDC
        )
        btc = stack.add_engine(
            "dn-btc", DeltaNeutralStrategy({"market": "BTC-PERP"}), 10_000 * USDC
        )
        for e in (sol, btc):
            e.start(DEFAULT_ORIGIN)
        reg = stack.registry
        reg.deposit(reg.treasury().id, 5_000 * USDC, key="more")
        # a vault powering a paper engine is never booked alone
        with pytest.raises(EngineBoundVaultError, match="powers paper engine 'dn-sol'"):
            reg.deposit("dn-sol", 1)
        with pytest.raises(EngineBoundVaultError):
            reg.transfer("treasury", "dn-btc", 1)

        queue = CommandQueue(db)
        t1 = DEFAULT_ORIGIN + 300
        queue.enqueue("dn-sol", "deposit", amount=1_000 * USDC, vault="dn-sol", due_ts=t1)
        queue.enqueue(
            "dn-sol",
            "transfer_out",
            amount=2_500 * USDC,
            vault="dn-sol",
            counterparty="dn-btc",
            due_ts=t1,
        )
        queue.enqueue(
            "dn-btc",
            "transfer_in",
            amount=4_000 * USDC,
            vault="dn-btc",
            counterparty="treasury",
            due_ts=t1,
        )
        too_much = queue.enqueue(
            "dn-btc", "withdraw", amount=100_000 * USDC, vault="dn-btc", due_ts=t1
        )
        sol_hwm, btc_hwm = sol.high_water_mark, btc.high_water_mark
        from drift_engine.backtest.runner import market_events

        events, _ = market_events("synthetic", ["SOL-PERP", "BTC-PERP"], DEFAULT_ORIGIN, t1, 7)
        hb = stack.heartbeat(events)
        hb.tick(DEFAULT_ORIGIN)
        hb.tick(t1)  # applies the four moves, commits them with the tick's checkpoint

        def capital(vault: str) -> int:
            return sum(e.amount for e in reg.ledger.entries(vault) if e.kind in CAPITAL)

        assert capital("dn-sol") == 8_500 * USDC  # 10k + 1k - 2.5k
        assert capital("dn-btc") == 16_500 * USDC  # 10k + 2.5k + 4k
        assert reg.ledger.balance("treasury") == 1_000 * USDC  # 25k in, 20k + 4k out
        for e in (sol, btc):
            # flat: the sub-account holds the cash (with its USDC interest), the ledger too —
            # to the program's rounding of scaled spot balances (a micro-USDC)
            assert reg.ledger.balance(e.engine_id) == e.ledger.balance()
            assert abs(e.venue.equity() - e.ledger.balance()) <= 2
        assert sol.high_water_mark == pytest.approx(sol_hwm * 0.85, rel=1e-5)
        assert btc.high_water_mark == pytest.approx(btc_hwm * 1.65, rel=1e-5)
        refused = queue.get(too_much.id)
        assert refused.status == "refused" and "would borrow" in refused.result
        assert [c.status for c in queue.history()[::-1]] == [
            "applied",
            "applied",
            "applied",
            "refused",
        ]
        assert {e.key for e in reg.ledger.entries("dn-btc")} >= {
            f"transfer:{c.key}" for c in queue.history() if c.kind.startswith("transfer")
        }
    finally:
        db.dispose()


def test_a_deposit_reaches_a_running_engine(env):
    tmp, url = env
    config = write_config(tmp, speed=3000)  # a 5-minute tick every 0.1 s
    proc = popen_cmd(clean_env(url), "run", "--config", str(config), "--hours", "10000")
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("running 1 engine"):
                break
        r = invoke("vaults", "deposit", "dn-sol", "1000", "--wait", "120")
        assert r.exit_code == 0, r.output
        assert "applied by engine 'dn-sol'" in " ".join(r.output.split())
        r = invoke("vaults", "withdraw", "dn-sol", "10999", "--wait", "120")
        assert r.exit_code == 0, r.output  # 11,000 - 1: the flat sub-account can pay it
    finally:
        _, err = stop_child(proc, signal.SIGINT)
    assert proc.returncode == 0, err[-2000:]
    entries, balance = ledger(url, "dn-sol")
    kinds = [e.kind for e in entries if e.kind in (EntryKind.DEPOSIT, EntryKind.WITHDRAW)]
    assert kinds == [EntryKind.DEPOSIT, EntryKind.WITHDRAW]
    account = engine_account(url, "dn-sol")
    assert account["perp_base"] == 0 and balance == pytest.approx(account["equity"], abs=USDC)


def test_crash_after_applying_a_move_books_it_once_on_restart(tmp_path):
    url = f"sqlite:///{tmp_path / 'engines.db'}"
    config = write_config(tmp_path, lease_s=1)
    env = clean_env(url)
    assert run_cmd(env, "run", "--config", str(config), "--hours", "2").returncode == 0
    r = run_cmd(env, "vaults", "deposit", "dn-sol", "500", "--key", "top-up")
    assert r.returncode == 0 and "queued" in r.stdout
    died = run_cmd(env, "run", "--config", str(config), "--hours", "1", die="capital")
    assert died.returncode == -signal.SIGKILL, died.stderr[-2000:]
    assert [e.key for e in ledger(url, "dn-sol")[0] if e.key == "top-up"] == []
    again = restart_cmd(env, "run", "--config", str(config), "--hours", "1")
    assert again.returncode == 0, again.stderr[-2000:]
    entries, balance = ledger(url, "dn-sol")
    assert [e.amount for e in entries if e.key == "top-up"] == [500 * USDC]
    account = engine_account(url, "dn-sol")
    assert balance == pytest.approx(account["equity"], abs=USDC)  # flat: cash = the account
