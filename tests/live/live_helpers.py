"""Helpers for the live-engine tests: market events for the simulator behind the local RPC,
a market sink that applies them under the chain's lock, and engine assembly."""

from __future__ import annotations

from typing import Any

from drift_engine.data.models import FundingRecord, OracleTick
from drift_engine.engine.market_board import MarketBoard
from drift_engine.strategies.delta_neutral import DeltaNeutralStrategy

HOUR = 3600
USDC = 1_000_000


class ChainMarketFeed:
    """A heartbeat `MarketSink`: market data moves the simulator that *is* the chain.

    Chain time moves to each event's time first (the keeper works the slots in
    between), then the event applies — at the chain's time if that is later."""

    def __init__(self, chain: Any, sim: Any) -> None:
        self.chain = chain
        self.sim = sim

    def apply(self, event: Any) -> None:
        import dataclasses

        clock = self.chain.clock
        if hasattr(clock, "sleep_until"):
            clock.sleep_until(event.ts)
        with self.chain._lock:
            self.chain.sync()
            if event.ts < self.sim.now:
                event = dataclasses.replace(event, ts=self.sim.now)
            self.sim.apply(event)


def hourly_events(start: int, hours: int, rates: list[int], price: int = 150_000_000):
    """Oracle ticks (SOL, SOL-PERP) and one SOL-PERP funding record per hour.

    `rates[i]` is the FUNDING_RATE (1e9, quote per base) of hour i (cycled)."""
    out: list[Any] = []
    cum = 0
    for h in range(1, hours + 1):
        ts = start + h * HOUR
        out.append(OracleTick(ts - 60, "SOL-PERP", price))
        rate = rates[(h - 1) % len(rates)]
        cum += rate
        out.append(
            FundingRecord(
                ts=ts,
                market="SOL-PERP",
                market_index=0,
                funding_rate=rate,
                funding_rate_long=rate,
                funding_rate_short=rate,
                cumulative_funding_rate_long=cum,
                cumulative_funding_rate_short=cum,
                oracle_price_twap=price,
                mark_price_twap=price,
            )
        )
    return out


def board_for(world: Any) -> MarketBoard:
    board = MarketBoard(["SOL-PERP"])
    board.set_price("SOL-PERP", world.sim.oracle_price("SOL-PERP"), world.sim.now)
    return board


def dn_strategy(**kw: Any) -> DeltaNeutralStrategy:
    cfg = dict(
        market="SOL-PERP",
        entry_apr=0.05,
        exit_apr=0.0,
        exit_window_hours=0,
        lookback_hours=1,
        target_leverage=0.5,
        retry_after_s=0,
    )
    cfg.update(kw)
    return DeltaNeutralStrategy(cfg)


def chain_cash(state: Any) -> int:
    """What the ON_CHAIN vault's ledger balance mirrors (ADR 0008)."""
    from datetime import UTC, datetime

    from drift_engine.vaults.onchain_sync import snapshot_of

    return snapshot_of(state, datetime.now(UTC)).cash
