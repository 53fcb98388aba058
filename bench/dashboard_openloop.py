"""Open-loop load on the dashboard: requests sent at a constant rate whatever the answers
do, latency counted from each request's *scheduled* send time (no coordinated omission).

    .venv/bin/python bench/dashboard_openloop.py [--rate 500] [--seconds 10] [--engines 10]

Builds a throw-away SQLite database through the real vault registry and engine store
(`dashboard_load.populate`: 10 engines, each an active VIRTUAL vault with ledger entries
and snapshots), serves it with `run_dashboard.py --port 0` in a subprocess (it binds
127.0.0.1 port 0 and prints its URL, read from its output), and while a writer thread
books a funding entry and a snapshot every second (as a heartbeat does), sends
GET /api/engines, /api/vaults and /api/health in turn at `--rate` per second over
keep-alive connections (a new one whenever none is free). Prints per endpoint and overall:
answers, errors, p50 / p99 / max latency, the achieved rate, the server's CPU per request,
and the goal (>= 500 req/s with p99 < 25 ms). Loopback only; nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from dashboard_load import populate

REPO = Path(__file__).resolve().parents[1]
PATHS = ("/api/engines", "/api/vaults", "/api/health")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def get(self, host: str, path: str) -> int:
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
        await self.reader.readexactly(length)
        return status


async def load(host: str, port: int, rate: float, seconds: float) -> dict[str, list]:
    idle: list[Conn] = []
    results: dict[str, list] = {p: [] for p in PATHS}
    errors: dict[str, int] = dict.fromkeys(PATHS, 0)
    hostport = f"{host}:{port}"

    async def one(scheduled: float, path: str) -> None:
        conn = idle.pop() if idle else Conn(*await asyncio.open_connection(host, port))
        try:
            status = await conn.get(hostport, path)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors[path] += 1
            conn.writer.close()
            return
        results[path].append(time.perf_counter() - scheduled)
        if status != 200:
            errors[path] += 1
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
    return {"latency": results, "errors": errors, "wall": time.perf_counter() - start, "n": n}


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] * 1000 if s else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=500.0, help="requests per second")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--engines", type=int, default=10)
    ap.add_argument("--entries", type=int, default=200)
    ap.add_argument("--write-every", type=float, default=1.0, help="0: no writes")
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="dashboard-openloop-")
    url = f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    populate(url, args.engines, args.entries)
    server = subprocess.Popen(
        [sys.executable, str(REPO / "run_dashboard.py"), "--port", "0", "--database-url", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stop = threading.Event()
    try:
        line = server.stdout.readline()
        m = re.search(r"http://([\d.]+):(\d+)/", line)
        if m is None:
            raise SystemExit(f"server did not start: {line!r} {server.stderr.read()}")
        host, port = m.group(1), int(m.group(2))
        asyncio.run(load(host, port, 50, 1.0))  # warm-up (not counted)
        writes = 0

        def writer() -> None:
            nonlocal writes
            from drift_engine.storage import Database
            from drift_engine.vaults import VaultRegistry

            db = Database.open(url)
            registry = VaultRegistry(db)
            while not stop.wait(args.write_every):
                writes += 1
                registry.ledger.book_funding(
                    "engine-00", "vault-00", market_index=0,
                    funding_ts=2_000_000_000 + writes, amount=writes,
                )  # fmt: skip
                registry.snapshots.record(
                    "engine-00", "vault-00", position_value=writes, unrealized_pnl=writes, health=90
                )
            db.dispose()

        thread = threading.Thread(target=writer, daemon=True)
        if args.write_every > 0:
            thread.start()
        cpu0 = cpu_seconds(server.pid)
        out = asyncio.run(load(host, port, args.rate, args.seconds))
        cpu = cpu_seconds(server.pid) - cpu0
        stop.set()
        if thread.is_alive():
            thread.join(30)
    finally:
        stop.set()
        server.terminate()
        server.wait(10)
        tmp.cleanup()
    everything: list[float] = []
    print(
        f"open loop: {out['n']} requests at {args.rate:.0f}/s over {args.seconds:.0f} s "
        f"({args.engines} engines, {writes} writes meanwhile); sent and answered in "
        f"{out['wall']:.2f} s = {out['n'] / out['wall']:.0f} req/s; server CPU "
        f"{cpu / out['n'] * 1000:.2f} ms per request; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs"
    )
    for path in PATHS:
        lat = out["latency"][path]
        everything += lat
        n, errs = len(lat), out["errors"][path]
        print(
            f"  {path:14s} n={n:5d} errors={errs}  p50 {pct(lat, 0.5):6.2f} ms"
            f"  p99 {pct(lat, 0.99):6.2f} ms  max {pct(lat, 1.0):7.2f} ms"
        )
    p99 = pct(everything, 0.99)
    errors = sum(out["errors"].values())
    ok = p99 < 25 and errors == 0 and out["n"] / out["wall"] >= 0.95 * args.rate
    print(
        f"  all            p99 {p99:.2f} ms; goal >= 500 req/s with p99 < 25 ms: "
        f"{'holds' if ok and args.rate >= 500 else 'does not hold'}"
    )


if __name__ == "__main__":
    main()
