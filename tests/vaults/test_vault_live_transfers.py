"""ON_CHAIN capital moves through the live-path protocols, with fakes for builder/sender."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from drift_engine.vaults import (
    EntryKind,
    LiveTransfers,
    VaultConfigError,
    VaultRegistry,
    VaultStateError,
    VaultType,
    signature_key,
)

AUTHORITY = "11111111111111111111111111111111"
OTHER_AUTHORITY = "So11111111111111111111111111111111111111112"


class FakeInstructions:
    def transfer_deposit(self, **kwargs: Any) -> tuple:
        return ("transfer_deposit", tuple(sorted(kwargs.items())))

    def deposit(self, **kwargs: Any) -> tuple:
        return ("deposit", tuple(sorted(kwargs.items())))

    def withdraw(self, **kwargs: Any) -> tuple:
        return ("withdraw", tuple(sorted(kwargs.items())))


@dataclass
class FakeSender:
    """Confirms every transaction with a fresh signature, or fails when told to."""

    fail: bool = False
    sent: list[Sequence[Any]] = field(default_factory=list)

    def send_and_confirm(self, instructions: Sequence[Any]) -> str:
        if self.fail:
            raise TimeoutError("transaction not confirmed")
        self.sent.append(instructions)
        return f"5ig{len(self.sent)}"


@pytest.fixture
def sender() -> FakeSender:
    return FakeSender()


@pytest.fixture
def live_registry(registry: VaultRegistry, sender: FakeSender) -> VaultRegistry:
    return VaultRegistry(registry.db, live=LiveTransfers(FakeInstructions(), sender))


def _sub_account(registry: VaultRegistry, name: str, sub: int, authority: str = AUTHORITY):
    return registry.create_vault(
        name,
        "carry",
        vault_type=VaultType.ON_CHAIN,
        network="devnet",
        authority=authority,
        sub_account_id=sub,
    )


def test_live_transfer_is_booked_once_confirmed(
    live_registry: VaultRegistry, sender: FakeSender
) -> None:
    src, dst = _sub_account(live_registry, "main", 0), _sub_account(live_registry, "carry", 1)
    moved = live_registry.transfer(src.id, dst.id, 25_000_000)
    (instruction,) = sender.sent[0]
    assert instruction == (
        "transfer_deposit",
        (
            ("amount", 25_000_000),
            ("authority", AUTHORITY),
            ("from_sub_account_id", 0),
            ("spot_market_index", 0),
            ("to_sub_account_id", 1),
        ),
    )
    assert moved.out_entry.key == moved.in_entry.key == signature_key("5ig1")
    assert live_registry.ledger.balance(dst.id) == 25_000_000
    # Booking the same confirmed signature again (a retry, a recovery) books nothing.
    again = live_registry.book_confirmed_transfer(src.id, dst.id, 25_000_000, signature="5ig1")
    assert again == moved
    assert live_registry.ledger.summary(src.id).entry_count == 1


def test_unconfirmed_transfer_books_nothing(
    live_registry: VaultRegistry, sender: FakeSender
) -> None:
    src, dst = _sub_account(live_registry, "main", 0), _sub_account(live_registry, "carry", 1)
    sender.fail = True
    with pytest.raises(TimeoutError):
        live_registry.transfer(src.id, dst.id, 1)
    assert live_registry.ledger.entries(src.id) == live_registry.ledger.entries(dst.id) == []


def test_live_deposit_and_withdraw_keyed_by_signature(
    live_registry: VaultRegistry, sender: FakeSender
) -> None:
    vault = _sub_account(live_registry, "main", 0)
    deposit = live_registry.allocate(vault.id, 100)
    withdrawal = live_registry.withdraw(vault.id, 30)
    assert [i[0][0] for i in sender.sent] == ["deposit", "withdraw"]
    assert (deposit.kind, deposit.key) == (EntryKind.DEPOSIT, signature_key("5ig1"))
    assert (withdrawal.kind, withdrawal.amount) == (EntryKind.WITHDRAW, -30)
    assert live_registry.book_confirmed_deposit(vault.id, 100, signature="5ig1") == deposit
    assert live_registry.ledger.balance(vault.id) == 70


def test_live_transfer_needs_one_authority(live_registry: VaultRegistry) -> None:
    src = _sub_account(live_registry, "main", 0)
    dst = _sub_account(live_registry, "theirs", 0, authority=OTHER_AUTHORITY)
    with pytest.raises(VaultStateError, match="one authority"):
        live_registry.transfer(src.id, dst.id, 1)


def test_live_moves_take_no_caller_key(live_registry: VaultRegistry) -> None:
    vault = _sub_account(live_registry, "main", 0)
    with pytest.raises(VaultConfigError, match="signature"):
        live_registry.deposit(vault.id, 1, key="mine")
