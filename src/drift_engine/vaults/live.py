"""What the vault system needs from the live Drift path, as two small protocols.

The instruction builder (`core.builder`) and the transaction client (`core.client`)
are written elsewhere; the registry depends only on these shapes, so the live path
plugs in without the vault code changing, and tests use fakes. Amounts are token
amounts in the spot market's precision (USDC: micro-USDC). Instructions are opaque here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

USDC_SPOT_MARKET_INDEX = 0


class TransferInstructionBuilder(Protocol):
    """Builds Drift instructions that move collateral; pure, no network."""

    def transfer_deposit(
        self,
        *,
        authority: str,
        from_sub_account_id: int,
        to_sub_account_id: int,
        spot_market_index: int,
        amount: int,
    ) -> Any:
        """Move collateral between two sub-accounts of one authority."""
        ...

    def deposit(
        self, *, authority: str, sub_account_id: int, spot_market_index: int, amount: int
    ) -> Any:
        """Move tokens from the authority's wallet into a sub-account."""
        ...

    def withdraw(
        self, *, authority: str, sub_account_id: int, spot_market_index: int, amount: int
    ) -> Any:
        """Move tokens from a sub-account back to the authority's wallet."""
        ...


class TransactionSender(Protocol):
    """Signs and sends instructions in one transaction; returns once it is confirmed."""

    def send_and_confirm(self, instructions: Sequence[Any]) -> str:
        """The confirmed transaction's signature; raises if it failed or did not confirm."""
        ...


@dataclass(frozen=True, slots=True)
class LiveTransfers:
    """The live path the registry uses for ON_CHAIN vaults."""

    instructions: TransferInstructionBuilder
    sender: TransactionSender
