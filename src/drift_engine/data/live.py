"""Live, read-only market data from a Solana RPC node through driftpy.

`LiveRpcSource(rpc_url)` (the URL comes from config) reads, for each requested market, the
Drift PerpMarket or SpotMarket account and the market's oracle account with driftpy's own
readers (`driftpy.accounts.get_accounts`, `driftpy.accounts.oracle`), and turns them into
the same events as every other source:

- `OracleTick` (ts = the clock's time of the read, price = driftpy's decoded oracle price,
  PRICE precision) for every market except those whose oracle is the quote asset;
- `FundingRecord` for perps from the AMM: ts = `last_funding_rate_ts`, `last_funding_rate`
  (+ long/short), `cumulative_funding_rate_long/short`, oracle TWAP = the AMM's
  `last_funding_oracle_twap` (or its historical oracle TWAP when that is 0), mark TWAP =
  `last_mark_price_twap`. A record is yielded once, when first seen inside the window;
- `SpotRateRecord` for spot markets: driftpy's `calculate_deposit_rate` /
  `calculate_borrow_rate` (SPOT_RATE precision 1e6 -> Decimal APR) and the account's
  cumulative deposit/borrow interest (1e10), at the time of the read, when they change.

It never signs or sends anything. `events()` polls every `poll_interval` seconds of the
given clock (a WallClock when live); within one poll events are in `event_sort_key`
order. A funding record's ts is the chain's, so with a skewed local clock it can precede
the last tick of the previous poll. `snapshot()` reads the current state once (use it
to seed a simulator with the current cumulative funding).

Tests drive it with recorded account bytes served by a stub `connection` object with
driftpy's `get_account_info` shape; no test reaches a network.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator
from decimal import Decimal
from typing import Any

from anchorpy import Program, Provider, Wallet
from driftpy.accounts.get_accounts import (
    get_perp_market_account_and_slot,
    get_spot_market_account_and_slot,
)
from driftpy.accounts.oracle import get_oracle_price_data_and_slot
from driftpy.constants.config import DRIFT_PROGRAM_ID
from driftpy.constants.numeric_constants import PERCENTAGE_PRECISION
from driftpy.math.spot_balance import calculate_borrow_rate, calculate_deposit_rate

from drift_engine.clock import Clock, WallClock
from drift_engine.core.program import drift_idl
from drift_engine.data import symbols
from drift_engine.data.models import (
    SOURCE_REAL_LIVE,
    FundingRecord,
    MarketEvent,
    OracleTick,
    SpotRateRecord,
    check_window,
    event_sort_key,
    is_perp,
)


class LiveRpcSource:
    """Read-only Drift market data over RPC (see the module docstring)."""

    label = SOURCE_REAL_LIVE

    def __init__(
        self,
        rpc_url: str | None = None,
        *,
        connection: Any = None,
        clock: Clock | None = None,
        poll_interval: int = 60,
    ) -> None:
        if connection is None:
            if not rpc_url:
                raise ValueError("LiveRpcSource needs an RPC URL (or a connection)")
            from solana.rpc.async_api import AsyncClient

            connection = AsyncClient(rpc_url)
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        self.connection = connection
        self.clock = clock if clock is not None else WallClock()
        self.poll_interval = int(poll_interval)
        self.program = Program(drift_idl(), DRIFT_PROGRAM_ID, Provider(connection, Wallet.dummy()))
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- one read ----------------------------------------------------------------------
    async def _oracle_tick(self, market: str, oracle: Any, oracle_source: Any, now: int):
        if type(oracle_source).__name__ == "QuoteAsset":
            return None
        data = (await get_oracle_price_data_and_slot(self.connection, oracle, oracle_source)).data
        return OracleTick(now, market, int(data.price), SOURCE_REAL_LIVE)

    async def read_market(self, market: str, now: int) -> list[MarketEvent]:
        """Events describing one market's current on-chain state."""
        index = symbols.market_index(market)
        if index is None:
            raise KeyError(f"unknown Drift market {market!r}")
        out: list[MarketEvent] = []
        if is_perp(market):
            account = (await get_perp_market_account_and_slot(self.program, index)).data
            amm = account.amm
            tick = await self._oracle_tick(market, amm.oracle, amm.oracle_source, now)
            if tick is not None:
                out.append(tick)
            oracle_twap = amm.last_funding_oracle_twap or (
                amm.historical_oracle_data.last_oracle_price_twap
            )
            if amm.last_funding_rate_ts > 0 and oracle_twap > 0:
                out.append(
                    FundingRecord(
                        ts=int(amm.last_funding_rate_ts),
                        market=market,
                        market_index=int(account.market_index),
                        funding_rate=int(amm.last_funding_rate),
                        funding_rate_long=int(amm.last_funding_rate_long),
                        funding_rate_short=int(amm.last_funding_rate_short),
                        cumulative_funding_rate_long=int(amm.cumulative_funding_rate_long),
                        cumulative_funding_rate_short=int(amm.cumulative_funding_rate_short),
                        oracle_price_twap=int(oracle_twap),
                        mark_price_twap=int(amm.last_mark_price_twap),
                        source=SOURCE_REAL_LIVE,
                    )
                )
        else:
            account = (await get_spot_market_account_and_slot(self.program, index)).data
            if account.optimal_utilization <= 0:
                raise ValueError(f"{market}: SpotMarket has no interest curve (optimal 0)")
            tick = await self._oracle_tick(market, account.oracle, account.oracle_source, now)
            if tick is not None:
                out.append(tick)
            out.append(
                SpotRateRecord(
                    ts=now,
                    market=market,
                    market_index=int(account.market_index),
                    deposit_rate=Decimal(calculate_deposit_rate(account)) / PERCENTAGE_PRECISION,
                    borrow_rate=Decimal(calculate_borrow_rate(account)) / PERCENTAGE_PRECISION,
                    source=SOURCE_REAL_LIVE,
                    cumulative_deposit_interest=int(account.cumulative_deposit_interest),
                    cumulative_borrow_interest=int(account.cumulative_borrow_interest),
                )
            )
        return out

    async def snapshot(self, markets: Iterable[str], now: int | None = None) -> list[MarketEvent]:
        """Current state of `markets` as events (ticks stamped `now`, default clock.now())."""
        t = self.clock.now() if now is None else now
        parts = await asyncio.gather(*(self.read_market(m, t) for m in dict.fromkeys(markets)))
        return sorted((e for part in parts for e in part), key=event_sort_key)

    # -- polling -----------------------------------------------------------------------
    def _fresh(self, events: list[MarketEvent], start: int, seen: dict) -> list[MarketEvent]:
        out = []
        for event in events:
            if isinstance(event, FundingRecord):
                if event.ts < start or seen.get((event.market, "f")) == event.ts:
                    continue
                seen[(event.market, "f")] = event.ts
            elif isinstance(event, SpotRateRecord):
                state = (event.deposit_rate, event.borrow_rate, event.cumulative_deposit_interest)
                if seen.get((event.market, "s")) == state:
                    continue
                seen[(event.market, "s")] = state
            out.append(event)
        return out

    def events(self, markets: Iterable[str], start: int, end: int) -> Iterator[MarketEvent]:
        """Poll every `poll_interval` clock seconds from `start` until `end` (blocking)."""
        check_window(start, end)
        wanted = list(dict.fromkeys(markets))
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        seen: dict = {}
        t = start
        while t < end:
            self.clock.sleep_until(t)
            now = self.clock.now()
            if now >= end:
                return
            snap = self._loop.run_until_complete(self.snapshot(wanted, now))
            yield from self._fresh(snap, start, seen)
            t = now + self.poll_interval

    async def aevents(
        self, markets: Iterable[str], start: int, end: int
    ) -> AsyncIterator[MarketEvent]:
        """`events` for code already running in an event loop."""
        check_window(start, end)
        wanted = list(dict.fromkeys(markets))
        seen: dict = {}
        t = start
        while t < end:
            sleeper = getattr(self.clock, "asleep_until", None)
            if sleeper is not None:
                await sleeper(t)
            else:
                self.clock.sleep_until(t)
            now = self.clock.now()
            if now >= end:
                return
            for event in self._fresh(await self.snapshot(wanted, now), start, seen):
                yield event
            t = now + self.poll_interval

    def close(self) -> None:
        if self._loop is not None:
            self._loop.close()
            self._loop = None


__all__ = ["LiveRpcSource"]
