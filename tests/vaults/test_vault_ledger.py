"""Engine bookings: idempotency, isolation, status and type rules, derived figures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from drift_engine.core.types import DriftPosition, MarketType
from drift_engine.vaults import (
    EntryKind,
    IdempotencyConflictError,
    InvalidAmountError,
    NewEntry,
    VaultIsolationError,
    VaultRegistry,
    VaultStateError,
    VaultStatus,
    VaultType,
)
from drift_engine.vaults import booking as booking_module

AUTHORITY = "11111111111111111111111111111111"


def _funded(registry: VaultRegistry, name: str = "carry-paper", engine: str = "carry") -> int:
    vault = registry.create_vault(name, engine)
    registry.deposit(vault.id, 1_000_000_000, key=f"seed-{name}")
    return vault.id


def test_fill_booked_twice_is_one_entry(registry: VaultRegistry) -> None:
    vault_id = _funded(registry)
    first = registry.ledger.book_fill("carry", vault_id, fill_id="F1", amount=5_000_000, fee=12_000)
    again = registry.ledger.book_fill("carry", vault_id, fill_id="F1", amount=5_000_000, fee=12_000)
    assert again == first
    assert [e.key for e in registry.ledger.entries(vault_id)] == ["seed-carry-paper", "fill:F1"]
    assert registry.ledger.balance(vault_id) == 1_000_000_000 + 5_000_000 - 12_000


def test_reused_key_for_a_different_event_is_refused(registry: VaultRegistry) -> None:
    vault_id = _funded(registry)
    registry.ledger.book_fill("carry", vault_id, fill_id="F1", amount=5_000_000, fee=12_000)
    with pytest.raises(IdempotencyConflictError, match="fill:F1"):
        registry.ledger.book_fill("carry", vault_id, fill_id="F1", amount=6_000_000, fee=12_000)


def test_engine_cannot_book_into_another_engines_vault(registry: VaultRegistry) -> None:
    mine = _funded(registry, "x-vault", engine="engine-x")
    with pytest.raises(VaultIsolationError, match="'engine-y' cannot book into vault 'x-vault'"):
        registry.ledger.book_fill("engine-y", mine, fill_id="F1", amount=1, fee=0)
    with pytest.raises(VaultIsolationError):
        registry.snapshots.record("engine-y", mine, position_value=0, unrealized_pnl=0)
    assert registry.ledger.summary(mine).entry_count == 1


def test_engines_book_only_trading_events(registry: VaultRegistry) -> None:
    vault_id = _funded(registry)
    deposit = NewEntry(kind=EntryKind.DEPOSIT, amount=5, key="sneaky")
    with pytest.raises(VaultStateError, match="not booked by engines"):
        registry.ledger.book("carry", vault_id, deposit)


def test_book_many_is_all_or_nothing(registry: VaultRegistry) -> None:
    vault_id = _funded(registry)
    registry.ledger.book_fill("carry", vault_id, fill_id="F1", amount=1, fee=0)
    batch = [
        NewEntry(kind=EntryKind.FUNDING, amount=3, key="funding:0:3600"),
        NewEntry(kind=EntryKind.FILL, amount=2, key="fill:F1"),  # conflicts with F1 above
    ]
    with pytest.raises(IdempotencyConflictError):
        registry.ledger.book_many("carry", vault_id, batch)
    assert registry.ledger.entry(vault_id, "funding:0:3600") is None


@pytest.mark.parametrize(
    ("kind", "amount", "fee", "field"),
    [
        (EntryKind.DEPOSIT, -1, 0, "amount"),
        (EntryKind.WITHDRAW, 1, 0, "amount"),
        (EntryKind.TRANSFER_IN, 0, 0, "amount"),
        (EntryKind.FUNDING, 5, 1, "fee"),
        (EntryKind.FILL, 0, 0, "amount"),
        (EntryKind.FILL, 1.5, 0, "amount"),
        (EntryKind.FILL, True, 0, "amount"),
        (EntryKind.FILL, 2**63, 0, "amount"),
    ],
)
def test_new_entry_validates_sign_fee_and_type(
    kind: EntryKind, amount: object, fee: int, field: str
) -> None:
    with pytest.raises(InvalidAmountError) as info:
        NewEntry(kind=kind, amount=amount, fee=fee, key="k")  # type: ignore[arg-type]
    assert info.value.field == field


def test_frozen_vault_refuses_engine_bookings_but_not_operator_moves(
    registry: VaultRegistry,
) -> None:
    vault_id = _funded(registry)
    registry.set_status(vault_id, VaultStatus.FROZEN)
    with pytest.raises(VaultStateError, match="frozen"):
        registry.ledger.book_fill("carry", vault_id, fill_id="F1", amount=1, fee=0)
    registry.withdraw(vault_id, 1_000_000_000)
    registry.set_status(vault_id, VaultStatus.CLOSED)
    with pytest.raises(VaultStateError, match="closed"):
        registry.deposit(vault_id, 1)


def test_on_chain_funding_comes_from_reconciliation_only(registry: VaultRegistry) -> None:
    vault = registry.create_vault(
        "live-1",
        "carry",
        vault_type=VaultType.ON_CHAIN,
        network="devnet",
        authority=AUTHORITY,
        sub_account_id=1,
    )
    with pytest.raises(VaultStateError, match="reconciliation"):
        registry.ledger.book_funding("carry", vault.id, market_index=0, funding_ts=3600, amount=5)
    entry = registry.ledger.book_fill("carry", vault.id, fill_id="sig:0", amount=0, fee=10)
    assert entry.net == -10


def test_summary_is_derived_from_entries_and_latest_snapshot(registry: VaultRegistry) -> None:
    vault_id = _funded(registry)
    ledger = registry.ledger
    ledger.book_fill("carry", vault_id, fill_id="open", amount=-400_000_000, fee=400_000)
    ledger.book_fill("carry", vault_id, fill_id="perp", amount=0, fee=-20_000)  # maker rebate
    ledger.book_funding("carry", vault_id, market_index=0, funding_ts=3600, amount=150_000)
    ledger.book_interest("carry", vault_id, spot_market_index=0, interest_ts=3600, amount=7)
    registry.withdraw(vault_id, 100_000_000)
    spot = DriftPosition(market_index=1, market_type=MarketType.SPOT, base_asset_amount=10**9)
    registry.snapshots.record(
        "carry",
        vault_id,
        position_value=410_000_000,
        unrealized_pnl=10_000_000,
        health=93,
        positions=[spot],
        taken_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    s = ledger.summary(vault_id)
    assert s.balance == 1_000_000_000 - 400_000_000 - 400_000 + 20_000 + 150_000 + 7 - 100_000_000
    assert s.balance == sum(e.net for e in ledger.entries(vault_id))
    assert s.net_deposits == 900_000_000
    assert s.fees_paid == 380_000
    assert s.funding_earned == 150_000
    assert s.interest_earned == 7
    assert s.equity == s.balance + 410_000_000
    assert s.unrealized_pnl == 10_000_000
    # realized = everything that is not capital or open-position value: fees, funding, interest
    assert s.realized_pnl == -380_000 + 150_000 + 7
    assert s.health == 93
    latest = registry.snapshots.latest(vault_id)
    assert latest is not None and latest.positions == (spot,) and latest.cash == s.balance
    assert latest.equity == s.equity


def test_snapshot_series_is_time_ordered(registry: VaultRegistry) -> None:
    vault_id = _funded(registry)
    for hour in (3, 1, 2):
        registry.snapshots.record(
            "carry",
            vault_id,
            position_value=hour,
            unrealized_pnl=0,
            taken_at=datetime(2026, 1, 1, hour, tzinfo=UTC),
        )
    series = registry.snapshots.series(vault_id)
    assert [s.position_value for s in series] == [1, 2, 3]
    assert [s.position_value for s in registry.snapshots.series(vault_id, limit=2)] == [2, 3]
    since = datetime(2026, 1, 1, 2, tzinfo=UTC)
    assert [s.position_value for s in registry.snapshots.series(vault_id, since=since)] == [2, 3]


def test_a_duplicate_that_slips_past_the_check_is_caught_by_the_constraint(
    registry: VaultRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Simulates a concurrent writer: the key check misses once, the unique constraint
    fires, the transaction rolls back and the retry returns the existing entry."""
    vault_id = _funded(registry)
    first = registry.ledger.book_fill("carry", vault_id, fill_id="F1", amount=1, fee=0)
    real_find = booking_module.find_entry
    misses = iter([True])

    def find_entry_missing_once(session, vid, key):  # type: ignore[no-untyped-def]
        return None if next(misses, False) else real_find(session, vid, key)

    monkeypatch.setattr(booking_module, "find_entry", find_entry_missing_once)
    again = registry.ledger.book_fill("carry", vault_id, fill_id="F1", amount=1, fee=0)
    assert again == first
    assert registry.ledger.summary(vault_id).entry_count == 2


def test_ledger_rows_cannot_be_updated_or_deleted(registry: VaultRegistry) -> None:
    vault_id = _funded(registry)
    for statement in ("UPDATE ledger_entries SET amount = 1", "DELETE FROM ledger_entries"):
        with pytest.raises(Exception, match="append-only"), registry.db.write() as session:
            session.execute(text(statement))
    assert registry.ledger.balance(vault_id) == 1_000_000_000
