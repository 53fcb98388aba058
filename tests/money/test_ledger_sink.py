"""The engine's ledger sinks: one entry per key, balance = opening + sum(amount - fee).

`VaultLedgerSink` is how every engine books into its vault: its keys must be the vault's
own conventions (so the engine and reconciliation book a fill once), a replay must be
answered False without a second entry, and what it holds in a paper stack's write batch
must be counted at once and written exactly once when the batch commits. Expected keys,
balances and totals are worked out by hand below, never read back from the sink.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from drift_engine.engine.ledger import MemoryLedgerSink, VaultLedgerSink, ledger_key
from drift_engine.engine.ports import Posting
from drift_engine.engine.store import WriteBatch
from drift_engine.storage import Database
from drift_engine.storage.testing import throwaway_database_url
from drift_engine.vaults import EntryKind, VaultRegistry

ENGINE = "carry"
OPENING = 1_000_000_007
T = 1_767_225_600  # 2026-01-01 00:00 UTC

FILL_A = Posting("fill", -3_333_333, "sigA:0", T, fee=1_667, market_index=0)
FILL_B = Posting("fill", 2_000_001, "sigB:1", T + 60, fee=-401, market_index=0, memo="maker")
FUNDING = Posting("funding", -12_345, "ignored-for-funding", T + 3600, market_index=2)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """SQLite, and PostgreSQL when DATABASE_URL is set (scripts/with_postgres.sh)."""
    if request.param == "postgresql" and not os.environ.get("DATABASE_URL"):
        pytest.skip("PostgreSQL variant runs when DATABASE_URL is set")
    with throwaway_database_url(request.param, tmp_path) as url:
        database = Database.open(url)
        yield database
        database.dispose()


@pytest.fixture
def registry(db: Database) -> VaultRegistry:
    registry = VaultRegistry(db)
    vault = registry.create_vault("carry-paper", ENGINE)
    registry.deposit(vault.id, OPENING, key="seed")
    return registry


def sink_of(registry: VaultRegistry) -> VaultLedgerSink:
    return VaultLedgerSink(registry.ledger, ENGINE, "carry-paper")


def keys(registry: VaultRegistry) -> list[str]:
    return [e.key for e in registry.ledger.entries("carry-paper")]


def test_ledger_keys_are_the_vaults_own_key_conventions():
    assert ledger_key(FILL_A) == "fill:sigA:0"
    assert ledger_key(FUNDING) == f"funding:2:{T + 3600}"  # market and funding time, not the id
    assert ledger_key(Posting("funding", 1, "x", T)) == f"funding:0:{T}"  # no market: index 0
    assert ledger_key(Posting("interest", 1, "x", T, market_index=5)) == f"interest:5:{T}"
    assert ledger_key(Posting("interest", 1, "x", T)) == f"interest:0:{T}"
    assert ledger_key(Posting("liquidation", -9, "liq-7", T)) == "liquidation:liq-7"
    assert ledger_key(Posting("settle_pnl", 5, "settle:abc", T)) == "settle:abc"


def test_a_replayed_posting_books_once_and_the_balance_is_opening_plus_amount_minus_fee(
    registry,
):
    sink = sink_of(registry)
    assert sink.book(FILL_A) is True
    assert sink.book(FILL_A) is False  # the replay: no second entry
    assert sink.book(FILL_B) is True
    assert sink.book(FUNDING) is True
    # 1_000_000_007 - (3_333_333 + 1_667) + (2_000_001 + 401) - 12_345 = 998_653_064
    expected = 998_653_064
    assert expected == OPENING - 3_333_333 - 1_667 + 2_000_001 + 401 - 12_345
    assert sink.balance() == expected
    assert registry.ledger.balance("carry-paper") == expected
    assert keys(registry) == ["seed", "fill:sigA:0", "fill:sigB:1", f"funding:2:{T + 3600}"]
    fill = registry.ledger.entry("carry-paper", "fill:sigB:1")
    assert (fill.kind, fill.amount, fill.fee, fill.market_index) == (
        EntryKind.FILL,
        2_000_001,
        -401,
        0,
    )
    assert int(fill.occurred_at.timestamp()) == T + 60 and fill.memo == "maker"  # a rebate
    # a new sink (a restarted engine) knows the keys from the database
    again = sink_of(registry)
    assert again.book(FILL_B) is False and again.book(FUNDING) is False
    assert again.balance() == expected and len(keys(registry)) == 4


def test_a_posting_that_moves_nothing_is_seen_without_an_entry_but_a_fee_alone_is_booked(
    registry,
):
    sink = sink_of(registry)
    opened = Posting("fill", 0, "sigO:0", T, fee=0)  # opening a perp: no realized cash
    assert sink.book(opened) is True
    assert sink.book(opened) is False
    fee_only = Posting("fill", 0, "sigF:0", T, fee=1_667)
    amount_only = Posting("fill", 7, "sigM:0", T, fee=0)
    assert sink.book(fee_only) is True and sink.book(amount_only) is True
    assert keys(registry) == ["seed", "fill:sigF:0", "fill:sigM:0"]
    assert sink.balance() == registry.ledger.balance("carry-paper") == OPENING - 1_667 + 7


def test_totals_per_kind_are_amount_fee_and_entry_count_loaded_and_kept_up_to_date(registry):
    registry.ledger.book_fill(ENGINE, "carry-paper", fill_id="old:0", amount=-5, fee=3)
    sink = sink_of(registry)
    sink.book(FILL_A)
    sink.book(FILL_B)
    sink.book(FUNDING)
    assert sink.totals() == {
        "deposit": (OPENING, 0, 1),
        "fill": (-5 - 3_333_333 + 2_000_001, 3 + 1_667 - 401, 3),  # (-1_333_337, 1_269, 3)
        "funding": (-12_345, 0, 1),
    }
    assert sink.total("fill") == -1_333_337 and sink.total("funding") == -12_345


def test_after_a_restore_each_key_booked_since_the_checkpoint_is_answered_once_not_rebooked(
    registry,
):
    sink = sink_of(registry)
    sink.book(FILL_A)
    mark = max(e.id for e in registry.ledger.entries("carry-paper"))  # the checkpoint
    sink.book(FILL_B)
    sink.book(FUNDING)
    restored = sink_of(registry)
    restored.replay_after(mark)
    before = keys(registry)
    assert restored.book(FILL_B) is True  # the strategy hears of it again, once
    assert restored.book(FILL_B) is False
    assert restored.book(FUNDING) is True
    assert restored.book(FILL_A) is False  # booked before the checkpoint: a plain replay
    assert keys(registry) == before
    assert restored.balance() == OPENING - 3_333_333 - 1_667 + 2_000_001 + 401 - 12_345


def _crashed_run(registry: VaultRegistry) -> int:
    """A run booked FILL_A, checkpointed, booked FILL_B and FUNDING and crashed: the
    checkpoint's ledger mark."""
    sink = sink_of(registry)
    sink.book(FILL_A)
    mark = max(e.id for e in registry.ledger.entries("carry-paper"))
    sink.book(FILL_B)
    sink.book(FUNDING)
    return mark


