"""Counting and timing the live path's Solana traffic without touching the client's code.

* `meter_connection(conn, metrics)` wraps the JSON-RPC provider of a solana-py
  `AsyncClient` (the one our `DriftClient` and driftpy share): every call is counted and
  timed by method (`getAccountInfo`, `sendTransaction` ...), and counted as an error when
  it raised (transport, HTTP status) or the node answered a JSON-RPC error;
  `sendTransaction` also feeds the send-latency histogram.
* `meter_client(client, metrics, engine_id)` times each transaction from its first send
  to its outcome (`confirmed`, `already_landed`, `failed`, `unconfirmed`) and adds the
  priority fee a landed transaction reports (`TxOutcome.priority_fee_lamports`, when the
  client provides it).

Both wrap instance attributes, once; the wrapped objects behave exactly as before.
"""

from __future__ import annotations

import json
import time
from typing import Any

_METHODS: dict[type, str] = {}
_MARK = "_drift_engine_metered"


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


def meter_connection(conn: Any, metrics: Any) -> Any:
    """Count and time every JSON-RPC call made through `conn` (an AsyncClient)."""
    provider = getattr(conn, "_provider", None)
    if provider is None or getattr(provider, _MARK, False):
        return conn
    one = provider.make_request_unparsed
    batch = provider.make_batch_request_unparsed

    async def make_request_unparsed(body: Any) -> Any:
        method = rpc_method(body)
        metrics.rpc_calls.labels(method).inc()
        started = time.perf_counter()
        try:
            raw = await one(body)
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

    async def make_batch_request_unparsed(reqs: Any) -> Any:
        methods = [rpc_method(b) for b in reqs]
        for m in methods:
            metrics.rpc_calls.labels(m).inc()
        started = time.perf_counter()
        try:
            raw = await batch(reqs)
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

    provider.make_request_unparsed = make_request_unparsed
    provider.make_batch_request_unparsed = make_batch_request_unparsed
    setattr(provider, _MARK, True)
    return conn


def meter_client(client: Any, metrics: Any, engine_id: str) -> Any:
    """Time `client`'s transactions (first send -> outcome) and add their priority fees."""
    send = getattr(client, "_send", None)
    if send is None or getattr(client, _MARK, False):
        return client

    async def timed_send(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        outcome = "failed"
        try:
            result = await send(*args, **kwargs)
            outcome = str(getattr(result, "status", "confirmed") or "confirmed")
            fee = getattr(result, "priority_fee_lamports", None)
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


__all__ = ["meter_client", "meter_connection", "rpc_method"]
