"""Read round trips per tick for many live sub-accounts, counted at the local chain.

Starts the local Drift chain (`LocalChain` over the simulator, on 127.0.0.1, port chosen
by the server) with one wallet holding N sub-accounts, then measures one tick's account
reads two ways:

* **per engine** — what each live engine did before issue 12: its client's own
  `refresh()` (User, UserStats, State, markets, oracles: one `getMultipleAccounts` each);
* **batched** — `live.reads.read_all`: every engine's keys merged (shared State, markets
  and oracles once) and read in calls of at most 100 keys.

Round trips are counted by the server (`RpcStats`), wall time is measured with an
injected per-request latency (default 50 ms, of the order of a remote RPC). Prints
figures; asserts nothing.

    .venv/bin/python bench/live_reads.py [--accounts 10 100] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import time

from solders.keypair import Keypair

from drift_engine.live.client import DriftClient, DriftClientConfig
from drift_engine.live.reads import read_all
from drift_engine.localnet.chain import LocalChain
from drift_engine.localnet.clock import ManualClock
from drift_engine.localnet.config import LocalnetConfig
from drift_engine.localnet.program import SimulatorProgram
from drift_engine.localnet.rpc import LocalRpcServer
from drift_engine.sim.simulator import DriftSimulator

T0 = 1_767_225_600
PRICES = {"SOL-PERP": 150_000_000, "SOL": 150_000_000, "BTC-PERP": 90_000_000_000}


def _config(url: str, sub: int, **kw: object) -> DriftClientConfig:
    return DriftClientConfig(rpc_url=url, sub_account_id=sub, confirm_timeout_s=30.0, **kw)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, nargs="+", default=[10, 100])
    ap.add_argument("--latency-ms", type=float, default=50.0)
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
        clients: list[DriftClient] = []
        for sub in range(most):
            # the built-in catalog: getProgramAccounts per client would only slow the setup
            client = DriftClient(
                _config(server.url, sub, markets_from_chain=False), keypair=wallet, clock=clock
            )
            client.run(client.connect())
            client.run(client.initialize_user())
            clients.append(client)
        print(f"setup: {most} sub-accounts of one wallet in {time.perf_counter() - t:.1f} s")
        reader = DriftClient(
            _config(server.url, 0, markets_from_chain=False), authority=wallet.pubkey(), clock=clock
        )
        reader.run(reader.connect())
        keys_per_engine = len(clients[0].refresh_keys())
        print(
            f"each engine reads {keys_per_engine} accounts (User, UserStats, State, "
            f"{keys_per_engine - 3} markets and oracles); latency {args.latency_ms:g} ms "
            "per request"
        )
        server.faults.latency_s = args.latency_ms / 1000
        calls = server.stats.calls
        print(f"{'accounts':>8} {'way':>10} {'round trips':>12} {'keys':>6} {'wall ms':>9}")
        for n in sorted(args.accounts):
            some = clients[:n]
            before = calls["getMultipleAccounts"]
            t = time.perf_counter()
            for client in some:
                client.run(client.refresh())
            wall = (time.perf_counter() - t) * 1000
            trips = calls["getMultipleAccounts"] - before
            print(f"{n:>8} {'per engine':>10} {trips:>12} {n * keys_per_engine:>6} {wall:>9.0f}")
            before = calls["getMultipleAccounts"]
            t = time.perf_counter()
            states = reader.run(read_all(reader, [reader, *some]))
            wall = (time.perf_counter() - t) * 1000
            trips = calls["getMultipleAccounts"] - before
            merged = len({k for c in [reader, *some] for k in c.refresh_keys()})
            assert len(states) == n + 1
            print(f"{n:>8} {'batched':>10} {trips:>12} {merged:>6} {wall:>9.0f}")
        server.faults.latency_s = 0
        for client in [reader, *clients]:
            client.close_blocking()


if __name__ == "__main__":
    main()
