"""Counting and timing the live path's Solana traffic without touching the client's code.

* `metered_process(metrics)` (what `drift-engine run` uses for live engines) does the
  same as `meter_connection` for every solana-py `AsyncClient` of the process while
  inside — the engines' clients and every other connection a live runner opens (a
  market reader, control clients, start-up reads) — so the counts are what the RPC
  received from this process.
* `meter_connection(conn, metrics)` wraps the JSON-RPC provider of a solana-py
  `AsyncClient` (the one our `DriftClient` and driftpy share): every call is counted and
  timed by method (`getAccountInfo`, `sendTransaction` ...), and counted as an error when
  it raised (transport, HTTP status) or the node answered a JSON-RPC error;
  `sendTransaction` also feeds the send-latency histogram. `rpc_in_flight` counts the
  round trips started and not yet accounted for: it rises before a call is counted and
  falls after its error is, and a scrape reads it between the call and the error
  counters: at zero, every call that scrape counted has its answer (or failure) counted
  in the errors it reads next — a consistent point to compare the counts with the node's.
* `meter_client(client, metrics, engine_id)` times each transaction from its first send
  to its outcome (`confirmed`, `already_landed`, `failed`, `unconfirmed`) and adds the
  priority fee of the transaction that landed: `TxOutcome.priority_fee_lamports` when the
  client reports it, else read from the landed signature's own compiled message (its
  ComputeBudget instructions: ceil(unit price x unit limit / 1e6) lamports, the runtime's
  rule). A transaction whose outcome the client never learns (`unconfirmed`) adds
  nothing: whether it paid is not known here.

`meter_connection` and `meter_client` wrap instance attributes, once; `metered_process`
patches solana-py's `AsyncHTTPProvider` for its duration and restores it. The wrapped
objects behave exactly as before.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

_METHODS: dict[type, str] = {}
_MARK = "_drift_engine_metered"
#: Solana's compute budget rules (a transaction without SetComputeUnitLimit gets the
#: default units per non-budget instruction, capped at the maximum).
DEFAULT_UNITS_PER_INSTRUCTION = 200_000
MAX_COMPUTE_UNIT_LIMIT = 1_400_000
#: Compiled transactions remembered per client for their priority fee (oldest dropped).
_FEES_KEPT = 256


def priority_fee_lamports(tx: Any) -> int:
    """Lamports of priority fee a signed transaction pays if it lands: from its
    SetComputeUnitLimit / SetComputeUnitPrice instructions."""
    from solders.compute_budget import ID as COMPUTE_BUDGET

    msg = tx.message
    keys = list(msg.account_keys)
    limit: int | None = None
    price = others = 0
    for ix in msg.instructions:
        if keys[ix.program_id_index] != COMPUTE_BUDGET:
            others += 1
            continue
        data = bytes(ix.data)
        if data[:1] == b"\x02" and len(data) >= 5:
            limit = int.from_bytes(data[1:5], "little")
        elif data[:1] == b"\x03" and len(data) >= 9:
            price = int.from_bytes(data[1:9], "little")
    if limit is None:
        limit = DEFAULT_UNITS_PER_INSTRUCTION * max(others, 1)
    limit = min(limit, MAX_COMPUTE_UNIT_LIMIT)
    return -(-price * limit // 1_000_000)


def rpc_method(body: Any) -> str:
    """The JSON-RPC method of a solders request body (cached per request type)."""
    kind = type(body)
    name = _METHODS.get(kind)
    if name is None:
        try:
            name = str(json.loads(body.to_json())["method"])
        except Exception:  # noqa: BLE001 - a label is best effort
            name = kind.__name__[:1].lower() + kind.__name__[1:]
        _METHODS[kind] = name
    return name


def _json_error(raw: Any) -> bool:
    if not isinstance(raw, str | bytes) or b'"error"' not in (
        raw if isinstance(raw, bytes) else raw.encode()
    ):
        return False
    try:
        doc = json.loads(raw)
    except ValueError:
        return False
    if isinstance(doc, list):
        return any(isinstance(d, dict) and "error" in d for d in doc)
    return isinstance(doc, dict) and "error" in doc


def _metered(one: Any, batch: Any, metrics: Any) -> tuple[Any, Any]:
    """Counting, timing versions of a provider's `make_request_unparsed(body)` and
    `make_batch_request_unparsed(reqs)` (`one`, `batch`: the originals, same arguments)."""

    async def make_request_unparsed(*args: Any) -> Any:
        body = args[-1]
        method = rpc_method(body)
        metrics.rpc_in_flight.inc()  # before the call is counted, and
        try:
            metrics.rpc_calls.labels(method).inc()
            started = time.perf_counter()
            try:
                raw = await one(*args)
            except BaseException:
                metrics.rpc_errors.labels(method).inc()
                raise
            finally:
                elapsed = time.perf_counter() - started
                metrics.rpc_seconds.labels(method).observe(elapsed)
                if method == "sendTransaction":
                    metrics.tx_send_seconds.observe(elapsed)
            if _json_error(raw):
                metrics.rpc_errors.labels(method).inc()
            return raw
        finally:
            metrics.rpc_in_flight.dec()  # after its error is: zero means all accounted for

    async def make_batch_request_unparsed(*args: Any) -> Any:
        methods = [rpc_method(b) for b in args[-1]]
        metrics.rpc_in_flight.inc()
        try:
            for m in methods:
                metrics.rpc_calls.labels(m).inc()
            started = time.perf_counter()
            try:
                raw = await batch(*args)
            except BaseException:
                for m in methods:
                    metrics.rpc_errors.labels(m).inc()
                raise
            finally:
                elapsed = time.perf_counter() - started
                for m in set(methods):
                    metrics.rpc_seconds.labels(m).observe(elapsed)
            if _json_error(raw):
                for m in methods:
                    metrics.rpc_errors.labels(m).inc()
            return raw
        finally:
            metrics.rpc_in_flight.dec()

    return make_request_unparsed, make_batch_request_unparsed


def meter_connection(conn: Any, metrics: Any) -> Any:
    """Count and time every JSON-RPC call made through `conn` (an AsyncClient)."""
    provider = getattr(conn, "_provider", None)
    if provider is None or getattr(provider, _MARK, False) or _process_metered():
        return conn
    one, batch = _metered(
        provider.make_request_unparsed, provider.make_batch_request_unparsed, metrics
    )
    provider.make_request_unparsed = one
    provider.make_batch_request_unparsed = batch
    setattr(provider, _MARK, True)
    return conn


def _process_metered() -> bool:
    from solana.rpc.providers.async_http import AsyncHTTPProvider

    return bool(getattr(AsyncHTTPProvider, _MARK, False))


@contextlib.contextmanager
def metered_process(metrics: Any) -> Iterator[None]:
    """Count and time every JSON-RPC call of every solana-py `AsyncClient` of this
    process while inside: the engines' clients, and the ones a live runner opens beside
    them (a market reader, a control client, a reconnect) or before them (start-up
    reconciliation). A runner's RPC metrics are its process's traffic, by method.
    `meter_connection` does nothing meanwhile (no call counted twice)."""
    from solana.rpc.providers.async_http import AsyncHTTPProvider as provider

    if getattr(provider, _MARK, False):  # an outer run already meters: it counts these
        yield
        return
    one, batch = provider.make_request_unparsed, provider.make_batch_request_unparsed
    metered_one, metered_batch = _metered(one, batch, metrics)
    provider.make_request_unparsed = metered_one  # type: ignore[method-assign]
    provider.make_batch_request_unparsed = metered_batch  # type: ignore[method-assign]
    setattr(provider, _MARK, True)
    try:
        yield
    finally:
        provider.make_request_unparsed = one  # type: ignore[method-assign]
        provider.make_batch_request_unparsed = batch  # type: ignore[method-assign]
        delattr(provider, _MARK)


def meter_client(client: Any, metrics: Any, engine_id: str) -> Any:
    """Time `client`'s transactions (first send -> outcome) and add their priority fees."""
    send = getattr(client, "_send", None)
    if send is None or getattr(client, _MARK, False):
        return client
    compile_tx = getattr(client, "_compile", None)
    fees: dict[str, int] = {}  # signature -> priority fee of every transaction compiled

    if compile_tx is not None:

        def remembering_compile(*args: Any, **kwargs: Any) -> Any:
            tx = compile_tx(*args, **kwargs)
            try:
                fees[str(tx.signatures[0])] = priority_fee_lamports(tx)
                while len(fees) > _FEES_KEPT:
                    fees.pop(next(iter(fees)))
            except Exception:  # noqa: BLE001 - a figure is best effort, never a send failure
                pass
            return tx

        client._compile = remembering_compile

    def fee_of(result: Any) -> int | None:
        fee = getattr(result, "priority_fee_lamports", None)
        if isinstance(fee, int):
            return fee
        sig = getattr(result, "signature", None)
        if sig is not None:
            return fees.get(str(sig))
        # landed, but which of its signatures is not known: only a fee they all share
        candidates = {fees.get(str(s)) for s in getattr(result, "signatures", ()) or ()}
        return candidates.pop() if len(candidates) == 1 else None

    async def timed_send(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        outcome = "failed"
        try:
            result = await send(*args, **kwargs)
            outcome = str(getattr(result, "status", "confirmed") or "confirmed")
            fee = fee_of(result)
            if isinstance(fee, int) and fee > 0:
                metrics.priority_fee.labels(engine_id).inc(fee)
            return result
        except Exception as exc:
            if "Unconfirmed" in type(exc).__name__ or "Unknown" in type(exc).__name__:
                outcome = "unconfirmed"
            raise
        finally:
            metrics.tx_confirm_seconds.labels(outcome).observe(time.perf_counter() - started)

    client._send = timed_send
    setattr(client, _MARK, True)
    return client


__all__ = [
    "meter_client",
    "meter_connection",
    "metered_process",
    "priority_fee_lamports",
    "rpc_method",
]
