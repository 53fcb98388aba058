"""A local Drift-compatible Solana JSON-RPC server (HTTP, JSON-RPC 2.0, batches too).

`create_app(chain, faults)` is a Starlette app answering the methods driftpy's
DriftClient and solana-py use against a `LocalChain` (see localnet/chain.py): account
reads (getAccountInfo, getMultipleAccounts, getProgramAccounts with memcmp/dataSize
filters; `minContextSlot` is honoured: -32016 from a node behind it), blocks
(getLatestBlockhash, isBlockhashValid, getSlot, getBlockHeight, getEpochInfo),
transactions (sendTransaction, simulateTransaction, getSignatureStatuses,
getSignaturesForAddress, getTransaction (base64, with the program's logs and Anchor
events), getFeeForMessage, getRecentPrioritizationFees), lamports (getBalance,
requestAirdrop, getMinimumBalanceForRentExemption), tokens (getTokenAccountBalance),
node info (getHealth, getVersion, getGenesisHash, getIdentity) and one local extension,
``localnet_mintTo`` (credit tokens to a wallet's associated token account, the faucet a
test or a demo needs). Every other method gets JSON-RPC error -32601 and is logged and
counted in `RpcStats.unknown` — never a silent answer. `RpcStats.requests` counts HTTP
requests (round trips: a batch array is one).

`LocalRpcServer` runs the app with uvicorn on 127.0.0.1 in a background thread (tests,
`drift-engine localnet`). Websocket subscriptions are not served: the live client reads
with batched getMultipleAccounts into driftpy's cached subscribers (ADR 0009).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import base58
import uvicorn
from solders.hash import Hash
from solders.pubkey import Pubkey
from solders.signature import Signature
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from drift_engine.localnet.chain import LocalChain, RpcError, ServedAccount, rent_exempt_minimum
from drift_engine.localnet.faults import FaultPlan

log = logging.getLogger("drift_engine.localnet.rpc")

API_VERSION = "2.1.0"
RENT_EPOCH = 18446744073709551615
FEE_LAMPORTS_PER_SIGNATURE = 5000


@dataclass
class RpcStats:
    """What clients asked for: tests use it to see which methods driftpy really calls."""

    calls: Counter = field(default_factory=Counter)
    unknown: Counter = field(default_factory=Counter)
    #: HTTP requests (round trips): a JSON-RPC batch array is one, however many calls
    requests: int = 0
    #: round trips that carried at least one call of each method
    trips: Counter = field(default_factory=Counter)
    #: seconds the server spent answering (the local chain's own work, not the
    #: client's: a bench subtracts it when the server shares the client's process)
    busy_s: float = 0.0


class RpcMethods:
    """The JSON-RPC methods over one `LocalChain`."""

    def __init__(self, chain: LocalChain, faults: FaultPlan) -> None:
        self.chain = chain
        self.faults = faults
        self._table: dict[str, Callable[[list[Any], set[str]], Any]] = {
            "getAccountInfo": self.get_account_info,
            "getMultipleAccounts": self.get_multiple_accounts,
            "getProgramAccounts": self.get_program_accounts,
            "getLatestBlockhash": self.get_latest_blockhash,
            "isBlockhashValid": self.is_blockhash_valid,
            "getSlot": lambda p, f: self.chain.sync(),
            "getBlockHeight": lambda p, f: (self.chain.sync(), self.chain.block_height)[1],
            "getEpochInfo": self.get_epoch_info,
            "getBalance": self.get_balance,
            "getSignatureStatuses": self.get_signature_statuses,
            "getSignaturesForAddress": self.get_signatures_for_address,
            "getTransaction": self.get_transaction,
            "sendTransaction": self.send_transaction,
            "simulateTransaction": self.simulate_transaction,
            "getMinimumBalanceForRentExemption": lambda p, f: rent_exempt_minimum(int(p[0])),
            "getFeeForMessage": self.get_fee_for_message,
            "getRecentPrioritizationFees": self.get_recent_prioritization_fees,
            "requestAirdrop": self.request_airdrop,
            "getTokenAccountBalance": self.get_token_account_balance,
            "getHealth": lambda p, f: "ok",
            "getVersion": lambda p, f: {"solana-core": API_VERSION, "feature-set": 0},
            "getGenesisHash": lambda p, f: str(Hash(b"drift-engine-localnet-genesis".ljust(32))),
            "getIdentity": lambda p, f: {"identity": str(Pubkey(bytes(31) + b"\x01"))},
            "localnet_mintTo": self.mint_to,
        }

    def has(self, method: str) -> bool:
        return method in self._table

    def call(self, method: str, params: list[Any], faults: set[str]) -> Any:
        return self._table[method](params, faults)

    # ------------------------------------------------------------------ helpers

    def _ctx(self, value: Any, slot: int | None = None) -> dict[str, Any]:
        slot = self.chain.slot if slot is None else slot
        return {"context": {"slot": slot, "apiVersion": API_VERSION}, "value": value}

    @staticmethod
    def _config(params: list[Any], index: int) -> dict[str, Any]:
        if len(params) > index and isinstance(params[index], dict):
            return params[index]
        return {}

    @staticmethod
    def _pubkey(value: Any) -> Pubkey:
        try:
            return Pubkey.from_string(str(value))
        except Exception:  # noqa: BLE001
            raise RpcError(-32602, f"Invalid param: {value!r} is not a valid pubkey") from None

    @staticmethod
    def _encode_account(acc: ServedAccount | None, config: dict[str, Any]) -> Any:
        if acc is None:
            return None
        encoding = config.get("encoding", "base58")
        data = acc.data
        data_slice = config.get("dataSlice")
        if data_slice:
            off, length = int(data_slice["offset"]), int(data_slice["length"])
            data = data[off : off + length]
        if encoding in ("base64", "jsonParsed"):
            payload = [base64.b64encode(data).decode(), "base64"]
        elif encoding == "base58":
            if len(data) > 128:
                raise RpcError(
                    -32600, "Encoded binary (base 58) data should be less than 128 bytes"
                )
            payload = [base58.b58encode(data).decode(), "base58"]
        else:
            raise RpcError(-32602, f"unsupported encoding {encoding!r}")
        return {
            "data": payload,
            "executable": acc.executable,
            "lamports": acc.lamports,
            "owner": str(acc.owner),
            "rentEpoch": RENT_EPOCH,
            "space": len(acc.data),
        }

    @staticmethod
    def _tx_bytes(params: list[Any], config: dict[str, Any]) -> bytes:
        if not params or not isinstance(params[0], str):
            raise RpcError(-32602, "Invalid params: expected an encoded transaction")
        encoding = config.get("encoding", "base58")
        try:
            if encoding == "base64":
                return base64.b64decode(params[0])
            if encoding == "base58":
                return base58.b58decode(params[0])
        except Exception:  # noqa: BLE001
            raise RpcError(-32602, f"invalid transaction: not {encoding}") from None
        raise RpcError(-32602, f"unsupported encoding {encoding!r}")

    # ------------------------------------------------------------------ accounts

    def _floor(self, method: str, config: dict[str, Any]) -> int:
        """Slots this read is answered behind the chain (a lagging node, `FaultPlan.
        lag_node`); a `minContextSlot` the answering node has not reached is error -32016,
        as real nodes answer (never a stale answer the client did not allow)."""
        behind = self.faults.take_lag(method)
        want = config.get("minContextSlot")
        if want is not None:
            have = self.chain.context_slot(config.get("commitment") or "finalized", behind)
            if int(want) > have:
                raise RpcError(
                    -32016, "Minimum context slot has not been reached", {"contextSlot": have}
                )
        return behind

    def get_account_info(self, params: list[Any], faults: set[str]) -> Any:
        config = self._config(params, 1)
        behind = self._floor("getAccountInfo", config)
        key = self._pubkey(params[0])
        slot, (acc,) = self.chain.read_accounts([key], config.get("commitment"), behind)
        return self._ctx(self._encode_account(acc, config), slot)

    def get_multiple_accounts(self, params: list[Any], faults: set[str]) -> Any:
        keys = [self._pubkey(k) for k in params[0]]
        if len(keys) > 100:
            raise RpcError(-32602, "Too many inputs provided; max 100")
        config = self._config(params, 1)
        behind = self._floor("getMultipleAccounts", config)
        slot, accounts = self.chain.read_accounts(keys, config.get("commitment"), behind)
        return self._ctx([self._encode_account(a, config) for a in accounts], slot)

    def get_program_accounts(self, params: list[Any], faults: set[str]) -> Any:
        program = self._pubkey(params[0])
        config = self._config(params, 1)
        filters: list[tuple[str, Any]] = []
        for f in config.get("filters") or []:
            if "dataSize" in f:
                filters.append(("dataSize", int(f["dataSize"])))
            elif "memcmp" in f:
                m = f["memcmp"]
                enc = m.get("encoding", "base58")
                raw = (
                    base64.b64decode(m["bytes"])
                    if enc == "base64"
                    else base58.b58decode(m["bytes"])
                )
                filters.append(("memcmp", (int(m["offset"]), raw)))
            else:
                raise RpcError(-32602, f"unsupported filter {f!r}")
        out = [
            {"pubkey": str(addr), "account": self._encode_account(acc, config)}
            for addr, acc in self.chain.program_accounts(program, filters)
        ]
        return self._ctx(out) if config.get("withContext") else out

    def get_balance(self, params: list[Any], faults: set[str]) -> Any:
        config = self._config(params, 1)
        behind = self._floor("getBalance", config)
        key = self._pubkey(params[0])
        slot, (acc,) = self.chain.read_accounts([key], config.get("commitment"), behind)
        return self._ctx(0 if acc is None else acc.lamports, slot)

    def get_token_account_balance(self, params: list[Any], faults: set[str]) -> Any:
        address = self._pubkey(params[0])
        token = self.chain.tokens.get(address)
        if token is None:
            raise RpcError(-32602, "Invalid param: could not find account")
        decimals = 6
        for _a, name, obj in self.chain.program.accounts():
            if name == "SpotMarket" and obj.mint == token.mint:
                decimals = obj.decimals
        amount = token.amount
        ui = amount / 10**decimals
        return self._ctx(
            {
                "amount": str(amount),
                "decimals": decimals,
                "uiAmount": ui,
                "uiAmountString": str(ui),
            }
        )

    # ------------------------------------------------------------------ blocks

    def get_latest_blockhash(self, params: list[Any], faults: set[str]) -> Any:
        blockhash, last_valid = self.chain.latest_blockhash()
        return self._ctx({"blockhash": str(blockhash), "lastValidBlockHeight": last_valid})

    def is_blockhash_valid(self, params: list[Any], faults: set[str]) -> Any:
        try:
            blockhash = Hash.from_string(str(params[0]))
        except Exception:  # noqa: BLE001
            raise RpcError(-32602, "Invalid param: not a blockhash") from None
        return self._ctx(self.chain.is_blockhash_valid(blockhash))

    def get_epoch_info(self, params: list[Any], faults: set[str]) -> Any:
        slot = self.chain.sync()
        return {
            "absoluteSlot": slot,
            "blockHeight": self.chain.block_height,
            "epoch": slot // 432_000,
            "slotIndex": slot % 432_000,
            "slotsInEpoch": 432_000,
            "transactionCount": len(self.chain.signatures),
        }

    # ------------------------------------------------------------------ transactions

    def get_signature_statuses(self, params: list[Any], faults: set[str]) -> Any:
        try:
            sigs = [Signature.from_string(s) for s in params[0]]
        except Exception:  # noqa: BLE001
            raise RpcError(-32602, "Invalid param: not a signature") from None
        if len(sigs) > 256:
            raise RpcError(-32602, "Too many inputs provided; max 256")
        search = bool(self._config(params, 1).get("searchTransactionHistory", False))
        return self._ctx(self.chain.signature_statuses(sigs, search_history=search))

    def get_signatures_for_address(self, params: list[Any], faults: set[str]) -> Any:
        address = self._pubkey(params[0])
        config = self._config(params, 1)
        limit = min(int(config.get("limit") or 1000), 1000)
        before = config.get("before")
        try:
            before_sig = Signature.from_string(before) if before else None
        except Exception:  # noqa: BLE001
            raise RpcError(-32602, "Invalid param: before is not a signature") from None
        commitment = config.get("commitment") or "finalized"
        if commitment == "processed":
            raise RpcError(-32602, "Method does not support commitment below `confirmed`")
        behind = self._floor("getSignaturesForAddress", {**config, "commitment": commitment})
        return [
            {
                "signature": str(sig),
                "slot": rec.slot,
                "err": rec.err,
                "memo": None,
                "blockTime": None,
                "confirmationStatus": self.chain.commitment_of(rec),
            }
            for sig, rec in self.chain.history(address, limit, before_sig, commitment, behind)
        ]

    def get_transaction(self, params: list[Any], faults: set[str]) -> Any:
        try:
            sig = Signature.from_string(str(params[0]))
        except Exception:  # noqa: BLE001
            raise RpcError(-32602, "Invalid param: not a signature") from None
        config = self._config(params, 1)
        encoding = config.get("encoding", "json")
        if encoding not in ("base64", "base58"):
            raise RpcError(-32602, f"unsupported encoding {encoding!r} (use base64)")
        commitment = config.get("commitment") or "finalized"
        if commitment == "processed":
            raise RpcError(-32602, "Method does not support commitment below `confirmed`")
        rec = self.chain.transaction(sig, commitment)
        if rec is None:
            return None
        if rec.version == 0 and config.get("maxSupportedTransactionVersion") is None:
            raise RpcError(
                -32015,
                "Transaction version (0) is not supported by the requesting client. "
                "Please try the request again with the following configuration parameter: "
                '"maxSupportedTransactionVersion": 0',
            )
        data = (
            base64.b64encode(rec.raw).decode()
            if encoding == "base64"
            else base58.b58encode(rec.raw).decode()
        )
        n = len(rec.account_keys)
        out = {
            "slot": rec.slot,
            "blockTime": None,
            "transaction": [data, encoding],
            "meta": {
                "err": rec.err,
                "status": {"Ok": None} if rec.err is None else {"Err": rec.err},
                "fee": rec.fee,
                "preBalances": [0] * n,
                "postBalances": [0] * n,
                "innerInstructions": [],
                "logMessages": rec.logs,
                "preTokenBalances": [],
                "postTokenBalances": [],
                "rewards": [],
                "loadedAddresses": {"writable": [], "readonly": []},
                "computeUnitsConsumed": rec.units,
            },
        }
        if rec.version == 0:
            out["version"] = 0
        elif config.get("maxSupportedTransactionVersion") is not None:
            out["version"] = "legacy"
        return out

    def send_transaction(self, params: list[Any], faults: set[str]) -> Any:
        config = self._config(params, 1)
        raw = self._tx_bytes(params, config)
        if "expired_blockhash" in faults:
            self.chain.expire_blockhashes()
        sig = self.chain.send_transaction(
            raw,
            skip_preflight=bool(config.get("skipPreflight", False)),
            hide_status="lost_confirmation" in faults,
            min_priority_fee=self.faults.congestion_floor(),
        )
        return str(sig)

    def get_fee_for_message(self, params: list[Any], faults: set[str]) -> Any:
        """Base fee for the message's signatures plus its priority fee (None if its
        blockhash is no longer valid, as a node answers)."""
        from solders.message import Message, MessageV0

        try:
            raw = base64.b64decode(params[0])
            msg = MessageV0.from_bytes(raw[1:]) if raw[0] & 0x80 else Message.from_bytes(raw)
        except Exception:  # noqa: BLE001
            raise RpcError(-32602, "Invalid param: not a base64 message") from None
        if not self.chain.is_blockhash_valid(msg.recent_blockhash):
            return self._ctx(None)
        from drift_engine.localnet.chain import _budget

        budget = _budget(list(msg.account_keys), list(msg.instructions))
        if not self.chain.config.fees:
            return self._ctx(0)
        sigs = msg.header.num_required_signatures  # the rule LocalChain.fee_of charges
        return self._ctx(self.chain.config.lamports_per_signature * sigs + budget.priority_fee)

    def get_recent_prioritization_fees(self, params: list[Any], faults: set[str]) -> Any:
        """Per recent slot, the lowest priority fee that landed (at least the congestion
        floor): [{"slot", "prioritizationFee"}], oldest first, up to 150 slots."""
        for key in params[0] if params and isinstance(params[0], list) else []:
            self._pubkey(key)
        floor = self.faults.congestion_floor()
        return [
            {"slot": slot, "prioritizationFee": fee}
            for slot, fee in self.chain.congestion_fees(floor)
        ]

    def simulate_transaction(self, params: list[Any], faults: set[str]) -> Any:
        config = self._config(params, 1)
        raw = self._tx_bytes(params, config)
        return self._ctx(
            self.chain.simulate_transaction(
                raw,
                sig_verify=bool(config.get("sigVerify", False)),
                replace_recent_blockhash=bool(config.get("replaceRecentBlockhash", False)),
            )
        )

    def request_airdrop(self, params: list[Any], faults: set[str]) -> Any:
        return str(self.chain.airdrop(self._pubkey(params[0]), int(params[1])))

    def mint_to(self, params: list[Any], faults: set[str]) -> Any:
        owner, mint = self._pubkey(params[0]), self._pubkey(params[1])
        amount = int(params[2])
        if amount < 0:
            raise RpcError(-32602, "amount must be >= 0")
        return str(self.chain.mint_to(owner, mint, amount))


def create_app(
    chain: LocalChain, faults: FaultPlan | None = None, stats: RpcStats | None = None
) -> Starlette:
    """The JSON-RPC app (POST / with one request object or a batch array)."""
    faults = faults if faults is not None else FaultPlan()
    if faults.clock is None:
        faults.clock = chain.clock
    stats = stats if stats is not None else RpcStats()
    methods = RpcMethods(chain, faults)

    def one(req: Any, fired: set[str]) -> dict[str, Any]:
        if not isinstance(req, dict) or req.get("jsonrpc") != "2.0" or "method" not in req:
            return _error(None, RpcError(-32600, "Invalid request"))
        rid = req.get("id")
        method = req["method"]
        params = req.get("params") or []
        if not isinstance(params, list):
            return _error(rid, RpcError(-32602, "Invalid params: expected an array"))
        stats.calls[method] += 1
        if not methods.has(method):
            stats.unknown[method] += 1
            log.warning("local RPC: unknown method %s", method)
            return _error(rid, RpcError(-32601, f"Method not found: {method}"))
        try:
            return {"jsonrpc": "2.0", "id": rid, "result": methods.call(method, params, fired)}
        except RpcError as exc:
            log.info("local RPC: %s -> error %s %s", method, exc.code, exc.message)
            return _error(rid, exc)
        except (IndexError, KeyError, TypeError, ValueError) as exc:
            return _error(rid, RpcError(-32602, f"Invalid params: {type(exc).__name__}: {exc}"))
        except Exception as exc:  # noqa: BLE001 - a bug here must not look like a lost response
            log.exception("local RPC: %s failed", method)
            return _error(rid, RpcError(-32603, f"Internal error: {type(exc).__name__}"))

    async def endpoint(request: Request) -> Response:
        try:
            body = await request.json()
        except Exception:  # noqa: BLE001
            return JSONResponse(_error(None, RpcError(-32700, "Parse error")))
        batch = isinstance(body, list)
        reqs = body if batch else [body]
        names = [r.get("method", "") if isinstance(r, dict) else "" for r in reqs]
        stats.requests += 1
        stats.trips.update(set(names))
        fired: list[set[str]] = [faults.take(n) for n in names]
        every = set().union(*fired) if fired else set()
        if faults.latency_s > 0:
            await asyncio.sleep(faults.latency_s)
        for r in reqs:
            name = r.get("method", "") if isinstance(r, dict) else ""
            hang = faults.take_hang(name, lambda r=r: _tx_accounts(r))
            if hang > 0:
                log.info("local RPC fault: %s hangs %.1f s", name, hang)
                await asyncio.sleep(hang)
        if "http_429" in every:
            log.info("local RPC fault: HTTP 429 for %s", names)
            return JSONResponse(
                {
                    "jsonrpc": "2.0",
                    "id": None,
                    "error": {"code": 429, "message": "Too many requests"},
                },
                status_code=429,
                headers={"Retry-After": "0"},
            )
        t0 = time.perf_counter()
        results = [one(r, f) for r, f in zip(reqs, fired, strict=True)]
        stats.busy_s += time.perf_counter() - t0
        if "drop_response" in every:
            log.info("local RPC fault: response to %s dropped", names)
            return Response(b"", status_code=504)
        return JSONResponse(results if batch else results[0])

    app = Starlette(routes=[Route("/", endpoint, methods=["POST"])])
    app.state.chain = chain
    app.state.faults = faults
    app.state.stats = stats
    return app


def _tx_accounts(req: dict[str, Any]) -> set[str]:
    """The account keys of a sendTransaction request's transaction (empty if unreadable)."""
    from solders.transaction import VersionedTransaction

    try:
        params = req.get("params") or []
        config = params[1] if len(params) > 1 and isinstance(params[1], dict) else {}
        data = params[0]
        raw = (
            base58.b58decode(data) if config.get("encoding") == "base58" else base64.b64decode(data)
        )
        return {str(k) for k in VersionedTransaction.from_bytes(raw).message.account_keys}
    except Exception:  # noqa: BLE001 - not a transaction: matches no account
        return set()


def _error(rid: Any, exc: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "error": exc.to_json()}


class LocalRpcServer:
    """The local RPC served by uvicorn in a background thread.

    `with LocalRpcServer(chain) as server: ... server.url` — port 0 picks a free port.
    """

    def __init__(
        self,
        chain: LocalChain,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultPlan | None = None,
    ) -> None:
        self.chain = chain
        self.faults = faults if faults is not None else FaultPlan()
        if self.faults.clock is None:
            self.faults.clock = chain.clock
        self.stats = RpcStats()
        self.host = host
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # accepted connections inherit it: uvicorn writes a response's head and body
        # separately, and Nagle + delayed ACKs would add ~40 ms to every request
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.bind((host, port))
        self.port = self._sock.getsockname()[1]
        app = create_app(chain, self.faults, self.stats)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LocalRpcServer:
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[self._sock])),
            name=f"local-rpc-{self.port}",
            daemon=True,
        )
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("local RPC server failed to start")
            threading.Event().wait(0.01)
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until Ctrl-C (the `localnet` command)."""
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> LocalRpcServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["LocalRpcServer", "RpcMethods", "RpcStats", "create_app"]
