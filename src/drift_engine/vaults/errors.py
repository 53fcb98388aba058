"""Errors of the vault system. Each names the vault or the field at fault."""

from __future__ import annotations

from drift_engine.core.errors import DriftEngineError


class VaultError(DriftEngineError):
    """Base of vault and ledger errors."""


class InvalidAmountError(VaultError, ValueError):
    """An amount broke a rule (sign, zero, precision, range); `field` names the input."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class UnknownVaultError(VaultError, LookupError):
    def __init__(self, vault: int | str) -> None:
        self.vault = vault
        super().__init__(f"unknown vault {vault!r}")


class VaultExistsError(VaultError):
    def __init__(self, what: str) -> None:
        super().__init__(f"a vault with this {what} already exists")


class VaultConfigError(VaultError, ValueError):
    """A vault's definition is invalid; `field` names the input."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class VaultIsolationError(VaultError, PermissionError):
    """An engine tried to book into a vault that belongs to another engine."""

    def __init__(self, engine_id: str, vault_name: str, owner: str) -> None:
        super().__init__(
            f"engine {engine_id!r} cannot book into vault {vault_name!r}: it belongs to {owner!r}"
        )


class VaultStateError(VaultError):
    """The vault's status or type does not allow the operation."""


class EngineBoundVaultError(VaultStateError):
    """A capital move on a VIRTUAL vault that powers a paper engine: the engine's runner
    applies it to the simulated sub-account (queued as an operator command)."""

    def __init__(self, vault_name: str, engine_id: str) -> None:
        self.vault_name = vault_name
        self.engine_id = engine_id
        super().__init__(
            f"vault {vault_name!r} powers paper engine {engine_id!r}: its capital moves are "
            "applied by the engine's runner (drift-engine vaults deposit|withdraw|transfer "
            "queue them for it)"
        )


class InsufficientFundsError(VaultError):
    def __init__(self, vault_name: str, balance: int, amount: int) -> None:
        from drift_engine.vaults.money import format_usdc

        self.balance = balance
        self.amount = amount
        super().__init__(
            f"vault {vault_name!r} holds {format_usdc(balance)} USDC; "
            f"cannot take {format_usdc(amount)} USDC"
        )


class IdempotencyConflictError(VaultError):
    """The idempotency key was already used for a different event in this vault."""

    def __init__(self, vault_name: str, key: str, detail: str) -> None:
        self.key = key
        super().__init__(f"vault {vault_name!r}: key {key!r} already booked {detail}")


class LiveTransfersUnavailableError(VaultError):
    """An ON_CHAIN vault operation needs a live signer/sender and none is configured."""
