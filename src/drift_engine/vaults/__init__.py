"""The Global Vault System: isolated engine vaults over an exact, append-only ledger.

Start here: `VaultRegistry(Database.open(url))`. Engines book trading events through
`registry.ledger`, record chart points through `registry.snapshots`, and ON_CHAIN vaults
are mirrored from the chain with `registry.reconcile`. Design: ADR-0008.
"""

from drift_engine.storage.enums import EntryKind, SnapshotSource, VaultStatus, VaultType
from drift_engine.vaults.booking import Clock, VaultRef, utc_now
from drift_engine.vaults.entries import (
    LedgerEntry,
    NewEntry,
    fill_key,
    funding_key,
    interest_key,
    signature_key,
)
from drift_engine.vaults.errors import (
    EngineBoundVaultError,
    IdempotencyConflictError,
    InsufficientFundsError,
    InvalidAmountError,
    LiveTransfersUnavailableError,
    UnknownVaultError,
    VaultConfigError,
    VaultError,
    VaultExistsError,
    VaultIsolationError,
    VaultStateError,
)
from drift_engine.vaults.ledger import Ledger
from drift_engine.vaults.live import LiveTransfers, TransactionSender, TransferInstructionBuilder
from drift_engine.vaults.money import format_usdc, parse_positive_usdc, parse_usdc
from drift_engine.vaults.reconcile import (
    OnChainFill,
    OnChainSnapshot,
    ReconcileOutcome,
    Reconciler,
    ReconciliationResult,
)
from drift_engine.vaults.registry import Transfer, VaultRegistry
from drift_engine.vaults.snapshots import Snapshots, VaultSnapshot
from drift_engine.vaults.vault import TREASURY_ENGINE_ID, EngineVault, VaultSummary

__all__ = [
    "TREASURY_ENGINE_ID",
    "Clock",
    "EngineBoundVaultError",
    "EngineVault",
    "EntryKind",
    "IdempotencyConflictError",
    "InsufficientFundsError",
    "InvalidAmountError",
    "Ledger",
    "LedgerEntry",
    "LiveTransfers",
    "LiveTransfersUnavailableError",
    "NewEntry",
    "OnChainFill",
    "OnChainSnapshot",
    "ReconcileOutcome",
    "ReconciliationResult",
    "Reconciler",
    "SnapshotSource",
    "Snapshots",
    "TransactionSender",
    "Transfer",
    "TransferInstructionBuilder",
    "UnknownVaultError",
    "VaultConfigError",
    "VaultError",
    "VaultExistsError",
    "VaultIsolationError",
    "VaultRef",
    "VaultRegistry",
    "VaultSnapshot",
    "VaultStateError",
    "VaultStatus",
    "VaultSummary",
    "VaultType",
    "fill_key",
    "format_usdc",
    "funding_key",
    "interest_key",
    "parse_positive_usdc",
    "parse_usdc",
    "signature_key",
    "utc_now",
]
