"""Ledger sinks: where an engine books what its venue reports.

`VaultLedgerSink` books into the real vault ledger (`vaults.ledger.Ledger`), keyed with
the vault's own key conventions (`fill:<id>`, `funding:<market>:<ts>`, ...), so a replay
of the same record is one entry. It remembers which keys it has booked (loaded from the
database on first use), which is how the engine knows a record is a replay and must not
reach the strategy twice. `MemoryLedgerSink` is the same contract in memory (unit tests).

With a `WriteBatch` (`sink.batch`, set by a persisting paper stack) a booking is held in
the batch and committed with the stack's next checkpoint; the sink's balance and known
keys already count it (ADR-0011).

A sink restored with an engine from a checkpoint (`replay_after`) answers the keys the
crashed run booked after that checkpoint once each, without a second entry. What its
`balance()` says meanwhile is its `replay_balance` mode: "committed" (default; live
restores, tools) reads the ledger as committed; "as_then" (paper cells, which checkpoint
at their own minute and may replay an hour of bookings) reads what the engine read the
first time: the committed balance less the entries the replay has not met again yet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from enum import Enum
from functools import cache
from typing import Any, Literal

from drift_engine.engine.ports import Posting


@cache
def _entries() -> Any:
    """`drift_engine.vaults.entries`, imported on first use (it pulls in SQLAlchemy, which
    a memory sink does not need) and then kept: an import statement in a function costs
    ~2 us per call, and a backtest books two postings per funding hour."""
    from drift_engine.vaults import entries

    return entries


def ledger_key(posting: Posting) -> str:
    """The vault ledger's idempotency key for a posting (see vaults.entries)."""
    entries = _entries()
    k = posting.idempotency_key
    kind = posting.kind
    if kind == "funding":
        return entries.funding_key(posting.market_index or 0, posting.ts)
    if kind == "interest":
        return entries.interest_key(posting.market_index or 0, posting.ts)
    if kind == "fill":
        return entries.fill_key(k)
    if kind == "liquidation":
        return f"liquidation:{k}"
    return k


@cache
def _kinds() -> dict[str, Any]:
    """EntryKind by value (`NewEntry` converts a value with `EntryKind(value)`, an enum
    call of ~2 us; a member passes as it is)."""
    from drift_engine.storage.enums import EntryKind

    return {k.value: k for k in EntryKind}


def _entry_kind(kind: Any) -> Any:
    """The `EntryKind` of a kind value, the kind itself otherwise (a member, or a value
    `NewEntry` refuses with its own error)."""
    if type(kind) is str:
        return _kinds().get(kind, kind)
    return kind


