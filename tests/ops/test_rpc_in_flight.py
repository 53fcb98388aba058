"""`drift_engine_rpc_in_flight` (metrics/rpc.py): the gauge rises before a round trip's
calls are counted and falls only after its errors are, and a scrape reads it between
the call and the error counters, so a scrape that reads it at zero has every counted
call's outcome counted too: the consistent cut tests/live/test_live_metrics_scrape.py
compares with the local node's own counts."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from drift_engine.metrics.rpc import _metered
from drift_engine.metrics.runner import RunnerMetrics


class Body:
    """A request body as solders' (`rpc_method` reads its JSON)."""

    def __init__(self, method: str) -> None:
        self.method = method

    def to_json(self) -> str:
        return f'{{"jsonrpc": "2.0", "id": 1, "method": "{self.method}", "params": []}}'


class Recording:
    """The in-flight gauge, noting the counters each time it moves."""

    def __init__(self, metrics: RunnerMetrics) -> None:
        self.metrics = metrics
        self.value = 0
        self.moves: list[tuple[str, float, float, float]] = []

    def _note(self, move: str) -> None:
        total = self.metrics.registry.get_sample_value
        calls = sum(total("drift_engine_rpc_calls_total", {"method": m}) or 0 for m in "ab")
        errors = sum(total("drift_engine_rpc_errors_total", {"method": m}) or 0 for m in "ab")
        self.moves.append((move, self.value, calls, errors))

    def inc(self) -> None:
        self._note("inc")
        self.value += 1

    def dec(self) -> None:
        self.value -= 1
        self._note("dec")


ERROR = '{"jsonrpc": "2.0", "id": 1, "error": {"code": -32005, "message": "busy"}}'
OK = '{"jsonrpc": "2.0", "id": 1, "result": 1}'


async def _answer(raw: str | None, seen: list[float], gauge: Recording) -> str:
    seen.append(gauge.value)  # what the gauge says while the call is out
    await asyncio.sleep(0)
    if raw is None:
        raise httpx.ConnectError("refused")
    return raw


@pytest.mark.parametrize("raw", [OK, ERROR, None], ids=["answer", "json-error", "transport"])
@pytest.mark.parametrize("batched", [False, True], ids=["one", "batch"])
def test_the_gauge_brackets_the_counting(raw, batched):
    metrics = RunnerMetrics()
    gauge = metrics.rpc_in_flight = Recording(metrics)
    seen: list[float] = []

    async def one(body):
        return await _answer(raw, seen, gauge)

    async def batch(bodies):
        return await _answer(raw if raw != ERROR else f"[{OK}, {ERROR}]", seen, gauge)

    single, many = _metered(one, batch, metrics)
    call = many([Body("a"), Body("b")]) if batched else single(Body("a"))
    if raw is None:
        with pytest.raises(httpx.ConnectError):
            asyncio.run(call)
    else:
        asyncio.run(call)
    calls = 2 if batched else 1
    errors = 0 if raw == OK else calls
    assert seen == [1]
    # risen before anything was counted; fallen after the calls and their errors were
    assert gauge.moves == [("inc", 0, 0, 0), ("dec", 0, calls, errors)]


def test_a_scrape_reads_the_calls_then_the_gauge_then_the_errors():
    """The exposition order the live test's cut relies on (registration order)."""
    from prometheus_client import generate_latest

    text = generate_latest(RunnerMetrics().registry).decode()
    heads = [
        text.index(f"# HELP drift_engine_{n} ")
        for n in ("rpc_calls_total", "rpc_in_flight", "rpc_errors_total")
    ]
    assert heads == sorted(heads)
