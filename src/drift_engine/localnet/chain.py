"""`LocalChain`: the validator half of the local Drift RPC — as unkind as mainnet.

It keeps what a Solana node would answer from — accounts, slots, blockhashes,
signature statuses — and executes transactions:

* Drift accounts (State, User, UserStats, PerpMarket, SpotMarket) are *not* stored
  here. A `DriftProgram` (the simulator, through `localnet.program`) owns the
  driftpy account objects; they are encoded with Drift's IDL on every read, so what
  the RPC serves is always exactly the simulator's state. Oracles are served as
  Drift `PythLazerOracle` accounts built from the program's oracle prices.
* SPL token accounts and SOL balances of wallets are kept here (deposits move tokens
  from the wallet's token account into the spot market vault, withdrawals back).
* `send_transaction` deserializes legacy and v0 transactions with solders, verifies
  every signature and the recent blockhash, decodes Drift instructions with the IDL
  coder and applies them to the program atomically: all instructions of a transaction
  land, or none do. The Associated Token program's create instructions create token
  accounts; anything else fails `UnsupportedProgramId`.

What makes it mainnet-like (`LocalnetConfig`; each can be switched off):

* **Slots follow the clock** (`clock.now_ms()`, ~400 ms a slot; every landed
  transaction also opens a new slot, so a slot's state never changes once read). A
  blockhash is valid for 150 slots. Each new slot gives the program its keeper work
  (`on_slot`: auction fills, triggers, expiries); what the program did outside users'
  transactions lands as keeper transactions in the user's history.
* **Commitment**: a signature is "processed" in its slot, "confirmed" one slot later,
  "finalized" 32 slots later; history (`getSignaturesForAddress`, `getTransaction`)
  shows a transaction only at the commitment asked, and account reads serve the state
  as of the slot that commitment has reached (the accounts a transaction or a keeper
  fill is about to change are kept as they were, for the slots it is not yet confirmed
  or finalized in); `getSignatureStatuses` forgets statuses older than 300 slots unless
  `searchTransactionHistory` is set. (Market data a test feeds into the simulator
  directly — oracle prices, funding rates — shows at every commitment at once.)
* **Fees**: 5,000 lamports per signature plus the priority fee (compute-unit price x
  requested limit) charged to the fee payer whether the transaction succeeds or fails;
  rent-exempt lamports for every account created; a payer who cannot pay is refused.
* **Compute**: each instruction consumes compute units (`COMPUTE_UNITS`); a
  transaction over its limit (SetComputeUnitLimit, default 200,000 per instruction)
  fails with `ComputationalBudgetExceeded`.
* **Accounts an instruction passes**: the markets and oracles it needs must be in its
  remaining accounts, or it fails as the program fails (`PerpMarketNotFound`,
  `SpotMarketNotFound`, `OracleNotFound`).
* **Congestion**: a send whose priority fee is below the congestion floor is accepted
  and never lands; `getRecentPrioritizationFees` reports the fees that did land.

Errors use the JSON shapes of a real node (`TransactionError` values, `-32002`
preflight failures) so solana-py and driftpy see what they would see on mainnet.
Thread-safe: one re-entrant lock serializes every read and write.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import functools
import hashlib
import struct
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from driftpy.accounts.oracle import decode_pyth_lazer_price_info
from driftpy.addresses import get_spot_market_vault_public_key, get_user_account_public_key
from driftpy.constants.config import DRIFT_PROGRAM_ID
from solders.compute_budget import ID as COMPUTE_BUDGET_PROGRAM_ID
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.transaction import VersionedTransaction
from spl.token.constants import ASSOCIATED_TOKEN_PROGRAM_ID, TOKEN_PROGRAM_ID
from spl.token.instructions import get_associated_token_address

from drift_engine.core.program import (
    FieldCachedEncoder,
    drift_idl,
    drift_program,
    encode_account,
    new_account,
)
from drift_engine.core.types import MarketType, OrderIntent, PositionDirection
from drift_engine.localnet.clock import ChainClock, ManualClock
from drift_engine.localnet.config import LocalnetConfig
from drift_engine.metrics.rpc import DEFAULT_UNITS_PER_INSTRUCTION, MAX_COMPUTE_UNIT_LIMIT

#: Blocks a blockhash stays valid (mainnet's MAX_PROCESSING_AGE).
MAX_BLOCKHASH_AGE = 150
#: Compute units each instruction consumes: base + per remaining account (+ per order
#: for place_orders). Figures of the order of what mainnet's explorers show for Drift's
#: instructions; modelling assumptions, not measurements.
COMPUTE_UNITS: dict[str, tuple[int, int]] = {
    "compute_budget": (150, 0),
    "create_associated_token_account": (25_000, 0),
    "create_associated_token_account_idempotent": (25_000, 0),
    "initialize_user_stats": (30_000, 0),
    "initialize_user": (40_000, 0),
    "deposit": (45_000, 3_000),
    "withdraw": (60_000, 3_000),
    "transfer_deposit": (60_000, 3_000),
    "place_perp_order": (45_000, 3_000),
    "place_spot_order": (50_000, 3_000),
    "place_orders": (30_000, 3_000),
    "place_and_take_perp_order": (110_000, 3_000),
    "place_and_take_spot_order": (110_000, 3_000),
    "cancel_order": (20_000, 1_000),
    "cancel_order_by_user_id": (20_000, 1_000),
    "cancel_orders": (25_000, 1_000),
    "modify_order": (60_000, 3_000),
    "modify_order_by_user_id": (60_000, 3_000),
    "settle_pnl": (70_000, 3_000),
}
#: place_orders: units per order it places.
PLACE_ORDERS_UNITS_PER_ORDER = 25_000
#: Lamports per byte-year × 2 years, as `getMinimumBalanceForRentExemption` computes it.
_RENT_LAMPORTS_PER_BYTE_YEAR = 3480
_ACCOUNT_STORAGE_OVERHEAD = 128
TOKEN_ACCOUNT_SIZE = 165
U64_MAX = 2**64 - 1


def rent_exempt_minimum(size: int) -> int:
    return (size + _ACCOUNT_STORAGE_OVERHEAD) * _RENT_LAMPORTS_PER_BYTE_YEAR * 2


# --------------------------------------------------------------------------- errors


class RpcError(Exception):
    """A JSON-RPC error the server returns as `{"code", "message", "data"}`."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out


class ProgramError(Exception):
    """An instruction failed. `name` is a Drift IDL error name (e.g. "InsufficientCollateral")
    or one of Anchor's / the token program's; `code` is the on-chain custom error number."""

    #: Anchor framework errors the program raises before Drift's own code runs.
    ANCHOR_CODES = {
        "ConstraintHasOne": 2001,
        "ConstraintSigner": 2002,
        "ConstraintSeeds": 2006,
        "AccountNotInitialized": 3012,
        "AccountDidNotDeserialize": 3003,
    }
    #: SPL token program errors (token program custom codes).
    TOKEN_CODES = {"InsufficientFunds": 1, "MintMismatch": 3, "OwnerMismatch": 4}

    def __init__(self, name: str, message: str = "", code: int | None = None) -> None:
        self.name = name
        self.code = code if code is not None else _error_code(name)
        super().__init__(f"{name}: {message}" if message else name)


def _error_code(name: str) -> int:
    if name in ProgramError.ANCHOR_CODES:
        return ProgramError.ANCHOR_CODES[name]
    if name in ProgramError.TOKEN_CODES:
        return ProgramError.TOKEN_CODES[name]
    for err in drift_idl().errors:
        if err.name == name:
            return err.code
    return 6042  # InvalidOrder: Drift's generic "this order/instruction is not valid"


