"""Read round trips and wall time of one live tick for 10 and 100 sub-accounts, counted
at the local chain.

Starts the local Drift chain (`LocalChain` over the simulator, on 127.0.0.1, port chosen
by the server) with one wallet holding N sub-accounts, each traded by a `LiveVenue` over
its own `DriftClient` (as each live engine's lane has), and measures ticks the way
`LiveRunner` runs them:

1. the feed: every sub-account plus the shared State, markets and oracles read by one
   reader (`live.reads.read_all`: `getMultipleAccounts` requests of <= 100 keys in one
   JSON-RPC batch, `minContextSlot` = the highest slot seen), handed to the venues;
2. every venue's lane, in parallel threads: `poll_events` (the engine's step: its
   history is read only if its User account changed) and `read_for_sync` (the vault
   sync, which reuses the engine's read).

Before each measured tick the oracle prices move (every market and oracle account
changes, as on mainnet), and in the second tick 10 % of the sub-accounts deposited since
the previous tick (their User accounts changed). Round trips (HTTP requests) and calls
per method are counted by the server (`RpcStats`); wall time is measured with an
injected latency per HTTP request (default 50 ms, of the order of a remote RPC). The
local chain runs in this process: its own time answering (`RpcStats.busy_s`: building
100 Users' bytes, cranking its keeper) shares the CPU with the engines, so the wall time
without it is printed too — what the engine host spends with a remote RPC. Prints
figures; asserts nothing.

The "per engine" line is what each live engine did before issue 12: its client's own
`refresh()` (one round trip per engine) — shown for comparison.

    .venv/bin/python bench/live_reads.py [--accounts 10 100] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from concurrent.futures import ThreadPoolExecutor

from solders.keypair import Keypair

from drift_engine.core.types import MarketType
from drift_engine.live.client import DriftClient, DriftClientConfig
from drift_engine.live.reads import read_all
from drift_engine.localnet.chain import LocalChain
from drift_engine.localnet.clock import ManualClock
from drift_engine.localnet.config import LocalnetConfig
from drift_engine.localnet.program import SimulatorProgram
from drift_engine.localnet.rpc import LocalRpcServer
from drift_engine.sim.simulator import DriftSimulator
from drift_engine.venues.live import LiveVenue

T0 = 1_767_225_600
PRICES = {"SOL-PERP": 150_000_000, "SOL": 150_000_000, "BTC-PERP": 90_000_000_000}
USDC = 1_000_000
METHODS = ("getMultipleAccounts", "getSignaturesForAddress", "getTransaction")


def _config(url: str, sub: int, **kw: object) -> DriftClientConfig:
    return DriftClientConfig(rpc_url=url, sub_account_id=sub, confirm_timeout_s=30.0, **kw)


class Tick:
    """One measured tick over `venues` (the feed, then every lane in parallel)."""

    def __init__(self, server, reader, venues, pool) -> None:
        self.server, self.reader, self.venues, self.pool = server, reader, venues, pool

    def __call__(self, ts: int) -> dict[str, float]:
        stats = self.server.stats
        requests, calls, busy = stats.requests, dict(stats.calls), stats.busy_s
        skipped = sum(v.history_skipped for v in self.venues)
        t = time.perf_counter()
        clients = [self.reader, *(v.client for v in self.venues)]
        states = self.reader.run(read_all(self.reader, clients))
        for i, venue in enumerate(self.venues, start=1):
            if i in states:
                venue.preload(states[i])
        feed_ms = (time.perf_counter() - t) * 1000

        def lane(venue: LiveVenue) -> None:
            venue.poll_events(ts)
            venue.read_for_sync()

        list(self.pool.map(lane, self.venues))
        out = {
            "wall_ms": (time.perf_counter() - t) * 1000,
            "feed_ms": feed_ms,
            "trips": stats.requests - requests,
            "skipped": sum(v.history_skipped for v in self.venues) - skipped,
            "server_ms": (stats.busy_s - busy) * 1000,
        }
        out["client_ms"] = out["wall_ms"] - out["server_ms"]
        for m in METHODS:
            out[m] = stats.calls[m] - calls.get(m, 0)
        return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, nargs="+", default=[10, 100])
    ap.add_argument("--latency-ms", type=float, default=50.0)
    ap.add_argument("--profile", action="store_true", help="cProfile the largest tick")
    args = ap.parse_args()
    most = max(args.accounts)

    config = LocalnetConfig.kind()  # setup speed: the reads are what is measured
    clock = ManualClock(T0)
    sim = DriftSimulator(dict(PRICES), ts=T0)
    chain = LocalChain(SimulatorProgram(sim, config=config), clock=clock, config=config)
    wallet = Keypair()
    chain.airdrop(wallet.pubkey(), 10**12)
    with LocalRpcServer(chain) as server:
        t = time.perf_counter()
        with chain._lock:  # the sub-accounts made by the program directly: setup speed
            chain.program.initialize_user_stats(wallet.pubkey())
            for sub in range(most):
                chain.program.initialize_user(wallet.pubkey(), sub, [0] * 32)
        clients: list[DriftClient] = []
        for sub in range(most):
            # the built-in catalog: getProgramAccounts per client would only slow the setup
            client = DriftClient(
                _config(server.url, sub, markets_from_chain=False), keypair=wallet, clock=clock
            )
            client.run(client.connect())
            clients.append(client)
        print(f"setup: {most} sub-accounts of one wallet in {time.perf_counter() - t:.1f} s")
        keys_per_engine = len(clients[0].refresh_keys())
        print(
            f"each engine reads {keys_per_engine} accounts (User, UserStats, State, "
            f"{keys_per_engine - 3} markets and oracles); latency {args.latency_ms:g} ms "
            "per HTTP request"
        )
        price = dict(PRICES)

        def move_prices() -> None:
            with chain._lock:
                for symbol in price:
                    price[symbol] += price[symbol] // 1000
                sim.set_oracle_prices(dict(price), sim.now)
            clock.advance(1)

        print(
            f"{'accounts':>8} {'tick':>24} {'round trips':>11} {'getMultiple':>11} "
            f"{'getSigs':>7} {'getTx':>5} {'skipped':>7} {'feed ms':>8} {'wall ms':>8} "
            f"{'server ms':>9} {'wall-server':>11}"
        )
        pool = ThreadPoolExecutor(max_workers=most)
        walls: dict[int, float] = {}
        clients_ms: dict[int, float] = {}
        for n in sorted(args.accounts):
            reader = DriftClient(
                _config(server.url, 0, markets_from_chain=False),
                authority=wallet.pubkey(),
                clock=clock,
            )
            reader.run(reader.connect())
            venues = [LiveVenue(c) for c in clients[:n]]
            tick = Tick(server, reader, venues, pool)
            tick(sim.now)  # warm-up: first decode of every account, first history scan
            clock.advance(1)
            tick(sim.now)  # a later scan that finds nothing new (history then skipped)

            # per engine, for comparison: each client's own refresh, sequentially
            server.faults.latency_s = args.latency_ms / 1000
            move_prices()
            before = server.stats.requests
            t = time.perf_counter()
            for client in clients[:n]:
                client.run(client.refresh())
            wall = (time.perf_counter() - t) * 1000
            trips = server.stats.requests - before
            print(
                f"{n:>8} {'per-engine refresh only':>24} {trips:>11} {'':>11} {'':>7} "
                f"{'':>5} {'':>7} {'':>8} {wall:>8.0f}"
            )

            move_prices()
            profile = cProfile.Profile() if args.profile and n == most else None
            if profile is not None:
                profile.enable()
            r = tick(sim.now)
            if profile is not None:
                profile.disable()
            walls[n] = r["wall_ms"]
            clients_ms[n] = r["client_ms"]
            _print(n, "prices moved", r)
            if profile is not None:
                pstats.Stats(profile).sort_stats("tottime").print_stats(15)

            server.faults.latency_s = 0
            changed = clients[: max(1, n // 10)]
            for client in changed:
                mint = client.catalog.get(MarketType.SPOT, 0).mint
                chain.mint_to(wallet.pubkey(), mint, 10 * USDC)
                client.run(client.deposit(10 * USDC, 0))
            server.faults.latency_s = args.latency_ms / 1000
            move_prices()
            r = tick(sim.now)
            _print(n, f"+{len(changed)} accounts deposited", r)
            move_prices()
            r = tick(sim.now)
            _print(n, "next tick", r)
            server.faults.latency_s = 0
            reader.close_blocking()
        if len(walls) >= 2:
            lo, hi = min(walls), max(walls)
            print(
                f"tick wall time {hi} vs {lo} accounts (prices moved): "
                f"{walls[hi] / walls[lo]:.2f}x; without the in-process local chain's own "
                f"time: {clients_ms[hi] / clients_ms[lo]:.2f}x"
            )
        pool.shutdown()
        for client in clients:
            client.close_blocking()


def _print(n: int, what: str, r: dict[str, float]) -> None:
    print(
        f"{n:>8} {what:>24} {r['trips']:>11.0f} {r['getMultipleAccounts']:>11.0f} "
        f"{r['getSignaturesForAddress']:>7.0f} {r['getTransaction']:>5.0f} "
        f"{r['skipped']:>7.0f} {r['feed_ms']:>8.0f} {r['wall_ms']:>8.0f} "
        f"{r['server_ms']:>9.0f} {r['client_ms']:>11.0f}"
    )


if __name__ == "__main__":
    main()
