"""Load bench: requests/s and latency percentiles of GET /api/vaults with 10 engines.

    python bench/dashboard_load.py [--requests 2000] [--concurrency 8] [--entries 200]

Builds a throw-away SQLite database through the real vault registry and engine store
(10 engines, each with an active VIRTUAL vault, `--entries` ledger entries and hourly
snapshots, plus the treasury), serves it with `run_dashboard.py` in a subprocess bound
to 127.0.0.1 on a free port, and sends a bounded number of requests from a thread pool.
Loopback only; the loop stops after `--requests` requests or `--max-seconds`.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
USDC = 1_000_000
T0 = datetime(2026, 1, 10, tzinfo=UTC)


def populate(url: str, engines: int, entries: int) -> None:
    from drift_engine.core.types import DriftPosition, MarketType
    from drift_engine.engine.ports import EngineRecord
    from drift_engine.engine.store import SqlEngineStore
    from drift_engine.storage import Database
    from drift_engine.vaults import NewEntry, VaultRegistry
    from drift_engine.vaults.entries import EntryKind

    db = Database.open(url)
    registry = VaultRegistry(db, clock=lambda: T0)
    store = SqlEngineStore(db)
    registry.deposit(registry.treasury().id, engines * 10_000 * USDC, key="seed")
    for n in range(engines):
        engine_id = f"engine-{n:02d}"
        vault = registry.create_vault(f"vault-{n:02d}", engine_id, active=True)
        registry.allocate(vault.id, 10_000 * USDC, key=f"alloc-{n}")
        batch = []
        for i in range(entries):
            at = T0 + timedelta(hours=i)
            if i % 3 == 0:
                batch.append(
                    NewEntry(
                        EntryKind.FILL,
                        amount=-(i % 7) * USDC,
                        fee=1_000 + i,
                        key=f"fill:{i}",
                        market_index=0,
                        occurred_at=at,
                    )
                )
            else:
                batch.append(
                    NewEntry(
                        EntryKind.FUNDING,
                        amount=(i % 11) * 1_000 - 3_500,
                        key=f"funding:0:{i}",
                        market_index=0,
                        occurred_at=at,
                    )
                )
        registry.ledger.book_many(engine_id, vault.id, batch)
        position = DriftPosition(
            market_index=0,
            market_type=MarketType.PERP,
            base_asset_amount=-(10**9),
            quote_entry_amount=100 * USDC,
        )
        for h in range(0, entries, 8):
            registry.snapshots.record(
                engine_id,
                vault.id,
                position_value=h * 1_000,
                unrealized_pnl=h * 1_000,
                health=90,
                positions=[position],
                taken_at=T0 + timedelta(hours=h),
            )
        store.save(
            EngineRecord(
                engine_id=engine_id,
                strategy="delta-neutral",
                config={"market": "SOL-PERP"},
                mode="paper",
                state="running",
                vault_id=str(vault.id),
            )
        )
    db.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", type=int, default=10)
    parser.add_argument("--entries", type=int, default=200, help="ledger entries per vault")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument(
        "--heartbeat-every",
        type=float,
        default=1.0,
        help="seconds between writes (a funding entry and a snapshot, as a heartbeat "
        "books them) during the run; 0 = no writes (every request a cache hit)",
    )
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="dashboard-bench-")
    url = f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    t = time.perf_counter()
    populate(url, args.engines, args.entries)
    print(
        f"database: {args.engines} engines x {args.entries} entries "
        f"({time.perf_counter() - t:.1f}s to build)"
    )

    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "run_dashboard.py"),
            "--port",
            str(port),
            "--database-url",
            url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                body = httpx.get(f"{base}/api/vaults", timeout=5).json()
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"server did not start: {server.stderr.read()}") from None
                time.sleep(0.2)
        assert sum(1 for v in body if v["active"]) == args.engines, body

        latencies: list[float] = []
        errors = 0
        lock = threading.Lock()
        stop_at = time.monotonic() + args.max_seconds
        local = threading.local()

        def one(_: int) -> None:
            nonlocal errors
            if time.monotonic() > stop_at:
                return
            client = getattr(local, "client", None)
            if client is None:
                client = local.client = httpx.Client(base_url=base, timeout=30)
            started = time.perf_counter()
            r = client.get("/api/vaults")
            elapsed = time.perf_counter() - started
            with lock:
                if r.status_code == 200:
                    latencies.append(elapsed)
                else:
                    errors += 1

        for _ in range(5):  # warm-up, not measured
            httpx.get(f"{base}/api/vaults", timeout=30)
        done_writing = threading.Event()
        writes = 0

        def heartbeat_writer() -> None:
            nonlocal writes
            from drift_engine.storage import Database
            from drift_engine.vaults import VaultRegistry

            db = Database.open(url)
            registry = VaultRegistry(db)
            while not done_writing.wait(args.heartbeat_every):
                writes += 1
                registry.ledger.book_funding(
                    "engine-00",
                    "vault-00",
                    market_index=0,
                    funding_ts=2_000_000_000 + writes,
                    amount=writes,
                )
                registry.snapshots.record(
                    "engine-00", "vault-00", position_value=writes, unrealized_pnl=writes, health=90
                )
            db.dispose()

        writer = threading.Thread(target=heartbeat_writer, daemon=True)
        if args.heartbeat_every > 0:
            writer.start()
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(one, range(args.requests)))
        wall = time.perf_counter() - t0
        done_writing.set()
        if writer.is_alive():
            writer.join(30)
    finally:
        server.terminate()
        server.wait(10)
        tmp.cleanup()

    done = len(latencies)
    latencies.sort()
    p = lambda q: latencies[min(done - 1, int(q * done))] * 1000  # noqa: E731
    print(
        f"GET /api/vaults, {args.engines} engines, concurrency {args.concurrency}: "
        f"{done} ok, {errors} errors in {wall:.2f}s, {writes} heartbeat writes meanwhile"
    )
    print(f"requests/s: {done / wall:.1f}")
    print(
        f"latency ms: p50 {p(0.50):.1f}  p90 {p(0.90):.1f}  p99 {p(0.99):.1f}  "
        f"max {latencies[-1] * 1000:.1f}  mean {statistics.fmean(latencies) * 1000:.1f}"
    )


if __name__ == "__main__":
    main()
