"""The vocabulary the database stores: vault types and statuses, ledger entry kinds.

These live in storage (the lowest layer that needs them) so the models can type their
columns; `drift_engine.vaults` re-exports them as the public names.
"""

from __future__ import annotations

import enum


class VaultType(enum.StrEnum):
    """VIRTUAL: paper capital, simulated. ON_CHAIN: a Drift sub-account, the chain is truth."""

    VIRTUAL = "virtual"
    ON_CHAIN = "on_chain"


class VaultStatus(enum.StrEnum):
    """OPEN: in use. FROZEN: engines may not book (operator moves and chain sync still may).
    CLOSED: nothing may be booked; only an empty, inactive vault can be closed."""

    OPEN = "open"
    FROZEN = "frozen"
    CLOSED = "closed"


class EntryKind(enum.StrEnum):
    """What a ledger entry records. Signs: see `drift_engine.vaults.entries.SIGN_RULES`."""

    DEPOSIT = "deposit"
    WITHDRAW = "withdraw"
    TRANSFER_IN = "transfer_in"
    TRANSFER_OUT = "transfer_out"
    FILL = "fill"
    FUNDING = "funding"
    INTEREST = "interest"
    LIQUIDATION = "liquidation"
    SYNC_ADJUSTMENT = "sync_adjustment"


class SnapshotSource(enum.StrEnum):
    """Who produced a snapshot: the paper venue/engine, or an on-chain reconciliation."""

    ENGINE = "engine"
    CHAIN = "chain"
