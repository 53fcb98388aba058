"""Fixtures for the live path: a local RPC server on a free 127.0.0.1 port, a funded
wallet with a Solana CLI keypair file, and adapter factories.

The local chain is as unkind as mainnet (`LocalnetConfig()`: auctions filled by the
keeper over slots, commitment levels, fees, rent, compute limits, account checks, no
automatic settlement) unless a test marks it otherwise with
`@pytest.mark.localnet(...)` (keyword arguments of `LocalnetConfig.kind()` or
`LocalnetConfig`, e.g. `localnet(auctions=False)`). Its slots follow a `ManualClock`
that the client shares (`DriftClient(clock=...)`): waiting for a confirmation moves the
chain forward by exactly the time waited; nothing sleeps on wall time.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator

import pytest
from solders.keypair import Keypair

from drift_engine.live.client import DriftClient, DriftClientConfig
from drift_engine.localnet.chain import LocalChain
from drift_engine.localnet.clock import ManualClock
from drift_engine.localnet.config import LocalnetConfig
from drift_engine.localnet.rpc import LocalRpcServer
from tests.live.minimal_program import MinimalProgram

USDC = 1_000_000  # one USDC in QUOTE precision


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers",
        "localnet(kind=False, **flags): the local chain's LocalnetConfig for this test "
        "(kind=True starts from every unkind behaviour off)",
    )


@pytest.fixture
def keypair() -> Keypair:
    return Keypair()


@pytest.fixture
def keypair_file(tmp_path, keypair):
    path = tmp_path / "id.json"
    path.write_text(json.dumps(list(bytes(keypair))))
    path.chmod(0o600)
    return path


@pytest.fixture
def minimal_program() -> MinimalProgram:
    return MinimalProgram()


def localnet_config(request) -> LocalnetConfig:
    """The chain's config: all unkind, or what the test's `localnet` mark says."""
    mark = request.node.get_closest_marker("localnet")
    if mark is None:
        return LocalnetConfig()
    kw = dict(mark.kwargs)
    if kw.pop("kind", False):
        return LocalnetConfig.kind(**kw)
    return LocalnetConfig(**kw)


@pytest.fixture
def minimal_server(minimal_program, keypair, request) -> Iterator[LocalRpcServer]:
    chain = LocalChain(minimal_program, clock=ManualClock(T0), config=localnet_config(request))
    chain.airdrop(keypair.pubkey(), 10**9)
    chain.mint_to(keypair.pubkey(), minimal_program.spots[0].mint, 10_000 * USDC)
    with LocalRpcServer(chain) as server:
        yield server


def fast_config(url: str, **kw) -> DriftClientConfig:
    """Mainnet-like waits on the chain's clock (a poll every slot, confirmations given
    5 s), backoffs short: retries exercise their paths quickly (nothing asserts on time)."""
    base = dict(
        rpc_url=url,
        confirm_timeout_s=5.0,
        confirm_poll_s=0.4,
        backoff_initial_s=0.05,
        backoff_max_s=0.4,
        request_timeout_s=5.0,
        max_attempts=6,
    )
    base.update(kw)
    return DriftClientConfig(**base)


@pytest.fixture
def make_client(keypair_file) -> Callable[..., DriftClient]:
    def make(server: LocalRpcServer, **kw) -> DriftClient:
        catalog = kw.pop("catalog", None)
        now = kw.pop("now", None)
        clock = kw.pop("clock", server.chain.clock)
        return DriftClient.from_keypair_file(
            fast_config(server.url, **kw), keypair_file, catalog=catalog, now=now, clock=clock
        )

    return make


# --------------------------------------------------------------------------- the simulator

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
SIM_PRICES = {"SOL-PERP": 150_000_000, "SOL": 150_000_000, "BTC-PERP": 90_000_000_000}


class SimWorld:
    """The simulator behind a local chain and RPC server (on a `ManualClock` at T0), and
    a funded wallet."""

    def __init__(self, keypair: Keypair, config: LocalnetConfig | None = None) -> None:
        from drift_engine.localnet.program import SimulatorProgram
        from drift_engine.sim.simulator import DriftSimulator

        self.config = config or LocalnetConfig()
        self.clock = ManualClock(T0)
        self.sim = DriftSimulator(dict(SIM_PRICES), ts=T0)
        self.program = SimulatorProgram(self.sim, config=self.config)
        self.chain = LocalChain(self.program, clock=self.clock, config=self.config)
        self.keypair = keypair
        self.usdc_mint = self.sim.spot_markets[0].mint
        self.chain.airdrop(keypair.pubkey(), 10**9)
        self.ata = self.chain.mint_to(keypair.pubkey(), self.usdc_mint, 10_000 * USDC)
        self.server = LocalRpcServer(self.chain)

    @property
    def key(self):
        return (self.keypair.pubkey(), 0)

    @contextlib.contextmanager
    def ticking(self, speed: float = 10.0) -> Iterator[None]:
        """Chain time runs by itself, `speed` times wall time, for a client that waits in
        real time (another process, the CLI): slots pass, the keeper works."""
        stop = threading.Event()

        def run() -> None:
            while not stop.wait(0.02):
                self.clock.advance(0.02 * speed)

        thread = threading.Thread(target=run, name="chain-clock", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def wait(self, seconds: float) -> int:
        """Let `seconds` of chain time pass (the keeper works every slot); the slot."""
        self.clock.advance(seconds)
        return self.chain.sync()

    def placements(self, user_order_id: int) -> set[int]:
        """Program order ids the simulator assigned to orders carrying `user_order_id`."""
        authority = str(self.keypair.pubkey())
        return {
            r.order_id
            for r in self.sim.records
            if getattr(r, "user_order_id", None) == user_order_id
            and getattr(r, "authority", None) == authority
            and r.kind in ("order", "fill")
        }


@pytest.fixture
def world(keypair, request) -> Iterator[SimWorld]:
    w = SimWorld(keypair, localnet_config(request))
    w.server.start()
    try:
        yield w
    finally:
        w.server.stop()
