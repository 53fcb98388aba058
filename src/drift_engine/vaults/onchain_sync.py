"""On-chain vault sync: a heartbeat hook that mirrors a Drift sub-account into its vault.

`OnChainVaultSync(registry, client, vault, engine_id)` is called as `hook(ts)` by
`HeartbeatDataCollector(sync_hooks=[...])` each tick while the engine is live. It reads
the sub-account (one batched `getMultipleAccounts` through `core.client.DriftClient`),
builds an `OnChainSnapshot` (positions, the User's `cumulative_perp_funding` and
`settled_perp_pnl` counters, equity, unrealized PnL, health, and the fills the live venue
found in the program's event logs) and reconciles the ON_CHAIN vault through
`VaultRegistry.reconcile` (rules: docs/adr/0008-hybrid-engine-vaults.md).

A read that fails (RPC down, every retry spent), finds no sub-account, or is older than
what was already reconciled books nothing — no guesses — and marks the vault stale
(`registry.sync_status`, shown by the dashboard); the next good read reconciles and
clears the flag.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from drift_engine.core.types import MarketType
from drift_engine.live.client import DriftAccountState
from drift_engine.vaults.reconcile import (
    OnChainFill,
    OnChainSnapshot,
    ReconcileOutcome,
    ReconciliationResult,
)

log = logging.getLogger("drift_engine.vaults.onchain_sync")

BASE_PRECISION = 10**9


def account_equity(state: DriftAccountState) -> int:
    """Net value of the sub-account, micro-USDC: spot balances at oracle plus perp
    positions marked at oracle (base x price + quote_asset_amount)."""
    total = 0
    for p in state.positions:
        if p.market_type is MarketType.SPOT:
            if p.market_index == 0:
                total += p.base_asset_amount
            else:
                total += (
                    p.base_asset_amount
                    * state.spot_prices.get(p.market_index, 0)
                    // (10**p.decimals)
                )
        else:
            price = state.perp_prices.get(p.market_index, 0)
            total += p.base_asset_amount * price // BASE_PRECISION + p.quote_asset_amount
    return total


def snapshot_of(
    state: DriftAccountState, taken_at: datetime, fills: Iterable[OnChainFill] = ()
) -> OnChainSnapshot:
    """The reconciliation input for one account read."""
    if state.user is None or state.margin is None:
        raise ValueError(f"sub-account {state.sub_account_id} does not exist")
    return OnChainSnapshot(
        slot=state.slot,
        taken_at=taken_at,
        positions=tuple(state.positions),
        cumulative_perp_funding=state.user.cumulative_perp_funding,
        settled_perp_pnl=state.user.settled_perp_pnl,
        equity=account_equity(state),
        unrealized_pnl=state.margin.unrealized_pnl,
        health=state.margin.health,
        fills=tuple(fills),
    )


def chain_fills(venue: Any) -> list[OnChainFill]:
    """The fills a `LiveVenue` found in the event logs, as reconciliation inputs."""
    out = []
    for cf in getattr(venue, "fills_seen", ()):
        e = cf.event
        out.append(
            OnChainFill(
                fill_id=e.record_id,
                amount=e.cash,
                fee=e.fee,
                market_index=e.market_index,
                occurred_at=datetime.fromtimestamp(e.ts, UTC),
            )
        )
    return out


class OnChainVaultSync:
    """Heartbeat hook: reconcile one ON_CHAIN vault with its sub-account each tick."""

    def __init__(
        self,
        registry: Any,
        client: Any,
        vault: int | str,
        engine_id: str,
        *,
        venue: Any = None,
        read: Callable[[], DriftAccountState] | None = None,
    ) -> None:
        self.registry = registry
        self.client = client
        self.vault = registry.get(vault)
        if not self.vault.is_on_chain:
            raise ValueError(f"vault {self.vault.name!r} is not ON_CHAIN")
        if self.vault.engine_id != engine_id:
            raise ValueError(f"vault {self.vault.name!r} belongs to {self.vault.engine_id!r}")
        self.engine_id = engine_id
        self.venue = venue
        self._read = read or (lambda: client.run(client.refresh()))
        self.last: ReconciliationResult | None = None
        self.__name__ = f"onchain_sync:{self.vault.name}"

    def _at(self, ts: int) -> datetime:
        return datetime.fromtimestamp(ts, UTC)

    def __call__(self, ts: int) -> ReconciliationResult | None:
        vid = self.vault.id
        try:
            state = self._read()
        except Exception as exc:  # noqa: BLE001 - any failed read makes the vault stale
            reason = f"chain read failed: {type(exc).__name__}: {exc}"
            log.warning("vault %s: %s", self.vault.name, reason)
            self.registry.sync_status.mark_stale(vid, reason, self._at(ts))
            return None
        if state.user is None:
            self.registry.sync_status.mark_stale(
                vid,
                f"sub-account {state.sub_account_id} not found at slot {state.slot}",
                self._at(ts),
            )
            return None
        fills = chain_fills(self.venue) if self.venue is not None else []
        result = self.registry.reconcile(vid, snapshot_of(state, self._at(ts), fills))
        self.last = result
        if result.outcome is ReconcileOutcome.STALE:
            self.registry.sync_status.mark_stale(
                vid, f"read at slot {state.slot} is older than the last reconciled", self._at(ts)
            )
            return result
        self.registry.sync_status.mark_fresh(vid, state.slot, self._at(ts))
        if self.venue is not None and result.outcome is ReconcileOutcome.RECONCILED:
            self.venue.fills_seen.clear()  # booked (or already booked) under their keys
        return result


__all__ = ["OnChainVaultSync", "account_equity", "chain_fills", "snapshot_of"]
