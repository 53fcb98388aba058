"""The ledger's money rules: idempotency compares the whole event, balance = sum(amount - fee).

Expected balances are added up by hand below (odd amounts, a rebate, a negative funding),
never read back from the ledger's own sums.
"""

from __future__ import annotations

import pytest

from drift_engine.vaults import (
    EntryKind,
    IdempotencyConflictError,
    InvalidAmountError,
    NewEntry,
)
from tests.money.conftest import LEDGER_ENGINE as ENGINE


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


def test_a_batch_books_each_new_event_once_with_every_field_and_replays_booked_ones(
    registry, vault_id
):
    # Ledger.book_many (a paper tick, a backtest day): one read of the booked keys, one
    # insert; every entry comes back in batch order, a key booked before (or earlier in
    # the batch) for the same event is that entry, never a second row
    from datetime import UTC, datetime

    ledger = registry.ledger
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    first = ledger.book(ENGINE, vault_id, NewEntry(EntryKind.FILL, -1_111, "k-a", fee=7))
    leg = NewEntry(
        EntryKind.FILL, 2_222, "k-b", fee=3, market_index=4, memo="leg", occurred_at=when
    )
    got = ledger.book_many(
        ENGINE,
        vault_id,
        [
            NewEntry(EntryKind.FILL, -1_111, "k-a", fee=7),
            leg,
            NewEntry(EntryKind.FUNDING, -55, "k-c"),
            leg,
        ],
    )
    assert got[0] == first and got[3] == got[1]
    assert got[2].id == got[1].id + 1 > first.id + 1
    stored = {e.key: e for e in ledger.entries(vault_id)}
    assert got[1:3] == [stored["k-b"], stored["k-c"]]
    b, c = got[1], got[2]
    assert (b.vault_id, b.kind, b.amount, b.fee) == (vault_id, EntryKind.FILL, 2_222, 3)
    assert (b.market_index, b.memo, b.counterparty_vault_id) == (4, "leg", None)
    assert b.occurred_at.replace(tzinfo=UTC) == when  # as given, not the booking time
    assert (c.kind, c.amount, c.fee, c.market_index, c.memo) == (
        EntryKind.FUNDING,
        -55,
        0,
        None,
        None,
    )
    assert c.occurred_at == c.booked_at == b.booked_at  # no time given: booked now
    assert b.booked_at.replace(tzinfo=UTC) > when
    # 1_000_000_007 - (1_111 + 7) + (2_222 - 3) - 55 = 1_000_001_053; four rows in all
    assert ledger.balance(vault_id) == 1_000_001_053
    assert len(stored) == 4


def test_a_batch_refuses_a_key_reused_for_another_event_and_books_nothing(registry, vault_id):
    ledger = registry.ledger
    ledger.book(ENGINE, vault_id, NewEntry(EntryKind.FILL, -1_111, "k-a", fee=7))
    twice = [NewEntry(EntryKind.FILL, -1, "k-d"), NewEntry(EntryKind.FILL, -2, "k-d")]
    with pytest.raises(IdempotencyConflictError) as err:
        ledger.book_many(ENGINE, vault_id, twice)
    assert str(err.value) == "vault 'carry-paper': key 'k-d' already booked twice in one batch"
    reused = [NewEntry(EntryKind.FILL, -5, "k-e"), NewEntry(EntryKind.FILL, -1_111, "k-a", fee=8)]
    with pytest.raises(IdempotencyConflictError) as err:
        ledger.book_many(ENGINE, vault_id, reused)
    assert str(err.value) == "vault 'carry-paper': key 'k-a' already booked as fill -1111 fee 7"
    assert sorted(e.key for e in ledger.entries(vault_id)) == ["k-a", "seed"]
    assert ledger.balance(vault_id) == 1_000_000_007 - 1_118


def test_a_batch_of_501_finds_booked_keys_in_both_of_its_500_key_reads(registry, vault_id):
    # the booked keys are read 500 at a time: the first and the 501st entries are replays
    # of entries booked before, found in the first and the second read (a missed one would
    # be inserted again and hit the unique constraint)
    ledger = registry.ledger
    head = ledger.book(ENGINE, vault_id, NewEntry(EntryKind.FILL, -3, "k-000"))
    tail = ledger.book(ENGINE, vault_id, NewEntry(EntryKind.FILL, -3, "k-500"))
    batch = [NewEntry(EntryKind.FILL, -3, f"k-{i:03d}") for i in range(501)]
    got = ledger.book_many(ENGINE, vault_id, batch)
    assert (got[0], got[500]) == (head, tail)
    assert [e.key for e in got] == [f"k-{i:03d}" for i in range(501)]
    # 501 fills of 3, each once: 1_000_000_007 - 1_503
    assert ledger.balance(vault_id) == 1_000_000_007 - 1_503


