"""`NewEntry` decides the common valid entry without calling its rules one by one (a
backtest builds two per funding hour); what it accepts and what it refuses, with which
error, must be exactly what the rules (`NewEntry._check`) decide."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from drift_engine.storage.enums import EntryKind
from drift_engine.vaults.entries import MAX_KEY_LENGTH, NewEntry
from drift_engine.vaults.errors import InvalidAmountError
from drift_engine.vaults.money import MAX_AMOUNT

AMOUNTS = st.one_of(
    st.integers(-3, 3),
    st.integers(-(10**12), 10**12),
    st.sampled_from([MAX_AMOUNT, -MAX_AMOUNT, MAX_AMOUNT + 1, -MAX_AMOUNT - 1]),
    st.sampled_from([True, False, 1.0, Decimal(1)]),
)
KEYS = st.one_of(
    st.sampled_from(["", "k", "x" * MAX_KEY_LENGTH, "x" * (MAX_KEY_LENGTH + 1)]),
    st.text(max_size=8),
)
TIMES = st.sampled_from([None, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1)])
KINDS = st.one_of(st.sampled_from(list(EntryKind)), st.sampled_from([k.value for k in EntryKind]))


def _outcome(make: Any) -> Any:
    try:
        entry = make()
    except InvalidAmountError as e:
        return ("refused", str(e))
    return ("accepted", entry.kind, entry.amount, entry.fee, entry.key, entry.occurred_at)


def _by_the_rules(kind: Any, amount: Any, fee: Any, key: Any, at: Any) -> NewEntry:
    entry = object.__new__(NewEntry)
    for name, value in (("kind", EntryKind(kind)), ("amount", amount), ("fee", fee)):
        object.__setattr__(entry, name, value)
    for name, value in (("key", key), ("occurred_at", at), ("market_index", None)):
        object.__setattr__(entry, name, value)
    object.__setattr__(entry, "counterparty_vault_id", None)
    object.__setattr__(entry, "memo", None)
    entry._check()
    return entry


@settings(max_examples=600, deadline=None)
@given(kind=KINDS, amount=AMOUNTS, fee=AMOUNTS, key=KEYS, at=TIMES)
def test_an_entry_is_accepted_or_refused_as_its_rules_decide(kind, amount, fee, key, at):
    built = _outcome(lambda: NewEntry(kind=kind, amount=amount, fee=fee, key=key, occurred_at=at))
    ruled = _outcome(lambda: _by_the_rules(kind, amount, fee, key, at))
    assert built == ruled
