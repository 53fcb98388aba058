"""Reconciliation's rules (vaults/reconcile.py, docs/reconciliation.md): the chain's cash
is the truth, the ledger books exactly the difference, once, as typed entries dated when
the chain was read.

Every expected amount is added up by hand in the test from the positions it builds (odd
amounts, a USDC borrow, a fee the engine booked differently), never read back from
`OnChainSnapshot.cash` or the ledger's own sums.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from drift_engine.core.types import DriftPosition, MarketType
from drift_engine.storage import Database
from drift_engine.storage.enums import VaultStatus
from drift_engine.vaults import (
    EntryKind,
    InvalidAmountError,
    OnChainFill,
    OnChainSnapshot,
    ReconcileOutcome,
    VaultRegistry,
    VaultStateError,
    VaultType,
)
from drift_engine.vaults.reconcile import Reconciler

T0 = datetime(2026, 3, 1, tzinfo=UTC)
BOOKED_AT = datetime(2030, 1, 1, tzinfo=UTC)  # the reconciler's clock: never an entry's date


def usdc(amount: int, decimals: int = 6) -> DriftPosition:
    return DriftPosition(
        market_index=0, market_type=MarketType.SPOT, base_asset_amount=amount, decimals=decimals
    )


def sol_spot(amount: int) -> DriftPosition:
    return DriftPosition(
        market_index=1, market_type=MarketType.SPOT, base_asset_amount=amount, decimals=9
    )


def sol_perp(base: int, quote: int, entry: int) -> DriftPosition:
    return DriftPosition(
        market_index=0,
        market_type=MarketType.PERP,
        base_asset_amount=base,
        quote_asset_amount=quote,
        quote_entry_amount=entry,
    )


def snap(slot: int, *positions: DriftPosition, funding: int = 0, fills=(), **kw) -> OnChainSnapshot:
    fields = {
        "slot": slot,
        "taken_at": T0 + timedelta(seconds=slot),
        "positions": positions,
        "cumulative_perp_funding": funding,
        "settled_perp_pnl": 0,
        "equity": 0,
        "unrealized_pnl": 0,
        "health": 90,
        "fills": tuple(fills),
    }
    fields.update(kw)
    return OnChainSnapshot(**fields)


@pytest.fixture
def db(tmp_path) -> Database:
    database = Database.open(f"sqlite:///{tmp_path / 'reconcile.db'}")
    yield database
    database.dispose()


@pytest.fixture
def registry(db: Database) -> VaultRegistry:
    return VaultRegistry(db)


@pytest.fixture
def reconciler(db: Database) -> Reconciler:
    return Reconciler(db, clock=lambda: BOOKED_AT)


def on_chain(registry: VaultRegistry, name: str, sub_account_id: int) -> int:
    return registry.create_vault(
        name,
        f"engine-{name}",
        vault_type=VaultType.ON_CHAIN,
        network="mainnet",
        authority="11111111111111111111111111111111",
        sub_account_id=sub_account_id,
    ).id


def booked(result) -> list[tuple[EntryKind, int, int, str]]:
    return [(e.kind, e.amount, e.fee, e.key) for e in result.booked]


# ------------------------------------------------------------------- what cash is


def test_cash_is_the_usdc_balance_plus_each_perps_realized_unsettled_quote_only():
    s = snap(
        1,
        usdc(1_000_000_007),
        sol_spot(2_000_000_000),  # SOL tokens are not cash
        sol_perp(base=10**9, quote=-100_000_123, entry=-100_000_000),  # 123 of fees unsettled
        DriftPosition(  # a short with 4_567 of funding received, unsettled
            market_index=1,
            market_type=MarketType.PERP,
            base_asset_amount=-(10**9),
            quote_asset_amount=90_004_567,
            quote_entry_amount=90_000_000,
        ),
        equity=1_100_000_000,
    )
    # 1_000_000_007 - 123 + 4_567 = 1_000_004_451; position value = equity - cash
    assert s.cash == 1_000_004_451
    assert s.position_value == 1_100_000_000 - 1_000_004_451


def test_a_snapshot_refuses_a_bad_slot_time_amount_or_usdc_precision_in_one_line():
    good = snap(0, usdc(5))  # slot 0 is a slot
    assert good.slot == 0
    for slot in (-1, True, 1.0, "7"):
        with pytest.raises(InvalidAmountError) as err:
            replace(good, slot=slot)
        assert str(err.value) == f"slot: must be a non-negative integer, got {slot!r}"
        assert err.value.field == "slot"
    with pytest.raises(InvalidAmountError) as err:
        replace(good, taken_at=datetime(2026, 3, 1))
    assert str(err.value) == "taken_at: must be timezone-aware"
    for name in ("cumulative_perp_funding", "settled_perp_pnl", "equity", "unrealized_pnl"):
        assert getattr(replace(good, **{name: -5}), name) == -5  # negative is allowed
        assert getattr(replace(good, **{name: 0}), name) == 0
        with pytest.raises(InvalidAmountError, match=name):
            replace(good, **{name: Decimal("1.5")})
    with pytest.raises(InvalidAmountError) as err:
        snap(1, usdc(5, decimals=9))
    assert str(err.value) == "positions: the USDC spot balance must have 6 decimals"
    # only the USDC spot balance (spot market 0) must have 6 decimals
    assert snap(1, usdc(5), sol_spot(1), sol_perp(1, 0, 0)).cash == 5


# ------------------------------------------------------------------- what is booked


def test_an_opening_balance_below_zero_is_a_withdrawal_and_one_micro_usdc_a_deposit(
    registry, reconciler
):
    borrower = on_chain(registry, "borrower", 1)
    result = reconciler.reconcile(borrower, snap(100, usdc(-2_500_001)))  # a USDC borrow
    assert booked(result) == [(EntryKind.WITHDRAW, -2_500_001, 0, "opening:100")]
    assert registry.ledger.balance(borrower) == -2_500_001
    tiny = on_chain(registry, "tiny", 2)
    result = reconciler.reconcile(tiny, snap(100, usdc(1)))
    assert booked(result) == [(EntryKind.DEPOSIT, 1, 0, "opening:100")]


def test_entries_are_dated_when_the_chain_was_read_and_say_where_they_came_from(
    registry, reconciler
):
    vault = on_chain(registry, "carry", 2)
    first = reconciler.reconcile(vault, snap(100, usdc(1_000_000_000), funding=40))
    (opening,) = first.booked
    assert opening.occurred_at == T0 + timedelta(seconds=100)
    assert opening.memo == "opening balance read from chain"
    fill_at = T0 + timedelta(seconds=150)
    fills = [
        OnChainFill("sigA:0", amount=-1_234, fee=567, market_index=3, occurred_at=fill_at),
        OnChainFill("sigB:1", amount=89, fee=-12),  # no time of its own: the read's
    ]
    # USDC moved by 9 of interest beyond the fills: 1_000_000_000 - 1_234 - 567 + 89 + 12
    # + 9 = 999_998_309; funding 40 -> 160 is +120 settled into the USDC balance too
    result = reconciler.reconcile(
        vault, snap(200, usdc(999_998_309 + 120), funding=160, fills=fills)
    )
    taken = T0 + timedelta(seconds=200)
    rows = [
        (e.kind, e.amount, e.fee, e.key, e.market_index, e.occurred_at, e.memo)
        for e in result.booked
    ]
    assert rows == [
        (EntryKind.FILL, -1_234, 567, "fill:sigA:0", 3, fill_at, "seen on chain"),
        (EntryKind.FILL, 89, -12, "fill:sigB:1", None, taken, "seen on chain"),
        (
            EntryKind.FUNDING,
            120,
            0,
            "funding-sync:200",
            None,
            taken,
            "cumulative_perp_funding 40 -> 160",
        ),
        (
            EntryKind.SYNC_ADJUSTMENT,
            9,
            0,
            "sync:200",
            None,
            taken,
            "chain cash minus ledger balance",
        ),
    ]
    assert all(e.booked_at == BOOKED_AT for e in result.booked)
    assert registry.ledger.balance(vault) == 999_998_309 + 120


def test_unchanged_funding_books_no_funding_entry(registry, reconciler):
    vault = on_chain(registry, "carry", 2)
    reconciler.reconcile(vault, snap(100, usdc(1_000), funding=-77))
    result = reconciler.reconcile(vault, snap(200, usdc(1_000), funding=-77))
    assert result.booked == () and result.outcome is ReconcileOutcome.RECONCILED
    result = reconciler.reconcile(vault, snap(300, usdc(1_000 - 5), funding=-82))
    assert booked(result) == [(EntryKind.FUNDING, -5, 0, "funding-sync:300")]


def test_a_fill_the_engine_booked_with_another_fee_stands_and_the_cash_corrects_the_rest(
    registry, reconciler
):
    vault = on_chain(registry, "carry", 2)
    reconciler.reconcile(vault, snap(100, usdc(1_000_000_000)))
    registry.ledger.book_fill("engine-carry", vault, fill_id="sigA:0", amount=0, fee=30_000)
    # the chain says the fee was 30_001: no conflict error, the ledger moves by 1 via sync
    fill = OnChainFill("sigA:0", amount=0, fee=30_001, market_index=0)
    result = reconciler.reconcile(vault, snap(200, usdc(1_000_000_000 - 30_001), fills=[fill]))
    assert booked(result) == [(EntryKind.SYNC_ADJUSTMENT, -1, 0, "sync:200")]
    assert registry.ledger.balance(vault) == 1_000_000_000 - 30_001


def test_the_recorded_snapshot_is_the_chains_read(registry, reconciler):
    vault = on_chain(registry, "carry", 2)
    perp = sol_perp(base=10**9, quote=-100_000_050, entry=-100_000_000)
    s = snap(
        100,
        usdc(900_000_000),
        perp,
        funding=-31,
        settled_perp_pnl=-7,
        equity=1_004_999_950,
        unrealized_pnl=5_000_000,
        health=73,
    )
    result = reconciler.reconcile(vault, s)
    assert (result.vault_id, result.slot, result.outcome) == (
        vault,
        100,
        ReconcileOutcome.RECONCILED,
    )
    rec = result.snapshot
    # cash 900_000_000 - 50; position value 1_004_999_950 - 899_999_950 = 105_000_000
    assert (rec.cash, rec.position_value, rec.equity) == (899_999_950, 105_000_000, 1_004_999_950)
    assert (rec.unrealized_pnl, rec.health, rec.slot) == (5_000_000, 73, 100)
    assert (rec.cumulative_perp_funding, rec.settled_perp_pnl) == (-31, -7)
    assert rec.positions == (usdc(900_000_000), perp)
    assert rec.taken_at == T0 + timedelta(seconds=100)
    assert registry.snapshots.latest(vault) == rec


# ------------------------------------------------------------------- which slot counts


def test_an_older_slot_is_already_reconciled_only_when_this_vault_recorded_it(registry, reconciler):
    a, b = on_chain(registry, "a", 1), on_chain(registry, "b", 2)
    for slot in (100, 200):
        reconciler.reconcile(a, snap(slot, usdc(1_000)))
    reconciler.reconcile(b, snap(150, usdc(7)))
    stale = reconciler.reconcile(a, snap(150, usdc(1)))
    assert (stale.vault_id, stale.slot, stale.outcome) == (a, 150, ReconcileOutcome.STALE)
    assert stale.booked == () and stale.snapshot is None
    assert (
        reconciler.reconcile(a, snap(100, usdc(1))).outcome is ReconcileOutcome.ALREADY_RECONCILED
    )
    assert (
        reconciler.reconcile(a, snap(200, usdc(1))).outcome is ReconcileOutcome.ALREADY_RECONCILED
    )
    assert registry.ledger.balance(a) == 1_000 and registry.ledger.balance(b) == 7


def test_each_vault_starts_from_its_own_latest_chain_snapshot(registry, reconciler):
    a, b = on_chain(registry, "a", 1), on_chain(registry, "b", 2)
    reconciler.reconcile(b, snap(500, usdc(7), funding=1_000))
    # a's first read is its opening, even though b was read at a later slot
    result = reconciler.reconcile(a, snap(100, usdc(2_000), funding=50))
    assert booked(result) == [(EntryKind.DEPOSIT, 2_000, 0, "opening:100")]
    result = reconciler.reconcile(a, snap(200, usdc(2_000 + 30), funding=80))
    assert booked(result) == [(EntryKind.FUNDING, 30, 0, "funding-sync:200")]


def test_an_engine_snapshot_is_not_a_chain_baseline(registry, reconciler):
    vault = on_chain(registry, "carry", 2)
    registry.snapshots.record("engine-carry", vault, position_value=0, unrealized_pnl=0)
    result = reconciler.reconcile(vault, snap(100, usdc(3_000), funding=9))
    assert booked(result) == [(EntryKind.DEPOSIT, 3_000, 0, "opening:100")]


def test_a_closed_vault_is_not_reconciled(registry, reconciler):
    vault = on_chain(registry, "carry", 2)
    registry.set_status(vault, VaultStatus.CLOSED)
    with pytest.raises(VaultStateError, match="'carry' is closed"):
        reconciler.reconcile(vault, snap(100, usdc(1)))
    frozen = on_chain(registry, "frozen", 3)
    registry.set_status(frozen, VaultStatus.FROZEN)  # frozen: the chain still moves
    assert booked(reconciler.reconcile(frozen, snap(100, usdc(4)))) == [
        (EntryKind.DEPOSIT, 4, 0, "opening:100")
    ]