def _restored(registry: VaultRegistry, mark: int, mode: str, unmet=()) -> VaultLedgerSink:
    restored = VaultLedgerSink(registry.ledger, ENGINE, "carry-paper", replay_balance=mode)
    restored.replay_after(mark, unmet)
    return restored


AFTER_A = OPENING - 3_333_333 - 1_667
AFTER_B = AFTER_A + 2_000_001 + 401
AFTER_FUNDING = AFTER_B - 12_345


def test_a_restored_sink_reads_the_committed_balance_unless_asked_for_the_balance_as_then(
    registry,
):
    """Default ("committed": live restores, tools): the ledger as committed, whatever the
    replay has met. "as_then" (paper cells): what the engine read at that point the
    first time, each entry counted again once the replay meets it."""
    mark = _crashed_run(registry)
    committed = _restored(registry, mark, "committed")
    assert committed.balance() == AFTER_FUNDING
    assert committed.unmet() == ["fill:sigB:1", "funding:2:1767229200"]
    assert committed.book(FILL_B) is True
    assert committed.balance() == AFTER_FUNDING
    assert committed.unmet() == ["funding:2:1767229200"]

    as_then = _restored(registry, mark, "as_then")
    assert as_then.balance() == AFTER_A
    assert as_then.book(FILL_B) is True
    assert as_then.balance() == AFTER_B
    assert as_then.unmet() == ["funding:2:1767229200"]
    assert as_then.book(FUNDING) is True
    assert as_then.balance() == AFTER_FUNDING
    assert as_then.unmet() == []
    assert as_then.book(FUNDING) is False
    assert as_then.balance() == AFTER_FUNDING
    assert keys(registry) == ["seed", "fill:sigA:0", "fill:sigB:1", "funding:2:1767229200"]


def test_unmet_keys_at_or_below_the_mark_are_replayed_again_after_a_second_restore(registry):
    """A checkpoint taken before the replay met FUNDING has a mark above it: restored
    from it with the `unmet` keys, FUNDING is still answered once and (as_then) not yet
    counted; without them it would be a plain replay (False)."""
    first = _restored(registry, _crashed_run(registry), "as_then")
    first.book(FILL_B)
    unmet = first.unmet()
    mark = max(e.id for e in registry.ledger.entries("carry-paper"))  # second checkpoint
    for mode, balance in (("as_then", AFTER_B), ("committed", AFTER_FUNDING)):
        again = _restored(registry, mark, mode, unmet)
        assert again.balance() == balance
        assert again.book(FILL_B) is False
        assert again.book(FUNDING) is True
        assert again.balance() == AFTER_FUNDING
    plain = sink_of(registry)
    plain.replay_after(mark)
    assert plain.book(FUNDING) is False


def test_replay_balance_is_one_of_two_modes(registry):
    with pytest.raises(ValueError, match="replay_balance"):
        VaultLedgerSink(registry.ledger, ENGINE, "carry-paper", replay_balance="then")