class TransactionFailed(Exception):
    """A transaction failed to execute; `err` is the JSON TransactionError value."""

    def __init__(self, err: Any, logs: list[str], units: int = 0) -> None:
        super().__init__(str(err))
        self.err = err
        self.logs = logs
        self.units = units


# --------------------------------------------------------------------------- the program


class DriftProgram(Protocol):
    """What the local chain needs from a Drift program implementation.

    The real implementation is `localnet.program.SimulatorProgram` over the
    `DriftSimulator`; tests may use a minimal one. Methods raise `ProgramError` (or any
    exception, reported as a Drift error) to fail the instruction; the chain restores
    `snapshot()` so a failed transaction changes nothing.
    """

    def accounts(self) -> Iterable[tuple[Pubkey, str, Any]]:
        """Every Drift account: (address, IDL account name, driftpy account object)."""
        ...

    def oracles(self) -> Iterable[tuple[Pubkey, Any, int, int]]:
        """Every oracle: (address, driftpy OracleSource, price in PRICE 1e6, posted slot),
        optionally followed by its confidence (PRICE 1e6, default 0)."""
        ...

    def snapshot(self) -> Any: ...

    def restore(self, snapshot: Any) -> None: ...

    def initialize_user_stats(self, authority: Pubkey) -> None: ...

    def initialize_user(self, authority: Pubkey, sub_account_id: int, name: list[int]) -> None: ...

    def deposit(
        self,
        authority: Pubkey,
        sub_account_id: int,
        market_index: int,
        amount: int,
        reduce_only: bool,
    ) -> None: ...

    def withdraw(
        self,
        authority: Pubkey,
        sub_account_id: int,
        market_index: int,
        amount: int,
        reduce_only: bool,
    ) -> int:
        """Withdraw; returns the token amount actually paid out."""
        ...

    def transfer_deposit(
        self,
        authority: Pubkey,
        from_sub_account_id: int,
        to_sub_account_id: int,
        market_index: int,
        amount: int,
    ) -> None: ...

    def place_orders(
        self, authority: Pubkey, sub_account_id: int, intents: Sequence[OrderIntent]
    ) -> None: ...

    def place_and_take(
        self, authority: Pubkey, sub_account_id: int, intent: OrderIntent
    ) -> None: ...

    def cancel_order(
        self, authority: Pubkey, sub_account_id: int, order_id: int | None
    ) -> None: ...

    def cancel_order_by_user_id(
        self, authority: Pubkey, sub_account_id: int, user_order_id: int
    ) -> None: ...

    def cancel_orders(
        self,
        authority: Pubkey,
        sub_account_id: int,
        market_type: MarketType | None,
        market_index: int | None,
        direction: PositionDirection | None,
    ) -> None: ...

    def modify_order(
        self,
        authority: Pubkey,
        sub_account_id: int,
        order_id: int | None,
        user_order_id: int | None,
        params: Any,
    ) -> None: ...


# --------------------------------------------------------------------------- accounts


@dataclass(frozen=True, slots=True)
class ServedAccount:
    """An account as the RPC returns it."""

    data: bytes
    owner: Pubkey
    lamports: int
    executable: bool = False


@dataclass(slots=True)
class TokenAccount:
    mint: Pubkey
    owner: Pubkey
    amount: int = 0

    def encode(self) -> bytes:
        """SPL Token `Account` layout (165 bytes), initialized, no delegate, not native."""
        return (
            bytes(self.mint)
            + bytes(self.owner)
            + struct.pack("<Q", self.amount)
            + bytes(36)  # delegate: COption<Pubkey> = None
            + b"\x01"  # state: Initialized
            + bytes(12)  # is_native: COption<u64> = None
            + struct.pack("<Q", 0)  # delegated_amount
            + bytes(36)  # close_authority: None
        )


def encode_lazer_oracle(price: int, slot: int, source: Any, conf: int = 0) -> bytes:
    """A Drift `PythLazerOracle` account that driftpy decodes to exactly `price`.

    driftpy decodes through floats (`price / 10**exp * 1e6`), so the stored integer is
    chosen by trying the neighbours of the exact value until driftpy reads back `price`.
    """
    name = type(source).__name__
    multiple = {"PythLazer1K": 1000, "PythLazer1M": 1_000_000}.get(name, 1)
    stable = name == "PythLazerStableCoin"
    exponent = -8
    base = price * 100 // multiple
    for delta in (0, 1, -1, 2, -2):
        oracle = new_account("PythLazerOracle")
        oracle.price = base + delta
        oracle.exponent = exponent
        oracle.posted_slot = slot
        oracle.publish_time = 0
        oracle.conf = conf * 100 // multiple  # PRICE 1e6 -> the account's 1e-8 units
        data = encode_account("PythLazerOracle", oracle)
        if decode_pyth_lazer_price_info(data, multiple, stable).price == price:
            return data
    raise ValueError(f"cannot encode oracle price {price} for source {name}")


_MISSING = object()


def _is_lazer(source: Any) -> bool:
    return type(source).__name__.startswith("PythLazer")


# --------------------------------------------------------------------------- records


@dataclass(slots=True)
class SignatureRecord:
    slot: int
    err: Any = None
    logs: list[str] = field(default_factory=list)
    instructions: list[str] = field(default_factory=list)
    hidden: bool = False  # landed, but `getSignatureStatuses` does not report it (fault)
    raw: bytes = b""  # the transaction as sent (wire format)
    account_keys: tuple[Pubkey, ...] = ()
    version: Any = 0  # 0 or "legacy"
    fee: int = 0  # lamports charged to the fee payer
    units: int = 0  # compute units consumed
    unit_price: int = 0  # priority fee, micro-lamports per compute unit