def _ts(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


#: an hour: `_occurred_at` of the hour after the last one is the last one plus this
_AN_HOUR = timedelta(hours=1)


class MemoryLedgerSink:
    """In-memory ledger with the sink contract (tests of the engine's own logic)."""

    def __init__(self, vault_id: str = "memory", opening_balance: int = 0) -> None:
        self.vault_id = vault_id
        self.entries: list[Posting] = []
        self._keys: set[str] = set()
        self._balance = opening_balance
        self._totals: dict[str, int] = defaultdict(int)

    def book(self, posting: Posting) -> bool:
        key = ledger_key(posting)
        if key in self._keys:
            return False
        if posting.amount == 0 and posting.fee == 0:
            self._keys.add(key)
            return True
        self._keys.add(key)
        self.entries.append(posting)
        self._balance += posting.amount - posting.fee
        self._totals[posting.kind] += posting.amount
        return True

    def balance(self) -> int:
        return self._balance

    def total(self, kind: str) -> int:
        return self._totals[kind]


#: a quiet hour's payments join the entries a sink holds in its batch as `EntryRow`s
#: (`VaultLedgerSink.book_quiet`); False: each through `book_entry` and a `NewEntry`
#: (the reference the tests compare with)
QUIET_ROWS = True

#: a quiet hour's payment is held with less per-booking work (`book_quiet`): the common
#: form's test of a fee-free payment of a kind of any sign made inline (`common_form`
#: when it does not pass), the kind's totals row found by the kind itself (an `EntryKind`
#: is a `StrEnum`: it finds its value's row, without `_count`'s `Enum` test and the
#: member's `value` property), and `_occurred_at` of the hour after the last one made by
#: adding an hour to the last (`datetime.fromtimestamp` with its zone is ~0.7 us); False:
#: `common_form`, `_count` and `_ts` each booking (the reference the tests compare with)
QUIET_LEAN = True


def _quiet_form() -> tuple[int, frozenset[Any], int, Any]:
    """(MAX_AMOUNT, the entry kinds of any sign, MAX_KEY_LENGTH, EntryRow) of
    `vaults.entries`: what `common_form` reads of a fee-free entry and the held row's
    type, taken once (the module is imported late)."""
    global _QUIET_FORM
    if _QUIET_FORM is None:
        entries = _entries()
        _QUIET_FORM = (
            entries.MAX_AMOUNT,
            frozenset(k for k, sign in entries.SIGN_RULES.items() if sign is entries._ANY),
            entries.MAX_KEY_LENGTH,
            entries.EntryRow,
        )
    return _QUIET_FORM


_QUIET_FORM: tuple[int, frozenset[Any], int, Any] | None = None

#: what a replaying sink's `balance()` reads (see the module docstring)
ReplayBalance = Literal["committed", "as_then"]


class VaultLedgerSink:
    """Books an engine's events into its vault in the real, append-only ledger.

    `replay_balance`: what `balance()` reads while a restored engine replays bookings
    the crashed run committed after its checkpoint (`replay_after`): "committed" (the
    ledger as committed, the default) or "as_then" (the balance the engine read at that
    point the first time: a paper cell, ADR-0020 session 5 point 28)."""

    def __init__(
        self,
        ledger: Any,
        engine_id: str,
        vault: int | str,
        *,
        replay_balance: ReplayBalance = "committed",
    ) -> None:
        if replay_balance not in ("committed", "as_then"):
            raise ValueError(f"replay_balance: 'committed' or 'as_then', not {replay_balance!r}")
        self.ledger = ledger  # drift_engine.vaults.ledger.Ledger
        self.engine_id = engine_id
        self.vault_id = vault
        self.replay_balance = replay_balance
        self._keys: set[str] | None = None
        self._balance: int | None = None
        #: kind -> [amount, fee, entries] over the vault's ledger, loaded with the keys
        #: and kept up to date by what books through this sink (metrics read it)
        self._totals: dict[str, list[int]] | None = None
        #: key -> net amount of the entries booked after the state this engine was
        #: restored from (see `replay_after`) that the replay has not met again yet: met
        #: once, a key is answered True without a second entry and leaves this map
        self._replay: dict[str, int] = {}
        #: `engine.store.WriteBatch`: bookings wait for the paper stack's next checkpoint
        self.batch: Any = None
        #: [batch, index, write, entries, writes checked] of the write holding this
        #: sink's entries
        self._held: list[Any] | None = None
        #: (ts, its datetime) of the last booking (`_occurred_at`)
        self._last_time: tuple[int, datetime] | None = None

    def replay_after(self, mark: int, unmet: Iterable[str] = ()) -> None:
        """The venue and strategy were restored to a checkpoint taken when `mark` was the
        highest ledger entry id: entries above it were booked by the heartbeat that the
        crash interrupted, and the replay of that heartbeat reports their events again.
        Each such key is then answered True once (the strategy hears of it, as it did
        before the crash) without a second entry.

        `unmet`: keys at or below `mark` that the checkpoint's own replay had not met
        again yet (`unmet()` when it was taken: its mark is the highest id at its own
        commit, a lagging cell's catch-up may end before an hour the crashed run
        booked); they are replayed the same way."""
        unmet = set(unmet)
        self._replay = {
            e.key: e.amount - e.fee
            for e in self.ledger.entries(self.vault_id)
            if e.id > mark or e.key in unmet
        }

    def unmet(self) -> list[str]:
        """Keys booked by a crashed run that this engine's replay has not met again (a
        checkpoint stores them for `replay_after`)."""
        return sorted(self._replay)

    def _known(self) -> set[str]:
        if self._keys is None:
            entries = self.ledger.entries(self.vault_id)
            totals: dict[str, list[int]] = {}
            for e in entries:
                self._count(totals, e.kind, e.amount, e.fee)
            self._keys = {e.key for e in entries}
            self._totals = totals
        return self._keys

    @staticmethod
    def _count(totals: dict[str, list[int]], kind: Any, amount: int, fee: int) -> None:
        name = kind.value if isinstance(kind, Enum) else str(kind)
        row = totals.get(name)
        if row is None:
            row = totals[name] = [0, 0, 0]
        row[0] += amount
        row[1] += fee
        row[2] += 1

    def totals(self) -> dict[str, tuple[int, int, int]]:
        """kind -> (amount, fee, entries) of the vault's ledger as this sink knows it: the
        entries read at first use plus everything booked through it since (held in a
        batch included)."""
        self._known()
        assert self._totals is not None
        return {kind: (a, f, n) for kind, (a, f, n) in list(self._totals.items())}

    def book(self, posting: Posting) -> bool:
        return self.book_entry(
            posting.kind,
            posting.amount,
            posting.fee,
            ledger_key(posting),
            posting.market_index,
            posting.memo,
            posting.ts,
        )

    def book_entry(
        self,
        kind: Any,
        amount: int,
        fee: int,
        key: str,
        market_index: int | None,
        memo: str | None,
        ts: int,
    ) -> bool:
        """`book` of a posting whose ledger key is `key` (`ledger_key`): what a quiet
        funding hour's payments call with the key made at once (`engine.quiet`). `kind`
        is an `EntryKind` or its value."""
        replay = self._replay
        if replay and key in replay:
            del replay[key]
            return True
        known = self._keys if self._keys is not None else self._known()
        if key in known:
            return False
        if amount == 0 and fee == 0:
            # Nothing moved (e.g. opening a perp: no realized cash). The ledger refuses
            # empty entries; remember the key so the record still counts as seen.
            known.add(key)
            return True
        entry = _entries().NewEntry(
            kind=_entry_kind(kind),
            amount=amount,
            fee=fee,
            key=key,
            market_index=market_index,
            memo=memo,
            occurred_at=self._occurred_at(ts),
        )
        if self.batch is not None:
            if self._balance is None:
                self.balance()  # the committed balance, read before this entry is pending
            self._hold(entry)
        else:
            self.ledger.book(self.engine_id, self.vault_id, entry)
        known.add(key)
        if self._totals is not None:
            # a kind given as its value ("funding") is what the entry's EntryKind says
            self._count(self._totals, kind if type(kind) is str else entry.kind, amount, fee)
        if self._balance is not None:
            self._balance += amount - fee
        return True

    def _occurred_at(self, ts: int) -> datetime:
        """`_ts(ts)`, the last one kept: an hour's funding and interest share their time
        (a datetime is immutable, the entries may share it)."""
        last = self._last_time
        if last is not None:
            if last[0] == ts:
                return last[1]
            if QUIET_LEAN and type(ts) is int and ts - last[0] == 3600:
                # the same datetime as `_ts(ts)`: UTC has no leap seconds or folds, and an
                # aware datetime plus a timedelta keeps its zone (the same object)
                at = last[1] + _AN_HOUR
                self._last_time = (ts, at)
                return at
        at = _ts(ts)
        self._last_time = (ts, at)
        return at

    def _hold(self, entry: Any) -> None:
        """Add `entry` to the batch: to the entries this sink already holds there when
        nothing after them reads the ledger (only engine-record writes, marked
        `ledger_free`), so a day of bookings is one `book_in`; else as a new write.
        The writes after the held one are checked once each (`held[4]`: how many of the
        batch's writes were seen to pass), not again at every booking."""
        held = self._held_entries()
        if held is not None:
            held.append(entry)
            return
        batch = self.batch
        entries = [entry]
        ledger, engine_id, vault = self.ledger, self.engine_id, self.vault_id

        def write(s: Any) -> None:
            ledger.book_in(s, engine_id, vault, entries)

        # what `WriteBatch.run` books in bulk with the tick's other bookings (same rows)
        write.booking = (ledger, engine_id, vault, entries)  # type: ignore[attr-defined]
        self._held = [batch, len(batch.writes), write, entries, len(batch.writes) + 1]
        batch.add(write)

    def _held_entries(self) -> list[Any] | None:
        """The entries this sink holds in its batch when an entry may join them (`_hold`:
        nothing after them reads the ledger), else None."""
        held = self._held
        if held is not None and held[0] is self.batch:
            writes = held[0].writes
            at = held[1]
            if at < len(writes) and writes[at] is held[2]:
                seen = held[4]
                if seen == len(writes) or all(
                    getattr(w, "ledger_free", False) for w in writes[seen:]
                ):
                    held[4] = len(writes)
                    return held[3]
        return None

    def book_quiet(
        self, kind: Any, amount: int, key: str, market_index: int | None, ts: int
    ) -> bool:
        """`book_entry(kind, amount, 0, key, market_index, None, ts)` of a quiet funding
        hour's payment (`kind` an `EntryKind`), with the same answer, held entry values,
        balance, known keys and totals: where the entry joins the entries this sink
        already holds in its batch (a backtest's week), it is held as an `EntryRow`, the
        values `NewEntry` would hold, made after `common_form` (NewEntry's own test) says
        they are valid. Anything else (no batch, a replay, reads not made yet, values
        for `NewEntry._check`, a new held write) goes to `book_entry`.
        `QUIET_ROWS = False`: always `book_entry` (the reference)."""
        known, totals, balance = self._keys, self._totals, self._balance
        if (
            QUIET_ROWS
            and self.batch is not None
            and not self._replay
            and known is not None
            and totals is not None
            and balance is not None
        ):
            if key in known:
                return False
            if amount and QUIET_LEAN:
                at = self._occurred_at(ts)
                most, any_sign, longest, entry_row = _QUIET_FORM or _quiet_form()
                # `common_form(kind, amount, 0, key, at)` (`at` is aware: `_ts`'s zone);
                # what this test does not pass, `common_form` decides
                if (
                    type(amount) is int
                    and -most <= amount <= most
                    and kind in any_sign
                    and key
                    and len(key) <= longest
                ) or _entries().common_form(kind, amount, 0, key, at):
                    held = self._held_entries()
                    if held is not None:
                        row = (kind, amount, key, 0, market_index, None, None, at)
                        held.append(tuple.__new__(entry_row, row))
                        known.add(key)
                        # `_count(totals, kind, amount, 0)`: a kind that passed the form
                        # is an `EntryKind` or its value, equal to the row's name with
                        # its hash; a fee of 0 leaves the fee's sum as it is
                        counted = totals.get(kind)
                        if counted is None:
                            self._count(totals, kind, amount, 0)
                        else:
                            counted[0] += amount
                            counted[2] += 1
                        self._balance = balance + amount
                        return True
            elif amount:
                entries = _entries()
                at = self._occurred_at(ts)
                if entries.common_form(kind, amount, 0, key, at):
                    held = self._held_entries()
                    if held is not None:
                        row = (kind, amount, key, 0, market_index, None, None, at)
                        held.append(tuple.__new__(entries.EntryRow, row))
                        known.add(key)
                        self._count(totals, kind, amount, 0)
                        self._balance = balance + amount
                        return True
        return self.book_entry(kind, amount, 0, key, market_index, None, ts)

    def book_quiet_two(
        self,
        kind: Any,
        amount: int,
        key: str,
        market_index: int | None,
        kind2: Any,
        amount2: int,
        key2: str,
        market_index2: int | None,
        ts: int,
    ) -> bool:
        """`book_quiet` of two payments of one time `ts` (a quiet hour's USDC interest,
        then its funding payment: `engine.quiet.HOUR_PAIR`), True when both were held
        as `book_quiet` holds them on its lean way (`QUIET_LEAN`): the same rows in the
        same order, known keys, totals and balance. The sink's state, the held write
        and the booking time are asked once for both, as nothing between the two
        bookings changes them. False, nothing changed, when either would take another
        way (a key known or the two equal, a zero amount, values the inline form test
        does not pass, a kind not counted yet, no held write): the caller books each
        with `book_quiet`."""
        known, totals, balance = self._keys, self._totals, self._balance
        if (
            not QUIET_ROWS
            or not QUIET_LEAN
            or self.batch is None
            or self._replay
            or known is None
            or totals is None
            or balance is None
            or not amount
            or not amount2
            or key in known
            or key2 in known
            or key == key2
        ):
            return False
        most, any_sign, longest, entry_row = _QUIET_FORM or _quiet_form()
        # `common_form`'s test of each, as `book_quiet` makes it inline
        if not (
            type(amount) is int
            and -most <= amount <= most
            and kind in any_sign
            and key
            and len(key) <= longest
            and type(amount2) is int
            and -most <= amount2 <= most
            and kind2 in any_sign
            and key2
            and len(key2) <= longest
        ):
            return False
        counted, counted2 = totals.get(kind), totals.get(kind2)
        if counted is None or counted2 is None:
            return False
        held = self._held_entries()
        if held is None:
            return False
        at = self._occurred_at(ts)
        held.append(tuple.__new__(entry_row, (kind, amount, key, 0, market_index, None, None, at)))
        known.add(key)
        counted[0] += amount
        counted[2] += 1
        held.append(
            tuple.__new__(entry_row, (kind2, amount2, key2, 0, market_index2, None, None, at))
        )
        known.add(key2)
        counted2[0] += amount2
        counted2[2] += 1
        self._balance = balance + amount + amount2
        return True

    def load(self) -> None:
        """Read the balance and the booked keys now, so that what follows needs no
        database read (and cannot fail half way)."""
        self.balance()
        self._known()

    def note_capital(self, key: str, amount: int, kind: Any = None) -> None:
        """A capital move the runner books into this vault itself (`engine.capital`):
        count it in the cached balance, known keys and (with its `kind`) the totals."""
        self.load()
        assert self._balance is not None and self._keys is not None
        self._keys.add(key)
        self._balance += amount
        if kind is not None and self._totals is not None:
            self._count(self._totals, kind, amount, 0)

    def balance(self) -> int:
        """The vault's balance: committed plus held; in "as_then" mode less the entries
        a replay has still to meet (what the engine read at this point the first time)."""
        if self._balance is None:
            self._balance = self.ledger.balance(self.vault_id)
        replay = self._replay
        if replay and self.replay_balance == "as_then":
            return self._balance - sum(replay.values())
        return self._balance

    def refresh(self) -> None:
        """Forget cached reads (nothing may be pending in a batch)."""
        self._balance = None
        self._keys = None
        self._totals = None

    def total(self, kind: str) -> int:
        return sum(e.amount for e in self.ledger.entries(self.vault_id) if e.kind.value == kind)


__all__ = ["MemoryLedgerSink", "VaultLedgerSink", "ledger_key"]
