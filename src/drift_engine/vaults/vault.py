"""`EngineVault` (what a vault is) and `VaultSummary` (what it holds, derived).

A summary is computed from the ledger and the latest snapshot every time it is asked
for; no balance, equity or PnL figure is ever stored as a free-standing number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from drift_engine.storage.enums import VaultStatus, VaultType
from drift_engine.storage.models import VaultRow

QUOTE_ASSET = "USDC"
TREASURY_ENGINE_ID = "treasury"
TREASURY_VAULT_NAME = "treasury"
NETWORKS = frozenset({"mainnet", "devnet", "localnet"})


@dataclass(frozen=True, slots=True)
class EngineVault:
    """One engine's isolated capital: paper (VIRTUAL) or a Drift sub-account (ON_CHAIN)."""

    id: int
    name: str
    engine_id: str
    vault_type: VaultType
    status: VaultStatus
    quote_asset: str
    is_active: bool
    network: str | None
    authority: str | None
    sub_account_id: int | None
    created_at: datetime
    updated_at: datetime

    @property
    def is_on_chain(self) -> bool:
        return self.vault_type is VaultType.ON_CHAIN

    @property
    def is_treasury(self) -> bool:
        return self.engine_id == TREASURY_ENGINE_ID

    @classmethod
    def from_row(cls, row: VaultRow) -> EngineVault:
        return cls(
            id=row.id,
            name=row.name,
            engine_id=row.engine_id,
            vault_type=row.vault_type,
            status=row.status,
            quote_asset=row.quote_asset,
            is_active=row.is_active,
            network=row.network,
            authority=row.authority,
            sub_account_id=row.sub_account_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@dataclass(frozen=True, slots=True)
class VaultSummary:
    """A vault's money, derived. All amounts micro-USDC.

    balance          = sum of (amount - fee) over all entries (the vault's cash)
    net_deposits     = deposits - withdrawals + transfers in - transfers out
    equity           = balance + position value of the latest snapshot
    unrealized_pnl   = the latest snapshot's unrealized PnL
    realized_pnl     = equity - net_deposits - unrealized_pnl (fees, funding, interest
                       and sync adjustments included)
    """

    vault: EngineVault
    balance: int
    net_deposits: int
    position_value: int
    unrealized_pnl: int
    funding_earned: int
    interest_earned: int
    fees_paid: int
    sync_adjustments: int
    entry_count: int
    health: int | None
    snapshot_at: datetime | None

    @property
    def equity(self) -> int:
        return self.balance + self.position_value

    @property
    def realized_pnl(self) -> int:
        return self.equity - self.net_deposits - self.unrealized_pnl

    @property
    def total_pnl(self) -> int:
        return self.equity - self.net_deposits
