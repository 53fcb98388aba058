"""Assembling paper engines for real: simulator, vaults in the database, engines, heartbeat.

`PaperStack` is what `backtest`, `demo` and `run` share: one `DriftSimulator` (each
engine trades in its own sub-account), one `MarketBoard`, the project's database with
the `VaultRegistry` (each engine's VIRTUAL vault funded from the paper treasury) and the
engine store, and a `HeartbeatDataCollector` over a market data stream.

Paper state survives a restart (`persist=True`, what `drift-engine run` uses; backtests
and the demo start fresh and save nothing). At the end of a heartbeat tick in which
anything happened (a simulator record, an engine state change) and at least every
`checkpoint_every_s`, the stack writes a checkpoint in one transaction
(`SqlEngineStore.save_checkpoint`): the simulator's `dump()` (accounts as the program's
bytes, resting orders, counters, prices), the market board, every engine's record and
its venue's cursor, and the ledger's highest entry id. A new `PaperStack` on the same
database loads it (`restored_ts`): the same sub-accounts with the same positions, the
engines' records as of that tick; the data resumes after it (`resume_events`). A crash
mid-tick loses nothing booked: that tick is replayed (the simulator is deterministic)
and the entries it had booked are recognised by key (`VaultLedgerSink.replay_after`),
told to the strategy again, and not booked twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from drift_engine.engine.engine import DriftEngine, EngineMode
from drift_engine.engine.ledger import VaultLedgerSink
from drift_engine.engine.market_board import MarketBoard, spot_symbol_for
from drift_engine.engine.ports import EngineRecord
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
        name: str = "paper",
        persist: bool = False,
        checkpoint_every_s: int = 3600,
    ) -> None:
        from drift_engine.sim import DriftSimulator
        from drift_engine.vaults.registry import VaultRegistry

        self.db = db
        self.name = name
        self.registry = VaultRegistry(db)
        self.store = SqlEngineStore(db)
        perps = list(dict.fromkeys(perps))
        symbols = sim_symbols(perps)
        prices = {s: DEFAULT_PRICES.get(_asset(s), 1_000_000) for s in symbols if s != "USDC"}
        self.board = MarketBoard(perps)
        for s, p in prices.items():
            self.board.set_price(s, p, start_ts)
        self.engines: list[DriftEngine] = []
        self.persist = persist
        self.checkpoint_every_s = checkpoint_every_s
        self._checkpointed: tuple[Any, ...] | None = None
        self._checkpoint_ts: int | None = None
        #: engine id -> what the checkpoint holds about it (sub-account, venue cursor)
        self._restored: dict[str, dict[str, Any]] = {}
        self.ledger_mark = 0
        #: the heartbeat time of the checkpoint this stack resumed from (None: fresh)
        self.restored_ts: int | None = None
        saved = self.store.load_checkpoint(name) if persist else None
        if saved is not None:
            state = saved["state"]
            self.sim = DriftSimulator.load(state["sim"])
            missing = [s for s in symbols if s.upper() not in self.sim._by_symbol]
            if missing:
                raise ValueError(
                    f"the saved paper state of {name!r} has no {missing}: start a new stack "
                    "(another database or name) to trade other markets"
                )
            self.board.load(state["board"])
            self.epoch = saved["epoch"]
            self.restored_ts = saved["ts"]
            self.ledger_mark = saved["ledger_mark"]
            self._restored = state["engines"]
            # the engine records as of the checkpoint (a crash may have left newer ones)
            for info in self._restored.values():
                self.store.save(EngineRecord(**info["record"]))
            self._checkpoint_ts = saved["ts"]
            start_ts = max(start_ts, self.sim.now)
        else:
            self.sim = DriftSimulator(prices, ts=start_ts, interest_rates=interest_rates)
            # A fresh simulator numbers its records from 1: the epoch keeps ids unique.
            self.epoch = epoch or uuid.uuid4().hex[:8]
        self.feed = SimulatorFeed(self.sim, self.board)
        self.start_ts = start_ts
        used = {sub for _, sub in self.sim.accounts}
        self._next_sub = max(used) + 1 if used else 0

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
        saved = self._restored.get(engine_id)
        if saved is not None:
            # the sub-account as checkpointed: its positions, orders and unread records
            key = next(k for k in self.sim.accounts if k[1] == saved["sub_account_id"])
            venue = PaperVenue(self.sim, key, epoch=self.epoch)
            venue._cursor = saved["cursor"]
            venue._returned = set(saved["returned"])
            ledger.replay_after(self.ledger_mark)
        else:
            sub = self._next_sub
            self._next_sub += 1
            venue = PaperVenue(self.sim, sub_account_id=sub, epoch=self.epoch)
            # A new sub-account holds none of the vault's positions (a vault that traded
            # in a simulator whose state was not saved): fund it with the vault's last
            # known equity (cash + position value of its latest snapshot).
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

    def resume_events(self, events: Iterable[Any]) -> Iterable[Any]:
        """The events of the run's data stream (opened where the run first started) that
        the restored state has not seen: those after the checkpoint's tick."""
        if self.restored_ts is None:
            return events
        ts = self.restored_ts
        return (e for e in events if e.time > ts)

    def was_restored(self, engine: DriftEngine) -> bool:
        """True if `engine` resumed its sub-account from the saved paper state."""
        return engine.engine_id in self._restored

    # ------------------------------------------------------------------ checkpoints
    def checkpoint(self, ts: int) -> None:
        """Save the paper state now (one transaction with the engines' records)."""
        sim = self.sim
        venues = [e.venue for e in self.engines]
        since = min([v._cursor for v in venues], default=len(sim.records))
        engines = {}
        for e in self.engines:
            v = e.venue
            engines[e.engine_id] = {
                "record": asdict(e._record()),
                "sub_account_id": v.sub_account_id,
                "cursor": v._cursor - since,
                "returned": sorted(s for s in v._returned),
            }
        state = {
            "sim": sim.dump(records_since=since),
            "board": self.board.dump(),
            "engines": engines,
        }
        records = [EngineRecord(**info["record"]) for info in engines.values()]
        self.ledger_mark = self.store.save_checkpoint(self.name, ts, self.epoch, state, records)
        self._checkpoint_ts = ts
        self._checkpointed = self._fingerprint()

    def _fingerprint(self) -> tuple[Any, ...]:
        return (self.sim._seq, tuple((e.engine_id, e.state.value) for e in self.engines))

    def maybe_checkpoint(self, ts: int) -> bool:
        """Checkpoint when something happened since the last one, or every
        `checkpoint_every_s` of heartbeat time (prices alone replay from the data)."""
        if not self.persist:
            return False
        due = self._checkpoint_ts is None or ts - self._checkpoint_ts >= self.checkpoint_every_s
        if not due and self._fingerprint() == self._checkpointed:
            return False
        self.checkpoint(ts)
        return True

    def heartbeat(self, events: Iterable[Any], **kw: Any) -> HeartbeatDataCollector:
        """The heartbeat over this stack; with `persist` it checkpoints the paper state at
        the end of ticks (after engines, operator hooks, snapshots and the heartbeat row)."""
        kw.setdefault("snapshotter", VaultSnapshotter(self.registry))
        kw.setdefault("store", self.store)
        then = kw.pop("on_tick", None)

        def on_tick(result: Any) -> None:
            self.maybe_checkpoint(result.ts)
            if then is not None:
                then(result)

        return HeartbeatDataCollector(
            events, self.board, self.engines, markets=[self.feed], on_tick=on_tick, **kw
        )


__all__ = ["DEFAULT_PRICES", "PaperStack", "VaultSnapshotter", "sim_symbols"]
