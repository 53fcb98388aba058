"""The engine's ports: what it needs from a venue, a ledger and a store.

`DriftEngine` is written against these Protocols only. The real implementations are
`venues.paper.PaperVenue` (the simulator), `engine.ledger.VaultLedgerSink` (the vault's
append-only ledger) and `engine.store.SqlEngineStore`; unit tests of the engine's own
logic may use small fakes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from drift_engine.core.frozen import set_by_slots
from drift_engine.core.types import DriftMarginMetrics, DriftPosition, OpenOrder, OrderIntent
from drift_engine.strategies.base import FillEvent, FundingEvent


@set_by_slots  # one per funding hour (the venue's `poll_events`)
@dataclass(frozen=True, slots=True)
class InterestEvent:
    """Spot interest accrued on a balance, valued in micro-USDC (+ earned, - paid)."""

    record_id: str
    ts: int
    market_index: int
    amount: int
    token_amount: int = 0


@dataclass(frozen=True, slots=True)
class LiquidationEvent:
    """The account was liquidated: `amount` is the cash effect, `fee` what it cost."""

    record_id: str
    ts: int
    market_index: int
    amount: int
    fee: int = 0
    base_asset_amount: int = 0
    detail: str = ""


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """Evidence about one of the sub-account's orders (not a fill: fills are FillEvents).

    `action`: "placed" (the program logged its placement, or a chain read shows it),
    "cancelled", "expired" (cancelled at max_ts), "triggered", "closed" (ended after its
    fills; any unfilled rest is cancelled), or "rejected" (proven never to land: its
    transaction failed, or its blockhash expired without a trace).
    """

    record_id: str
    ts: int
    user_order_id: int
    order_id: int
    action: str
    reason: str = ""


VenueEvent = FillEvent | FundingEvent | InterestEvent | LiquidationEvent | OrderUpdate


class VenueError(RuntimeError):
    """The venue refused or failed an order (the engine logs it as a rejection)."""


class OrderOutcomeUnknown(VenueError):
    """Orders were sent and whether they landed cannot be known now (confirmation lost,
    RPC down after the send). NOT a rejection: the orders are UNKNOWN until a chain read
    resolves them. `ref` says how to find them (signatures, last valid block height,
    the User's next order id and slot before the send)."""

    def __init__(self, message: str, ref: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.ref = dict(ref or {})


@runtime_checkable
class Venue(Protocol):
    """One Drift sub-account where an engine trades (paper: the simulator; live: chain)."""

    sub_account_id: int

    def place(self, orders: Sequence[OrderIntent], ts: int) -> list[FillEvent]:
        """Place orders together (one place_orders); return the fills they produced."""
        ...

    def cancel_all(self, ts: int) -> int:
        """Cancel every open order; return how many were cancelled."""
        ...

    def positions(self) -> tuple[DriftPosition, ...]: ...

    def open_orders(self) -> list[OpenOrder]: ...

    def margin(self, ts: int) -> DriftMarginMetrics: ...

    def equity(self) -> int:
        """Net account value in micro-USDC: cash plus marked positions."""
        ...

    def poll_events(self, ts: int) -> list[VenueEvent]:
        """Funding, interest, liquidations (and fills of resting orders) since last poll."""
        ...


@dataclass(frozen=True, slots=True)
class Posting:
    """One ledger entry the engine wants booked (micro-USDC; balance counts amount - fee)."""

    kind: str  # EntryKind value: fill, funding, interest, liquidation, ...
    amount: int
    idempotency_key: str
    ts: int
    fee: int = 0
    market_index: int | None = None
    memo: str | None = None


@runtime_checkable
class LedgerSink(Protocol):
    """The engine's vault ledger: append-only, idempotent by key."""

    vault_id: str

    def book(self, posting: Posting) -> bool:
        """Book once; False when the key was already booked (a replay)."""
        ...

    def balance(self) -> int: ...

    def total(self, kind: str) -> int:
        """Sum of `amount` over entries of one kind."""
        ...


@dataclass
class EngineRecord:
    """What the engine persists to resume after a restart."""

    engine_id: str
    strategy: str
    config: dict[str, Any]
    mode: str
    state: str
    strategy_state: str = "{}"
    high_water_mark: int = 0
    last_ts: int = 0
    vault_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class EngineStore(Protocol):
    def load(self, engine_id: str) -> EngineRecord | None: ...

    def save(self, record: EngineRecord) -> None: ...

    def log(
        self, engine_id: str, ts: int, kind: str, message: str, data: dict | None = None
    ) -> None: ...


__all__ = [
    "EngineRecord",
    "EngineStore",
    "InterestEvent",
    "LedgerSink",
    "LiquidationEvent",
    "OrderOutcomeUnknown",
    "OrderUpdate",
    "Posting",
    "Venue",
    "VenueError",
    "VenueEvent",
]
