"""The Global Vault System: vaults, treasury allocation, paper transfers, active vault."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from drift_engine.storage.models import VaultRow
from drift_engine.vaults import (
    TREASURY_ENGINE_ID,
    EntryKind,
    IdempotencyConflictError,
    InsufficientFundsError,
    InvalidAmountError,
    LiveTransfersUnavailableError,
    UnknownVaultError,
    VaultConfigError,
    VaultExistsError,
    VaultRegistry,
    VaultStateError,
    VaultStatus,
    VaultType,
)

AUTHORITY = "11111111111111111111111111111111"


def _on_chain(registry: VaultRegistry, name: str, sub_account_id: int, engine: str = "carry"):
    return registry.create_vault(
        name,
        engine,
        vault_type=VaultType.ON_CHAIN,
        network="devnet",
        authority=AUTHORITY,
        sub_account_id=sub_account_id,
    )


def test_create_get_and_list(registry: VaultRegistry) -> None:
    a = registry.create_vault("a-paper", "engine-a")
    b = _on_chain(registry, "b-live", 3, engine="engine-b")
    assert registry.get(a.id) == registry.get("a-paper") == a
    assert a.vault_type is VaultType.VIRTUAL and a.status is VaultStatus.OPEN
    assert a.quote_asset == "USDC" and not a.is_active
    assert (b.network, b.authority, b.sub_account_id) == ("devnet", AUTHORITY, 3)
    assert [v.name for v in registry.list_vaults()] == ["a-paper", "b-live"]
    assert [v.name for v in registry.list_vaults(engine_id="engine-b")] == ["b-live"]
    with pytest.raises(UnknownVaultError, match="'nope'"):
        registry.get("nope")
    with pytest.raises(UnknownVaultError, match="999"):
        registry.get(999)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "12"}, "name"),
        ({"name": "has space"}, "name"),
        ({"name": ""}, "name"),
        ({"engine_id": TREASURY_ENGINE_ID}, "engine_id"),
        ({"name": "treasury"}, "name"),
        ({"vault_type": VaultType.ON_CHAIN, "network": "moon"}, "network"),
        ({"vault_type": VaultType.ON_CHAIN, "network": "devnet"}, "authority"),
        (
            {"vault_type": VaultType.ON_CHAIN, "network": "devnet", "authority": "not-a-key"},
            "authority",
        ),
        (
            {"vault_type": VaultType.ON_CHAIN, "network": "devnet", "authority": AUTHORITY},
            "sub_account_id",
        ),
        ({"network": "devnet"}, "vault_type"),
    ],
)
def test_create_rejects_bad_definitions(registry: VaultRegistry, kwargs: dict, field: str) -> None:
    args = {"name": "ok-name", "engine_id": "carry", **kwargs}
    with pytest.raises(VaultConfigError) as info:
        registry.create_vault(args.pop("name"), args.pop("engine_id"), **args)
    assert info.value.field == field


def test_names_and_sub_accounts_are_unique(registry: VaultRegistry) -> None:
    registry.create_vault("dup", "carry")
    with pytest.raises(VaultExistsError, match="'dup'"):
        registry.create_vault("dup", "other")
    _on_chain(registry, "live-1", 1)
    with pytest.raises(VaultExistsError, match="sub-account"):
        _on_chain(registry, "live-1-again", 1, engine="other")


def test_allocation_from_the_paper_treasury(registry: VaultRegistry) -> None:
    treasury = registry.treasury()
    assert treasury == registry.treasury() and treasury.engine_id == TREASURY_ENGINE_ID
    registry.deposit(treasury.id, 10_000_000_000, key="funding-round-1")
    vault = registry.create_vault("carry-paper", "carry")
    moved = registry.allocate(vault.id, 2_500_000_000, key="alloc-1")
    assert moved.out_entry.kind is EntryKind.TRANSFER_OUT
    assert moved.out_entry.counterparty_vault_id == vault.id
    assert registry.ledger.balance(vault.id) == 2_500_000_000
    assert registry.ledger.balance(treasury.id) == 7_500_000_000
    with pytest.raises(InsufficientFundsError, match="treasury"):
        registry.allocate(vault.id, 7_500_000_001)


def test_paper_transfer_is_a_pair_idempotent_and_conserving(registry: VaultRegistry) -> None:
    a = registry.create_vault("a", "carry")
    b = registry.create_vault("b", "carry")
    registry.deposit(a.id, 100, key="seed")
    first = registry.transfer(a.id, b.id, 60, key="t-1")
    assert registry.transfer(a.id, b.id, 60, key="t-1") == first  # replay, even though a<60 now
    assert (registry.ledger.balance(a.id), registry.ledger.balance(b.id)) == (40, 60)
    assert first.out_entry.amount + first.in_entry.amount == 0
    with pytest.raises(IdempotencyConflictError):
        registry.transfer(a.id, b.id, 30, key="t-1")
    with pytest.raises(InsufficientFundsError, match="'a' holds 0.000040 USDC"):
        registry.transfer(a.id, b.id, 41)
    with pytest.raises(VaultConfigError, match="same vault"):
        registry.transfer(a.id, a.id, 1)
    assert (registry.ledger.balance(a.id), registry.ledger.balance(b.id)) == (40, 60)


def test_paper_withdraw_cannot_overdraw(registry: VaultRegistry) -> None:
    vault = registry.create_vault("a", "carry")
    registry.deposit(vault.id, 10)
    with pytest.raises(InsufficientFundsError):
        registry.withdraw(vault.id, 11)
    registry.withdraw(vault.id, 10, key="w")
    assert registry.withdraw(vault.id, 10, key="w").amount == -10  # replay
    assert registry.ledger.balance(vault.id) == 0


@pytest.mark.parametrize("amount", [0, -5, 1.5, True])
def test_capital_moves_need_positive_integer_amounts(registry: VaultRegistry, amount) -> None:
    vault = registry.create_vault("a", "carry")
    with pytest.raises(InvalidAmountError):
        registry.deposit(vault.id, amount)


def test_paper_and_live_vaults_do_not_mix(registry: VaultRegistry) -> None:
    paper = registry.create_vault("paper", "carry")
    live = _on_chain(registry, "live", 0)
    registry.deposit(paper.id, 5)
    with pytest.raises(VaultStateError, match="between virtual vault 'paper' and on_chain"):
        registry.transfer(paper.id, live.id, 5)


def test_on_chain_moves_without_live_client_are_refused(registry: VaultRegistry) -> None:
    live = _on_chain(registry, "live", 0)
    with pytest.raises(LiveTransfersUnavailableError, match="'live' is ON_CHAIN"):
        registry.withdraw(live.id, 5)
    with pytest.raises(LiveTransfersUnavailableError):
        registry.allocate(live.id, 5)


def test_one_active_vault_per_engine(registry: VaultRegistry) -> None:
    a = registry.create_vault("a", "carry", active=True)
    b = registry.create_vault("b", "carry")
    other = registry.create_vault("c", "other", active=True)
    assert registry.active_vault("carry") == registry.get(a.id)
    registry.set_active(b.id)
    assert registry.active_vault("carry").name == "b"
    assert not registry.get(a.id).is_active
    assert registry.active_vault("other") == registry.get(other.id)
    assert registry.active_vault("nobody") is None
    with pytest.raises(VaultStateError):
        registry.set_active(registry.treasury().id)


def test_the_database_itself_refuses_two_active_vaults(registry: VaultRegistry) -> None:
    registry.create_vault("a", "carry", active=True)
    b = registry.create_vault("b", "carry")
    with pytest.raises(IntegrityError), registry.db.write() as session:
        session.execute(update(VaultRow).where(VaultRow.id == b.id).values(is_active=True))


def test_closing_needs_an_empty_inactive_vault(registry: VaultRegistry) -> None:
    a = registry.create_vault("a", "carry", active=True)
    with pytest.raises(VaultStateError, match="active"):
        registry.set_status(a.id, VaultStatus.CLOSED)
    b = registry.create_vault("b", "carry")
    registry.deposit(b.id, 1)
    with pytest.raises(VaultStateError, match="still holds"):
        registry.set_status(b.id, VaultStatus.CLOSED)
    registry.withdraw(b.id, 1)
    assert registry.set_status(b.id, VaultStatus.CLOSED).status is VaultStatus.CLOSED
    assert [v.name for v in registry.list_vaults(include_closed=False)] == ["a"]
    with pytest.raises(VaultStateError, match="closed"):
        registry.set_active(b.id)
