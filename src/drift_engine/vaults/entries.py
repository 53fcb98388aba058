"""Ledger entry values: what a booking asks for (`NewEntry`) and what was booked
(`LedgerEntry`), with the sign rules and the idempotency-key conventions.

An entry's effect on the balance is `amount - fee`. `amount` is the signed cash effect
before fees (a fill's realized cash: realized PnL for perps, -cost/+proceeds for spot);
`fee` is what the event cost in fees (negative for a maker rebate).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from drift_engine.storage.enums import EntryKind
from drift_engine.storage.models import LedgerEntryRow
from drift_engine.vaults.errors import IdempotencyConflictError, InvalidAmountError
from drift_engine.vaults.money import MAX_AMOUNT, check_amount

MAX_KEY_LENGTH = 200


class Sign(enum.Enum):
    POSITIVE = "positive"
    NEGATIVE = "negative"
    ANY = "any"


#: read once: an enum member's look-up on its class costs ~80 ns on Python 3.11
#: (`EnumType.__getattr__`), a module global's ~10; the same object
_ANY = Sign.ANY

SIGN_RULES: dict[EntryKind, Sign] = {
    EntryKind.DEPOSIT: Sign.POSITIVE,
    EntryKind.WITHDRAW: Sign.NEGATIVE,
    EntryKind.TRANSFER_IN: Sign.POSITIVE,
    EntryKind.TRANSFER_OUT: Sign.NEGATIVE,
    EntryKind.FILL: Sign.ANY,
    EntryKind.FUNDING: Sign.ANY,
    EntryKind.INTEREST: Sign.ANY,
    EntryKind.LIQUIDATION: Sign.ANY,
    EntryKind.SYNC_ADJUSTMENT: Sign.ANY,
}

# Only these events carry a fee; for the others the fee column is 0.
KINDS_WITH_FEES = frozenset({EntryKind.FILL, EntryKind.LIQUIDATION})
# Capital movements: what `net_deposits` sums, and what PnL excludes.
CAPITAL_KINDS = frozenset(
    {EntryKind.DEPOSIT, EntryKind.WITHDRAW, EntryKind.TRANSFER_IN, EntryKind.TRANSFER_OUT}
)


def fill_key(fill_id: str) -> str:
    """A fill, by the venue's fill id (on chain: the fill record's signature and index)."""
    return f"fill:{fill_id}"


def funding_key(market_index: int, funding_ts: int) -> str:
    """A funding payment of one perp market at one funding time (unix seconds, hourly)."""
    return f"funding:{market_index}:{funding_ts}"


def interest_key(spot_market_index: int, interest_ts: int) -> str:
    return f"interest:{spot_market_index}:{interest_ts}"


def signature_key(signature: str) -> str:
    """A confirmed on-chain transaction (deposit, withdrawal, transfer)."""
    return f"sig:{signature}"


def common_form(kind: EntryKind, amount: int, fee: int, key: str, at: datetime | None) -> bool:
    """What `NewEntry._check` accepts, in the common form, decided without its calls:
    True only for values it accepts (`kind` an `EntryKind`); False: ask `_check`. A
    `NewEntry` and a held row (`EntryRow`) are both made only after this says True."""
    return bool(
        type(amount) is int
        and type(fee) is int
        and -MAX_AMOUNT <= amount <= MAX_AMOUNT
        and -MAX_AMOUNT <= fee <= MAX_AMOUNT
        and (amount or fee)
        and SIGN_RULES[kind] is _ANY
        and (not fee or kind in KINDS_WITH_FEES)
        and key
        and len(key) <= MAX_KEY_LENGTH
        and (at is None or at.tzinfo is not None)
    )


@dataclass(frozen=True, slots=True)
class NewEntry:
    """A booking request; construction validates sign, fee and key."""

    kind: EntryKind
    amount: int
    key: str
    fee: int = 0
    market_index: int | None = None
    counterparty_vault_id: int | None = None
    memo: str | None = None
    occurred_at: datetime | None = None

    def __post_init__(self) -> None:
        kind = self.kind
        if type(kind) is not EntryKind:
            kind = EntryKind(kind)
            object.__setattr__(self, "kind", kind)
        if common_form(kind, self.amount, self.fee, self.key, self.occurred_at):
            return
        self._check()

    def _check(self) -> None:
        """The rules, each with its error (the first that fails is raised)."""
        check_amount(self.amount, allow_negative=True, allow_zero=True)
        check_amount(self.fee, field="fee", allow_negative=True, allow_zero=True)
        sign = SIGN_RULES[self.kind]
        if sign is Sign.POSITIVE and self.amount <= 0:
            raise InvalidAmountError("amount", f"a {self.kind.value} must be positive")
        if sign is Sign.NEGATIVE and self.amount >= 0:
            raise InvalidAmountError("amount", f"a {self.kind.value} must be negative")
        if self.fee and self.kind not in KINDS_WITH_FEES:
            raise InvalidAmountError("fee", f"a {self.kind.value} carries no fee")
        if self.amount == 0 and self.fee == 0:
            raise InvalidAmountError("amount", "an entry must move money (amount or fee)")
        if not self.key or len(self.key) > MAX_KEY_LENGTH:
            raise InvalidAmountError("key", f"must be 1..{MAX_KEY_LENGTH} characters")
        if self.occurred_at is not None and self.occurred_at.tzinfo is None:
            raise InvalidAmountError("occurred_at", "must be timezone-aware")

    @property
    def net(self) -> int:
        return self.amount - self.fee


class EntryRow(NamedTuple):
    """A `NewEntry`'s values as a tuple with its fields' names, what a sink holds for a
    quiet hour's payment in a backtest's batch (`engine.ledger.VaultLedgerSink.
    book_quiet`): made only for values `common_form` accepts (so a `NewEntry` of them
    would be built without an error), read by the booking paths by attribute as a
    `NewEntry` is. `tuple.__new__(EntryRow, values)` builds one without the keyword
    call."""

    kind: EntryKind
    amount: int
    key: str
    fee: int = 0
    market_index: int | None = None
    counterparty_vault_id: int | None = None
    memo: str | None = None
    occurred_at: datetime | None = None

    @property
    def net(self) -> int:
        return self.amount - self.fee


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """A booked entry, as stored."""

    id: int
    vault_id: int
    kind: EntryKind
    amount: int
    fee: int
    key: str
    counterparty_vault_id: int | None
    market_index: int | None
    memo: str | None
    occurred_at: datetime
    booked_at: datetime

    @property
    def net(self) -> int:
        """The entry's effect on the vault balance."""
        return self.amount - self.fee

    def describes(self, new: NewEntry) -> bool:
        """True if `new` is the same event (a replay), False if the key was reused."""
        return (
            self.kind is new.kind
            and self.amount == new.amount
            and self.fee == new.fee
            and self.counterparty_vault_id == new.counterparty_vault_id
        )

    def check_replay(self, vault_name: str, new: NewEntry) -> None:
        """Raise `IdempotencyConflictError` unless `new`, booked under this entry's key,
        is the same event (every strict booking path asks this of a key booked before)."""
        if not self.describes(new):
            raise IdempotencyConflictError(
                vault_name, new.key, f"as {self.kind.value} {self.amount} fee {self.fee}"
            )

    @classmethod
    def from_row(cls, row: LedgerEntryRow) -> LedgerEntry:
        return cls(
            id=row.id,
            vault_id=row.vault_id,
            kind=row.kind,
            amount=row.amount,
            fee=row.fee,
            key=row.idempotency_key,
            counterparty_vault_id=row.counterparty_vault_id,
            market_index=row.market_index,
            memo=row.memo,
            occurred_at=row.occurred_at,
            booked_at=row.booked_at,
        )
