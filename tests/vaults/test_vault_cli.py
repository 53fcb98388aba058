"""`drift-engine vaults ...` through typer's CliRunner."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from drift_engine.cli import app
from drift_engine.storage import Database
from drift_engine.vaults import VaultRegistry

AUTHORITY = "11111111111111111111111111111111"


@pytest.fixture
def run(database_url: str):
    runner = CliRunner()
    env = {"DATABASE_URL": database_url, "DRIFT_ENGINE_KEYPAIR_PATH": None}

    def invoke(*args: str, **extra_env: str):
        return runner.invoke(app, ["vaults", *args], env={**env, **extra_env})

    return invoke


def _ledger_balance(database_url: str, vault: str) -> int:
    db = Database(database_url)
    try:
        return VaultRegistry(db).ledger.balance(vault)
    finally:
        db.dispose()


@pytest.mark.parametrize(
    "command", [[], ["list"], ["show"], ["create"], ["deposit"], ["withdraw"], ["transfer"]]
)
def test_every_command_has_help(run, command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_create_fund_move_and_show(run, database_url: str) -> None:
    assert run("create", "carry-paper", "--engine", "carry", "--activate").exit_code == 0
    assert run("create", "spare", "--engine", "carry").exit_code == 0
    deposit = run("deposit", "carry-paper", "1000.5", "--key", "seed")
    assert deposit.exit_code == 0, deposit.output
    assert "1,000.500000 USDC" in deposit.output
    assert run("deposit", "carry-paper", "1000.5", "--key", "seed").exit_code == 0  # replay
    assert run("withdraw", "1", "0.5").exit_code == 0  # by id
    moved = run("transfer", "carry-paper", "spare", "250.000001", "--key", "t1")
    assert moved.exit_code == 0, moved.output
    assert _ledger_balance(database_url, "carry-paper") == 749_999_999
    assert _ledger_balance(database_url, "spare") == 250_000_001

    listing = run("list")
    assert listing.exit_code == 0, listing.output
    assert "⚡ ACTIVE" in listing.output and "749.999999" in listing.output
    shown = run("show", "carry-paper", "--entries", "2")
    assert shown.exit_code == 0, shown.output
    assert "TRANSFER_OUT" in shown.output and "WITHDRAW" in shown.output
    assert "DEPOSIT" not in shown.output.split("Recent entries")[1]  # only the last 2


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "greater than 0"),
        ("-5", "greater than 0"),
        ("1.0000001", "more than 6 decimals"),
        ("ten", "not a decimal number"),
    ],
)
def test_bad_amounts_exit_2_naming_amount(run, amount: str, message: str) -> None:
    run("create", "carry-paper", "--engine", "carry")
    result = run("deposit", "carry-paper", amount)
    assert result.exit_code == 2
    assert "AMOUNT" in result.output and message in result.output


def test_unknown_vault_exits_1_naming_it(run) -> None:
    run("create", "carry-paper", "--engine", "carry")  # a database to look in
    for args in (["show", "ghost"], ["deposit", "ghost", "1"], ["transfer", "ghost", "x", "1"]):
        result = run(*args)
        assert result.exit_code == 1, result.output
        assert "unknown vault 'ghost'" in result.output


def test_overdraw_of_a_paper_vault_exits_1(run, database_url: str) -> None:
    run("create", "carry-paper", "--engine", "carry")
    run("deposit", "carry-paper", "10")
    result = run("withdraw", "carry-paper", "10.000001")
    assert result.exit_code == 1
    assert "'carry-paper' holds 10.000000 USDC" in result.output
    assert _ledger_balance(database_url, "carry-paper") == 10_000_000


def test_on_chain_withdrawal_needs_a_keypair(run, tmp_path) -> None:
    created = run(
        "create", "live", "--engine", "carry", "--type", "on_chain",
        "--network", "devnet", "--authority", AUTHORITY, "--sub-account", "1",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    result = run("withdraw", "live", "5")
    assert result.exit_code == 1
    assert "'live' is ON_CHAIN" in result.output and "keypair" in result.output
    # With a keypair but no RPC configured, it is still refused, clearly (live moves:
    # tests/live/test_onchain_capital.py).
    keyed = run("withdraw", "live", "5", DRIFT_ENGINE_KEYPAIR_PATH=str(tmp_path / "id.json"))
    assert keyed.exit_code == 1 and "DRIFT_ENGINE_RPC_URL" in keyed.output


def test_invalid_create_names_the_field(run) -> None:
    result = run("create", "live", "--engine", "carry", "--type", "on_chain")
    assert result.exit_code == 2 and "--network" in result.output  # a usage error
    dup = [run("create", "same", "--engine", "carry") for _ in range(2)][-1]
    assert dup.exit_code == 1 and "'same' already exists" in dup.output.replace("name ", "")


def test_bad_setting_is_reported(run) -> None:
    result = run("list", DRIFT_ENGINE_DATABSE_URL="sqlite://")
    assert result.exit_code == 2  # a usage error: fix the environment
    assert "DRIFT_ENGINE_DATABSE_URL" in result.output
    assert "did you mean DRIFT_ENGINE_DATABASE_URL?" in result.output
