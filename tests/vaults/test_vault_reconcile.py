"""Reconciliation of ON_CHAIN vaults against on-chain snapshots."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from drift_engine.core.types import DriftPosition, MarketType
from drift_engine.vaults import (
    EntryKind,
    OnChainFill,
    OnChainSnapshot,
    ReconcileOutcome,
    VaultRegistry,
    VaultStateError,
    VaultType,
)

AUTHORITY = "11111111111111111111111111111111"
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def usdc(amount: int) -> DriftPosition:
    return DriftPosition(
        market_index=0, market_type=MarketType.SPOT, base_asset_amount=amount, decimals=6
    )


def sol_perp(base: int, quote: int, entry: int) -> DriftPosition:
    return DriftPosition(
        market_index=0,
        market_type=MarketType.PERP,
        base_asset_amount=base,
        quote_asset_amount=quote,
        quote_entry_amount=entry,
    )


def snapshot(slot: int, usdc_amount: int, *, funding: int = 0, perp=None, fills=(), equity=None):
    positions = (usdc(usdc_amount),) + ((perp,) if perp else ())
    snap = OnChainSnapshot(
        slot=slot,
        taken_at=T0 + timedelta(seconds=slot),
        positions=positions,
        cumulative_perp_funding=funding,
        settled_perp_pnl=0,
        equity=0,
        unrealized_pnl=0,
        health=90,
        fills=tuple(fills),
    )
    return replace(snap, equity=snap.cash if equity is None else equity)


@pytest.fixture
def vault_id(registry: VaultRegistry) -> int:
    return registry.create_vault(
        "live-carry",
        "carry",
        vault_type=VaultType.ON_CHAIN,
        network="mainnet",
        authority=AUTHORITY,
        sub_account_id=2,
    ).id


def kinds(result) -> list[tuple[EntryKind, int]]:
    return [(e.kind, e.amount) for e in result.booked]


def test_first_snapshot_books_the_opening_balance(registry: VaultRegistry, vault_id: int) -> None:
    result = registry.reconcile(vault_id, snapshot(100, 5_000_000_000, funding=777))
    assert result.outcome is ReconcileOutcome.RECONCILED
    # Funding earned before the vault was attached is the baseline, not income.
    assert kinds(result) == [(EntryKind.DEPOSIT, 5_000_000_000)]
    summary = registry.summary(vault_id)
    assert summary.balance == summary.net_deposits == summary.equity == 5_000_000_000
    assert summary.realized_pnl == 0


def test_same_snapshot_twice_books_nothing(registry: VaultRegistry, vault_id: int) -> None:
    first = snapshot(100, 5_000_000_000)
    registry.reconcile(vault_id, first)
    fill = OnChainFill(fill_id="sigA:0", amount=0, fee=2_500, market_index=0)
    second = snapshot(200, 4_999_997_000, funding=500, fills=[fill])
    assert registry.reconcile(vault_id, second).booked
    entries_before = registry.ledger.entries(vault_id)
    for snap in (second, first):
        result = registry.reconcile(vault_id, snap)
        assert result.booked == () and result.snapshot is None
    assert registry.reconcile(vault_id, second).outcome is ReconcileOutcome.ALREADY_RECONCILED
    assert registry.reconcile(vault_id, snapshot(150, 1)).outcome is ReconcileOutcome.STALE
    assert registry.ledger.entries(vault_id) == entries_before
    assert len(registry.snapshots.series(vault_id)) == 2


def test_typed_entries_for_fills_funding_and_the_rest(
    registry: VaultRegistry, vault_id: int
) -> None:
    registry.reconcile(vault_id, snapshot(100, 1_000_000_000, funding=40))
    # Opened a perp short: fee 50_000 sits in quote (quote - entry = -50_000); funding
    # +120_000 settled into it; the engine saw fill A itself, fill B only shows on chain;
    # 9 micro-USDC of deposit interest grew the USDC balance.
    registry.ledger.book_fill("carry", vault_id, fill_id="sigA:0", amount=0, fee=30_000)
    perp = sol_perp(base=-(10**9), quote=100_000_000 - 50_000 + 120_000, entry=100_000_000)
    fills = [
        OnChainFill(fill_id="sigA:0", amount=0, fee=30_000, market_index=0),
        OnChainFill(fill_id="sigB:1", amount=0, fee=20_000, market_index=0),
    ]
    result = registry.reconcile(
        vault_id,
        snapshot(200, 1_000_000_009, funding=40 + 120_000, perp=perp, fills=fills),
    )
    assert kinds(result) == [
        (EntryKind.FILL, 0),  # fill B only; A was booked by the engine under the same key
        (EntryKind.FUNDING, 120_000),
        (EntryKind.SYNC_ADJUSTMENT, 9),
    ]
    summary = registry.summary(vault_id)
    assert summary.balance == result.snapshot.cash == 1_000_000_009 - 50_000 + 120_000
    assert summary.fees_paid == 50_000 and summary.funding_earned == 120_000


def test_ledger_moves_already_booked_are_not_adjusted_again(
    registry: VaultRegistry, vault_id: int
) -> None:
    registry.reconcile(vault_id, snapshot(100, 1_000))
    registry.book_confirmed_deposit(vault_id, 500, signature="dep1")
    result = registry.reconcile(vault_id, snapshot(200, 1_500))
    assert result.booked == ()
    assert registry.ledger.balance(vault_id) == 1_500


def test_snapshot_records_equity_positions_and_counters(
    registry: VaultRegistry, vault_id: int
) -> None:
    perp = sol_perp(base=10**9, quote=-100_000_000, entry=-100_000_000)
    snap = snapshot(100, 900_000_000, perp=perp, funding=5, equity=1_005_000_000)
    recorded = registry.reconcile(vault_id, snap).snapshot
    assert recorded is not None
    assert recorded.cash == 900_000_000
    assert recorded.position_value == 105_000_000
    assert recorded.equity == 1_005_000_000
    assert recorded.positions == snap.positions
    assert (recorded.slot, recorded.cumulative_perp_funding, recorded.health) == (100, 5, 90)
    assert registry.summary(vault_id).equity == 1_005_000_000


def test_virtual_vaults_are_not_reconciled(registry: VaultRegistry) -> None:
    paper = registry.create_vault("paper", "carry")
    with pytest.raises(VaultStateError, match="VIRTUAL"):
        registry.reconcile(paper.id, snapshot(1, 1))
