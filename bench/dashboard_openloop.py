"""Open-loop load on the dashboard: requests sent at a constant rate whatever the answers
do, latency counted from each request's *scheduled* send time (no coordinated omission).

    .venv/bin/python bench/dashboard_openloop.py [--rate 500] [--seconds 10] [--engines 10]
        [--write-every 1.0 (0: no writes)]

Builds a throw-away SQLite database through the real vault registry and engine store
(`dashboard_load.populate`: 10 engines, each an active VIRTUAL vault with ledger entries
and snapshots), serves it with `run_dashboard.py --port 0` in a subprocess (it binds
127.0.0.1 port 0 and prints its URL, read from its output), and while a writer *process*
commits what a heartbeat does every second (a funding entry, a vault snapshot, a
heartbeat row), sends GET /api/engines, /api/vaults and /api/health in turn at `--rate`
per second over keep-alive connections (a new one whenever none is free; one idle for 4 s
is dropped, as httpx's pool does, since uvicorn closes them at 5 s and a request sent
on a closed connection is lost). Prints per endpoint: answers, errors by name (exception
and the connection's idle age, or the HTTP status), p50 / p99 / max latency; the client's
own lag (scheduled time to the moment its task ran: included in the latencies, so a
client falling behind shows here rather than passing as the server's); how many slow
answers were in flight during or just after a write; the achieved rate, the server's CPU
per request, the load average; and the goal (>= 500 req/s with p99 < 25 ms).

A/B against another checkout: `PYTHONPATH=<it>/src BENCH_SERVER=<it>/run_dashboard.py`.
Loopback only; nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from dashboard_load import populate

REPO = Path(__file__).resolve().parents[1]
#: the server script; BENCH_SERVER names another checkout's run_dashboard.py (an A/B run,
#: with PYTHONPATH=<that checkout>/src)
SERVER = os.environ.get("BENCH_SERVER", str(REPO / "run_dashboard.py"))
PATHS = ("/api/engines", "/api/vaults", "/api/health")
GOAL_P99_S = 0.025
#: a connection idle this long is not reused: uvicorn closes keep-alive connections idle
#: for 5 s, and a request sent as it does is lost (httpx's pool expires them at 5 s too)
KEEPALIVE_EXPIRY_S = 4.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.idle_since: float | None = None  # None: never used

    async def get(self, host: str, path: str) -> int:
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
        await self.reader.readexactly(length)
        return status


async def load(host: str, port: int, rate: float, seconds: float) -> dict[str, Any]:
    """Send `rate * seconds` GETs at their scheduled times; per request keep the latency
    from the scheduled time, the client's own lag (scheduled time to the moment its task
    ran: what the client, not the server, adds) and any error by name."""
    idle: list[Conn] = []
    results: dict[str, list[float]] = {p: [] for p in PATHS}
    lags: list[float] = []
    errors: dict[str, Counter[str]] = {p: Counter() for p in PATHS}
    #: (scheduled, answered) of each answer slower than the goal, to match against writes
    slow: list[tuple[float, float]] = []
    hostport = f"{host}:{port}"

    async def one(scheduled: float, path: str) -> None:
        lags.append(time.perf_counter() - scheduled)
        conn: Conn | None = None
        try:
            while idle and time.perf_counter() - idle[-1].idle_since > KEEPALIVE_EXPIRY_S:
                idle.pop().writer.close()  # the server may have closed it: as httpx does
            conn = idle.pop() if idle else Conn(*await asyncio.open_connection(host, port))
            status = await conn.get(hostport, path)
        except (OSError, asyncio.IncompleteReadError, ValueError, AttributeError) as exc:
            fresh = conn is None or conn.idle_since is None
            age = "new" if fresh else f"idle {time.perf_counter() - conn.idle_since:.0f} s"
            errors[path][f"{type(exc).__name__}: {exc}"[:120] + f" ({age} connection)"] += 1
            if conn is not None:
                conn.writer.close()
            return
        done = time.perf_counter()
        results[path].append(done - scheduled)
        if done - scheduled > GOAL_P99_S:
            slow.append((scheduled, done))
        if status != 200:
            errors[path][f"HTTP {status}"] += 1
        conn.idle_since = time.perf_counter()
        idle.append(conn)

    tasks = []
    start = time.perf_counter() + 0.05
    n = int(rate * seconds)
    for i in range(n):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled, PATHS[i % len(PATHS)])))
    await asyncio.gather(*tasks)
    for conn in idle:
        conn.writer.close()
    return {
        "latency": results,
        "errors": errors,
        "lags": lags,
        "slow": slow,
        "wall": time.perf_counter() - start,
        "n": n,
        "connections": len(idle),
    }


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] * 1000 if s else float("nan")


def writer(url: str, every: float, seconds: float) -> None:
    """The heartbeat's writes, in a process of its own as in production: every `every`
    seconds a funding entry, a vault snapshot and a heartbeat row, each committed as a
    heartbeat commits them. Prints `write <start> <end>` (perf_counter: CLOCK_MONOTONIC,
    comparable across processes) per write, for the bench to match slow answers against."""
    from drift_engine.engine.store import SqlEngineStore
    from drift_engine.storage import Database
    from drift_engine.vaults import VaultRegistry

    db = Database.open(url)
    registry = VaultRegistry(db)
    store = SqlEngineStore(db)
    print("ready", flush=True)
    sys.stdin.readline()  # "go"
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() + every < end:
        time.sleep(every)
        n += 1
        t0 = time.perf_counter()
        registry.ledger.book_funding(
            "engine-00", "vault-00", market_index=0, funding_ts=2_000_000_000 + n, amount=n
        )
        registry.snapshots.record(
            "engine-00", "vault-00", position_value=n, unrealized_pnl=n, health=90
        )
        store.record_heartbeat(2_000_000_000 + n, 5.0, 1, 10, [])
        print(f"write {t0!r} {time.perf_counter()!r}", flush=True)
    db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=500.0, help="requests per second")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--engines", type=int, default=10)
    ap.add_argument("--entries", type=int, default=200)
    ap.add_argument("--write-every", type=float, default=1.0, help="0: no writes")
    ap.add_argument("--writer", metavar="URL", help=argparse.SUPPRESS)  # the writer process
    args = ap.parse_args()
    if args.writer:
        writer(args.writer, args.write_every, args.seconds)
        return

    tmp = tempfile.TemporaryDirectory(prefix="dashboard-openloop-")
    url = f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    populate(url, args.engines, args.entries)
    server = subprocess.Popen(
        [sys.executable, SERVER, "--port", "0", "--database-url", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    writes: list[tuple[float, float]] = []
    wproc = None
    try:
        line = server.stdout.readline()
        m = re.search(r"http://([\d.]+):(\d+)/", line)
        if m is None:
            raise SystemExit(f"server did not start: {line!r} {server.stderr.read()}")
        host, port = m.group(1), int(m.group(2))
        asyncio.run(load(host, port, 50, 1.0))  # warm-up (not counted)
        if args.write_every > 0:
            wproc = subprocess.Popen(
                [sys.executable, __file__, "--writer", url, "--write-every",
                 str(args.write_every), "--seconds", str(args.seconds)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            if wproc.stdout.readline().strip() != "ready":
                raise SystemExit("the writer process did not start")
            wproc.stdin.write("go\n")
            wproc.stdin.flush()
        cpu0 = cpu_seconds(server.pid)
        load0 = os.getloadavg()[0]
        out = asyncio.run(load(host, port, args.rate, args.seconds))
        cpu = cpu_seconds(server.pid) - cpu0
        if wproc is not None:
            text, _ = wproc.communicate(timeout=60)
            for w in text.splitlines():
                if w.startswith("write "):
                    a, b = w.split()[1:]
                    writes.append((float(a), float(b)))
    finally:
        if wproc is not None and wproc.poll() is None:
            wproc.kill()
        server.terminate()
        server.wait(10)
        tmp.cleanup()
    report(args, out, cpu, writes, (load0, os.getloadavg()[0]))


def report(args: Any, out: dict[str, Any], cpu: float, writes: list, load: tuple) -> None:
    everything: list[float] = []
    print(
        f"open loop: {out['n']} requests at {args.rate:.0f}/s over {args.seconds:.0f} s "
        f"({args.engines} engines, {len(writes)} writes meanwhile from another process); "
        f"sent and answered in {out['wall']:.2f} s = {out['n'] / out['wall']:.0f} req/s; "
        f"server CPU {cpu / out['n'] * 1000:.2f} ms per request; {out['connections']} "
        f"connections; load average {load[0]:.1f} before, {load[1]:.1f} after, "
        f"on {os.cpu_count()} CPUs"
    )
    for path in PATHS:
        lat = out["latency"][path]
        everything += lat
        errs = out["errors"][path]
        print(
            f"  {path:14s} n={len(lat):5d} errors={sum(errs.values())}  p50 {pct(lat, 0.5):6.2f}"
            f" ms  p99 {pct(lat, 0.99):6.2f} ms  max {pct(lat, 1.0):7.2f} ms"
        )
        for what, count in errs.most_common():
            print(f"      {count} x {what}")
    lags = out["lags"]
    print(
        f"  client lag (scheduled time to the request's task running: the client's share, "
        f"included above) p50 {pct(lags, 0.5):.2f} ms p99 {pct(lags, 0.99):.2f} ms "
        f"max {pct(lags, 1.0):.2f} ms"
    )
    slow = out["slow"]
    if writes and slow:
        near = sum(
            any(s <= b + 0.5 and a <= d for a, b in writes) for s, d in slow
        )  # in flight during a write or within 0.5 s after it
        took = sorted(b - a for a, b in writes)
        print(
            f"  {len(slow)} answers over {GOAL_P99_S * 1000:.0f} ms, {near} of them in flight "
            f"during a write or within 0.5 s after it; writes took p50 "
            f"{took[len(took) // 2] * 1000:.1f} ms, max {took[-1] * 1000:.1f} ms"
        )
    p99 = pct(everything, 0.99)
    errors = sum(sum(e.values()) for e in out["errors"].values())
    ok = p99 < GOAL_P99_S * 1000 and errors == 0 and out["n"] / out["wall"] >= 0.95 * args.rate
    print(
        f"  all            p99 {p99:.2f} ms; goal >= 500 req/s with p99 < 25 ms: "
        f"{'holds' if ok and args.rate >= 500 else 'does not hold'}"
    )


if __name__ == "__main__":
    main()