def test_a_vaults_summary_adds_up_by_kind_and_takes_the_latest_snapshot(registry, vault_id):
    # by hand: cash 1_000_000_007 - 3_333_333 - 1_667 (fill + fee) - 4_321 (funding paid)
    # + 77 (interest) = 996_660_763; the latest snapshot is the newest taken_at, and of two
    # taken at the same time the one recorded last
    from datetime import UTC, datetime

    ledger = registry.ledger
    ledger.book_fill(ENGINE, vault_id, fill_id="s:1", amount=-3_333_333, fee=1_667)
    ledger.book_funding(ENGINE, vault_id, market_index=0, funding_ts=3_600, amount=-4_321)
    ledger.book_interest(ENGINE, vault_id, spot_market_index=0, interest_ts=3_600, amount=77)
    t0, t1 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    snaps = registry.snapshots
    snaps.record(ENGINE, vault_id, position_value=1, unrealized_pnl=-1, health=10, taken_at=t1)
    snaps.record(ENGINE, vault_id, position_value=2, unrealized_pnl=-2, health=20, taken_at=t0)
    snaps.record(
        ENGINE, vault_id, position_value=5_000_001, unrealized_pnl=-12_345, health=80, taken_at=t1
    )
    s = registry.summary(vault_id)
    assert (s.vault.id, s.vault.name) == (vault_id, "carry-paper")
    assert (s.balance, s.net_deposits, s.fees_paid) == (996_660_763, 1_000_000_007, 1_667)
    assert (s.funding_earned, s.interest_earned, s.sync_adjustments) == (-4_321, 77, 0)
    assert (s.position_value, s.unrealized_pnl, s.health) == (5_000_001, -12_345, 80)
    assert s.snapshot_at.replace(tzinfo=UTC) == t1 and s.entry_count == 4


def test_funding_interest_and_liquidation_entries_carry_their_market_time_and_key(
    registry, vault_id
):
    # one entry per (market, funding time): the key names both, so the same payment is
    # booked once and the next hour's is another entry; entries read back in booking order
    # (or newest first, limited), and one entry by its key
    from datetime import UTC, datetime

    ledger = registry.ledger
    when = datetime(2026, 3, 4, 5, tzinfo=UTC)
    f = ledger.book_funding(
        ENGINE, vault_id, market_index=2, funding_ts=7_200, amount=-4_321, occurred_at=when
    )
    i = ledger.book_interest(
        ENGINE, vault_id, spot_market_index=1, interest_ts=10_800, amount=77, occurred_at=when
    )
    q = ledger.book_liquidation(
        ENGINE,
        vault_id,
        liquidation_id="7:1",
        amount=-1_000_003,
        fee=12_345,
        market_index=3,
        occurred_at=when,
    )
    got = [(e.key, e.kind, e.market_index, e.amount, e.fee) for e in (f, i, q)]
    assert got == [
        ("funding:2:7200", EntryKind.FUNDING, 2, -4_321, 0),
        ("interest:1:10800", EntryKind.INTEREST, 1, 77, 0),
        ("liquidation:7:1", EntryKind.LIQUIDATION, 3, -1_000_003, 12_345),
    ]
    assert all(e.occurred_at.replace(tzinfo=UTC) == when for e in (f, i, q))
    # the same payment again is the same entry; the next funding time is another one
    assert (
        ledger.book_funding(
            ENGINE, vault_id, market_index=2, funding_ts=7_200, amount=-4_321, occurred_at=when
        )
        == f
    )
    assert ledger.book_funding(
        ENGINE, vault_id, market_index=2, funding_ts=10_800, amount=-1
    ).key == ("funding:2:10800")
    assert ledger.book_liquidation(ENGINE, vault_id, liquidation_id="8", amount=-5).fee == 0
    keys = [e.key for e in ledger.entries(vault_id)]
    assert keys == ["seed", "funding:2:7200", "interest:1:10800", "liquidation:7:1",
                    "funding:2:10800", "liquidation:8"]  # fmt: skip
    newest = [e.key for e in ledger.entries(vault_id, limit=2, newest_first=True)]
    assert newest == ["liquidation:8", "funding:2:10800"]
    assert ledger.entry(vault_id, "interest:1:10800") == i
    assert ledger.entry("carry-paper", "liquidation:7:1") == q  # by name too
    assert ledger.entry(vault_id, "interest:1:7200") is None
    # 1_000_000_007 - 4_321 + 77 - 1_000_003 - 12_345 - 1 - 5 = 998_983_409
    assert ledger.balance(vault_id) == 998_983_409


def test_bookings_an_engine_may_not_make_are_refused_word_for_word(registry, vault_id):
    # capital moves and adjustments never come from an engine; an ON_CHAIN vault's funding
    # and interest come from the chain's counters only (reconciliation)
    from drift_engine.storage.enums import VaultType
    from drift_engine.vaults import VaultStateError

    with pytest.raises(VaultStateError) as err:
        registry.ledger.book(ENGINE, vault_id, NewEntry(EntryKind.DEPOSIT, 5, "d"))
    assert str(err.value) == (
        "deposit entries are not booked by engines "
        "(capital moves go through VaultRegistry, adjustments through reconcile)"
    )
    live = registry.create_vault(
        "live-1",
        "live-engine",
        vault_type=VaultType.ON_CHAIN,
        network="devnet",
        authority="8YLKoCu7NwqHNS8GzuvA2ibsvLrsg22YMfMDafxh1B15",
        sub_account_id=1,
    )
    with pytest.raises(VaultStateError) as err:
        registry.ledger.book_interest(
            "live-engine", live.id, spot_market_index=0, interest_ts=3_600, amount=5
        )
    assert str(err.value) == (
        "vault 'live-1' is ON_CHAIN: interest is booked from the chain's counters by reconciliation"
    )
    assert registry.ledger.entries(live.id) == []