@dataclass(frozen=True, slots=True)
class Budget:
    """A transaction's compute budget: its unit limit and priority fee."""

    limit: int
    price: int  # micro-lamports per compute unit

    @property
    def priority_fee(self) -> int:
        """Lamports: ceil(price x limit / 1e6), as the runtime charges it."""
        return -(-self.price * self.limit // 1_000_000)


def _budget(keys: Sequence[Pubkey], instructions: Sequence[Any]) -> Budget:
    """The compute budget a transaction asks for (ComputeBudget instructions 2 and 3)."""
    limit: int | None = None
    price = 0
    others = 0
    for ci in instructions:
        if keys[ci.program_id_index] != COMPUTE_BUDGET_PROGRAM_ID:
            others += 1
            continue
        data = bytes(ci.data)
        if data[:1] == b"\x02" and len(data) >= 5:
            limit = struct.unpack("<I", data[1:5])[0]
        elif data[:1] == b"\x03" and len(data) >= 9:
            price = struct.unpack("<Q", data[1:9])[0]
    if limit is None:
        limit = min(MAX_COMPUTE_UNIT_LIMIT, DEFAULT_UNITS_PER_INSTRUCTION * max(others, 1))
    return Budget(min(limit, MAX_COMPUTE_UNIT_LIMIT), price)


@functools.cache
def account_size(name: str) -> int:
    """Bytes of a Drift account type (its rent-exempt size)."""
    return len(encode_account(name, new_account(name)))


def encode_event(name: str, values: dict[str, Any]) -> str:
    """A Drift (Anchor) event as the program logs it: base64 of discriminator + borsh."""
    coder = drift_program().coder.events
    disc = hashlib.sha256(f"event:{name}".encode()).digest()[:8]
    return base64.b64encode(disc + coder.layouts[name].build(values)).decode()


def _tx_fields(tx: VersionedTransaction, raw: bytes) -> dict[str, Any]:
    msg = tx.message
    version = 0 if isinstance(msg, MessageV0) else "legacy"
    return {"raw": raw, "account_keys": tuple(msg.account_keys), "version": version}


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


@dataclass(frozen=True, slots=True)
class _Ix:
    program_id: Pubkey
    accounts: list[Pubkey]
    data: bytes


class LocalChain:
    """Accounts, blocks and transaction execution of a one-program local validator."""

    def __init__(
        self,
        program: DriftProgram,
        *,
        start_slot: int = 1,
        clock: ChainClock | None = None,
        config: LocalnetConfig | None = None,
    ) -> None:
        self.program = program
        self.config = config or getattr(program, "config", None) or LocalnetConfig()
        self.clock = clock if clock is not None else ManualClock(0)
        self._lock = threading.RLock()
        self.slot = start_slot
        self._genesis_ms = self.clock.now_ms()
        self._genesis_slot = start_slot
        #: slots added without time passing: one per landed transaction, and `advance`
        self._extra_slots = 0
        self._blockhash_slot: dict[Hash, int] = {}
        self.lamports: dict[Pubkey, int] = {}
        self.tokens: dict[Pubkey, TokenAccount] = {}
        self.signatures: dict[Signature, SignatureRecord] = {}
        #: priority fees (micro-lamports per CU) of the transactions landed per slot
        self._slot_fees: dict[int, list[int]] = {}
        #: signatures accepted but never landed (congestion drops them)
        self.dropped: set[Signature] = set()
        #: every sendTransaction received: (signature, block height then, the last valid
        #: block height of its blockhash or None if unknown) — tests read re-broadcasts
        self.received: list[tuple[Signature, int, int | None]] = []
        self._ix_accounts = {
            _snake(ix.name): [_snake(a.name) for a in ix.accounts]
            for ix in drift_idl().instructions
        }
        self._coder = drift_program().coder.instruction
        self._logs: list[str] = []
        self._remember_blockhash()
        #: Signs the keeper transactions that carry events of what the program did outside
        #: a user's transaction (funding settles, auction fills, expiries, liquidations).
        self.keeper = Keypair.from_seed(hashlib.sha256(b"drift-engine-localnet:keeper").digest())
        mark = getattr(program, "record_mark", None)
        self._record_cursor: int | None = mark() if callable(mark) else None
        #: (slot a change lands in, the accounts it changes as they were before it), for
        #: reads at "confirmed" / "finalized" commitment
        self._past: list[tuple[int, dict[Pubkey, ServedAccount | None]]] = []
        #: per Drift account address: its field-cached encoder (`_sources`)
        self._encoders: dict[Pubkey, FieldCachedEncoder] = {}
        if hasattr(program, "before_change"):
            program.before_change = self._before_keeper_change  # type: ignore[attr-defined]
        self._begin(self.slot)

    # ------------------------------------------------------------------ blocks

    @property
    def block_height(self) -> int:
        return self.slot

    def _hash_for(self, slot: int) -> Hash:
        return Hash(hashlib.sha256(b"drift-engine-localnet:" + str(slot).encode()).digest())

    def _remember_blockhash(self) -> Hash:
        h = self._hash_for(self.slot)
        self._blockhash_slot.setdefault(h, self.slot)
        return h

    def latest_blockhash(self) -> tuple[Hash, int]:
        """(blockhash, last valid block height) of the current slot."""
        with self._lock:
            self._sync()
            return self._remember_blockhash(), self.slot + MAX_BLOCKHASH_AGE

    def is_blockhash_valid(self, blockhash: Hash) -> bool:
        with self._lock:
            self._sync()
            issued = self._blockhash_slot.get(blockhash)
            return issued is not None and self.slot - issued <= MAX_BLOCKHASH_AGE

    def advance(self, slots: int = 1) -> None:
        """Produce `slots` blocks without time passing (the keeper works each of them)."""
        with self._lock:
            self._sync()
            self._extra_slots += slots
            self._sync()

    def expire_blockhashes(self) -> None:
        """Advance past the validity window: every blockhash handed out so far expires."""
        self.advance(MAX_BLOCKHASH_AGE + 1)

    def _clock_slot(self) -> int:
        elapsed = max(0, self.clock.now_ms() - self._genesis_ms)
        return self._genesis_slot + elapsed // self.config.slot_ms + self._extra_slots

    def _slot_ts(self, slot: int, target: int) -> int:
        """Unix seconds of `slot` when the clock's slot is `target`."""
        ms = self.clock.now_ms() - (target - slot) * self.config.slot_ms
        return max(ms, self._genesis_ms) // 1000

    def _begin(self, slot: int, target: int | None = None) -> None:
        begin = getattr(self.program, "begin", None)
        if callable(begin):
            begin(slot, self._slot_ts(slot, slot if target is None else target))

    def _sync(self) -> None:
        """Bring the chain to the clock's slot, giving the program each slot's keeper work
        (every slot while it is busy, else one jump), and log what it did."""
        if self._clock_slot() <= self.slot:
            return
        self._crank_locked()  # what the program did before this time passed lands first
        target = self._clock_slot()
        on_slot = getattr(self.program, "on_slot", None)
        busy = getattr(self.program, "busy", None)
        while self.slot < target:
            step_by_step = callable(busy) and busy()
            self.slot = self.slot + 1 if step_by_step else target
            if callable(on_slot):
                on_slot(self.slot, self._slot_ts(self.slot, target))
                self._crank_locked()
        self._begin(self.slot)

    def _land(self) -> int:
        """A transaction lands: it opens a new slot (so a slot read once never changes)."""
        self._extra_slots += 1
        self.slot += 1
        self._begin(self.slot)
        return self.slot

    def sync(self) -> int:
        """Bring the chain up to its clock now; returns the slot."""
        with self._lock:
            self._sync()
            self._crank_locked()
            return self.slot

    # ------------------------------------------------------------------ accounts

    def _sources(self) -> dict[Pubkey, Callable[[], ServedAccount]]:
        """Every account address and how to produce its current bytes (encoded on read)."""
        out: dict[Pubkey, Callable[[], ServedAccount]] = {}

        encoders = self._encoders

        def drift(name: str, obj: Any, address: Pubkey) -> Callable[[], ServedAccount]:
            def make() -> ServedAccount:
                # the same bytes as encode_account, re-building only the fields that
                # changed since this address was last served (a read of 100 Users
                # encoded them all each time: 5 s of a 100-account tick)
                encoder = encoders.get(address)
                if encoder is None or encoder.name != name:
                    encoder = encoders[address] = FieldCachedEncoder(name)
                data = encoder.encode(obj)
                return ServedAccount(data, DRIFT_PROGRAM_ID, rent_exempt_minimum(len(data)))

            return make

        def oracle(price: int, slot: int, source: Any, conf: int) -> Callable[[], ServedAccount]:
            def make() -> ServedAccount:
                data = encode_lazer_oracle(price, slot, source, conf)
                return ServedAccount(data, DRIFT_PROGRAM_ID, rent_exempt_minimum(len(data)))

            return make

        def token(acc: TokenAccount) -> Callable[[], ServedAccount]:
            return lambda: ServedAccount(
                acc.encode(), TOKEN_PROGRAM_ID, rent_exempt_minimum(TOKEN_ACCOUNT_SIZE)
            )

        for address, name, obj in self.program.accounts():
            out[address] = drift(name, obj, address)
        for address, source, price, slot, *conf in self.program.oracles():
            if address in out:
                continue
            if not _is_lazer(source):
                raise ValueError(f"oracle {address}: only Pyth Lazer oracles are served")
            out[address] = oracle(price, slot, source, conf[0] if conf else 0)
        for address, acc in self.tokens.items():
            out[address] = token(acc)
        for address, lamports in self.lamports.items():
            base = out.get(address)

            def with_lamports(base=base, lamports=lamports) -> ServedAccount:
                if base is None:
                    return ServedAccount(b"", SYSTEM_PROGRAM_ID, lamports)
                acc = base()
                return ServedAccount(acc.data, acc.owner, acc.lamports + lamports)

            out[address] = with_lamports
        return out

    def get_account(self, address: Pubkey) -> ServedAccount | None:
        return self.get_accounts([address])[0]

    def get_accounts(self, addresses: Sequence[Pubkey]) -> list[ServedAccount | None]:
        """The accounts at `addresses`, all read at one slot (under one lock)."""
        return self.read_accounts(addresses)[1]

    def _lag(self, commitment: str | None) -> int:
        if commitment in ("processed", "recent"):
            return 0
        if commitment in ("confirmed", "single", "singleGossip"):
            return self.config.confirm_after_slots
        return self.config.finalize_after_slots  # the RPC's default: finalized

    def context_slot(self, commitment: str | None = "processed", behind: int = 0) -> int:
        """The slot a node answers at for `commitment`, `behind` slots late (a lagging
        node: `FaultPlan.lag_node`)."""
        with self._lock:
            self._sync()
            return max(self._genesis_slot, self.slot - self._lag(commitment) - behind)

    def read_accounts(
        self, addresses: Sequence[Pubkey], commitment: str | None = "processed", behind: int = 0
    ) -> tuple[int, list[ServedAccount | None]]:
        """(slot, the accounts at `addresses`) as of the newest slot `commitment` has
        reached, all read at that one slot; `behind` > 0: as a node that many slots late
        serves them (exact within the slots the chain keeps, `finalize_after_slots`)."""
        with self._lock:
            self._sync()
            self._crank_locked()
            sources = self._sources()
            lag = self._lag(commitment) + max(0, behind)
            target = max(self._genesis_slot, self.slot - lag)
            out: list[ServedAccount | None] = []
            for address in addresses:
                past: Any = _MISSING
                for landing, before in self._past:
                    if landing > target and address in before:
                        past = before[address]
                        break
                if past is not _MISSING:
                    out.append(past)
                else:
                    out.append(sources[address]() if address in sources else None)
            return (target if lag else self.slot), out

    def _capture(self, keys: Iterable[Pubkey], landing: int) -> None:
        """Keep the accounts a change landing in slot `landing` is about to touch as they
        are, for reads at a commitment that has not reached that slot yet."""
        keep = max(self.config.confirm_after_slots, self.config.finalize_after_slots)
        if keep == 0:
            return
        if self._past and self._past[-1][0] == landing:
            entry = self._past[-1][1]
        else:
            entry = {}
            self._past.append((landing, entry))
        missing = [k for k in keys if k not in entry]
        if missing:
            sources = self._sources()
            for k in missing:
                entry[k] = sources[k]() if k in sources else None
        horizon = self.slot - keep - 1
        while self._past and self._past[0][0] <= horizon:
            self._past.pop(0)

    def _before_keeper_change(self, users: Iterable[Pubkey]) -> None:
        """The keeper is about to fill / expire / trigger orders of `users`: their
        accounts, their stats and the markets change in the keeper transaction that
        lands next slot."""
        users = list(users)
        objects = self._drift_objects()
        authorities = {objects[u][1].authority for u in users if u in objects}
        keys = list(users)
        for address, (name, obj) in objects.items():
            market = name in ("PerpMarket", "SpotMarket", "State")
            if market or (name == "UserStats" and obj.authority in authorities):
                keys.append(address)
        self._capture(keys, self.slot + 1)

    def program_accounts(
        self, program_id: Pubkey, filters: Sequence[tuple[str, Any]] = ()
    ) -> list[tuple[Pubkey, ServedAccount]]:
        """Accounts owned by `program_id` passing every filter.

        A filter is ("dataSize", n) or ("memcmp", (offset, bytes)).
        """
        with self._lock:
            self._sync()
            out = []
            for address, make in self._sources().items():
                acc = make()
                if acc.owner != program_id:
                    continue
                if all(_passes(acc.data, f) for f in filters):
                    out.append((address, acc))
            return out

    def balance(self, address: Pubkey) -> int:
        acc = self.get_account(address)
        return 0 if acc is None else acc.lamports

    # ------------------------------------------------------------------ faucet

    def airdrop(self, address: Pubkey, lamports: int) -> Signature:
        with self._lock:
            self._sync()
            self._capture([address], self.slot + 1)
            self.lamports[address] = self.lamports.get(address, 0) + lamports
            sig = Signature(hashlib.sha512(f"airdrop:{address}:{self.slot}".encode()).digest())
            self.signatures[sig] = SignatureRecord(self._land(), instructions=["airdrop"])
            return sig

    def mint_to(self, owner: Pubkey, mint: Pubkey, amount: int) -> Pubkey:
        """Credit `amount` tokens of `mint` to `owner`'s associated token account."""
        with self._lock:
            ata = get_associated_token_address(owner, mint)
            token = self.tokens.setdefault(ata, TokenAccount(mint, owner))
            token.amount += amount
            return ata

    def token_balance(self, address: Pubkey) -> int:
        with self._lock:
            token = self.tokens.get(address)
            return 0 if token is None else token.amount

    # ------------------------------------------------------------------ signatures

    def commitment_of(self, rec: SignatureRecord) -> str:
        """ "processed", "confirmed" or "finalized", by the slots since it landed."""
        age = self.slot - rec.slot
        if age >= self.config.finalize_after_slots:
            return "finalized"
        if age >= self.config.confirm_after_slots:
            return "confirmed"
        return "processed"

    def _visible(self, rec: SignatureRecord, commitment: str | None) -> bool:
        """Whether a landed transaction shows at `commitment` (default: finalized)."""
        level = {"processed": 0, "confirmed": 1, "finalized": 2}
        have = level[self.commitment_of(rec)]
        return have >= level.get(commitment or "finalized", 2)

    def signature_statuses(
        self, signatures: Sequence[Signature], *, search_history: bool = False
    ) -> list[dict[str, Any] | None]:
        with self._lock:
            self._sync()
            out: list[dict[str, Any] | None] = []
            for sig in signatures:
                rec = self.signatures.get(sig)
                if rec is None or rec.hidden:
                    out.append(None)
                    continue
                age = self.slot - rec.slot
                if not search_history and age > self.config.status_cache_slots:
                    out.append(None)  # out of the node's status cache
                    continue
                commitment = self.commitment_of(rec)
                out.append(
                    {
                        "slot": rec.slot,
                        "confirmations": None if commitment == "finalized" else age,
                        "err": rec.err,
                        "status": {"Ok": None} if rec.err is None else {"Err": rec.err},
                        "confirmationStatus": commitment,
                    }
                )
            return out

    # ------------------------------------------------------------------ fees

    def congestion_fees(self, floor: int | None = None) -> list[tuple[int, int]]:
        """(slot, priority fee) for the last 150 slots: the lowest fee that landed in the
        slot, at least the congestion floor (what `getRecentPrioritizationFees` serves)."""
        with self._lock:
            self._sync()
            out = []
            for slot in range(max(self._genesis_slot, self.slot - 149), self.slot + 1):
                fees = self._slot_fees.get(slot)
                fee = min(fees) if fees else 0
                out.append((slot, max(fee, floor or 0)))
            return out

    def _charge(self, payer: Pubkey, lamports: int) -> None:
        have = self.lamports.get(payer, 0)
        if have < lamports:
            raise ProgramError(
                "InsufficientLamports",
                f"{payer} has {have} lamports, needs {lamports}",
                code=1,
            )
        self.lamports[payer] = have - lamports

    def _pay_rent(self, payer: Pubkey, size: int) -> None:
        if self.config.fees:
            self._charge(payer, rent_exempt_minimum(size))

    # ------------------------------------------------------------------ transactions

    def decode_transaction(self, raw: bytes) -> VersionedTransaction:
        try:
            tx = VersionedTransaction.from_bytes(raw)
            tx.sanitize()
        except Exception as exc:  # noqa: BLE001 - any parse failure is the client's
            raise RpcError(-32602, f"invalid transaction: failed to deserialize: {exc}") from None
        return tx

    def verify_signatures(self, tx: VersionedTransaction) -> None:
        msg = tx.message
        required = msg.header.num_required_signatures
        if len(tx.signatures) != required or not all(tx.verify_with_results()):
            raise RpcError(-32003, "Transaction signature verification failure")

    def fee_of(self, tx: VersionedTransaction) -> tuple[int, Budget]:
        """(lamports the payer is charged, the compute budget) of a transaction."""
        msg = tx.message
        budget = _budget(list(msg.account_keys), list(msg.instructions))
        if not self.config.fees:
            return 0, budget
        base = self.config.lamports_per_signature * msg.header.num_required_signatures
        return base + budget.priority_fee, budget

    def send_transaction(
        self,
        raw: bytes,
        *,
        skip_preflight: bool = False,
        hide_status: bool = False,
        min_priority_fee: int | None = None,
    ) -> Signature:
        """Verify and execute a transaction; returns its signature.

        Preflight failures raise `RpcError(-32002)` with the simulation result as data,
        as a real node does; with `skip_preflight` a failing transaction lands with its
        error recorded and its fee charged (an expired blockhash is then dropped
        silently, like mainnet). `hide_status` makes the landed transaction invisible to
        `getSignatureStatuses`. With `min_priority_fee` (congestion) a transaction paying
        less per compute unit is accepted and never lands.
        """
        tx = self.decode_transaction(raw)
        self.verify_signatures(tx)
        sig = tx.signatures[0]
        with self._lock:
            self._sync()
            self._crank_locked()
            issued = self._blockhash_slot.get(tx.message.recent_blockhash)
            self.received.append(
                (sig, self.block_height, None if issued is None else issued + MAX_BLOCKHASH_AGE)
            )
            if sig in self.signatures:
                if skip_preflight:
                    return sig
                raise _preflight_error("AlreadyProcessed", [])
            if not self.is_blockhash_valid(tx.message.recent_blockhash):
                if skip_preflight:
                    return sig  # the leader drops it; the status stays unknown forever
                raise _preflight_error("BlockhashNotFound", [])
            fee, budget = self.fee_of(tx)
            payer = tx.message.account_keys[0]
            if fee and self.lamports.get(payer, 0) < fee:
                if skip_preflight:
                    return sig  # the leader cannot charge it: dropped
                raise _preflight_error("InsufficientFundsForFee", [])
            if min_priority_fee is not None and budget.price < min_priority_fee:
                self.dropped.add(sig)  # congestion: forwarded, never included in a block
                return sig
            self._capture(tx.message.account_keys, self.slot + 1)
            try:
                names, logs, units = self._execute(tx, budget)
            except TransactionFailed as failed:
                if not skip_preflight:
                    raise _preflight_error(failed.err, failed.logs, failed.units) from None
                self.lamports[payer] = self.lamports.get(payer, 0) - fee
                slot = self._land()
                self.signatures[sig] = SignatureRecord(
                    slot,
                    failed.err,
                    failed.logs,
                    fee=fee,
                    units=failed.units,
                    unit_price=budget.price,
                    **_tx_fields(tx, raw),
                )
                self._slot_fees.setdefault(slot, []).append(budget.price)
                return sig
            self.lamports[payer] = self.lamports.get(payer, 0) - fee
            if self._record_cursor is not None:  # its events are in its own logs
                self._record_cursor = self.program.record_mark()  # type: ignore[attr-defined]
            slot = self._land()
            self.signatures[sig] = SignatureRecord(
                slot,
                None,
                logs,
                names,
                hidden=hide_status,
                fee=fee,
                units=units,
                unit_price=budget.price,
                **_tx_fields(tx, raw),
            )
            self._slot_fees.setdefault(slot, []).append(budget.price)
            return sig

    def crank(self) -> list[Signature]:
        """Bring the chain to its clock and log what the program did outside transactions.

        For each user with new events (auction fills, expiries, funding settled, resting
        orders filled by an oracle move, ...) one keeper transaction lands, signed by
        `keeper`, with the user account among its keys and the events in its logs — what
        a keeper's `fill_perp_order` / `settle_funding_payment` leaves on mainnet. Run
        before every transaction and every history or account read, so events always
        appear in the order they happened."""
        with self._lock:
            self._sync()
            return self._crank_locked()

    def _crank_locked(self) -> list[Signature]:
        if self._record_cursor is None:
            return []
        mark = self.program.record_mark()  # type: ignore[attr-defined]
        if mark == self._record_cursor:
            return []
        found = self.program.events_since(self._record_cursor)  # type: ignore[attr-defined]
        self._record_cursor = mark
        by_user: dict[Pubkey, list[tuple[str, dict[str, Any]]]] = {}
        for user, name, values in found:
            by_user.setdefault(user, []).append((name, values))
        return [self._keeper_transaction(user, events) for user, events in by_user.items()]

    def _keeper_transaction(
        self, user: Pubkey, events: list[tuple[str, dict[str, Any]]]
    ) -> Signature:
        names = {name for name, _ in events}
        if "FundingRateRecord" in names:
            ix_name = "update_funding_rate"  # `user` is the PerpMarket account it writes
        elif "OrderActionRecord" in names:
            ix_name = "fill_perp_order"
        else:
            ix_name = "settle_funding_payment"
        disc = hashlib.sha256(f"global:{ix_name}".encode()).digest()[:8]
        ix = Instruction(DRIFT_PROGRAM_ID, disc, [AccountMeta(user, False, True)])
        blockhash = self._remember_blockhash()
        msg = Message.new_with_blockhash([ix], self.keeper.pubkey(), blockhash)
        tx = VersionedTransaction(msg, [self.keeper])
        logs = [f"Program {DRIFT_PROGRAM_ID} invoke [1]"]
        pascal = "".join(part.capitalize() for part in ix_name.split("_"))
        logs.append(f"Program log: Instruction: {pascal}")
        logs += [f"Program data: {encode_event(name, values)}" for name, values in events]
        logs.append(f"Program {DRIFT_PROGRAM_ID} success")
        sig = tx.signatures[0]
        self.signatures[sig] = SignatureRecord(
            self._land(), None, logs, [ix_name], **_tx_fields(tx, bytes(tx))
        )
        return sig

    def history(
        self,
        address: Pubkey,
        limit: int = 1000,
        before: Signature | None = None,
        commitment: str | None = "confirmed",
        behind: int = 0,
    ) -> list[tuple[Signature, SignatureRecord]]:
        """Landed transactions that reference `address`, newest first, as far as they
        are visible at `commitment` (to a node `behind` slots late)."""
        with self._lock:
            self._sync()
            self._crank_locked()
            out = [
                (sig, rec)
                for sig, rec in self.signatures.items()
                if address in rec.account_keys
                and self._visible(rec, commitment)
                and (behind <= 0 or rec.slot <= self.slot - behind - self._lag(commitment))
            ]
            out.reverse()
            if before is not None:
                idx = next((i for i, (sig, _r) in enumerate(out) if sig == before), None)
                out = out[idx + 1 :] if idx is not None else []
            return out[:limit]

    def transaction(self, sig: Signature, commitment: str | None = "confirmed") -> Any:
        """The landed transaction's record if it is visible at `commitment`, else None."""
        with self._lock:
            self._sync()
            rec = self.signatures.get(sig)
            if rec is None or not rec.raw or not self._visible(rec, commitment):
                return None
            return rec

    def simulate_transaction(
        self, raw: bytes, *, sig_verify: bool = False, replace_recent_blockhash: bool = False
    ) -> dict[str, Any]:
        """Execute against the current state and roll back; the `simulateTransaction` value."""
        tx = self.decode_transaction(raw)
        if sig_verify:
            self.verify_signatures(tx)
        with self._lock:
            self._sync()
            self._crank_locked()
            if not replace_recent_blockhash and not self.is_blockhash_valid(
                tx.message.recent_blockhash
            ):
                return _sim_result("BlockhashNotFound", [])
            fee, budget = self.fee_of(tx)
            saved = self._save()
            try:
                _names, logs, units = self._execute(tx, budget)
                return _sim_result(None, logs, units)
            except TransactionFailed as failed:
                return _sim_result(failed.err, failed.logs, failed.units)
            finally:
                self._load(saved)

    def _save(self) -> Any:
        return (
            self.program.snapshot(),
            copy.deepcopy(self.tokens),
            dict(self.lamports),
        )

    def _load(self, saved: Any) -> None:
        program_state, tokens, lamports = saved
        self.program.restore(program_state)
        self.tokens = tokens
        self.lamports = lamports

    def _execute(
        self, tx: VersionedTransaction, budget: Budget
    ) -> tuple[list[str], list[str], int]:
        msg = tx.message
        if hasattr(msg, "address_table_lookups") and list(msg.address_table_lookups):
            raise TransactionFailed("AddressLookupTableNotFound", [])
        keys = list(msg.account_keys)
        signers = {keys[i] for i in range(msg.header.num_required_signatures)}
        ixs = [
            _Ix(keys[ci.program_id_index], [keys[a] for a in bytes(ci.accounts)], bytes(ci.data))
            for ci in msg.instructions
        ]
        saved = self._save()
        logs: list[str] = []
        names: list[str] = []
        units = 0
        for index, ix in enumerate(ixs):
            logs.append(f"Program {ix.program_id} invoke [1]")
            try:
                name = self._execute_one(ix, signers, logs)
                used = self._units(name, ix)
                if self.config.compute_limits and units + used > budget.limit:
                    logs.append(
                        f"Program {ix.program_id} consumed {budget.limit - units} of "
                        f"{budget.limit - units} compute units"
                    )
                    units = budget.limit
                    raise _Fieldless("ComputationalBudgetExceeded")
                units += used
                logs.append(
                    f"Program {ix.program_id} consumed {used} of {budget.limit} compute units"
                )
            except ProgramError as exc:
                self._load(saved)
                logs.append(f"Program log: AnchorError: {exc}")
                logs.append(f"Program {ix.program_id} failed: custom program error: {exc.code:#x}")
                raise TransactionFailed(
                    {"InstructionError": [index, {"Custom": exc.code}]}, logs, units
                ) from None
            except _Fieldless as exc:
                self._load(saved)
                logs.append(f"Program {ix.program_id} failed: {exc.kind}")
                raise TransactionFailed(
                    {"InstructionError": [index, exc.kind]}, logs, units
                ) from None
            except Exception as exc:  # noqa: BLE001 - the program's own failure
                self._load(saved)
                code = ProgramError(type(exc).__name__).code
                logs.append(f"Program log: {type(exc).__name__}: {exc}")
                logs.append(f"Program {ix.program_id} failed: custom program error: {code:#x}")
                raise TransactionFailed(
                    {"InstructionError": [index, {"Custom": code}]}, logs, units
                ) from None
            names.append(name)
            logs.append(f"Program {ix.program_id} success")
        return names, logs, units

    def _units(self, name: str, ix: _Ix) -> int:
        base, per_account = COMPUTE_UNITS.get(name, (50_000, 3_000))
        named = len(self._ix_accounts.get(name, ()))
        extra = max(0, len(ix.accounts) - named)
        used = base + per_account * extra
        if name == "place_orders":
            with contextlib.suppress(Exception):
                used += PLACE_ORDERS_UNITS_PER_ORDER * len(self._coder.parse(ix.data).data.params)
        return used

    def _execute_one(self, ix: _Ix, signers: set[Pubkey], logs: list[str]) -> str:
        if ix.program_id == COMPUTE_BUDGET_PROGRAM_ID:
            return "compute_budget"
        if ix.program_id == ASSOCIATED_TOKEN_PROGRAM_ID:
            return self._create_ata(ix, signers)
        if ix.program_id != DRIFT_PROGRAM_ID:
            raise _Fieldless("UnsupportedProgramId")
        try:
            parsed = self._coder.parse(ix.data)
        except Exception:  # noqa: BLE001
            raise ProgramError("InstructionFallbackNotFound", code=101) from None
        name = parsed.name
        pascal = "".join(part.capitalize() for part in name.split("_"))
        logs.append(f"Program log: Instruction: {pascal}")
        account_names = self._ix_accounts[name]
        accounts = dict(zip(account_names, ix.accounts, strict=False))
        handler = getattr(self, f"_ix_{name}", None)
        if handler is None:
            raise ProgramError("InstructionFallbackNotFound", f"{name} is not supported", 101)
        if self.config.check_accounts:
            self._check_remaining(name, parsed.data, accounts, ix.accounts[len(account_names) :])
        self._logs = logs
        mark_fn = getattr(self.program, "record_mark", None)
        mark = mark_fn() if callable(mark_fn) else None
        handler(parsed.data, accounts, signers)
        if mark is not None:
            for _user, event, values in self.program.events_since(mark):  # type: ignore[attr-defined]
                logs.append(f"Program data: {encode_event(event, values)}")
        return name

    # ------------------------------------------------------------------ account checks

    #: instructions whose markets (and the user's) must come with their oracles
    _MARKET_IXS = frozenset(
        {
            "place_perp_order",
            "place_spot_order",
            "place_orders",
            "place_and_take_perp_order",
            "place_and_take_spot_order",
            "deposit",
            "withdraw",
            "transfer_deposit",
            "settle_pnl",
        }
    )

    def _check_remaining(
        self, name: str, args: Any, accounts: dict[str, Pubkey], remaining: Sequence[Pubkey]
    ) -> None:
        """The program loads markets and oracles from the remaining accounts
        (`instructions/optional_accounts.rs::load_maps`) and fails when one it needs is
        missing: the instruction's markets, and for anything that checks margin every
        market the user holds (`PerpMarketNotFound`, `SpotMarketNotFound`,
        `OracleNotFound` — a wrong oracle leaves the right one missing)."""
        if name not in self._MARKET_IXS:
            return
        objects = self._drift_objects()
        perps: dict[int, Any] = {}
        spots: dict[int, Any] = {}
        by_index_perp: dict[int, Any] = {}
        by_index_spot: dict[int, Any] = {}
        for _address, kind, obj in self.program.accounts():
            if kind == "PerpMarket":
                by_index_perp[obj.market_index] = obj
            elif kind == "SpotMarket":
                by_index_spot[obj.market_index] = obj
        passed = set(remaining)
        for address in remaining:
            entry = objects.get(address)
            if entry is None:
                continue
            if entry[0] == "PerpMarket":
                perps[entry[1].market_index] = entry[1]
            elif entry[0] == "SpotMarket":
                spots[entry[1].market_index] = entry[1]
        need_perp: set[int] = set()
        need_spot: set[int] = set()
        if name in ("deposit", "withdraw", "transfer_deposit"):
            need_spot.add(args.market_index)
        elif name == "settle_pnl":
            need_perp.add(args.market_index)
        else:
            params = args.params if hasattr(args, "params") else args
            for p in params if isinstance(params, list) else [params]:
                if type(p.market_type).__name__ == "Perp":
                    need_perp.add(p.market_index)
                else:
                    need_spot.update({p.market_index, 0})
        if name != "deposit":
            user_key = accounts.get("user") or accounts.get("from_user")
            user = objects.get(user_key) if user_key is not None else None
            if user is not None and user[0] == "User":
                for pp in user[1].perp_positions:
                    if pp.base_asset_amount or pp.open_orders or pp.quote_asset_amount:
                        need_perp.add(pp.market_index)
                for sp in user[1].spot_positions:
                    if sp.scaled_balance or sp.open_orders:
                        need_spot.add(sp.market_index)
        if need_perp:
            need_spot.add(0)  # perp markets settle in the quote spot market
        for index in sorted(need_perp):
            if index not in perps:
                raise ProgramError("PerpMarketNotFound", f"perp market {index} not passed")
            oracle = perps[index].amm.oracle
            if oracle not in passed:
                raise ProgramError(
                    "OracleNotFound", f"oracle pubkey not found in oracle_map: {oracle}"
                )
        for index in sorted(need_spot):
            if index not in spots:
                raise ProgramError("SpotMarketNotFound", f"spot market {index} not passed")
            oracle = spots[index].oracle
            if oracle != Pubkey.default() and oracle not in passed:
                raise ProgramError(
                    "OracleNotFound", f"oracle pubkey not found in oracle_map: {oracle}"
                )

    # ------------------------------------------------------------------ helpers

    def _create_ata(self, ix: _Ix, signers: set[Pubkey]) -> str:
        if len(ix.accounts) < 4:
            raise _Fieldless("NotEnoughAccountKeys")
        payer, ata, owner, mint = ix.accounts[:4]
        if payer not in signers:
            raise _Fieldless("MissingRequiredSignature")
        if ata != get_associated_token_address(owner, mint):
            raise _Fieldless("InvalidSeeds")
        idempotent = ix.data[:1] == b"\x01"
        if ata in self.tokens:
            if not idempotent:
                raise ProgramError("AccountAlreadyInUse", code=0)
            return "create_associated_token_account_idempotent"
        self._pay_rent(payer, TOKEN_ACCOUNT_SIZE)
        self.tokens[ata] = TokenAccount(mint, owner)
        return "create_associated_token_account"

    def _drift_objects(self) -> dict[Pubkey, tuple[str, Any]]:
        return {address: (name, obj) for address, name, obj in self.program.accounts()}

    def _user(self, address: Pubkey, authority: Pubkey, signers: set[Pubkey]) -> int:
        """Sub-account id of User `address`, checking `authority` signed and owns it."""
        if authority not in signers:
            raise ProgramError("ConstraintSigner", "authority must sign")
        entry = self._drift_objects().get(address)
        if entry is None or entry[0] != "User":
            raise ProgramError("AccountNotInitialized", f"user {address} does not exist")
        user = entry[1]
        if user.authority != authority and user.delegate != authority:
            raise ProgramError("ConstraintHasOne", "user.authority does not match the signer")
        return user.sub_account_id

    def _user_authority(self, address: Pubkey) -> Pubkey:
        return self._drift_objects()[address][1].authority

    def _spot_market(self, market_index: int) -> Any:
        for _address, name, obj in self.program.accounts():
            if name == "SpotMarket" and obj.market_index == market_index:
                return obj
        raise ProgramError("SpotMarketNotFound", f"spot market {market_index}")

    # ------------------------------------------------------------------ Drift instructions

    def _ix_initialize_user_stats(self, args: Any, acc: dict[str, Pubkey], signers: set) -> None:
        authority = acc["authority"]
        if authority not in signers:
            raise ProgramError("ConstraintSigner", "authority must sign")
        self.program.initialize_user_stats(authority)
        self._pay_rent(acc.get("payer", authority), account_size("UserStats"))

    def _ix_initialize_user(self, args: Any, acc: dict[str, Pubkey], signers: set) -> None:
        authority = acc["authority"]
        if authority not in signers:
            raise ProgramError("ConstraintSigner", "authority must sign")
        expected = get_user_account_public_key(DRIFT_PROGRAM_ID, authority, args.sub_account_id)
        if acc["user"] != expected:
            raise ProgramError("ConstraintSeeds", "user address is not the sub-account's PDA")
        if acc["user"] in self._drift_objects():
            raise ProgramError("AccountAlreadyInUse", code=0)
        self.program.initialize_user(authority, args.sub_account_id, list(args.name))
        self._pay_rent(acc.get("payer", authority), account_size("User"))

    def _ix_deposit(self, args: Any, acc: dict[str, Pubkey], signers: set) -> None:
        authority = acc["authority"]
        sub = self._user(acc["user"], authority, signers)
        market = self._spot_market(args.market_index)
        vault = get_spot_market_vault_public_key(DRIFT_PROGRAM_ID, args.market_index)
        if acc["spot_market_vault"] != vault:
            raise ProgramError("ConstraintSeeds", "spot_market_vault is not the market's vault")
        source = self.tokens.get(acc["user_token_account"])
        if source is None:
            raise ProgramError("AccountNotInitialized", "user_token_account does not exist")
        if source.mint != market.mint:
            raise ProgramError("MintMismatch", "token account mint is not the market's mint")
        if source.owner != authority:
            raise ProgramError("OwnerMismatch", "token account is not the authority's")
        if source.amount < args.amount:
            raise ProgramError("InsufficientFunds", "token account balance is too low")
        self.program.deposit(authority, sub, args.market_index, args.amount, args.reduce_only)
        source.amount -= args.amount
        self.tokens.setdefault(vault, TokenAccount(market.mint, vault)).amount += args.amount

    def _ix_withdraw(self, args: Any, acc: dict[str, Pubkey], signers: set) -> None:
        authority = acc["authority"]
        self._user_authority_checked(acc["user"], authority, signers)
        sub = self._drift_objects()[acc["user"]][1].sub_account_id
        market = self._spot_market(args.market_index)
        dest = self.tokens.get(acc["user_token_account"])
        if dest is None:
            raise ProgramError("AccountNotInitialized", "user_token_account does not exist")
        if dest.mint != market.mint:
            raise ProgramError("MintMismatch", "token account mint is not the market's mint")
        paid = self.program.withdraw(
            authority, sub, args.market_index, args.amount, args.reduce_only
        )
        paid = args.amount if paid is None else paid
        vault = get_spot_market_vault_public_key(DRIFT_PROGRAM_ID, args.market_index)
        self.tokens.setdefault(vault, TokenAccount(market.mint, vault)).amount -= paid
        dest.amount += paid

    def _user_authority_checked(self, user: Pubkey, authority: Pubkey, signers: set) -> Pubkey:
        # withdraw/transfer require the account's authority itself (not a delegate)
        if authority not in signers:
            raise ProgramError("ConstraintSigner", "authority must sign")
        entry = self._drift_objects().get(user)
        if entry is None or entry[0] != "User":
            raise ProgramError("AccountNotInitialized", f"user {user} does not exist")
        if entry[1].authority != authority:
            raise ProgramError("ConstraintHasOne", "user.authority does not match the signer")
        return authority

    def _ix_transfer_deposit(self, args: Any, acc: dict[str, Pubkey], signers: set) -> None:
        authority = acc["authority"]
        self._user_authority_checked(acc["from_user"], authority, signers)
        self._user_authority_checked(acc["to_user"], authority, signers)
        objs = self._drift_objects()
        from_sub = objs[acc["from_user"]][1].sub_account_id
        to_sub = objs[acc["to_user"]][1].sub_account_id
        self.program.transfer_deposit(authority, from_sub, to_sub, args.market_index, args.amount)

    def _place(self, acc: dict[str, Pubkey], signers: set, params: list[Any]) -> None:
        authority = acc["authority"]
        sub = self._user(acc["user"], authority, signers)
        owner = self._user_authority(acc["user"])
        intents = [OrderIntent.from_driftpy(p) for p in params]
        placed = self.program.place_orders(owner, sub, intents)
        self._log_order_records(acc["user"], placed)

    def _log_order_records(self, user: Pubkey, placed: Sequence[Any] | None) -> None:
        """Log one `OrderRecord` event per placed order, as the program does."""
        clock = getattr(self.program, "clock", None)
        ts = clock() if callable(clock) else 0
        for order in placed or ():
            data = encode_event("OrderRecord", {"ts": ts, "user": user, "order": order})
            self._logs.append(f"Program data: {data}")

    def _ix_place_perp_order(self, args: Any, acc: dict[str, Pubkey], signers: set) -> None:
        if type(args.params.market_type).__name__ != "Perp":
            raise ProgramError("InvalidOrderMarketType", "place_perp_order needs a perp order")
        self._place(acc, signers, [args.params])

    def _ix_place_spot_order(self, args: Any, acc: dict[str, Pubkey], signers: set) -> None:
        if type(args.params.market_type).__name__ != "Spot":
            raise ProgramError("InvalidOrderMarketType", "place_spot_order needs a spot order")
        self._place(acc, signers, [args.params])

    def _ix_place_orders(self, args: Any, acc: dict[str, Pubkey], signers: set) -> None:
        self._place(acc, signers, list(args.params))

    def _place_and_take(self, args: Any, acc: dict[str, Pubkey], signers: set) -> None:
        authority = acc["authority"]
        sub = self._user(acc["user"], authority, signers)
        owner = self._user_authority(acc["user"])
        placed = self.program.place_and_take(owner, sub, OrderIntent.from_driftpy(args.params))
        self._log_order_records(acc["user"], placed)

    _ix_place_and_take_perp_order = _place_and_take
    _ix_place_and_take_spot_order = _place_and_take

    def _ix_cancel_order(self, args: Any, acc: dict[str, Pubkey], signers: set) -> None:
        sub = self._user(acc["user"], acc["authority"], signers)
        self.program.cancel_order(self._user_authority(acc["user"]), sub, args.order_id)

    def _ix_cancel_order_by_user_id(self, args: Any, acc: dict[str, Pubkey], signers: set) -> None:
        sub = self._user(acc["user"], acc["authority"], signers)
        owner = self._user_authority(acc["user"])
        self.program.cancel_order_by_user_id(owner, sub, args.user_order_id)

    def _ix_cancel_orders(self, args: Any, acc: dict[str, Pubkey], signers: set) -> None:
        sub = self._user(acc["user"], acc["authority"], signers)
        owner = self._user_authority(acc["user"])
        market_type = (
            None if args.market_type is None else MarketType.from_driftpy(args.market_type)
        )
        direction = (
            None if args.direction is None else PositionDirection.from_driftpy(args.direction)
        )
        self.program.cancel_orders(owner, sub, market_type, args.market_index, direction)

    def _ix_modify_order(self, args: Any, acc: dict[str, Pubkey], signers: set) -> None:
        sub = self._user(acc["user"], acc["authority"], signers)
        owner = self._user_authority(acc["user"])
        self.program.modify_order(owner, sub, args.order_id, None, args.modify_order_params)

    def _ix_modify_order_by_user_id(self, args: Any, acc: dict[str, Pubkey], signers: set) -> None:
        sub = self._user(acc["user"], acc["authority"], signers)
        owner = self._user_authority(acc["user"])
        self.program.modify_order(owner, sub, None, args.user_order_id, args.modify_order_params)

    def _ix_settle_pnl(self, args: Any, acc: dict[str, Pubkey], signers: set) -> None:
        # permissionless: any signer may settle any user's PnL (keepers do)
        if acc["authority"] not in signers:
            raise ProgramError("ConstraintSigner", "authority must sign")
        entry = self._drift_objects().get(acc["user"])
        if entry is None or entry[0] != "User":
            raise ProgramError("AccountNotInitialized", f"user {acc['user']} does not exist")
        owner, sub = entry[1].authority, entry[1].sub_account_id
        settle = getattr(self.program, "settle_pnl", None)
        if settle is None:
            raise ProgramError("InstructionFallbackNotFound", "settle_pnl is not supported", 101)
        settle(owner, sub, args.market_index)


class _Fieldless(Exception):
    """A fieldless InstructionError (e.g. "UnsupportedProgramId")."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def _sim_result(err: Any, logs: list[str], units: int = 0) -> dict[str, Any]:
    return {
        "err": err,
        "logs": logs,
        "accounts": None,
        "unitsConsumed": units,
        "returnData": None,
    }


def _preflight_error(err: Any, logs: list[str], units: int = 0) -> RpcError:
    if err == "BlockhashNotFound":
        text = "Blockhash not found"
    elif err == "AlreadyProcessed":
        text = "This transaction has already been processed"
    elif err == "InsufficientFundsForFee":
        text = "Attempt to debit an account but found no record of a prior credit."
    elif isinstance(err, dict) and "InstructionError" in err:
        index, inner = err["InstructionError"]
        detail = f"custom program error: {inner['Custom']:#x}" if isinstance(inner, dict) else inner
        text = f"Error processing Instruction {index}: {detail}"
    else:
        text = str(err)
    return RpcError(-32002, f"Transaction simulation failed: {text}", _sim_result(err, logs, units))


def _passes(data: bytes, flt: tuple[str, Any]) -> bool:
    kind, value = flt
    if kind == "dataSize":
        return len(data) == value
    if kind == "memcmp":
        offset, expected = value
        return data[offset : offset + len(expected)] == expected
    raise RpcError(-32602, f"unsupported filter {kind!r}")


__all__ = [
    "COMPUTE_UNITS",
    "MAX_BLOCKHASH_AGE",
    "Budget",
    "DriftProgram",
    "LocalChain",
    "ProgramError",
    "RpcError",
    "ServedAccount",
    "SignatureRecord",
    "TokenAccount",
    "TransactionFailed",
    "account_size",
    "encode_event",
    "encode_lazer_oracle",
    "rent_exempt_minimum",
]
