"""Booking rules the bulk ledger paths and the vault summary must keep (issue #18).

Every expected value is written out by hand: the summary of a vault that holds only its
deposit, which snapshot is "latest", the exact refusal texts, the created flag of a
single booking, the retry count of a write transaction, and batches longer than the
500-key reads of `ledger.insert_entries` (one of 1,001 entries: both the pre-booked key
in the third read and every new id read back).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError

from drift_engine.vaults import (
    EntryKind,
    IdempotencyConflictError,
    NewEntry,
)
from drift_engine.vaults.booking import (
    INTEGRITY_RETRIES,
    find_vault,
    in_write_transaction,
    insert_entry,
)
from drift_engine.vaults.errors import UnknownVaultError, VaultIsolationError
from tests.money.conftest import LEDGER_ENGINE as ENGINE
from tests.money.conftest import SEED


def test_a_vault_holding_only_its_deposit_sums_to_zero_for_every_other_kind(registry, vault_id):
    s = registry.summary(vault_id)
    assert (s.balance, s.net_deposits, s.fees_paid, s.entry_count) == (SEED, SEED, 0, 1)
    assert (s.funding_earned, s.interest_earned, s.sync_adjustments) == (0, 0, 0)
    assert (s.position_value, s.unrealized_pnl) == (0, 0)
    assert (s.health, s.snapshot_at) == (None, None)


def test_the_latest_snapshot_is_the_newest_taken_at_even_when_recorded_first(registry, vault_id):
    t0, t1 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    snaps = registry.snapshots
    snaps.record(ENGINE, vault_id, position_value=7, unrealized_pnl=-7, health=70, taken_at=t1)
    snaps.record(ENGINE, vault_id, position_value=3, unrealized_pnl=-3, health=30, taken_at=t0)
    s = registry.summary(vault_id)
    assert (s.position_value, s.unrealized_pnl, s.health) == (7, -7, 70)


def test_of_two_snapshots_taken_at_one_time_the_one_recorded_last_is_latest(registry, vault_id):
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    snaps = registry.snapshots
    snaps.record(ENGINE, vault_id, position_value=1, unrealized_pnl=-1, health=10, taken_at=t0)
    snaps.record(ENGINE, vault_id, position_value=2, unrealized_pnl=-2, health=20, taken_at=t0)
    assert registry.summary(vault_id).position_value == 2


def test_a_single_booking_says_whether_it_created_the_entry(registry, vault_id):
    now = datetime(2026, 5, 6, tzinfo=UTC)
    new = NewEntry(EntryKind.FILL, -1_111, "k-once", fee=7)
    with registry.db.write() as session:
        vault = find_vault(session, vault_id)
        first, created = insert_entry(session, vault, new, now)
        again, created_again = insert_entry(session, vault, new, now)
    assert (created, created_again) == (True, False)
    assert again == first and first.key == "k-once"


def test_a_single_rebooking_for_another_event_names_the_vault_key_and_booked_event(
    registry, vault_id
):
    ledger = registry.ledger
    ledger.book(ENGINE, vault_id, NewEntry(EntryKind.FILL, -1_111, "k-a", fee=7))
    with pytest.raises(IdempotencyConflictError) as err:
        ledger.book(ENGINE, vault_id, NewEntry(EntryKind.FILL, -1_111, "k-a", fee=8))
    assert str(err.value) == "vault 'carry-paper': key 'k-a' already booked as fill -1111 fee 7"


def test_another_engines_booking_names_the_vault_and_its_owner(registry, vault_id):
    with pytest.raises(VaultIsolationError) as err:
        registry.ledger.book("basis", vault_id, NewEntry(EntryKind.FILL, -1, "k-x"))
    assert str(err.value) == (
        "engine 'basis' cannot book into vault 'carry-paper': it belongs to 'carry'"
    )


def test_a_batch_booked_by_vault_name_and_an_unknown_name_named(registry, vault_id):
    got = registry.ledger.book_many(
        ENGINE,
        "carry-paper",
        [NewEntry(EntryKind.FILL, -5, "n-1"), NewEntry(EntryKind.FILL, -6, "n-2")],
    )
    assert [(e.vault_id, e.key) for e in got] == [(vault_id, "n-1"), (vault_id, "n-2")]
    with pytest.raises(UnknownVaultError) as err:
        registry.ledger.book_many(
            ENGINE, "nope", [NewEntry(EntryKind.FILL, -5, "n-1"), NewEntry(EntryKind.FILL, -6, "x")]
        )
    assert str(err.value) == "unknown vault 'nope'"
    assert registry.ledger.balance(vault_id) == SEED - 11


def test_a_key_repeated_inside_a_batch_does_not_stop_the_entries_after_it(registry, vault_id):
    a = NewEntry(EntryKind.FILL, -10, "r-a", fee=1)
    got = registry.ledger.book_many(
        ENGINE, vault_id, [a, a, NewEntry(EntryKind.FUNDING, -20, "r-b")]
    )
    assert [e.key for e in got] == ["r-a", "r-a", "r-b"] and got[0] == got[1]
    # SEED - (10 + 1) - 20, each entry once
    assert registry.ledger.balance(vault_id) == SEED - 31
    assert sorted(e.key for e in registry.ledger.entries(vault_id)) == ["r-a", "r-b", "seed"]


def test_one_entry_is_read_by_key_in_its_own_vault(registry, vault_id):
    other = registry.create_vault("carry-two", ENGINE).id
    registry.deposit(other, 5_000_000, key="seed")
    registry.ledger.book(ENGINE, vault_id, NewEntry(EntryKind.FILL, -1, "same"))
    registry.ledger.book(ENGINE, other, NewEntry(EntryKind.FILL, -2, "same"))
    assert registry.ledger.entry(other, "same").amount == -2
    assert registry.ledger.entry(vault_id, "same").amount == -1


def test_a_batch_of_1001_finds_a_key_booked_before_in_its_third_read(registry, vault_id):
    # keys are read 500 at a time: entries 0-499, 500-999, 1000; the last one was booked
    # before (a missed one would be inserted again and hit the unique constraint)
    ledger = registry.ledger
    last = ledger.book(ENGINE, vault_id, NewEntry(EntryKind.FILL, -2, "b-1000"))
    batch = [NewEntry(EntryKind.FILL, -2, f"b-{i:04d}") for i in range(1001)]
    got = ledger.book_many(ENGINE, vault_id, batch)
    assert got[1000] == last
    # 1,001 fills of 2, each once
    assert ledger.balance(vault_id) == SEED - 2_002


def test_a_batch_of_1001_new_entries_reads_back_every_id_in_booking_order(registry, vault_id):
    got = registry.ledger.book_many(
        ENGINE, vault_id, [NewEntry(EntryKind.FILL, -1, f"c-{i:04d}") for i in range(1001)]
    )
    ids = [e.id for e in got]
    assert ids == list(range(ids[0], ids[0] + 1001))
    stored = {e.key: e.id for e in registry.ledger.entries(vault_id)}
    assert [stored[f"c-{i:04d}"] for i in range(1001)] == ids


def test_a_write_is_tried_three_times_on_a_unique_clash_then_the_clash_is_raised(registry):
    calls = []

    def clash(_session):
        calls.append(1)
        raise IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))

    with pytest.raises(IntegrityError):
        in_write_transaction(registry.db, clash)
    assert INTEGRITY_RETRIES == 3 and len(calls) == 3


def test_a_summary_adds_up_sync_adjustments_apart_from_other_kinds(registry, vault_id):
    # reconciliation books SYNC_ADJUSTMENT (insert_entry, non-strict); the summary shows
    # them on their own line: -1 + 4 = 3, and the balance moves by the same 3
    now = datetime(2026, 5, 6, tzinfo=UTC)
    with registry.db.write() as session:
        vault = find_vault(session, vault_id)
        insert_entry(session, vault, NewEntry(EntryKind.SYNC_ADJUSTMENT, -1, "sync:1"), now)
        insert_entry(session, vault, NewEntry(EntryKind.SYNC_ADJUSTMENT, 4, "sync:2"), now)
    s = registry.summary(vault_id)
    assert (s.sync_adjustments, s.funding_earned, s.balance) == (3, 0, SEED + 3)


def test_a_batchs_entries_come_back_as_stored_counterparty_and_memo_included(registry, vault_id):
    other = registry.create_vault("carry-two", ENGINE).id
    got = registry.ledger.book_many(
        ENGINE,
        vault_id,
        [
            NewEntry(EntryKind.FILL, -9, "p-1", fee=2, counterparty_vault_id=other, memo="m"),
            NewEntry(EntryKind.FILL, -8, "p-2"),
        ],
    )
    stored = {e.key: e for e in registry.ledger.entries(vault_id)}
    assert got == [stored["p-1"], stored["p-2"]]
    assert (got[0].counterparty_vault_id, got[0].memo, got[1].counterparty_vault_id) == (
        other,
        "m",
        None,
    )
