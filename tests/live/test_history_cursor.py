"""The history cursor (issue 12): a live engine's restart reads its sub-account's history
from the persisted cursor, not from the beginning — after 10,000 transactions a restart
costs one page of signatures, not 10,000 `getTransaction` calls."""

from __future__ import annotations

from drift_engine.engine.market_board import MarketBoard
from drift_engine.live.cursor import CursorStore
from drift_engine.live.start import ChainMarketData, LiveEngineStack
from drift_engine.storage.database import Database
from tests.live.conftest import USDC
from tests.live.live_helpers import dn_strategy

N = int(__import__("os").environ.get("CURSOR_N", "10000"))


def _start(world, make_client, db):
    client = make_client(world.server, now=lambda: world.sim.now)
    board = MarketBoard(["SOL-PERP"])
    ChainMarketData(board).update(client.run(client.connect()))
    stack = LiveEngineStack(db, client, engine_id="dn-live")
    stack.start(dn_strategy(), board, world.sim.now)
    return stack


def test_a_restart_after_10000_transactions_reads_history_from_the_cursor(
    world, make_client, tmp_path
):
    setup = make_client(world.server, now=lambda: world.sim.now)
    setup.run(setup.connect())
    setup.run(setup.initialize_user())
    setup.run(setup.deposit(1_000 * USDC, 0))
    setup.close_blocking()
    db = Database.open(f"sqlite:///{tmp_path / 'live.db'}")
    first = _start(world, make_client, db)
    cursors = CursorStore(db)
    user = str(first.client.user_pubkey)
    saved = cursors.get(first.vault_id, user)
    assert saved is not None and saved.signature == first.venue.cursor
    first.client.close_blocking()

    # 10,000 transactions of the sub-account (keeper transactions, as the engine's earlier
    # run consumed them: the runner saved the cursor at the newest one)
    with world.chain._lock:
        sigs = [world.chain._keeper_transaction(first.client.user_pubkey, []) for _ in range(N)]
        last_slot = world.chain.signatures[sigs[-1]].slot
    cursors.save(first.vault_id, user, str(sigs[-1]), last_slot)
    world.wait(1)  # confirmed: what the engine's earlier run had read
    history = world.chain.history(first.client.user_pubkey, limit=10**6)
    assert len(history) > N

    calls = world.server.stats.calls
    before = (calls["getSignaturesForAddress"], calls["getTransaction"])
    second = _start(world, make_client, db)
    pages = calls["getSignaturesForAddress"] - before[0]
    fetched = calls["getTransaction"] - before[1]
    print(f"restart after {len(history)} transactions: {pages} pages, {fetched} getTransaction")
    assert pages == 1 and fetched == 0  # nothing after the cursor: nothing fetched
    assert second.report.outcome in ("reconciled", "already_reconciled")
    assert second.venue.cursor == str(sigs[-1])
    second.client.close_blocking()
    db.dispose()


def test_a_cursor_of_another_sub_account_is_not_used(tmp_path):
    from drift_engine.vaults import VaultRegistry, VaultType

    db = Database.open(f"sqlite:///{tmp_path / 'c.db'}")
    vault = VaultRegistry(db).create_vault(
        "v", "e", vault_type=VaultType.ON_CHAIN, network="localnet",
        authority="11111111111111111111111111111111", sub_account_id=0,
    )  # fmt: skip
    store = CursorStore(db)
    store.save(vault.id, "A", "sig-2", 20)
    store.save(vault.id, "A", "sig-1", 10)  # never moves back
    assert store.get(vault.id, "A").signature == "sig-2"
    assert store.get(vault.id, "B") is None
    db.dispose()
