"""Property tests: the ledger's balance is the sum of its entries for any sequence of
events, replays of idempotency keys change nothing, and transfers conserve the total."""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drift_engine.vaults import (
    EntryKind,
    IdempotencyConflictError,
    InsufficientFundsError,
    NewEntry,
    VaultRegistry,
)

PROPERTY_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
_names = itertools.count()
amounts = st.integers(min_value=-(10**12), max_value=10**12)
positive = st.integers(min_value=1, max_value=10**12)


@dataclass(frozen=True)
class Op:
    kind: EntryKind
    key: str  # drawn from a small pool, so keys repeat (replays and reuses)
    amount: int
    fee: int = 0


def _op(kind: EntryKind, amount_strategy, fee: bool = False):
    return st.builds(
        Op,
        kind=st.just(kind),
        key=st.sampled_from([f"{kind.value}-{i}" for i in range(4)]),
        amount=amount_strategy,
        fee=st.integers(min_value=-(10**6), max_value=10**8) if fee else st.just(0),
    )


operations = st.lists(
    st.one_of(
        _op(EntryKind.DEPOSIT, positive),
        _op(EntryKind.WITHDRAW, positive),
        _op(EntryKind.FILL, amounts, fee=True),
        _op(EntryKind.FUNDING, amounts.filter(bool)),
        _op(EntryKind.INTEREST, amounts.filter(bool)),
        _op(EntryKind.LIQUIDATION, amounts.filter(bool), fee=True),
    ),
    max_size=20,
)


def _apply(registry: VaultRegistry, vault_id: int, op: Op) -> None:
    if op.kind is EntryKind.DEPOSIT:
        registry.deposit(vault_id, op.amount, key=op.key)
    elif op.kind is EntryKind.WITHDRAW:
        registry.withdraw(vault_id, op.amount, key=op.key)
    else:
        entry = NewEntry(kind=op.kind, amount=op.amount, fee=op.fee, key=op.key)
        registry.ledger.book("prop", vault_id, entry)


def _net(op: Op) -> int:
    signed = -op.amount if op.kind is EntryKind.WITHDRAW else op.amount
    return signed - op.fee


@PROPERTY_SETTINGS
@given(ops=operations)
def test_balance_is_the_sum_of_entries_and_replays_are_noops(
    registry: VaultRegistry, ops: list[Op]
) -> None:
    vault_id = registry.create_vault(f"prop-{next(_names)}", "prop").id
    model: dict[str, Op] = {}  # key -> the event booked under it
    for op in ops:
        if op.amount - op.fee == 0 and op.amount == 0:
            continue
        booked = model.get(op.key)
        try:
            _apply(registry, vault_id, op)
        except IdempotencyConflictError:
            assert booked is not None and booked != op
            continue
        except InsufficientFundsError:
            assert booked is None and op.kind is EntryKind.WITHDRAW
            assert sum(_net(o) for o in model.values()) < op.amount
            continue
        model.setdefault(op.key, op)

    entries = registry.ledger.entries(vault_id)
    balance = registry.ledger.balance(vault_id)
    assert balance == sum(e.net for e in entries) == sum(_net(o) for o in model.values())
    assert len(entries) == len(model) == len({e.key for e in entries})
    assert registry.summary(vault_id).balance == balance

    for op in model.values():  # replaying every booked event books nothing new
        _apply(registry, vault_id, op)
    assert registry.ledger.entries(vault_id) == entries


transfers = st.lists(
    st.tuples(
        st.integers(0, 2),  # source
        st.integers(0, 2),  # destination
        st.integers(1, 400),  # amount
        st.integers(0, 5),  # key: repeats are replays (or conflicting reuses)
    ),
    max_size=20,
)


@PROPERTY_SETTINGS
@given(seeds=st.lists(st.integers(0, 500), min_size=3, max_size=3), moves=transfers)
def test_transfers_conserve_the_total(
    registry: VaultRegistry, seeds: list[int], moves: list[tuple[int, int, int, int]]
) -> None:
    run = next(_names)
    vaults = [registry.create_vault(f"t{run}-{i}", "prop").id for i in range(3)]
    for vault_id, seed in zip(vaults, seeds, strict=True):
        if seed:
            registry.deposit(vault_id, seed)
    for source, destination, amount, key in moves:
        if source == destination:
            continue
        with contextlib.suppress(InsufficientFundsError, IdempotencyConflictError):
            registry.transfer(vaults[source], vaults[destination], amount, key=f"{run}-{key}")

    balances = [registry.ledger.balance(v) for v in vaults]
    assert sum(balances) == sum(seeds)
    assert all(b >= 0 for b in balances)  # paper vaults never overdraw
    transfer_entries = [
        e
        for v in vaults
        for e in registry.ledger.entries(v)
        if e.kind in (EntryKind.TRANSFER_IN, EntryKind.TRANSFER_OUT)
    ]
    assert sum(e.amount for e in transfer_entries) == 0
    by_key: dict[str, list[int]] = {}
    for e in transfer_entries:
        by_key.setdefault(e.key, []).append(e.amount)
    assert all(len(legs) == 2 and sum(legs) == 0 for legs in by_key.values())


@pytest.mark.parametrize("amount", [1, 10**12])
def test_extremes_stay_exact(registry: VaultRegistry, amount: int) -> None:
    vault_id = registry.create_vault(f"x-{next(_names)}", "prop").id
    for i in range(3):
        registry.deposit(vault_id, amount * 10**6, key=f"d{i}")
    assert registry.ledger.balance(vault_id) == 3 * amount * 10**6
