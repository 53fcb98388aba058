"""A seeded local chain: the simulator with SOL, BTC and ETH (perp + spot) and USDC."""

from __future__ import annotations

from dataclasses import dataclass

from drift_engine.data.bundled import DEFAULT_REFERENCE_PRICES
from drift_engine.localnet.chain import LocalChain
from drift_engine.localnet.clock import ChainClock, ManualClock
from drift_engine.localnet.config import LocalnetConfig
from drift_engine.localnet.program import SimulatorProgram
from drift_engine.sim.simulator import DriftSimulator

#: Spot markets seeded at their asset's perp reference price.
SPOT_OF_PERP = {"SOL-PERP": "SOL", "BTC-PERP": "wBTC", "ETH-PERP": "wETH"}


def bundled_prices() -> dict[str, int]:
    """Oracle prices (PRICE 1e6) of the seeded markets: the bundled data's reference prices."""
    prices = dict(DEFAULT_REFERENCE_PRICES)
    for perp, spot in SPOT_OF_PERP.items():
        prices[spot] = prices[perp]
    return prices


@dataclass
class SeededChain:
    sim: DriftSimulator
    program: SimulatorProgram
    chain: LocalChain


def seeded_chain(
    prices: dict[str, int] | None = None,
    ts: int = 0,
    *,
    clock: ChainClock | None = None,
    config: LocalnetConfig | None = None,
) -> SeededChain:
    """The simulator at `ts` behind a local chain on `clock` (default: a manual clock at
    `ts`), as unkind as `config` says (default: all of it)."""
    config = config or LocalnetConfig()
    sim = DriftSimulator(prices or bundled_prices(), ts=ts)
    program = SimulatorProgram(sim, config=config)
    chain = LocalChain(program, clock=clock or ManualClock(ts), config=config)
    return SeededChain(sim, program, chain)
