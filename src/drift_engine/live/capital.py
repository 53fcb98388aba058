"""Capital moves of ON_CHAIN vaults, on chain: the registry's `LiveTransfers` over
`DriftClient`.

`vaults deposit|withdraw|transfer` on an ON_CHAIN vault go through `VaultRegistry`,
which asks a `TransferInstructionBuilder` for the move and a `TransactionSender` to land
it, then books the ledger under the confirmed transaction's signature (`sig:<sig>`,
idempotent). Here the "instruction" is a `ChainMove` (what to do, for which
sub-account) and the sender carries it out with the client's own methods, which read the
account first (remaining accounts, the landed check) and never land a move twice:

* **deposit**: wallet's USDC associated token account -> the sub-account.
* **withdraw**: the sub-account's unsettled perp PnL and funding are settled first
  (`settle_pnl` per perp position), then the amount is withdrawn **reduce-only** — never
  more than the sub-account's USDC deposit, so a withdrawal can never open a borrow
  (refused up front with the balance when asked for more).
* **transfer**: `transfer_deposit` between two sub-accounts of the same authority, also
  bounded by the source's USDC deposit; the source's PnL is settled first, as for a
  withdrawal (the program counts only settled USDC as transferable).

Every refusal or chain error is a `ChainMoveError` (a `VaultError`: one line on the
command line).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from drift_engine.vaults.errors import VaultError
from drift_engine.vaults.live import LiveTransfers

USDC = 0


class ChainMoveError(VaultError):
    """An on-chain capital move was refused or failed (nothing was booked)."""


@dataclass(frozen=True, slots=True)
class ChainMove:
    """One capital move of a sub-account, as the registry asks for it."""

    kind: Literal["deposit", "withdraw", "transfer"]
    authority: str
    sub_account_id: int
    spot_market_index: int
    amount: int
    to_sub_account_id: int | None = None


class ChainMoveBuilder:
    """`TransferInstructionBuilder`: the moves themselves (pure)."""

    def deposit(
        self, *, authority: str, sub_account_id: int, spot_market_index: int, amount: int
    ) -> ChainMove:
        return ChainMove("deposit", authority, sub_account_id, spot_market_index, amount)

    def withdraw(
        self, *, authority: str, sub_account_id: int, spot_market_index: int, amount: int
    ) -> ChainMove:
        return ChainMove("withdraw", authority, sub_account_id, spot_market_index, amount)

    def transfer_deposit(
        self,
        *,
        authority: str,
        from_sub_account_id: int,
        to_sub_account_id: int,
        spot_market_index: int,
        amount: int,
    ) -> ChainMove:
        return ChainMove(
            "transfer",
            authority,
            from_sub_account_id,
            spot_market_index,
            amount,
            to_sub_account_id,
        )


class ChainMoveSender:
    """`TransactionSender`: lands a `ChainMove` with a signing `DriftClient` of its
    sub-account and returns the signature the ledger is keyed by."""

    def __init__(
        self,
        rpc_url: str,
        keypair_path: str | os.PathLike[str],
        *,
        env: str = "mainnet",
        clock: Any = None,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        from drift_engine.live.client import load_keypair

        self.rpc_url = rpc_url
        self._keypair = load_keypair(keypair_path)
        self.env = env
        self.clock = clock
        self.client_options = dict(client_options or {})

    @property
    def authority(self) -> str:
        return str(self._keypair.pubkey())

    def client(self, sub_account_id: int) -> Any:
        from drift_engine.live.client import DriftClient, DriftClientConfig

        config = DriftClientConfig(
            rpc_url=self.rpc_url,
            sub_account_id=sub_account_id,
            env="devnet" if self.env == "devnet" else "mainnet",
            **self.client_options,
        )
        return DriftClient(config, keypair=self._keypair, clock=self.clock)

    def send_and_confirm(self, instructions: Sequence[Any]) -> str:
        from drift_engine.live.client import DriftClientError

        (move,) = instructions
        if not isinstance(move, ChainMove):
            raise ChainMoveError(f"not a capital move: {move!r}")
        if move.authority != self.authority:
            raise ChainMoveError(
                f"the vault's authority {move.authority} is not the keypair's "
                f"({self.authority}): this keypair cannot sign for it"
            )
        client = self.client(move.sub_account_id)
        try:
            state = client.run(client.connect())
            if not state.exists:
                raise ChainMoveError(
                    f"sub-account {move.sub_account_id} of {move.authority} does not exist "
                    "(drift-engine account create)"
                )
            outcome = client.run(self._carry_out(client, state, move))
        except DriftClientError as exc:
            raise ChainMoveError(f"{move.kind} on chain failed: {exc}") from None
        finally:
            client.close_blocking()
        signature = outcome.signature or (outcome.signatures[0] if outcome.signatures else None)
        if signature is None:  # pragma: no cover - a landed send always has a signature
            raise ChainMoveError(f"{move.kind} landed without a known signature")
        return signature

    async def _carry_out(self, client: Any, state: Any, move: ChainMove) -> Any:
        if move.kind == "deposit":
            return await client.deposit(move.amount, move.spot_market_index)
        if move.kind in ("withdraw", "transfer"):
            # unsettled PnL is neither withdrawable nor transferable: settle it first
            for position in state.perp_positions:
                await client.settle_pnl(position.market_index)
            state = await client.refresh()
        held = state.spot_balance(move.spot_market_index)
        if move.amount > held:
            raise ChainMoveError(
                f"sub-account {move.sub_account_id} holds {_usdc(held)} USDC "
                f"(spot market {move.spot_market_index}); {move.kind} of {_usdc(move.amount)} "
                "would borrow — refused"
            )
        if move.kind == "withdraw":
            return await client.withdraw(move.amount, move.spot_market_index, reduce_only=True)
        assert move.to_sub_account_id is not None
        return await client.transfer_deposit(
            move.amount, move.spot_market_index, move.to_sub_account_id
        )


def reconcile_vaults(registry: Any, vaults: Sequence[Any]) -> list[Any]:
    """Reconcile ON_CHAIN vaults with a fresh read of their sub-accounts (what the vault
    sync does every tick), right after a move: the move itself is booked under its
    signature; what the program did beside it — the scaled-balance rounding of a
    withdrawal (the program rounds against the user: one micro-USDC), interest the
    instruction accrued — is booked by this reconciliation, so the ledger equals the
    chain to the micro-USDC. A vault never reconciled before gets its opening balance."""
    from datetime import UTC, datetime

    from drift_engine.vaults.onchain_sync import snapshot_of

    live = registry.live
    sender = getattr(live, "sender", None)
    if not isinstance(sender, ChainMoveSender):
        return []
    results = []
    for vault in vaults:
        client = sender.client(vault.sub_account_id)
        try:
            state = client.run(client.connect())
        finally:
            client.close_blocking()
        results.append(registry.reconcile(vault.id, snapshot_of(state, datetime.now(UTC))))
    return results


def _usdc(amount: int) -> str:
    from drift_engine.vaults import format_usdc

    return format_usdc(amount)


def chain_transfers(
    rpc_url: str,
    keypair_path: str | os.PathLike[str],
    *,
    env: str = "mainnet",
    clock: Any = None,
    client_options: dict[str, Any] | None = None,
) -> LiveTransfers:
    """The registry's live path for ON_CHAIN vaults over this RPC and keypair."""
    return LiveTransfers(
        instructions=ChainMoveBuilder(),
        sender=ChainMoveSender(
            rpc_url, keypair_path, env=env, clock=clock, client_options=client_options
        ),
    )


__all__ = [
    "ChainMove",
    "ChainMoveBuilder",
    "ChainMoveError",
    "ChainMoveSender",
    "chain_transfers",
    "reconcile_vaults",
]
