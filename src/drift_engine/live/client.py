"""`DriftClient` (also `DriftAdapter`): one authority's Drift sub-account over a real RPC.

It wraps driftpy's own `DriftClient` (cached account subscribers, fed by us) and adds
what a trading engine needs from the chain:

* **Reads, batched.** `refresh()` fetches the User, UserStats, State, every configured
  market and every oracle in ONE `getMultipleAccounts` call, decodes them with Drift's
  IDL (driftpy's decoders for oracles), pushes them into driftpy's cached subscribers
  (so `adapter.driftpy.get_user()` math works) and returns a `DriftAccountState`:
  positions, open orders, spot balances and `DriftMarginMetrics` from
  `core.margin.DriftMarginMonitor`, the same math the simulator uses.
* **Writes** with instructions from `core.builder` (initialize_user from driftpy's own
  builder), compute-budget instructions from config, v0 (default) or legacy messages
  signed with the keypair, sent with preflight and confirmed by polling
  `getSignatureStatuses` with a timeout.
* **Retries without duplicates.** Transient failures (HTTP 429/5xx, timeouts, dropped
  connections) are retried with exponential backoff; an expired blockhash rebuilds the
  transaction. A transaction is re-signed with a new blockhash only once the previous
  one can no longer land (preflight rejected it, or its blockhash expired / its
  confirmation timed out) *and* a fresh read shows it did not land. Until then only the
  same signed bytes are re-sent, which the chain deduplicates by signature. "Did not
  land" for orders: no order slot carries the user order ids with an order id at or
  after the User's `next_order_id` before the first attempt, and no `OrderRecord` event
  in the logs of the sub-account's transactions since then carries them (the program
  frees a filled order's slot, so an immediately filled order shows only there; an RPC
  without transaction history falls back to the order counter). For deposits and
  withdrawals: the spot position's `cumulative_deposits` did not change.
* **Secrets.** The keypair is loaded from a Solana CLI file (JSON array of 64 bytes) into
  a holder whose repr shows only the public key; no message, log line or exception of
  this module contains the key material or the file's content. A read-only client (a
  public key, no keypair) reads and refuses to sign.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import inspect
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from driftpy.account_subscription_config import AccountSubscriptionConfig
from driftpy.accounts.types import DataAndSlot
from driftpy.addresses import (
    get_state_public_key,
    get_user_account_public_key,
    get_user_stats_account_public_key,
)
from driftpy.drift_client import DriftClient as DriftpyClient
from driftpy.drift_user import DriftUser
from solana.exceptions import SolanaRpcException
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solana.rpc.core import RPCException
from solana.rpc.types import TxOpts
from solders.account_decoder import UiAccountEncoding
from solders.commitment_config import CommitmentLevel
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.rpc.config import (
    RpcAccountInfoConfig,
    RpcSignaturesForAddressConfig,
    RpcTransactionConfig,
)
from solders.rpc.errors import MinContextSlotNotReachedMessage
from solders.rpc.requests import GetMultipleAccounts, GetSignaturesForAddress, GetTransaction
from solders.rpc.responses import (
    GetMultipleAccountsResp,
    GetSignaturesForAddressResp,
    GetTransactionResp,
)
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from solders.transaction_status import UiTransactionEncoding
from spl.token.instructions import (
    create_idempotent_associated_token_account,
    get_associated_token_address,
)

from drift_engine.core.builder import DriftInstructionBuilder, UserAccountsView
from drift_engine.core.errors import DriftEngineError
from drift_engine.core.margin import DriftMarginMonitor, MarginThresholds, snapshot_of
from drift_engine.core.markets import MarketCatalog
from drift_engine.core.program import drift_program, program_id
from drift_engine.core.types import (
    DriftMarginMetrics,
    DriftPosition,
    MarketType,
    OpenOrder,
    OrderIntent,
    PositionDirection,
    is_variant,
    open_orders_from_user,
    positions_from_user,
)
from drift_engine.live.fees import (
    MAX_COMPUTE_UNIT_LIMIT,
    compute_unit_limit,
    priority_fee,
    writable_accounts,
)
from drift_engine.live.reads import DecodeCache

log = logging.getLogger("drift_engine.live.client")

U8_MAX = 255
#: `getMultipleAccounts` takes at most this many keys per call.
MAX_ACCOUNTS_PER_CALL = 100
#: getTransaction requests per JSON-RPC batch (one HTTP round trip)
GET_TRANSACTION_BATCH = 100
#: Recent slots whose fees price a transaction (the last ~8 s on mainnet).
PRIORITY_FEE_SLOTS = 20


# --------------------------------------------------------------------------- errors


class DriftClientError(DriftEngineError):
    """Base of the live client's errors."""


class KeypairFileError(DriftClientError):
    """The keypair file is missing or malformed (the message never quotes its content)."""


class ReadOnlyClientError(DriftClientError):
    """A signing operation on a client built from a public key only."""


class RpcUnavailableError(DriftClientError):
    """The RPC kept failing with transient errors after every retry."""


