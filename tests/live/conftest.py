"""Fixtures for the live path: a local RPC server on a free 127.0.0.1 port, a funded
wallet with a Solana CLI keypair file, and adapter factories with short timeouts."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from solders.keypair import Keypair

from drift_engine.core.client import DriftClient, DriftClientConfig
from drift_engine.localnet.chain import LocalChain
from drift_engine.sim.rpc import LocalRpcServer
from tests.live.minimal_program import MinimalProgram

USDC = 1_000_000  # one USDC in QUOTE precision


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


@pytest.fixture
def minimal_server(minimal_program, keypair) -> Iterator[LocalRpcServer]:
    chain = LocalChain(minimal_program)
    chain.airdrop(keypair.pubkey(), 10**9)
    chain.mint_to(keypair.pubkey(), minimal_program.spots[0].mint, 10_000 * USDC)
    with LocalRpcServer(chain) as server:
        yield server


def fast_config(url: str, **kw) -> DriftClientConfig:
    """Short timeouts: retries exercise their paths quickly (nothing asserts on time)."""
    base = dict(
        rpc_url=url,
        confirm_timeout_s=1.0,
        confirm_poll_s=0.05,
        backoff_initial_s=0.01,
        backoff_max_s=0.05,
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
        return DriftClient.from_keypair_file(
            fast_config(server.url, **kw), keypair_file, catalog=catalog, now=now
        )

    return make


# --------------------------------------------------------------------------- the simulator

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
SIM_PRICES = {"SOL-PERP": 150_000_000, "SOL": 150_000_000, "BTC-PERP": 90_000_000_000}


class SimWorld:
    """The simulator behind a local chain and RPC server, and a funded wallet."""

    def __init__(self, keypair: Keypair) -> None:
        from drift_engine.localnet.simulator import SimulatorProgram
        from drift_engine.sim.simulator import DriftSimulator

        self.sim = DriftSimulator(dict(SIM_PRICES), ts=T0)
        self.program = SimulatorProgram(self.sim)
        self.chain = LocalChain(self.program)
        self.keypair = keypair
        self.usdc_mint = self.sim.spot_markets[0].mint
        self.chain.airdrop(keypair.pubkey(), 10**9)
        self.ata = self.chain.mint_to(keypair.pubkey(), self.usdc_mint, 10_000 * USDC)
        self.server = LocalRpcServer(self.chain)

    @property
    def key(self):
        return (self.keypair.pubkey(), 0)

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
def world(keypair) -> Iterator[SimWorld]:
    w = SimWorld(keypair)
    w.server.start()
    try:
        yield w
    finally:
        w.server.stop()
