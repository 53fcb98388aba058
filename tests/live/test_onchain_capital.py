"""Capital on chain (issue 12, part 5), end to end through the command line against the
unkind local chain: `account create|list`, then `vaults deposit|withdraw|transfer` on
ON_CHAIN vaults move USDC on chain, and each vault's ledger equals its sub-account's cash
read from the chain to the micro-USDC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from drift_engine.cli import app
from drift_engine.live.client import DriftClient
from drift_engine.storage.database import Database
from drift_engine.vaults import VaultRegistry
from drift_engine.vaults.onchain_sync import snapshot_of
from tests.live.conftest import USDC, fast_config


@pytest.fixture
def cli(world, keypair_file, tmp_path, monkeypatch):
    for key in list(__import__("os").environ):
        if key.upper().startswith("DRIFT_ENGINE") or key == "DATABASE_URL":
            monkeypatch.delenv(key, raising=False)
    url = f"sqlite:///{tmp_path / 'capital.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DRIFT_ENGINE_RPC_URL", world.server.url)
    monkeypatch.setenv("DRIFT_ENGINE_KEYPAIR_PATH", str(keypair_file))
    monkeypatch.setenv("DRIFT_ENGINE_NETWORK", "localnet")
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True):
        with world.ticking(speed=10.0):  # chain time runs by itself: the CLI waits on it
            result = runner.invoke(app, list(args))
        if ok:
            assert result.exit_code == 0, (result.output, result.stderr)
        return result

    invoke.url = url
    return invoke


def _cash(world, sub: int) -> int:
    client = DriftClient(
        fast_config(world.server.url, sub_account_id=sub),
        authority=world.keypair.pubkey(),
        clock=world.clock,
    )
    state = client.run(client.connect())
    client.close_blocking()
    return snapshot_of(state, datetime.now(UTC)).cash


def test_accounts_and_on_chain_vault_moves_ledger_equals_chain(world, cli):
    authority = str(world.keypair.pubkey())
    out = cli("account", "list").output
    assert "no Drift sub-account" in out

    out = cli("account", "create", "--deposit", "100").output
    assert "Created sub-account 0" in out and "Deposited 100" in out
    bad = cli("account", "create", "--sub-account", "5", ok=False)
    assert bad.exit_code == 1
    assert "the next id" in bad.stderr and "is 1, not 5" in bad.stderr
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    cli("account", "create")
    listing = cli("account", "list").output
    assert "100.00" in listing and " 0 " in listing and " 1 " in listing

    for name, sub in (("carry-live", "0"), ("spare-live", "1")):
        cli(
            "vaults", "create", name, "--engine", name, "--type", "on_chain",
            "--network", "localnet", "--authority", authority, "--sub-account", sub,
        )  # fmt: skip
    # the sub-account already held 100 USDC: the first reconciliation books it as the
    # opening balance; from then on every move is booked from its confirmed transaction
    db = Database.open(cli.url)
    registry = VaultRegistry(db)

    def reconcile(name: str, sub: int) -> tuple:
        client = DriftClient(
            fast_config(world.server.url, sub_account_id=sub),
            authority=world.keypair.pubkey(),
            clock=world.clock,
        )
        state = client.run(client.connect())
        client.close_blocking()
        return registry.reconcile(name, snapshot_of(state, datetime.now(UTC))).booked

    reconcile("carry-live", 0)
    reconcile("spare-live", 1)

    before = world.chain.token_balance(world.ata)
    cli("vaults", "deposit", "carry-live", "1000.5")
    assert world.chain.token_balance(world.ata) == before - 1_000_500_000
    cli("vaults", "withdraw", "carry-live", "200.25")
    cli("vaults", "transfer", "carry-live", "spare-live", "300")
    over = cli("vaults", "withdraw", "spare-live", "300.000001", ok=False)
    assert over.exit_code == 1 and "would borrow" in over.stderr

    carry, spare = registry.get("carry-live"), registry.get("spare-live")
    cash_carry, cash_spare = _cash(world, 0), _cash(world, 1)
    assert registry.ledger.balance(carry.id) == cash_carry  # to the micro-USDC
    assert registry.ledger.balance(spare.id) == cash_spare == 300 * USDC
    # the program rounds a withdrawal's scaled balance against the user: the chain holds
    # up to one micro-USDC less per withdrawal than the nominal sum, and so does the ledger
    nominal = 100 * USDC + 1_000_500_000 - 200_250_000 - 300 * USDC
    assert 0 <= nominal - cash_carry <= 2
    keys = [e.key for e in registry.ledger.entries(carry.id)]
    assert sum(k.startswith("sig:") for k in keys) == 3  # each move keyed by its signature
    # the project's own reconciliation finds nothing to adjust
    assert reconcile("carry-live", 0) == () and reconcile("spare-live", 1) == ()
    db.dispose()


def test_on_chain_vault_of_another_network_is_refused(world, cli):
    authority = str(world.keypair.pubkey())
    cli(
        "vaults", "create", "dev", "--engine", "dev", "--type", "on_chain",
        "--network", "devnet", "--authority", authority, "--sub-account", "0",
    )  # fmt: skip
    res = cli("vaults", "deposit", "dev", "1", ok=False)
    assert res.exit_code == 1 and "is on devnet" in res.stderr


def test_a_vault_is_never_reused_for_another_sub_account(tmp_path):
    from solders.keypair import Keypair

    from drift_engine.live.client import DriftClientConfig
    from drift_engine.live.start import LiveEngineStack, LiveStartError

    db = Database.open(f"sqlite:///{tmp_path / 'bind.db'}")
    wallet = Keypair().pubkey()
    config = DriftClientConfig(rpc_url="http://127.0.0.1:9", sub_account_id=0)
    first = LiveEngineStack(db, DriftClient.read_only(config, wallet), engine_id="e1")
    vault = first.ensure_vault()
    assert (vault.network, vault.authority, vault.sub_account_id) == ("localnet", str(wallet), 0)
    assert first.ensure_vault().id == vault.id  # the same identity: reused
    other_sub = DriftClient.read_only(
        DriftClientConfig(rpc_url="http://127.0.0.1:9", sub_account_id=1), wallet
    )
    with pytest.raises(LiveStartError, match="never reused"):
        LiveEngineStack(db, other_sub, engine_id="e1").ensure_vault()
    other_wallet = DriftClient.read_only(config, Keypair().pubkey())
    with pytest.raises(LiveStartError, match="sub-account 0"):
        LiveEngineStack(db, other_wallet, engine_id="e1").ensure_vault()
    devnet = LiveEngineStack(db, DriftClient.read_only(config, wallet), engine_id="e1")
    devnet.network = "devnet"
    with pytest.raises(LiveStartError, match="network localnet"):
        devnet.ensure_vault()
    db.dispose()