class TransactionFailedError(DriftClientError):
    """The program rejected the transaction (nothing landed); `err` is the chain's error."""

    def __init__(self, message: str, err: Any = None, logs: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.err = err
        self.logs = list(logs)


class MarketRefusedError(DriftClientError):
    """An order in a market whose on-chain identity conflicts with the configured
    expectation (e.g. another oracle): refused before anything is sent."""


class TransactionExpiredError(TransactionFailedError):
    """Proven never to land: every blockhash it was signed with expired (the chain's block
    height passed their last valid height) and no trace of it exists. A rejection."""


class TransactionUnconfirmedError(DriftClientError):
    """Sent, and whether it landed cannot be known now: neither confirmed nor visible in
    the account after every attempt, or the RPC stopped answering after the send. It is
    NOT a rejection: the transaction may still land until its blockhash expires.

    `signatures` are the signatures sent, `last_valid_block_height` the height after
    which none of them can land, `since_order_id` / `since_slot` the User's next order id
    and the slot before the first send (what `resolve_orders` needs to look for them)."""

    def __init__(
        self,
        message: str,
        *,
        signatures: Sequence[str] = (),
        last_valid_block_height: int | None = None,
        since_order_id: int | None = None,
        since_slot: int | None = None,
        user_order_ids: Sequence[int] = (),
    ) -> None:
        super().__init__(message)
        self.signatures = tuple(signatures)
        self.last_valid_block_height = last_valid_block_height
        self.since_order_id = since_order_id
        self.since_slot = since_slot
        self.user_order_ids = tuple(user_order_ids)


# --------------------------------------------------------------------------- events


def drift_events(logs: Sequence[str]) -> list[tuple[str, Any]]:
    """(name, data) of the Anchor events Drift logged ("Program data: ..." lines emitted
    while the Drift program, not a CPI callee or another instruction, is executing)."""
    coder = drift_program().coder.events
    drift = str(program_id())
    stack: list[str] = []
    out: list[tuple[str, Any]] = []
    for line in logs:
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "Program" and parts[2] == "invoke":
            stack.append(parts[1])
        elif len(parts) >= 3 and parts[0] == "Program" and parts[2] in ("success", "failed:"):
            if stack:
                stack.pop()
        elif line.startswith("Program data: ") and stack and stack[-1] == drift:
            try:
                event = coder.parse(base64.b64decode(line[len("Program data: ") :]))
            except Exception:  # noqa: BLE001 - not an event of this IDL
                continue
            if event is not None:
                out.append((event.name, event.data))
    return out


_LEVELS = {"processed": 0, "confirmed": 1, "finalized": 2}


def _confirmed(status: Any, commitment: str = "confirmed") -> bool:
    """A signature status at `commitment` or higher ("confirmed" or "finalized"): the
    level the caller asked for is checked, never assumed from a status being present."""
    level = getattr(status, "confirmation_status", None)
    if level is None:  # an old node without commitment levels: a status means landed
        return True
    return _LEVELS.get(str(level).split(".")[-1].lower(), -1) >= _LEVELS[commitment]


# --------------------------------------------------------------------------- keys


class _Signer:
    """Holds the keypair. Its repr/str show the public key only; it refuses pickling."""

    __slots__ = ("_keypair",)

    def __init__(self, keypair: Keypair) -> None:
        self._keypair = keypair

    @property
    def pubkey(self) -> Pubkey:
        return self._keypair.pubkey()

    def sign(self, message: Any) -> VersionedTransaction:
        return VersionedTransaction(message, [self._keypair])

    def __repr__(self) -> str:
        return f"<signer {self.pubkey}>"

    __str__ = __repr__

    def __reduce__(self):  # never serialize key material
        raise TypeError("a keypair holder cannot be pickled")


def load_keypair(path: str | os.PathLike[str]) -> Keypair:
    """Read a Solana CLI keypair file (a JSON array of 64 integers)."""
    p = Path(path)
    try:
        raw = p.read_text()
    except OSError as exc:
        raise KeypairFileError(f"cannot read keypair file {p}: {exc.strerror}") from None
    try:
        values = json.loads(raw)
    except ValueError:
        raise KeypairFileError(f"keypair file {p} is not JSON") from None
    finally:
        del raw
    if (
        not isinstance(values, list)
        or len(values) != 64
        or not all(isinstance(v, int) and 0 <= v <= 255 for v in values)
    ):
        raise KeypairFileError(f"keypair file {p} is not a JSON array of 64 bytes")
    try:
        return Keypair.from_bytes(bytes(values))
    except Exception:  # noqa: BLE001 - the library's message may echo bytes
        raise KeypairFileError(f"keypair file {p} does not hold a valid ed25519 keypair") from None


# --------------------------------------------------------------------------- config / state


@dataclass(frozen=True, slots=True)
class DriftClientConfig:
    """How to reach the chain and how hard to try. Times in seconds.

    `ws_url` is accepted for configuration compatibility but unused: reads are batched
    HTTP `getMultipleAccounts` calls (see ADR 0009), confirmations are polled.

    What a transaction pays (ADR 0021, `live.fees`): `compute_unit_price` is the priority
    fee in micro-lamports per compute unit — None (default): the `priority_fee_percentile`
    of the recent fees on the transaction's writable accounts, at most
    `max_compute_unit_price`; an integer fixes it (0: no SetComputeUnitPrice).
    `compute_unit_limit` None (default): what `simulateTransaction` consumed plus
    `compute_unit_margin_pct`; an integer fixes it.

    How long it tries: the same signed bytes are re-broadcast every `rebroadcast_s` until
    the signature reaches `commitment`, fails, or the chain's block height passes the
    transaction's last valid block height (only then, with no trace of it, is it
    re-signed with a new blockhash: at most `max_attempts` blockhashes);
    `confirm_timeout_s` × `max_attempts` bounds one send call — past it the outcome is
    unknown (`TransactionUnconfirmedError`) and left to `resolve_orders`.
    """

    rpc_url: str
    ws_url: str | None = None
    sub_account_id: int = 0
    env: Literal["mainnet", "devnet"] = "mainnet"
    compute_unit_limit: int | None = None  # None: simulated units + margin
    compute_unit_margin_pct: int = 20
    compute_unit_price: int | None = None  # None: dynamic (micro-lamports per CU)
    priority_fee_percentile: int = 75
    max_compute_unit_price: int = 2_000_000
    tx_version: Literal["v0", "legacy"] = "v0"
    commitment: Literal["confirmed", "finalized"] = "confirmed"
    request_timeout_s: float = 10.0
    confirm_timeout_s: float = 15.0
    confirm_poll_s: float = 0.4
    rebroadcast_s: float = 2.0
    max_attempts: int = 6
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 5.0
    perp_market_indexes: tuple[int, ...] | None = None  # None: every catalog perp market
    spot_market_indexes: tuple[int, ...] | None = None  # None: every catalog spot market
    margin_thresholds: MarginThresholds = field(default_factory=MarginThresholds)
    #: build the market catalog from the chain's market accounts at connect (live.markets)
    markets_from_chain: bool = True


@dataclass(frozen=True, slots=True)
class DriftAccountState:
    """One consistent read (one slot) of a sub-account and the markets it trades."""

    slot: int
    authority: Pubkey
    sub_account_id: int
    user: Any | None  # driftpy User account, None if the sub-account does not exist
    user_stats: Any | None
    state: Any | None
    perp_markets: dict[int, Any]
    spot_markets: dict[int, Any]
    perp_prices: dict[int, int]
    spot_prices: dict[int, int]
    positions: tuple[DriftPosition, ...] = ()
    open_orders: tuple[OpenOrder, ...] = ()
    margin: DriftMarginMetrics | None = None
    #: a digest of the User account's bytes: equal digests, no new events (live venue)
    user_digest: str = ""
    #: (market type, index) -> driftpy OraclePriceData (price, confidence, posted slot)
    oracle_data: dict[tuple[MarketType, int], Any] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return self.user is not None

    @property
    def perp_positions(self) -> tuple[DriftPosition, ...]:
        return tuple(p for p in self.positions if p.market_type is MarketType.PERP)

    @property
    def spot_balances(self) -> tuple[DriftPosition, ...]:
        return tuple(p for p in self.positions if p.market_type is MarketType.SPOT)

    def position(self, market_type: MarketType, market_index: int) -> DriftPosition | None:
        for p in self.positions:
            if p.market_type is MarketType(market_type) and p.market_index == market_index:
                return p
        return None

    def spot_balance(self, market_index: int) -> int:
        p = self.position(MarketType.SPOT, market_index)
        return 0 if p is None else p.base_asset_amount

    def orders_with_user_id(self, user_order_id: int, since_order_id: int = 0) -> list[Any]:
        """Order slots (any status) carrying `user_order_id`, placed at or after an id."""
        if self.user is None:
            return []
        return [
            o
            for o in self.user.orders
            if o.user_order_id == user_order_id
            and o.order_id >= since_order_id
            and o.order_id != 0
            and not is_variant(o.status, "Init")
        ]

    @property
    def next_order_id(self) -> int:
        return 0 if self.user is None else self.user.next_order_id

    def cumulative_deposits(self, market_index: int) -> int:
        if self.user is None:
            return 0
        return sum(
            sp.cumulative_deposits
            for sp in self.user.spot_positions
            if sp.market_index == market_index
            and (sp.scaled_balance != 0 or sp.cumulative_deposits != 0)
        )


@dataclass(frozen=True, slots=True)
class TxOutcome:
    """How a write ended. `status` is "confirmed" (we saw our signature finalize) or
    "already_landed" (a lost confirmation: the account shows the effect)."""

    signature: str | None
    slot: int
    status: Literal["confirmed", "already_landed"]
    attempts: int
    user_order_ids: tuple[int, ...] = ()
    #: every signature sent for it (one of them landed when `signature` is None)
    signatures: tuple[str, ...] = ()


class _RealWait:
    """How the client waits without an injected clock: the event loop's own time."""

    @staticmethod
    def monotonic() -> float:
        return time.monotonic()

    @staticmethod
    async def asleep(seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True, slots=True)
class OrderResolution:
    """What the chain says about an order whose send outcome was unknown.

    `status`: "open" (resting: `order` is its slot), "placed" (the program logged its
    placement: `order_id`; fills or cancels follow in the history), "failed" (its
    transaction landed with an error: nothing placed), "not_landed" (its blockhash
    expired and no trace of it exists: it can never land) or "unknown" (not yet known).
    """

    user_order_id: int
    status: Literal["open", "placed", "failed", "not_landed", "unknown"]
    order_id: int | None = None
    order: Any = None
    reason: str = ""


class _Transient(Exception):
    def __init__(self, reason: str, *, maybe_processed: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.maybe_processed = maybe_processed


# --------------------------------------------------------------------------- the client


class DriftClient:
    """A Drift sub-account of one authority, read and traded through an RPC."""

    def __init__(
        self,
        config: DriftClientConfig,
        *,
        keypair: Keypair | None = None,
        authority: Pubkey | None = None,
        catalog: MarketCatalog | None = None,
        now: Callable[[], int] | None = None,
        clock: Any = None,
    ) -> None:
        """`clock`: how the client waits (`monotonic()`, `async asleep(s)`); tests inject
        the local chain's `ManualClock`, so waiting moves the chain's time and nothing
        sleeps on wall time. Default: real time."""
        if keypair is None and authority is None:
            raise DriftClientError("give a keypair (to trade) or an authority pubkey (to monitor)")
        self.config = config
        self._signer = _Signer(keypair) if keypair is not None else None
        self.authority: Pubkey = authority if authority is not None else keypair.pubkey()
        self.sub_account_id = config.sub_account_id
        self.catalog = catalog or MarketCatalog.from_constants(config.env)
        #: the configured catalog: what the chain's markets are checked against
        self.expected_catalog = self.catalog
        #: (market type, index) -> why new orders in it are refused (live.markets)
        self.refused_markets: dict[tuple[MarketType, int], str] = {}
        self._now = now or (lambda: 0)
        self._wait = clock if clock is not None else _RealWait()
        self.monitor = DriftMarginMonitor(config.margin_thresholds)
        self._conn: AsyncClient | None = None
        self._driftpy: DriftpyClient | None = None
        #: the last read, fed into driftpy's caches when driftpy is next used (a tick
        #: of 100 engines that send nothing never pays for it)
        self._driftpy_pending: tuple | None = None
        self._last_state: DriftAccountState | None = None
        self._uid_cursor = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        #: the highest slot this client has seen (confirmed reads, confirmed sends):
        #: every read asks the node for at least this slot (`minContextSlot`)
        self.slot_floor = 0
        #: decoded accounts by address, reused while their bytes do not change
        self.decoded = DecodeCache()
        self._keys_memo: tuple[tuple, list[Pubkey]] | None = None
        self._oracles_memo: tuple[tuple, list[tuple[Pubkey, Any]]] | None = None
        perp = config.perp_market_indexes
        spot = config.spot_market_indexes
        self._perp_indexes = tuple(
            sorted(
                perp if perp is not None else (m.market_index for m in self.catalog.perp_markets())
            )
        )
        spot_all = (
            spot if spot is not None else (m.market_index for m in self.catalog.spot_markets())
        )
        self._spot_indexes = tuple(sorted(set(spot_all) | {0}))

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_keypair_file(
        cls, config: DriftClientConfig, keypair_path: str | os.PathLike[str], **kw: Any
    ) -> DriftClient:
        return cls(config, keypair=load_keypair(keypair_path), **kw)

    @classmethod
    def read_only(
        cls, config: DriftClientConfig, authority: Pubkey | str, **kw: Any
    ) -> DriftClient:
        key = authority if isinstance(authority, Pubkey) else Pubkey.from_string(authority)
        return cls(config, authority=key, **kw)

    def twin(self, *, read_only: bool = False, **config: Any) -> DriftClient:
        """Another client of the same sub-account with its own connection and event loop
        (a live engine's control client, the runner's market reader); `config` overrides
        fields of this one's config."""
        from dataclasses import replace

        cfg = replace(self.config, **config) if config else self.config
        keypair = None if read_only or self._signer is None else self._signer._keypair
        return DriftClient(
            cfg,
            keypair=keypair,
            authority=self.authority,
            catalog=self.catalog,
            now=self._now,
            clock=self._wait if not isinstance(self._wait, _RealWait) else None,
        )

    def __repr__(self) -> str:
        mode = "read-only" if self._signer is None else "signing"
        return (
            f"DriftClient(authority={self.authority}, sub_account_id={self.sub_account_id}, "
            f"rpc={self.config.rpc_url}, {mode})"
        )

    @property
    def read_only_mode(self) -> bool:
        return self._signer is None

    @property
    def user_pubkey(self) -> Pubkey:
        return get_user_account_public_key(program_id(), self.authority, self.sub_account_id)

    @property
    def builder(self) -> DriftInstructionBuilder:
        signer = self._signer.pubkey if self._signer is not None else None
        return DriftInstructionBuilder(
            self.catalog, self.authority, self.sub_account_id, program_id(), signer=signer
        )

    @property
    def driftpy(self) -> DriftpyClient:
        """driftpy's DriftClient, its caches holding the last `refresh()`."""
        if self._driftpy is None:
            raise DriftClientError("not connected: await connect() first")
        pending, self._driftpy_pending = self._driftpy_pending, None
        if pending is not None:
            self._feed_driftpy(*pending)
        return self._driftpy

    @property
    def last_state(self) -> DriftAccountState | None:
        return self._last_state

    async def connect(self) -> DriftAccountState:
        """Open the RPC connection, build driftpy's client, read the account once."""
        if self._conn is None:
            self._conn = AsyncClient(
                self.config.rpc_url, commitment=Confirmed, timeout=self.config.request_timeout_s
            )
            # driftpy needs a wallet object; a read-only client gets a throwaway key that
            # never signs (every write checks `_signer`).
            wallet = self._signer._keypair if self._signer is not None else Keypair()
            self._driftpy = DriftpyClient(
                self._conn,
                wallet,
                env=self.config.env,
                authority=self.authority,
                account_subscription=AccountSubscriptionConfig("cached"),
                perp_market_indexes=list(self._perp_indexes),
                spot_market_indexes=list(self._spot_indexes),
                oracle_infos=[],
                active_sub_account_id=self.sub_account_id,
                sub_account_ids=[self.sub_account_id],
                market_lookup_tables=[],
            )
            if self.config.markets_from_chain:
                await self.load_markets()
        return await self.refresh()

    async def load_markets(self) -> None:
        """Replace the catalog by the chain's markets (`live.markets`): every PerpMarket
        and SpotMarket account, checked against the configured catalog; a market whose
        oracle conflicts is refused for new orders (`refused_markets`)."""
        from driftpy.accounts.get_accounts import (
            get_all_perp_market_accounts,
            get_all_spot_market_accounts,
        )

        from drift_engine.live.markets import catalog_from_accounts

        program = self.driftpy.program
        perps = await self._read(
            "getProgramAccounts", lambda: get_all_perp_market_accounts(program)
        )
        spots = await self._read(
            "getProgramAccounts", lambda: get_all_spot_market_accounts(program)
        )
        chain = catalog_from_accounts(
            [p.account for p in perps], [s.account for s in spots], self.expected_catalog
        )
        self.catalog = chain.catalog
        self.refused_markets = chain.refused
        for reason in chain.refused.values():
            log.warning("%s", reason)
        on_chain = {(m.market_type, m.market_index) for m in self.catalog}
        self._perp_indexes = tuple(
            i for i in self._perp_indexes if (MarketType.PERP, i) in on_chain
        )
        self._spot_indexes = tuple(
            i for i in self._spot_indexes if (MarketType.SPOT, i) in on_chain
        )

    def check_tradable(self, intents: Sequence[OrderIntent]) -> None:
        """Refuse orders in a market the chain catalog refused (nothing is sent)."""
        for intent in intents:
            reason = self.refused_markets.get((MarketType(intent.market_type), intent.market_index))
            if reason is not None:
                raise MarketRefusedError(reason)

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
        self._conn = None
        self._driftpy = None

    async def __aenter__(self) -> DriftClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ RPC plumbing

    @property
    def _rpc(self) -> AsyncClient:
        if self._conn is None:
            raise DriftClientError("not connected: await connect() first")
        return self._conn

    def _backoff(self, attempt: int) -> float:
        return min(
            self.config.backoff_max_s, self.config.backoff_initial_s * 2 ** max(0, attempt - 1)
        )

    @staticmethod
    def _classify(exc: BaseException) -> _Transient | None:
        """A transient failure (retry) or None (a real error)."""
        cause = exc.__cause__ if isinstance(exc, SolanaRpcException) else exc
        if isinstance(cause, httpx.HTTPStatusError):
            code = cause.response.status_code
            if code == 429:
                return _Transient("HTTP 429", maybe_processed=False)
            if code >= 500:
                return _Transient(f"HTTP {code}", maybe_processed=True)
            return None
        if isinstance(cause, httpx.TimeoutException | httpx.TransportError | asyncio.TimeoutError):
            return _Transient(type(cause).__name__, maybe_processed=True)
        if isinstance(exc, RPCException):
            err = exc.args[0] if exc.args else None
            if isinstance(err, MinContextSlotNotReachedMessage):
                behind = getattr(err.data, "context_slot", "?")
                return _Transient(
                    f"the node is at slot {behind}, behind the slot already seen "
                    "(minContextSlot not reached)",
                    maybe_processed=False,
                )
            code = getattr(err, "code", None)
            if code in (-32005, -32004, -32007, 429):  # node behind / block not available
                return _Transient(f"RPC {code}", maybe_processed=False)
        return None

    async def _confirmed_transaction(self, signature: Any) -> Any:
        """`getTransaction` at Confirmed (base64, versioned), with `_read`'s retries."""
        return await self._read(
            "getTransaction",
            lambda: self._rpc.get_transaction(
                signature,
                encoding="base64",
                commitment=Confirmed,
                max_supported_transaction_version=0,
            ),
        )

    async def _read(self, what: str, fn: Callable[[], Awaitable[Any]]) -> Any:
        """Run a read with retries on transient failures."""
        for attempt in range(1, self.config.max_attempts + 1):
            try:
                return await fn()
            except Exception as exc:  # noqa: BLE001
                transient = self._classify(exc)
                if transient is None:
                    raise
                log.info(
                    "%s: transient RPC failure (%s), attempt %d", what, transient.reason, attempt
                )
                if attempt == self.config.max_attempts:
                    raise RpcUnavailableError(
                        f"{what}: RPC unavailable after {attempt} attempts ({transient.reason})"
                    ) from None
                await self._wait.asleep(self._backoff(attempt))
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ reads

    def _oracles(self) -> list[tuple[Pubkey, Any]]:
        memo_key = (id(self.catalog), self._perp_indexes, self._spot_indexes)
        if self._oracles_memo is not None and self._oracles_memo[0] == memo_key:
            return self._oracles_memo[1]
        seen: dict[Pubkey, Any] = {}
        for i in self._perp_indexes:
            spec = self.catalog.get(MarketType.PERP, i)
            seen.setdefault(spec.oracle, spec.oracle_source)
        for i in self._spot_indexes:
            spec = self.catalog.get(MarketType.SPOT, i)
            seen.setdefault(spec.oracle, spec.oracle_source)
        self._oracles_memo = (memo_key, list(seen.items()))
        return self._oracles_memo[1]

    def refresh_keys(self) -> list[Pubkey]:
        """The accounts `refresh` reads: User, UserStats, State, markets, oracles (the
        addresses are PDAs: derived once per catalog and market set)."""
        memo_key = (id(self.catalog), self._perp_indexes, self._spot_indexes)
        if self._keys_memo is not None and self._keys_memo[0] == memo_key:
            return self._keys_memo[1]
        pid = program_id()
        keys = [
            self.user_pubkey,
            get_user_stats_account_public_key(pid, self.authority),
            get_state_public_key(pid),
            *(self.catalog.get(MarketType.PERP, i).account_pubkey for i in self._perp_indexes),
            *(self.catalog.get(MarketType.SPOT, i).account_pubkey for i in self._spot_indexes),
            *(o for o, _src in self._oracles()),
        ]
        self._keys_memo = (memo_key, keys)
        return keys

    async def refresh(self) -> DriftAccountState:
        """Read the sub-account, its stats, State, markets and oracles in one batch."""
        keys = self.refresh_keys()
        slot, values = await self.read_accounts(keys)
        state = self.state_from(slot, dict(zip(keys, values, strict=True)))
        if state is None:
            return await self.refresh()  # a market the sub-account holds was not read
        return state

    def state_from(
        self, slot: int, accounts: dict[Pubkey, Any], decoded: DecodeCache | None = None
    ) -> DriftAccountState | None:
        """This sub-account's state from raw account values read at `slot` (by
        `refresh`, or by `live.reads.read_all` for many sub-accounts in one round trip,
        which shares one `decoded` cache: State, markets and oracles are decoded once for
        all sub-accounts, and an account whose bytes did not change since the last read is
        not decoded again). None when the sub-account holds a market not read yet (it is
        added to `refresh_keys`: read again)."""
        keys = self.refresh_keys()
        if any(k not in accounts for k in keys):
            return None
        values = [accounts[k] for k in keys]
        n_perp, n_spot = len(self._perp_indexes), len(self._spot_indexes)
        oracles = self._oracles()
        cache = decoded if decoded is not None else self.decoded

        def dec(key: Pubkey, v: Any) -> Any:
            return None if v is None else cache.account(key, bytes(v.data))

        user, user_stats, state = (dec(k, v) for k, v in zip(keys[:3], values[:3], strict=True))
        perps = {
            i: m
            for i, k, v in zip(
                self._perp_indexes, keys[3 : 3 + n_perp], values[3 : 3 + n_perp], strict=True
            )
            if (m := dec(k, v)) is not None
        }
        spot_span = slice(3 + n_perp, 3 + n_perp + n_spot)
        spots = {
            i: m
            for i, k, v in zip(self._spot_indexes, keys[spot_span], values[spot_span], strict=True)
            if (m := dec(k, v)) is not None
        }
        oracle_prices: dict[Pubkey, Any] = {}
        for (address, source), v in zip(oracles, values[3 + n_perp + n_spot :], strict=True):
            if v is not None:
                oracle_prices[address] = cache.oracle(address, bytes(v.data), source)
        perp_prices = {
            i: oracle_prices[m.amm.oracle].price
            for i, m in perps.items()
            if m.amm.oracle in oracle_prices
        }
        spot_prices = {
            i: oracle_prices[m.oracle].price for i, m in spots.items() if m.oracle in oracle_prices
        }
        if user is not None and self._read_held_markets(user):
            return None
        self._driftpy_pending = (slot, state, perps, spots, oracle_prices, user)

        positions: tuple[DriftPosition, ...] = ()
        orders: tuple[OpenOrder, ...] = ()
        margin = None
        if user is not None:
            positions = tuple(positions_from_user(user, spots))
            orders = tuple(open_orders_from_user(user))
            prices = {(MarketType.PERP, i): p for i, p in perp_prices.items()}
            prices.update({(MarketType.SPOT, i): p for i, p in spot_prices.items()})
            kwargs = {}
            if state is not None:
                kwargs["liquidation_margin_buffer_ratio"] = state.liquidation_margin_buffer_ratio
            margin = self.monitor.compute_from(
                user, snapshot_of(perps, spots, prices), self._now(), **kwargs
            )
        result = DriftAccountState(
            slot=slot,
            authority=self.authority,
            sub_account_id=self.sub_account_id,
            user=user,
            user_stats=user_stats,
            state=state,
            perp_markets=perps,
            spot_markets=spots,
            perp_prices=perp_prices,
            spot_prices=spot_prices,
            positions=positions,
            open_orders=orders,
            margin=margin,
            user_digest=""
            if values[0] is None
            else hashlib.blake2b(bytes(values[0].data), digest_size=16).hexdigest(),
            oracle_data={
                **{
                    (MarketType.PERP, i): oracle_prices[m.amm.oracle]
                    for i, m in perps.items()
                    if m.amm.oracle in oracle_prices
                },
                **{
                    (MarketType.SPOT, i): oracle_prices[m.oracle]
                    for i, m in spots.items()
                    if m.oracle in oracle_prices
                },
            },
        )
        self._last_state = result
        return result

    def _read_held_markets(self, user: Any) -> bool:
        """Add the markets the sub-account holds (positions, open orders) that this
        client does not read yet and the catalog knows; True if any was added."""
        perp = {
            p.market_index
            for p in user.perp_positions
            if p.base_asset_amount or p.quote_asset_amount or p.open_orders
        }
        spot = {s.market_index for s in user.spot_positions if s.scaled_balance or s.open_orders}
        known = {(m.market_type, m.market_index) for m in self.catalog}
        new_perp = {i for i in perp - set(self._perp_indexes) if (MarketType.PERP, i) in known}
        new_spot = {i for i in spot - set(self._spot_indexes) if (MarketType.SPOT, i) in known}
        if not new_perp and not new_spot:
            return False
        self._perp_indexes = tuple(sorted(set(self._perp_indexes) | new_perp))
        self._spot_indexes = tuple(sorted(set(self._spot_indexes) | new_spot))
        log.info(
            "reading the markets the sub-account holds too: perp %s, spot %s",
            sorted(new_perp),
            sorted(new_spot),
        )
        return True

    async def read_accounts(
        self, keys: Sequence[Pubkey], *, min_context_slot: int | None = None
    ) -> tuple[int, list[Any]]:
        """(slot, raw account values) of `keys`: `getMultipleAccounts` requests of at most
        100 keys each (the RPC's limit), all sent in one JSON-RPC batch — one round trip
        however many keys. Every request carries `minContextSlot`: the highest slot this
        client has seen (or `min_context_slot` if higher), so a node behind it answers
        -32016 (retried, then `RpcUnavailableError`) instead of a stale account. The slot
        is the lowest of the requests' context slots."""
        floor = max(self.slot_floor, min_context_slot or 0)
        chunks = [
            list(keys[start : start + MAX_ACCOUNTS_PER_CALL])
            for start in range(0, len(keys), MAX_ACCOUNTS_PER_CALL)
        ]
        if not chunks:
            return floor, []
        config = RpcAccountInfoConfig(
            UiAccountEncoding.Base64,
            commitment=CommitmentLevel.Confirmed,
            min_context_slot=floor or None,
        )
        reqs = tuple(GetMultipleAccounts(chunk, config, id=i) for i, chunk in enumerate(chunks))
        resps = await self._read(
            "getMultipleAccounts",
            lambda: self._batch(reqs, GetMultipleAccountsResp),
        )
        slot = min(r.context.slot for r in resps)
        self.slot_floor = max(self.slot_floor, slot)
        return slot, [v for r in resps for v in r.value]

    async def _batch(self, reqs: tuple[Any, ...], parser: type) -> list[Any]:
        """One HTTP round trip carrying `reqs` as a JSON-RPC batch array (real Solana
        nodes accept them); the first error answer raises as a single request's would."""
        provider = self._rpc._provider
        out = await provider.make_batch_request(reqs, tuple(parser for _ in reqs))
        for r in out:
            if not isinstance(r, parser):
                raise RPCException(r)
        return list(out)

    async def read_sub_accounts(self, ids: Sequence[int]) -> tuple[int, dict[int, Any]]:
        """(slot, {sub-account id: decoded User or None}) of this authority, batched."""
        pid = program_id()
        keys = [get_user_account_public_key(pid, self.authority, i) for i in ids]
        slot, values = await self.read_accounts(keys)
        coder = drift_program().coder.accounts
        return slot, {
            i: None if v is None else coder.decode(bytes(v.data))
            for i, v in zip(ids, values, strict=True)
        }

    async def read_user_stats(self) -> Any | None:
        """This authority's UserStats account (None before its first sub-account)."""
        key = get_user_stats_account_public_key(program_id(), self.authority)
        _slot, (value,) = await self.read_accounts([key])
        return None if value is None else drift_program().coder.accounts.decode(bytes(value.data))

    def _feed_driftpy(self, slot, state, perps, spots, oracle_prices, user) -> None:
        if self._driftpy is None:
            return
        from driftpy.oracles.oracle_id import get_oracle_id

        cache = self._driftpy.account_subscriber.cache
        cache["state"] = DataAndSlot(slot, state) if state is not None else None
        cache["perp_markets"] = [DataAndSlot(slot, perps[i]) for i in sorted(perps)]
        cache["spot_markets"] = [DataAndSlot(slot, spots[i]) for i in sorted(spots)]
        prices: dict[str, Any] = {}
        for m in perps.values():
            if m.amm.oracle in oracle_prices:
                data = oracle_prices[m.amm.oracle]
                prices[get_oracle_id(m.amm.oracle, m.amm.oracle_source)] = DataAndSlot(slot, data)
        for m in spots.values():
            if m.oracle in oracle_prices:
                data = oracle_prices[m.oracle]
                prices[get_oracle_id(m.oracle, m.oracle_source)] = DataAndSlot(slot, data)
        cache["oracle_price_data"] = prices
        if user is not None:
            du = self._driftpy.users.get(self.sub_account_id)
            if du is None:
                du = DriftUser(self._driftpy, self.user_pubkey, AccountSubscriptionConfig("cached"))
                self._driftpy.users[self.sub_account_id] = du
            du.account_subscriber.update_data(DataAndSlot(slot, user))

    # ------------------------------------------------------------------ user order ids

    def next_user_order_id(
        self, state: DriftAccountState | None = None, taken: set[int] = frozenset()
    ) -> int:
        """A user order id in 1..255 not carried by any open order (rotating)."""
        state = state or self._last_state
        used = {o.user_order_id for o in (state.open_orders if state else ())} | set(taken)
        for _ in range(U8_MAX):
            self._uid_cursor = self._uid_cursor % U8_MAX + 1
            if self._uid_cursor not in used:
                return self._uid_cursor
        raise DriftClientError("every user order id 1..255 is held by an open order")

    # ------------------------------------------------------------------ writes

    def _require_signer(self) -> _Signer:
        if self._signer is None:
            raise ReadOnlyClientError(f"client for {self.authority} is read-only; it cannot sign")
        return self._signer

    def _compile(
        self,
        ixs: Sequence[Instruction],
        blockhash: Hash,
        unit_limit: int | None = None,
        unit_price: int = 0,
    ) -> VersionedTransaction:
        signer = self._require_signer()
        budget: list[Instruction] = []
        if unit_limit is not None:
            budget.append(set_compute_unit_limit(unit_limit))
        if unit_price:
            budget.append(set_compute_unit_price(unit_price))
        all_ixs = [*budget, *ixs]
        if self.config.tx_version == "legacy":
            msg: Any = Message.new_with_blockhash(all_ixs, signer.pubkey, blockhash)
        else:
            msg = MessageV0.try_compile(signer.pubkey, all_ixs, [], blockhash)
        return signer.sign(msg)

    async def _statuses(self, sigs: Sequence[Signature]) -> list[Any]:
        resp = await self._read(
            "getSignatureStatuses", lambda: self._rpc.get_signature_statuses(list(sigs))
        )
        return list(resp.value)

    async def _block_height(self) -> int:
        return (
            await self._read("getBlockHeight", lambda: self._rpc.get_block_height(Confirmed))
        ).value

    def _raise_for_status(self, status: Any, what: str) -> None:
        if status.err is not None:
            raise TransactionFailedError(
                f"{what}: transaction failed on chain: {status.err}", status.err
            )

    async def unit_price_for(self, ixs: Sequence[Instruction]) -> int:
        """The priority fee (micro-lamports per CU) for these instructions: fixed by
        config, or the configured percentile of the recent fees on their writable
        accounts, capped (`live.fees.priority_fee`)."""
        if self.config.compute_unit_price is not None:
            return self.config.compute_unit_price
        fees = await self.recent_priority_fees(writable_accounts(ixs))
        recent = [fee for _slot, fee in sorted(fees)[-PRIORITY_FEE_SLOTS:]]
        return priority_fee(
            recent, self.config.priority_fee_percentile, self.config.max_compute_unit_price
        )

    async def _prepare(
        self, what: str, ixs: Sequence[Instruction], unit_price: int
    ) -> tuple[VersionedTransaction, int, int]:
        """(signed transaction, its last valid block height, its unit limit) with a fresh
        blockhash. Without a configured limit the transaction is simulated first: a
        program error there raises `TransactionFailedError` and nothing is sent."""
        bh = await self._read(
            "getLatestBlockhash", lambda: self._rpc.get_latest_blockhash(Confirmed)
        )
        blockhash, last_valid = bh.value.blockhash, bh.value.last_valid_block_height
        limit = self.config.compute_unit_limit
        if limit is None:
            probe = self._compile(ixs, blockhash, MAX_COMPUTE_UNIT_LIMIT, unit_price)
            sim = await self._read(
                "simulateTransaction",
                lambda: self._rpc.simulate_transaction(probe, commitment=Confirmed),
            )
            value = sim.value
            if value.err is not None and "BlockhashNotFound" not in str(value.err):
                logs = list(value.logs or [])
                failed = [line for line in logs if " failed: " in line]
                reason = failed[-1].split(" failed: ", 1)[1] if failed else str(value.err)
                raise TransactionFailedError(
                    f"{what}: simulation failed (nothing sent): {reason}", value.err, logs
                )
            limit = compute_unit_limit(
                int(value.units_consumed or 0), self.config.compute_unit_margin_pct
            )
        return self._compile(ixs, blockhash, limit, unit_price), last_valid, limit

    async def _send(
        self,
        what: str,
        ixs: Sequence[Instruction],
        landed: Callable[[DriftAccountState], bool | Awaitable[bool]] | None,
        user_order_ids: tuple[int, ...] = (),
    ) -> TxOutcome:
        """Price, sign, broadcast and confirm `ixs`; never land them twice.

        The same signed bytes are re-broadcast every `rebroadcast_s` (the chain
        deduplicates by signature) until the signature reaches the configured commitment,
        fails, or the block height passes its last valid block height. Only then —
        expiry proven, and `landed(state)` on a fresh read showing no effect — is a new
        transaction signed with a new blockhash and a fresh fee. Past `confirm_timeout_s`
        the outcome is unknown: `TransactionUnconfirmedError` (never a rejection).
        """
        self._require_signer()
        sent: list[Signature] = []
        last_valid_seen: list[int] = []
        try:
            return await self._send_loop(what, ixs, landed, user_order_ids, sent, last_valid_seen)
        except RpcUnavailableError as exc:
            if not sent:
                raise  # nothing was sent: the caller may retry freely
            raise TransactionUnconfirmedError(
                f"{what}: sent, then the RPC stopped answering ({exc})",
                signatures=[str(s) for s in sent],
                last_valid_block_height=max(last_valid_seen) if last_valid_seen else None,
                user_order_ids=user_order_ids,
            ) from None

    async def _send_loop(
        self,
        what: str,
        ixs: Sequence[Instruction],
        landed: Callable[[DriftAccountState], bool | Awaitable[bool]] | None,
        user_order_ids: tuple[int, ...],
        sent: list[Signature],
        last_valid_seen: list[int],
    ) -> TxOutcome:
        deadline = self._wait.monotonic() + self.config.confirm_timeout_s * self.config.max_attempts
        attempts = 0
        while attempts < self.config.max_attempts:
            attempts += 1
            unit_price = await self.unit_price_for(ixs)
            tx, last_valid, limit = await self._prepare(what, ixs, unit_price)
            sig = tx.signatures[0]
            sent.append(sig)
            last_valid_seen.append(last_valid)
            log.info(
                "%s: signed %s (priority fee %d uL/CU, limit %d CU, valid to height %d)",
                what,
                sig,
                unit_price,
                limit,
                last_valid,
            )
            # after `confirm_timeout_s` without a status, each re-broadcast window also
            # asks the account whether it landed (a lost confirmation)
            check_at = self._wait.monotonic() + self.config.confirm_timeout_s
            first = True
            while True:
                status = await self._broadcast(
                    what, tx, last_valid, deadline, check_at, preflight=first
                )
                first = False  # a copy may be in flight: never preflight it again
                if status != "check":
                    break
                outcome = await self._check_landed(what, sent, landed, attempts, user_order_ids)
                if outcome is not None:
                    return outcome
                check_at = self._wait.monotonic() + self._rebroadcast_s
            if status == "timeout":
                break
            if status is not None:
                self._raise_for_status(status, what)
                self.slot_floor = max(self.slot_floor, status.slot)  # reads see it
                return TxOutcome(str(sig), status.slot, "confirmed", attempts, user_order_ids)
            # its blockhash expired (proven from the block height): did any attempt land?
            outcome = await self._check_landed(what, sent, landed, attempts, user_order_ids)
            if outcome is not None:
                return outcome
            log.info("%s: %s expired without a trace; re-signing", what, sig)
        if sent:
            outcome = await self._check_landed(what, sent, landed, attempts, user_order_ids)
            if outcome is not None:
                return outcome
            height = await self._block_height()
            if height > max(last_valid_seen):
                raise TransactionExpiredError(
                    f"{what}: never landed: {len(sent)} signed transaction(s) expired "
                    f"(block height {height} > {max(last_valid_seen)}) without a trace"
                )
        raise TransactionUnconfirmedError(
            f"{what}: not confirmed within "
            f"{self.config.confirm_timeout_s * self.config.max_attempts:g} s "
            f"(signatures: {', '.join(str(s) for s in sent) or 'none'})",
            signatures=[str(s) for s in sent],
            last_valid_block_height=max(last_valid_seen) if last_valid_seen else None,
            user_order_ids=user_order_ids,
        )

    @property
    def _rebroadcast_s(self) -> float:
        return min(self.config.rebroadcast_s, self.config.confirm_timeout_s)

    async def _broadcast(
        self,
        what: str,
        tx: VersionedTransaction,
        last_valid: int,
        deadline: float,
        check_at: float | None = None,
        *,
        preflight: bool = True,
    ) -> Any:
        """Broadcast `tx` every `rebroadcast_s` and poll its status every
        `confirm_poll_s`. Returns its status once it reached the commitment or failed,
        None once its blockhash expired (block height > `last_valid`), "timeout" at the
        deadline. The first broadcast runs preflight (a program error raises
        `TransactionFailedError`); re-broadcasts skip it."""
        sig = tx.signatures[0]
        raw = bytes(tx)
        refused = 0
        while True:
            result = await self._broadcast_once(what, raw, sig, first=preflight)
            if result == "expired":
                return None  # preflight: its blockhash is already unknown to the node
            if result == "refused":  # not processed (HTTP 429, node behind): soon again
                refused += 1
                if self._wait.monotonic() >= deadline:
                    return "timeout"
                await self._wait.asleep(self._backoff(refused))
                continue
            refused = 0
            preflight = False
            next_send = self._wait.monotonic() + self._rebroadcast_s
            while True:
                status = (await self._statuses([sig]))[0]
                if status is not None and (
                    status.err is not None or _confirmed(status, self.config.commitment)
                ):
                    return status
                if status is None and await self._block_height() > last_valid:
                    return None
                now = self._wait.monotonic()
                if now >= deadline:
                    return "timeout"
                if now >= next_send:
                    if check_at is not None and now >= check_at:
                        return "check"  # the caller looks at the account, then goes on
                    break
                await self._wait.asleep(min(self.config.confirm_poll_s, deadline - now))

    async def _broadcast_once(
        self, what: str, raw: bytes, sig: Signature, first: bool
    ) -> Literal["sent", "expired", "refused"]:
        """Send the bytes once, with preflight: "sent" (or maybe sent: a lost response;
        or the chain already processed them), "expired" when preflight proves they can
        never land (blockhash not found), "refused" when the node did not process the
        request (send again soon). A program error on the `first` send raises
        `TransactionFailedError`; on a re-broadcast it only means this copy was not
        forwarded (the first may still land: the block height decides)."""
        try:
            await self._rpc.send_raw_transaction(
                raw,
                TxOpts(
                    skip_confirmation=True,
                    skip_preflight=False,
                    preflight_commitment=Confirmed,
                    max_retries=0,
                ),
            )
        except RPCException as exc:
            err_obj = exc.args[0] if exc.args else None
            data = getattr(err_obj, "data", None)
            err = getattr(data, "err", None)
            name = str(err)
            if "BlockhashNotFound" in name:
                log.info("%s: %s refused: blockhash not found", what, sig)
                return "expired"
            if "AlreadyProcessed" in name:
                log.info("%s: the chain already processed %s", what, sig)
                return "sent"
            transient = self._classify(exc)
            if transient is None:
                logs = list(getattr(data, "logs", None) or [])
                message = getattr(err_obj, "message", None) or type(exc).__name__
                if not first:
                    log.info("%s: preflight refused a re-broadcast of %s: %s", what, sig, message)
                    return "sent"
                raise TransactionFailedError(f"{what}: {message}", err, logs) from None
            log.info("%s: transient send failure (%s)", what, transient.reason)
            return "sent" if transient.maybe_processed else "refused"
        except Exception as exc:  # noqa: BLE001
            transient = self._classify(exc)
            if transient is None:
                raise
            log.info("%s: transient send failure (%s)", what, transient.reason)
            return "sent" if transient.maybe_processed else "refused"
        return "sent"

    async def _check_landed(
        self,
        what: str,
        sent: list[Signature],
        landed: Callable[[DriftAccountState], bool | Awaitable[bool]] | None,
        attempts: int,
        user_order_ids: tuple[int, ...],
    ) -> TxOutcome | None:
        statuses = await self._statuses(sent)
        for sig, status in zip(sent, statuses, strict=True):
            if status is not None and (
                status.err is not None or _confirmed(status, self.config.commitment)
            ):
                self._raise_for_status(status, what)
                self.slot_floor = max(self.slot_floor, status.slot)  # reads see it
                return TxOutcome(str(sig), status.slot, "confirmed", attempts, user_order_ids)
        if landed is not None:
            state = await self.refresh()
            verdict = landed(state)
            if inspect.isawaitable(verdict):
                verdict = await verdict
            if verdict:
                log.info("%s: confirmation lost, but the account shows it landed", what)
                return TxOutcome(
                    None,
                    state.slot,
                    "already_landed",
                    attempts,
                    user_order_ids,
                    tuple(str(s) for s in sent),
                )
        return None

    async def _fresh(self) -> DriftAccountState:
        return await self.refresh()

    async def _placed_in_history(
        self, uids: set[int], since_order_id: int, since_slot: int
    ) -> set[int] | None:
        """User order ids among `uids` that the program's `OrderRecord` events (in the logs
        of this sub-account's transactions since `since_slot`) show as placed with an
        order id >= `since_order_id`. None when the RPC keeps no transaction history."""
        found = await self._order_ids_in_history(uids, since_order_id, since_slot)
        return None if found is None else set(found)

    async def _order_ids_in_history(
        self, uids: set[int], since_order_id: int, since_slot: int
    ) -> dict[int, int] | None:
        """{user order id: program order id} of `_placed_in_history`'s orders."""
        found: dict[int, int] = {}
        before: Signature | None = None
        try:
            for _page in range(10):
                resp = await self._read(
                    "getSignaturesForAddress",
                    lambda before=before: self._rpc.get_signatures_for_address(
                        self.user_pubkey, before=before, limit=50, commitment=Confirmed
                    ),
                )
                infos = list(resp.value)
                for info in infos:
                    if info.slot < since_slot:
                        return found
                    if info.err is not None:
                        continue
                    tx = await self._confirmed_transaction(info.signature)
                    if tx.value is None or tx.value.transaction.meta is None:
                        continue
                    for name, data in drift_events(tx.value.transaction.meta.log_messages or []):
                        if name != "OrderRecord" or data.user != self.user_pubkey:
                            continue
                        order = data.order
                        if order.user_order_id in uids and order.order_id >= since_order_id:
                            found.setdefault(order.user_order_id, order.order_id)
                if len(infos) < 50:
                    return found
                before = infos[-1].signature
        except RPCException as exc:
            log.info("transaction history unavailable (%s)", type(exc.args[0]).__name__)
            return None
        return found

    async def history_since(
        self,
        after: str | None = None,
        *,
        after_slot: int | None = None,
        min_context_slot: int | None = None,
        page: int = 100,
        max_pages: int = 50,
    ) -> list[tuple[str, int, list[str]]]:
        """(signature, slot, log lines) of the sub-account's successful transactions that
        landed after signature `after` (all of them when None), oldest first: what an
        indexer reads to find the program's events for this account (`drift_events`).
        With `after_slot` (the cursor's slot) the walk also stops at older transactions,
        so a cursor the node no longer lists never turns into a full rescan.

        Round trips: one `getSignaturesForAddress` per page, asked with `minContextSlot`
        (the slot of the account read the history goes with, or the highest slot seen: a
        node whose history has not reached it answers -32016 and is retried), then the
        transactions' `getTransaction` requests in JSON-RPC batches of up to
        `GET_TRANSACTION_BATCH` — one round trip for a tick's new transactions."""
        floor = max(self.slot_floor, min_context_slot or 0) or None
        infos: list[Any] = []
        before: Signature | None = None
        done = False
        for _ in range(max_pages):
            config = RpcSignaturesForAddressConfig(
                before=before,
                limit=page,
                commitment=CommitmentLevel.Confirmed,
                min_context_slot=floor,
            )
            req = (GetSignaturesForAddress(self.user_pubkey, config),)
            (resp,) = await self._read(
                "getSignaturesForAddress",
                lambda req=req: self._batch(req, GetSignaturesForAddressResp),
            )
            batch = list(resp.value)
            for info in batch:
                if after is not None and str(info.signature) == after:
                    done = True
                    break
                if after_slot is not None and info.slot < after_slot:
                    done = True
                    break
                infos.append(info)
            if done or len(batch) < page:
                break
            before = batch[-1].signature
        wanted = [info for info in reversed(infos) if info.err is None]
        out: list[tuple[str, int, list[str]]] = []
        tx_config = RpcTransactionConfig(
            UiTransactionEncoding.Base64,
            commitment=CommitmentLevel.Confirmed,
            max_supported_transaction_version=0,
        )
        for start in range(0, len(wanted), GET_TRANSACTION_BATCH):
            chunk = wanted[start : start + GET_TRANSACTION_BATCH]
            reqs = tuple(
                GetTransaction(info.signature, tx_config, id=i) for i, info in enumerate(chunk)
            )
            txs = await self._read(
                "getTransaction", lambda reqs=reqs: self._batch(reqs, GetTransactionResp)
            )
            for info, tx in zip(chunk, txs, strict=True):
                if tx.value is None or tx.value.transaction.meta is None:
                    raise RpcUnavailableError(f"getTransaction: {info.signature} not available yet")
                logs = list(tx.value.transaction.meta.log_messages or [])
                out.append((str(info.signature), info.slot, logs))
        return out

    # ------------------------------------------------------------------ blocking use

    def run(self, coro: Awaitable[Any]) -> Any:
        """Run one of this client's coroutines to completion from synchronous code (the
        heartbeat thread): the client keeps one private event loop for its connection."""
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(coro)

    def close_blocking(self) -> None:
        """Close the connection and the private loop `run` uses."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.run_until_complete(self.close())
            self._loop.close()
        self._loop = None

    # ------------------------------------------------------------------ account setup

    async def initialize_user(self, name: str | None = None) -> TxOutcome:
        """Create UserStats (sub-account 0) and the User account."""
        self._require_signer()
        dp = self.driftpy
        state = await self._fresh()
        if state.exists:
            raise DriftClientError(f"sub-account {self.sub_account_id} already exists")
        ixs: list[Instruction] = []
        if state.user_stats is None:
            ixs.append(dp.get_initialize_user_stats())
        default = (
            "Main Account" if self.sub_account_id == 0 else f"Subaccount {self.sub_account_id + 1}"
        )
        ixs.append(dp.get_initialize_user_instructions(self.sub_account_id, name or default))
        outcome = await self._send("initialize_user", ixs, lambda s: s.exists)
        await self.refresh()
        return outcome

    # ------------------------------------------------------------------ collateral

    async def deposit(
        self,
        amount: int,
        spot_market_index: int,
        user_token_account: Pubkey | None = None,
        *,
        reduce_only: bool = False,
    ) -> TxOutcome:
        """Deposit `amount` (token precision) from the wallet's token account."""
        self._require_signer()
        state = await self._fresh()
        before = state.cumulative_deposits(spot_market_index)
        ix = self.builder.deposit(
            amount,
            spot_market_index,
            user_token_account,
            UserAccountsView.of(state.user),
            reduce_only=reduce_only,
        )
        outcome = await self._send(
            "deposit", [ix], lambda s: s.cumulative_deposits(spot_market_index) != before
        )
        await self.refresh()
        return outcome

    async def withdraw(
        self,
        amount: int,
        spot_market_index: int,
        user_token_account: Pubkey | None = None,
        *,
        reduce_only: bool = False,
    ) -> TxOutcome:
        """Withdraw to the wallet's associated token account (created if missing)."""
        signer = self._require_signer()
        state = await self._fresh()
        before = state.cumulative_deposits(spot_market_index)
        ixs: list[Instruction] = []
        if user_token_account is None:
            mint = self.catalog.get(MarketType.SPOT, spot_market_index).mint
            user_token_account = get_associated_token_address(signer.pubkey, mint)
            ixs.append(
                create_idempotent_associated_token_account(signer.pubkey, signer.pubkey, mint)
            )
        ixs.append(
            self.builder.withdraw(
                amount,
                spot_market_index,
                user_token_account,
                UserAccountsView.of(state.user),
                reduce_only=reduce_only,
            )
        )
        outcome = await self._send(
            "withdraw", ixs, lambda s: s.cumulative_deposits(spot_market_index) != before
        )
        await self.refresh()
        return outcome

    async def transfer_deposit(
        self, amount: int, spot_market_index: int, to_sub_account_id: int
    ) -> TxOutcome:
        self._require_signer()
        state = await self._fresh()
        before = state.cumulative_deposits(spot_market_index)
        to_user = await self._read(
            "getAccountInfo",
            lambda: self._rpc.get_account_info(
                get_user_account_public_key(program_id(), self.authority, to_sub_account_id),
                encoding="base64",
            ),
        )
        to_view = None
        if to_user.value is not None:
            to_view = UserAccountsView.of(
                drift_program().coder.accounts.decode(bytes(to_user.value.data))
            )
        ix = self.builder.transfer_deposit(
            amount, spot_market_index, to_sub_account_id, UserAccountsView.of(state.user), to_view
        )
        outcome = await self._send(
            "transfer_deposit", [ix], lambda s: s.cumulative_deposits(spot_market_index) != before
        )
        await self.refresh()
        return outcome

    # ------------------------------------------------------------------ orders

    async def place_orders(self, intents: Sequence[OrderIntent]) -> TxOutcome:
        """Place one or more orders in ONE transaction (e.g. both legs of a hedge).

        Intents without a user order id get a fresh one; ids must be distinct and not
        held by an open order. The outcome lists the ids used.
        """
        from dataclasses import replace

        self._require_signer()
        state = await self._fresh()
        if not state.exists:
            raise DriftClientError(f"sub-account {self.sub_account_id} does not exist")
        taken: set[int] = set()
        open_ids = {o.user_order_id for o in state.open_orders}
        stamped: list[OrderIntent] = []
        for intent in intents:
            uid = intent.user_order_id
            if uid == 0:
                uid = self.next_user_order_id(state, taken)
            elif uid in open_ids or uid in taken:
                raise DriftClientError(f"user_order_id {uid} is already in use")
            taken.add(uid)
            stamped.append(replace(intent, user_order_id=uid))
        self.check_tradable(stamped)
        uids = tuple(i.user_order_id for i in stamped)
        since, since_slot = state.next_order_id, state.slot
        ix = self.builder.place_orders(stamped, UserAccountsView.of(state.user))

        async def landed(s: DriftAccountState) -> bool:
            # A transaction lands whole or not at all: one id seen means all landed.
            if any(s.orders_with_user_id(uid, since) for uid in uids):
                return True  # resting (or partly filled) in the account's order slots
            placed = await self._placed_in_history(set(uids), since, since_slot)
            if placed is not None:
                return bool(placed)  # OrderRecord events: fills leave no order slot
            # No transaction history on this RPC: the account's order counter moved by at
            # least our orders (assumes this client is the sub-account's only writer; a
            # wrong guess means a missed order, never a duplicate).
            return s.next_order_id >= since + len(uids)

        try:
            outcome = await self._send("place_orders", [ix], landed, uids)
        except TransactionUnconfirmedError as exc:
            exc.since_order_id, exc.since_slot = since, since_slot
            raise
        await self.refresh()
        return outcome

    async def place_order(self, intent: OrderIntent) -> TxOutcome:
        return await self.place_orders([intent])

    async def place_and_take(self, intent: OrderIntent) -> TxOutcome:
        """Place a perp order and fill it in the same transaction as far as the market
        allows within its limit (`place_and_take_perp_order`); nothing rests."""
        from dataclasses import replace

        self._require_signer()
        state = await self._fresh()
        if not state.exists:
            raise DriftClientError(f"sub-account {self.sub_account_id} does not exist")
        uid = intent.user_order_id or self.next_user_order_id(state)
        if uid in {o.user_order_id for o in state.open_orders}:
            raise DriftClientError(f"user_order_id {uid} is already in use")
        intent = replace(intent, user_order_id=uid)
        self.check_tradable([intent])
        since, since_slot = state.next_order_id, state.slot
        ix = self.builder.place_and_take_perp_order(intent, UserAccountsView.of(state.user))

        async def landed(s: DriftAccountState) -> bool:
            placed = await self._placed_in_history({uid}, since, since_slot)
            if placed is not None:
                return bool(placed)
            return s.next_order_id >= since + 1

        try:
            outcome = await self._send("place_and_take", [ix], landed, (uid,))
        except TransactionUnconfirmedError as exc:
            exc.since_order_id, exc.since_slot = since, since_slot
            raise
        await self.refresh()
        return outcome

    async def settle_pnl(self, market_index: int) -> TxOutcome:
        """Settle the perp position's funding and PnL into USDC (on chain nothing settles
        by itself). Landed-check: the position's `last_cumulative_funding_rate` or the
        User's `settled_perp_pnl` moved, or the transaction confirmed."""
        self._require_signer()
        state = await self._fresh()
        if not state.exists:
            raise DriftClientError(f"sub-account {self.sub_account_id} does not exist")
        before = (state.user.settled_perp_pnl, state.user.cumulative_perp_funding)
        ix = self.builder.settle_pnl(market_index, UserAccountsView.of(state.user))
        outcome = await self._send(
            "settle_pnl",
            [ix],
            lambda s: (
                s.user is not None
                and (s.user.settled_perp_pnl, s.user.cumulative_perp_funding) != before
            ),
        )
        await self.refresh()
        return outcome

    async def recent_priority_fees(
        self, accounts: Sequence[Pubkey] | None = None
    ) -> list[tuple[int, int]]:
        """(slot, micro-lamports per compute unit) the RPC reports for recent slots on
        `accounts` (default: this sub-account) — `getRecentPrioritizationFees`, which
        solana-py lacks: one JSON-RPC request over the connection's own HTTP session, as
        driftpy's `PriorityFeeSubscriber.load` sends it."""
        keys = [str(k) for k in (accounts if accounts else [self.user_pubkey])][:128]
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "getRecentPrioritizationFees",
            "params": [keys],
        }
        provider = self._rpc._provider

        async def call() -> Any:
            response = await provider.session.post(provider.endpoint_uri, json=body)
            response.raise_for_status()
            return response.json()

        data = await self._read("getRecentPrioritizationFees", call)
        if "error" in data:
            raise DriftClientError(f"getRecentPrioritizationFees: {data['error']}")
        return [(int(f["slot"]), int(f["prioritizationFee"])) for f in data["result"]]

    async def resolve_orders(
        self,
        user_order_ids: Sequence[int],
        *,
        since_order_id: int,
        since_slot: int,
        last_valid_block_height: int | None = None,
        signatures: Sequence[str] = (),
    ) -> dict[int, OrderResolution]:
        """What the chain says about orders whose send outcome was unknown.

        Evidence, strongest first: the signatures' statuses (searching the node's whole
        history: an error means nothing was placed); the account's open orders (resting
        with the user order id at or after `since_order_id`); the program's `OrderRecord`
        events in the sub-account's history since `since_slot`. With none of these, the
        order did not land if every signature's blockhash has expired
        (`last_valid_block_height` passed); else it is still unknown."""
        uids = [int(u) for u in user_order_ids]
        if signatures:
            sigs = [Signature.from_string(x) for x in signatures]
            resp = await self._read(
                "getSignatureStatuses",
                lambda: self._rpc.get_signature_statuses(sigs, search_transaction_history=True),
            )
            for status in resp.value:
                if status is not None and status.err is not None and _confirmed(status):
                    reason = f"transaction failed on chain: {status.err}"
                    return {u: OrderResolution(u, "failed", reason=reason) for u in uids}
        height = await self._block_height()
        state = await self.refresh()
        out: dict[int, OrderResolution] = {}
        for uid in uids:
            slots = state.orders_with_user_id(uid, since_order_id)
            resting = [o for o in slots if is_variant(o.status, "Open")]
            if resting:
                o = resting[0]
                out[uid] = OrderResolution(uid, "open", o.order_id, o)
        missing = {u for u in uids if u not in out}
        if missing:
            placed = await self._order_ids_in_history(missing, since_order_id, since_slot)
            for uid, order_id in (placed or {}).items():
                out[uid] = OrderResolution(uid, "placed", order_id)
        expired = last_valid_block_height is not None and height > last_valid_block_height
        for uid in uids:
            if uid not in out:
                out[uid] = OrderResolution(
                    uid,
                    "not_landed" if expired else "unknown",
                    reason=(
                        f"no trace on chain and its blockhash expired at height "
                        f"{last_valid_block_height} (now {height})"
                        if expired
                        else "no trace on chain yet; its transaction may still land"
                    ),
                )
        return out

    async def cancel_order(self, order_id: int) -> TxOutcome:
        state = await self._fresh()
        ix = self.builder.cancel_order(order_id, UserAccountsView.of(state.user))
        outcome = await self._send(
            "cancel_order",
            [ix],
            lambda s: not any(o.order_id == order_id for o in s.open_orders),
        )
        await self.refresh()
        return outcome

    async def cancel_order_by_user_id(self, user_order_id: int) -> TxOutcome:
        state = await self._fresh()
        ix = self.builder.cancel_order_by_user_id(user_order_id, UserAccountsView.of(state.user))
        outcome = await self._send(
            "cancel_order_by_user_id",
            [ix],
            lambda s: not any(o.user_order_id == user_order_id for o in s.open_orders),
        )
        await self.refresh()
        return outcome

    async def cancel_orders(
        self,
        market_type: MarketType | None = None,
        market_index: int | None = None,
        direction: PositionDirection | None = None,
    ) -> TxOutcome:
        state = await self._fresh()
        ix = self.builder.cancel_orders(
            market_type, market_index, direction, UserAccountsView.of(state.user)
        )

        def landed(s: DriftAccountState) -> bool:
            return not any(
                (market_type is None or o.market_type is MarketType(market_type))
                and (market_index is None or o.market_index == market_index)
                and (direction is None or o.direction is PositionDirection(direction))
                for o in s.open_orders
            )

        outcome = await self._send("cancel_orders", [ix], landed)
        await self.refresh()
        return outcome

    async def modify_order_by_user_id(self, user_order_id: int, modification: Any) -> TxOutcome:
        """Modify a resting order (by user order id) with a builder `OrderModification`."""
        state = await self._fresh()
        ix = self.builder.modify_order_by_user_id(
            user_order_id, modification, UserAccountsView.of(state.user)
        )
        want_size = getattr(modification, "base_asset_amount", None)
        want_price = getattr(modification, "price", None)

        def landed(s: DriftAccountState) -> bool:
            for o in s.open_orders:
                if o.user_order_id == user_order_id:
                    return (want_size is None or o.base_asset_amount == want_size) and (
                        want_price is None or o.price == want_price
                    )
            return False

        outcome = await self._send("modify_order_by_user_id", [ix], landed)
        await self.refresh()
        return outcome


#: The name the issue and the upper layers use.
DriftAdapter = DriftClient

__all__ = [
    "DriftAccountState",
    "OrderResolution",
    "DriftAdapter",
    "DriftClient",
    "DriftClientConfig",
    "DriftClientError",
    "KeypairFileError",
    "MarketRefusedError",
    "ReadOnlyClientError",
    "RpcUnavailableError",
    "TransactionFailedError",
    "TransactionUnconfirmedError",
    "TxOutcome",
    "drift_events",
    "load_keypair",
]