def test_bookings_held_in_a_write_batch_count_at_once_and_are_written_once_on_commit(registry, db):
    batch = WriteBatch()
    sink = sink_of(registry)
    sink.batch = batch
    assert sink.book(FILL_A) is True  # first thing this sink does: nothing read before
    assert sink.book(FILL_B) is True
    assert len(batch) == 1  # one write carries both entries (one book_in)
    assert keys(registry) == ["seed"]  # nothing written before the commit
    assert sink.balance() == OPENING - 3_333_333 - 1_667 + 2_000_001 + 401
    assert sink.book(FILL_A) is False  # held counts as booked

    record_write = lambda s: None  # noqa: E731 - an engine-record write: no ledger read
    record_write.ledger_free = True
    batch.add(record_write)
    sink.book(FUNDING)  # joins the held write: only a ledger-free write came after it
    assert len(batch) == 2

    reader = lambda s: None  # noqa: E731 - e.g. a snapshot: reads the ledger
    batch.add(reader)
    late = Posting("fill", -1, "sigL:0", T + 7200, fee=0)
    sink.book(late)  # a write that reads the ledger came after: a new write
    assert len(batch) == 4
    batch.add(reader)  # right after the held write this time
    later = Posting("fill", -1, "sigM:0", T + 7300, fee=0)
    sink.book(later)
    assert len(batch) == 6
    assert keys(registry) == ["seed"]

    with db.write() as session:
        batch.run(session)
    batch.clear()
    expected = OPENING - 3_333_333 - 1_667 + 2_000_001 + 401 - 12_345 - 1 - 1
    assert keys(registry) == [
        "seed",
        "fill:sigA:0",
        "fill:sigB:1",
        f"funding:2:{T + 3600}",
        "fill:sigL:0",
        "fill:sigM:0",
    ]
    assert registry.ledger.balance("carry-paper") == sink.balance() == expected

    # after the checkpoint's commit (batch cleared), the next booking is a write of its own
    nxt = Posting("fill", -2, "sigN:0", T + 9000, fee=1)
    sink.book(nxt)
    assert len(batch) == 1
    with db.write() as session:
        batch.run(session)
    batch.clear()
    assert keys(registry)[-1] == "fill:sigN:0" and len(keys(registry)) == 7
    assert registry.ledger.balance("carry-paper") == expected - 3
    # and again from the first write of a cleared batch (the held write was its first)
    sink.book(Posting("fill", -4, "sigP:0", T + 9600, fee=0))
    assert len(batch) == 1
    with db.write() as session:
        batch.run(session)
    assert keys(registry)[-1] == "fill:sigP:0" and len(keys(registry)) == 8
    assert registry.ledger.balance("carry-paper") == sink.balance() == expected - 3 - 4


def test_refresh_forgets_cached_reads_and_the_database_is_read_again(registry):
    sink = sink_of(registry)
    sink.load()
    sink.book(FILL_A)
    registry.ledger.book_fill(ENGINE, "carry-paper", fill_id="other:0", amount=10, fee=1)
    assert sink.balance() == OPENING - 3_333_333 - 1_667  # cached: the other booking unseen
    sink.refresh()
    assert sink.balance() == OPENING - 3_333_333 - 1_667 + 10 - 1
    assert sink.totals()["fill"] == (-3_333_333 + 10, 1_667 + 1, 2)
    assert sink.book(Posting("fill", 10, "other:0", T, fee=1)) is False


def test_capital_the_runner_books_itself_counts_in_balance_keys_and_totals(registry):
    sink = sink_of(registry)
    sink.load()  # read before the move (engine.capital), the move's write is queued
    sink.note_capital("withdraw:w1", -200_000, EntryKind.WITHDRAW)
    assert sink.balance() == OPENING - 200_000
    assert sink.book(Posting("withdraw", -200_000, "withdraw:w1", T)) is False
    assert sink.totals() == {"deposit": (OPENING, 0, 1), "withdraw": (-200_000, 0, 1)}
    sink.note_capital("settle:s1", 3)  # no kind: balance only
    assert sink.balance() == OPENING - 200_000 + 3
    assert sink.totals() == {"deposit": (OPENING, 0, 1), "withdraw": (-200_000, 0, 1)}


def test_memory_sink_has_the_same_contract():
    default = MemoryLedgerSink()
    assert (default.vault_id, default.balance()) == ("memory", 0)
    sink = MemoryLedgerSink("v", OPENING)
    assert sink.vault_id == "v"
    assert sink.book(FILL_A) is True and sink.book(FILL_A) is False
    assert sink.book(Posting("fill", 0, "sigO:0", T)) is True
    assert sink.book(Posting("fill", 0, "sigO:0", T)) is False
    assert sink.book(Posting("fill", 0, "sigF:0", T, fee=5)) is True
    assert sink.book(FUNDING) is True
    assert sink.balance() == OPENING - 3_333_333 - 1_667 - 5 - 12_345
    assert sink.total("fill") == -3_333_333 and sink.total("funding") == -12_345
    assert [p.idempotency_key for p in sink.entries] == [
        "sigA:0",
        "sigF:0",
        FUNDING.idempotency_key,
    ]
