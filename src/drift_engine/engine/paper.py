"""Assembling paper engines for real: simulator, vaults in the database, engines, heartbeat.

`PaperStack` is what `backtest`, `demo` and `run` share: one `DriftSimulator` (each
engine trades in its own sub-account), one `MarketBoard`, the project's database with
the `VaultRegistry` (each engine's VIRTUAL vault funded from the paper treasury) and the
engine store, and a `HeartbeatDataCollector` over a market data stream.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from drift_engine.engine.engine import DriftEngine, EngineMode
from drift_engine.engine.ledger import VaultLedgerSink
from drift_engine.engine.market_board import MarketBoard, spot_symbol_for
from drift_engine.engine.store import SqlEngineStore
from drift_engine.heartbeat import HeartbeatDataCollector
from drift_engine.risk import RiskLimits, RiskManager
from drift_engine.strategies import DriftStrategy
from drift_engine.venues.paper import PaperVenue, SimulatorFeed

#: Initial oracle prices of simulated markets before the first tick (replaced by data).
DEFAULT_PRICES = {"SOL": 100_000_000, "BTC": 100_000_000_000, "ETH": 3_000_000_000}


def _asset(symbol: str) -> str:
    s = symbol.upper().removesuffix("-PERP")
    return s[1:] if s in ("WBTC", "WETH") else s


def sim_symbols(perps: Iterable[str]) -> list[str]:
    """The perp markets and their spot legs (plus USDC) a set of engines needs."""
    out = ["USDC"]
    for p in perps:
        out += [p, spot_symbol_for(p)]
    return list(dict.fromkeys(out))


def _dt(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class VaultSnapshotter:
    """Heartbeat hook: one vault snapshot (equity, health, positions) per engine."""

    def __init__(self, registry: Any) -> None:
        self.registry = registry

    def snapshot(self, engine: DriftEngine, ts: int) -> None:
        venue, ledger = engine.venue, engine.ledger
        equity = venue.equity()
        balance = ledger.balance()
        margin = venue.margin(ts)
        self.registry.snapshots.record(
            engine.engine_id,
            ledger.vault_id,
            position_value=equity - balance,
            unrealized_pnl=margin.unrealized_pnl,
            health=margin.health,
            positions=venue.positions(),
            taken_at=_dt(ts),
        )


class PaperStack:
    """One simulator + database + heartbeat hosting any number of paper engines."""

    def __init__(
        self,
        db: Any,
        perps: Iterable[str],
        start_ts: int,
        *,
        interest_rates: dict[str, tuple[Any, Any]] | None = None,
        epoch: str | None = None,
    ) -> None:
        from drift_engine.sim import DriftSimulator
        from drift_engine.vaults.registry import VaultRegistry

        self.db = db
        self.registry = VaultRegistry(db)
        self.store = SqlEngineStore(db)
        perps = list(dict.fromkeys(perps))
        symbols = sim_symbols(perps)
        prices = {s: DEFAULT_PRICES.get(_asset(s), 1_000_000) for s in symbols if s != "USDC"}
        self.sim = DriftSimulator(prices, ts=start_ts, interest_rates=interest_rates)
        self.board = MarketBoard(perps)
        for s, p in prices.items():
            self.board.set_price(s, p, start_ts)
        self.feed = SimulatorFeed(self.sim, self.board)
        self.engines: list[DriftEngine] = []
        self.start_ts = start_ts
        # A fresh simulator numbers its records from 1: the epoch keeps ids unique.
        self.epoch = epoch or uuid.uuid4().hex[:8]
        self._next_sub = 0

    def add_engine(
        self,
        engine_id: str,
        strategy: DriftStrategy,
        capital: int,
        *,
        vault_name: str | None = None,
        limits: RiskLimits | None = None,
        ts: int | None = None,
    ) -> DriftEngine:
        """A paper engine with its VIRTUAL vault (created and funded once) and its own
        simulated sub-account funded with the vault's cash."""
        ts = self.start_ts if ts is None else ts
        name = vault_name or engine_id
        reg = self.registry
        try:
            vault = reg.get(name)
        except LookupError:
            vault = reg.create_vault(name, engine_id, active=True)
            reg.deposit(reg.treasury().id, capital, key=f"paper-capital:{name}")
            reg.allocate(vault.id, capital, key=f"allocate:{name}")
        ledger = VaultLedgerSink(reg.ledger, engine_id, name)
        sub = self._next_sub
        self._next_sub += 1
        venue = PaperVenue(self.sim, sub_account_id=sub, epoch=self.epoch)
        # A fresh simulator holds none of the vault's positions (paper state is not yet
        # persisted across processes): fund the sub-account with the vault's last known
        # equity (cash + position value of its latest snapshot) so equity stays continuous.
        summary = reg.summary(name)
        cash = summary.equity if summary.snapshot_at is not None else ledger.balance()
        if cash > 0:
            venue.fund(cash, ts)
        engine = DriftEngine(
            engine_id,
            strategy,
            venue,
            ledger,
            self.board,
            mode=EngineMode.PAPER,
            risk=RiskManager(limits or RiskLimits()),
            store=self.store,
        )
        self.engines.append(engine)
        return engine

    def heartbeat(self, events: Iterable[Any], **kw: Any) -> HeartbeatDataCollector:
        kw.setdefault("snapshotter", VaultSnapshotter(self.registry))
        kw.setdefault("store", self.store)
        return HeartbeatDataCollector(events, self.board, self.engines, markets=[self.feed], **kw)


__all__ = ["DEFAULT_PRICES", "PaperStack", "VaultSnapshotter", "sim_symbols"]
