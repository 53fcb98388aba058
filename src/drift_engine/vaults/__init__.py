"""The Global Vault System: isolated engine vaults over an exact, append-only ledger.

Start here: `VaultRegistry(Database.open(url))`. Engines book trading events through
`registry.ledger`, record chart points through `registry.snapshots`, and ON_CHAIN vaults
are mirrored from the chain with `registry.reconcile`. Design: ADR-0008.

Names are imported on first use (PEP 562): `vaults.reconcile` and `vaults.live` speak
driftpy's types, and `drift-engine vaults list` must not import driftpy to read a table.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "EntryKind": "drift_engine.storage.enums",
    "SnapshotSource": "drift_engine.storage.enums",
    "VaultStatus": "drift_engine.storage.enums",
    "VaultType": "drift_engine.storage.enums",
    "Clock": "drift_engine.vaults.booking",
    "VaultRef": "drift_engine.vaults.booking",
    "utc_now": "drift_engine.vaults.booking",
    "LedgerEntry": "drift_engine.vaults.entries",
    "NewEntry": "drift_engine.vaults.entries",
    "fill_key": "drift_engine.vaults.entries",
    "funding_key": "drift_engine.vaults.entries",
    "interest_key": "drift_engine.vaults.entries",
    "signature_key": "drift_engine.vaults.entries",
    "EngineBoundVaultError": "drift_engine.vaults.errors",
    "IdempotencyConflictError": "drift_engine.vaults.errors",
    "InsufficientFundsError": "drift_engine.vaults.errors",
    "InvalidAmountError": "drift_engine.vaults.errors",
    "LiveTransfersUnavailableError": "drift_engine.vaults.errors",
    "UnknownVaultError": "drift_engine.vaults.errors",
    "VaultConfigError": "drift_engine.vaults.errors",
    "VaultError": "drift_engine.vaults.errors",
    "VaultExistsError": "drift_engine.vaults.errors",
    "VaultIsolationError": "drift_engine.vaults.errors",
    "VaultStateError": "drift_engine.vaults.errors",
    "Ledger": "drift_engine.vaults.ledger",
    "LiveTransfers": "drift_engine.vaults.live",
    "TransactionSender": "drift_engine.vaults.live",
    "TransferInstructionBuilder": "drift_engine.vaults.live",
    "format_usdc": "drift_engine.vaults.money",
    "parse_positive_usdc": "drift_engine.vaults.money",
    "parse_usdc": "drift_engine.vaults.money",
    "OnChainFill": "drift_engine.vaults.reconcile",
    "OnChainSnapshot": "drift_engine.vaults.reconcile",
    "ReconcileOutcome": "drift_engine.vaults.reconcile",
    "Reconciler": "drift_engine.vaults.reconcile",
    "ReconciliationResult": "drift_engine.vaults.reconcile",
    "Transfer": "drift_engine.vaults.registry",
    "VaultRegistry": "drift_engine.vaults.registry",
    "Snapshots": "drift_engine.vaults.snapshots",
    "VaultSnapshot": "drift_engine.vaults.snapshots",
    "TREASURY_ENGINE_ID": "drift_engine.vaults.vault",
    "EngineVault": "drift_engine.vaults.vault",
    "VaultSummary": "drift_engine.vaults.vault",
}


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = sorted(_NAMES)
