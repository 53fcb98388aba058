"""The ledger's money rules: idempotency compares the whole event, balance = sum(amount - fee).

Expected balances are added up by hand below (odd amounts, a rebate, a negative funding),
never read back from the ledger's own sums.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from drift_engine.storage import Database
from drift_engine.storage.testing import throwaway_database_url
from drift_engine.vaults import (
    EntryKind,
    IdempotencyConflictError,
    InvalidAmountError,
    NewEntry,
    VaultRegistry,
)

ENGINE = "carry"


@pytest.fixture(params=["sqlite", "postgresql"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VaultRegistry]:
    """SQLite, and PostgreSQL when DATABASE_URL is set (scripts/with_postgres.sh)."""
    if request.param == "postgresql" and not os.environ.get("DATABASE_URL"):
        pytest.skip("PostgreSQL variant runs when DATABASE_URL is set")
    with throwaway_database_url(request.param, tmp_path) as url:
        db = Database.open(url)
        yield VaultRegistry(db)
        db.dispose()


@pytest.fixture
def vault_id(registry: VaultRegistry) -> int:
    vault = registry.create_vault("carry-paper", ENGINE)
    registry.deposit(vault.id, 1_000_000_007, key="seed")
    return vault.id


def test_rebooking_a_key_with_another_fee_is_a_conflict_not_a_replay(registry, vault_id):
    ledger = registry.ledger
    ledger.book_fill(ENGINE, vault_id, fill_id="sig:0", amount=-3_333_333, fee=1_667)
    # same fill id, same amount, another fee: a different event under a reused key
    with pytest.raises(IdempotencyConflictError, match="fill:sig:0"):
        ledger.book_fill(ENGINE, vault_id, fill_id="sig:0", amount=-3_333_333, fee=1_668)
    with pytest.raises(IdempotencyConflictError):
        ledger.book_fill(ENGINE, vault_id, fill_id="sig:0", amount=-3_333_333, fee=-1_667)
    # the exact replay is the same entry, booked once
    again = ledger.book_fill(ENGINE, vault_id, fill_id="sig:0", amount=-3_333_333, fee=1_667)
    assert again.fee == 1_667 and again.amount == -3_333_333
    assert ledger.balance(vault_id) == 1_000_000_007 - 3_333_333 - 1_667  # 996_665_007


def test_rebooking_a_key_with_another_amount_or_kind_is_a_conflict(registry, vault_id):
    ledger = registry.ledger
    ledger.book_fill(ENGINE, vault_id, fill_id="f1", amount=2_500_001, fee=-501)
    with pytest.raises(IdempotencyConflictError):
        ledger.book_fill(ENGINE, vault_id, fill_id="f1", amount=2_500_002, fee=-501)
    clash = NewEntry(kind=EntryKind.LIQUIDATION, amount=2_500_001, fee=-501, key="fill:f1")
    with pytest.raises(IdempotencyConflictError):
        ledger.book(ENGINE, vault_id, clash)
    assert ledger.summary(vault_id).entry_count == 2


def test_balance_is_the_sum_of_amount_minus_fee(registry, vault_id):
    ledger = registry.ledger
    ledger.book_fill(ENGINE, vault_id, fill_id="a", amount=-3_333_333, fee=1_667)
    ledger.book_fill(ENGINE, vault_id, fill_id="b", amount=2_500_001, fee=-501)  # maker rebate
    ledger.book_funding(ENGINE, vault_id, market_index=0, funding_ts=1_767_229_200, amount=-1518)
    ledger.book_liquidation(ENGINE, vault_id, liquidation_id="7", amount=-69_120_001, fee=4_723)
    # 1_000_000_007 - 3_333_333 - 1_667 + 2_500_001 + 501 - 1_518 - 69_120_001 - 4_723
    expected = 930_039_267
    assert (
        expected
    ) == 1_000_000_007 - 3_333_333 - 1_667 + 2_500_001 + 501 - 1_518 - 69_120_001 - 4_723
    assert ledger.balance(vault_id) == expected
    summary = ledger.summary(vault_id)
    assert summary.balance == expected
    assert summary.fees_paid == 1_667 - 501 + 4_723  # 5_889
    assert summary.funding_earned == -1518
    assert summary.net_deposits == 1_000_000_007
    assert summary.entry_count == 5


@pytest.mark.parametrize(
    ("kind", "amount", "fee", "field"),
    [
        (EntryKind.DEPOSIT, 0, 0, "amount"),
        (EntryKind.DEPOSIT, -1, 0, "amount"),
        (EntryKind.WITHDRAW, 1, 0, "amount"),
        (EntryKind.TRANSFER_IN, -1, 0, "amount"),
        (EntryKind.TRANSFER_OUT, 1, 0, "amount"),
        (EntryKind.FUNDING, 5, 1, "fee"),  # only fills and liquidations carry a fee
        (EntryKind.FILL, 0, 0, "amount"),  # an entry must move money
    ],
)
def test_sign_and_fee_rules_of_entries(kind, amount, fee, field):
    with pytest.raises(InvalidAmountError) as err:
        NewEntry(kind=kind, amount=amount, fee=fee, key="k")
    assert err.value.field == field


def test_a_fee_only_fill_and_signed_capital_moves_are_valid():
    assert NewEntry(kind=EntryKind.FILL, amount=0, fee=3, key="k").net == -3
    assert NewEntry(kind=EntryKind.DEPOSIT, amount=1, key="k").net == 1
    assert NewEntry(kind=EntryKind.WITHDRAW, amount=-1, key="k").net == -1
    assert NewEntry(kind=EntryKind.LIQUIDATION, amount=-5, fee=2, key="k").net == -7


@pytest.mark.parametrize(
    ("kind", "amount", "fee", "field", "message"),
    [
        (EntryKind.DEPOSIT, 0, 0, "amount", "a deposit must be positive"),
        (EntryKind.TRANSFER_IN, 0, 0, "amount", "a transfer_in must be positive"),
        (EntryKind.WITHDRAW, 0, 0, "amount", "a withdraw must be negative"),
        (EntryKind.TRANSFER_OUT, 0, 0, "amount", "a transfer_out must be negative"),
        (EntryKind.INTEREST, 1, -1, "fee", "a interest carries no fee"),
        (EntryKind.LIQUIDATION, 0, 0, "amount", "an entry must move money (amount or fee)"),
        (EntryKind.FILL, 1, 1.5, "fee", ""),
        (EntryKind.FILL, 1, True, "fee", ""),
    ],
)
def test_each_refusal_names_its_field_and_reason(kind, amount, fee, field, message):
    with pytest.raises(InvalidAmountError) as err:
        NewEntry(kind=kind, amount=amount, fee=fee, key="k")
    assert err.value.field == field
    assert str(err.value) == f"{field}: {message}" or (not message and str(err.value))


def test_keys_are_1_to_200_characters_and_times_timezone_aware():
    from datetime import datetime

    NewEntry(kind=EntryKind.FILL, amount=1, key="k" * 200)
    for key in ("", "k" * 201):
        with pytest.raises(InvalidAmountError) as err:
            NewEntry(kind=EntryKind.FILL, amount=1, key=key)
        assert str(err.value) == "key: must be 1..200 characters"
    with pytest.raises(InvalidAmountError) as err:
        NewEntry(kind=EntryKind.FILL, amount=1, key="k", occurred_at=datetime(2026, 1, 1))
    assert str(err.value) == "occurred_at: must be timezone-aware"
    assert NewEntry(kind="fill", amount=1, key="k").kind is EntryKind.FILL


def test_a_booked_entry_reads_back_every_field(registry, vault_id):
    from datetime import UTC, datetime

    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    booked = registry.ledger.book_fill(
        ENGINE,
        vault_id,
        fill_id="x",
        amount=-7,
        fee=3,
        market_index=4,
        occurred_at=when,
        memo="hedge leg",
    )
    (read,) = [e for e in registry.ledger.entries(vault_id) if e.key == "fill:x"]
    assert read == booked
    assert read.id > 0 and read.vault_id == vault_id and read.kind is EntryKind.FILL
    assert (read.amount, read.fee, read.net) == (-7, 3, -10)
    assert (read.market_index, read.memo, read.counterparty_vault_id) == (4, "hedge leg", None)
    assert read.occurred_at.replace(tzinfo=UTC) == when
    assert read.booked_at.replace(tzinfo=UTC) > when  # booked now, after it happened


def test_a_transfer_names_its_counterparty_and_a_reused_key_to_another_vault_conflicts(
    registry, vault_id
):
    # both legs carry the other vault's id; the replay of the same transfer is booked once,
    # and the same key towards a third vault is another event (a conflict), never a replay
    a = registry.create_vault("a", "engine-a").id
    b = registry.create_vault("b", "engine-b").id
    c = registry.create_vault("c", "engine-c").id
    registry.deposit(a, 5_000_003, key="seed-a")
    first = registry.transfer(a, b, 1_234_567, key="t1")
    again = registry.transfer(a, b, 1_234_567, key="t1")
    assert again == first
    (out,) = [e for e in registry.ledger.entries(a) if e.key == "transfer:t1"]
    (into,) = [e for e in registry.ledger.entries(b) if e.key == "transfer:t1"]
    assert (out.kind, out.amount, out.counterparty_vault_id) == (
        EntryKind.TRANSFER_OUT,
        -1_234_567,
        b,
    )
    assert (into.kind, into.amount, into.counterparty_vault_id) == (
        EntryKind.TRANSFER_IN,
        1_234_567,
        a,
    )
    with pytest.raises(IdempotencyConflictError, match="transfer:t1"):
        registry.transfer(a, c, 1_234_567, key="t1")
    # 5_000_003 - 1_234_567 = 3_765_436 left in a, 1_234_567 in b, nothing in c
    assert [registry.ledger.balance(v) for v in (a, b, c)] == [3_765_436, 1_234_567, 0]
