"""Assembling paper engines for real: simulator, vaults in the database, engines, heartbeat.

`PaperStack` is what `backtest`, `demo` and `run` share: one `DriftSimulator` (each
engine trades in its own sub-account), one `MarketBoard`, the project's database with
the `VaultRegistry` (each engine's VIRTUAL vault funded from the paper treasury, created
and funded in one transaction) and the engine store, and a `HeartbeatDataCollector` over
a market data stream that applies the operator commands queued for the engines
(`engine.commands`, with `engine.capital` moving capital into and out of sub-accounts).

Paper state survives a restart (`persist=True`, what `drift-engine run` uses; backtests
and the demo start fresh and save nothing). A persisting stack writes nothing while a
tick runs: the ledger entries, engine records and events, the outcomes of the operator
commands, the vault snapshots and the heartbeat row go into a `WriteBatch`, and at the
end of a tick in which anything happened (and at least every `checkpoint_every_s`) the
stack commits them in ONE transaction with its checkpoint
(`SqlEngineStore.save_checkpoint`): the simulator's `dump()` (accounts as the program's
bytes, resting orders, counters, prices), the market board, every engine's record and its
venue's cursor, and the ledger's highest entry id — and, first, a renewal of the runner's
leases, so a runner that lost them commits nothing (ADR-0011). A new `PaperStack` on the
same database loads the checkpoint (`restored_ts`): the same sub-accounts with the same
positions, the engines' records as of that tick; the data resumes after it
(`resume_events`). A crash mid-tick loses that tick and nothing else: it is replayed from
the checkpoint (the simulator is deterministic, and a command is stamped with the tick
that applies it), producing the same entries, which are booked then.

A checkpoint made before some of the config's markets existed is extended with them
(fresh markets at the catalog's parameters): adding a market to a paper database works.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from drift_engine.core.errors import DriftEngineError
from drift_engine.engine.capital import PaperCapitalMoves
from drift_engine.engine.commands import CommandQueue, OperatorCommands
from drift_engine.engine.engine import DriftEngine, EngineMode
from drift_engine.engine.ledger import VaultLedgerSink
from drift_engine.engine.market_board import MarketBoard, spot_symbol_for
from drift_engine.engine.ports import EngineRecord
from drift_engine.engine.store import SqlEngineStore, WriteBatch, _put_record
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


class NoCapitalError(DriftEngineError):
    """An engine whose vault and sub-account hold nothing refuses to run."""


def _with_markets(dump: dict[str, Any], symbols: Iterable[str], prices: dict[str, int]) -> None:
    """Add markets to a simulator dump that does not have them: `DriftSimulator.load`
    then creates them fresh (the catalog's parameters, `prices` as first oracle price)
    next to the saved ones."""
    from drift_engine.core.markets import MarketCatalog

    catalog = MarketCatalog.from_constants()
    for symbol in symbols:
        spec = catalog.by_symbol(symbol)
        dump["prices"].append([spec.market_type.value, spec.market_index, prices[symbol]])


class VaultSnapshotter:
    """Heartbeat hook: one vault snapshot (equity, health, positions) per engine."""

    def __init__(self, registry: Any, *, batch: WriteBatch | None = None) -> None:
        self.registry = registry
        self.batch = batch

    def snapshot(self, engine: DriftEngine, ts: int) -> None:
        venue, ledger = engine.venue, engine.ledger
        equity = venue.equity()
        balance = ledger.balance()
        margin = venue.margin(ts)
        snapshots = self.registry.snapshots
        point = dict(
            position_value=equity - balance,
            unrealized_pnl=margin.unrealized_pnl,
            health=margin.health,
            positions=venue.positions(),
            taken_at=_dt(ts),
        )
        if self.batch is not None:
            engine_id, vault = engine.engine_id, ledger.vault_id
            self.batch.add(lambda s: snapshots.record_in(s, engine_id, vault, **point))
            return
        snapshots.record(engine.engine_id, ledger.vault_id, **point)


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
            from drift_engine.core.markets import MarketCatalog

            catalog = MarketCatalog.from_constants()
            have = {tuple(p[:2]) for p in state["sim"]["prices"]}
            #: markets the config trades that the saved simulator did not (added now)
            self.added_markets = [
                s
                for s in symbols
                if s != "USDC"
                and (catalog.by_symbol(s).market_type.value, catalog.by_symbol(s).market_index)
                not in have
            ]
            _with_markets(state["sim"], self.added_markets, prices)
            self.sim = DriftSimulator.load(state["sim"])
            self.sim.state.number_of_markets = len(self.sim.perp_markets)
            self.sim.state.number_of_spot_markets = len(self.sim.spot_markets)
            self.board.load(state["board"])
            self.epoch = saved["epoch"]
            self.restored_ts = saved["ts"]
            self.ledger_mark = saved["ledger_mark"]
            self._restored = state["engines"]
            # the engine records as of the checkpoint (a crash may have left newer ones)
            for info in self._restored.values():
                self.store.save(EngineRecord(**info["record"]))
            self._checkpoint_ts = saved["ts"]
            # new sub-accounts are funded as of the checkpoint: the data resumes after it
            start_ts = max(saved["ts"], self.sim.now)
        else:
            self.added_markets = []
            self.sim = DriftSimulator(prices, ts=start_ts, interest_rates=interest_rates)
            # A fresh simulator numbers its records from 1: the epoch keeps ids unique.
            self.epoch = epoch or uuid.uuid4().hex[:8]
        self.feed = SimulatorFeed(self.sim, self.board)
        self.start_ts = start_ts
        used = {sub for _, sub in self.sim.accounts}
        self._next_sub = max(used) + 1 if used else 0
        #: a persisting stack holds its writes until the next checkpoint (module docstring)
        self.batch: WriteBatch | None = WriteBatch() if persist else None
        self.store.batch = self.batch
        #: the runner's leases, renewed inside each checkpoint's transaction (`run` sets it)
        self.leases: Any = None
        self.capital = PaperCapitalMoves(self)
        self.commands = OperatorCommands.for_store(self.store, capital=self.capital)

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
        """A paper engine with its VIRTUAL vault and its own simulated sub-account.

        A new vault is created, funded with `capital` from the paper treasury and bound to
        the engine (its first record) in one transaction. An engine the checkpoint knows
        resumes its sub-account; any other gets a fresh one funded with its vault's cash
        (read in the transaction that binds them). An engine with nothing to trade — no
        equity and no deposit queued for it — raises `NoCapitalError`."""
        ts = self.start_ts if ts is None else ts
        name = vault_name or engine_id
        reg = self.registry
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
        if saved is None:
            cash = self._bind(engine, name, capital)
            if cash > 0:
                venue.fund(cash, ts)
        ledger.batch = self.batch
        if venue.equity() <= 0 and not self._capital_coming(engine_id):
            raise NoCapitalError(
                f"engine {engine_id!r}: vault {name!r} holds no capital (equity "
                f"{venue.equity() / 1e6:,.2f} USDC) — refusing to run it. Deposit with "
                f"`drift-engine vaults deposit {name} AMOUNT`, or disable the engine"
            )
        self.engines.append(engine)
        return engine

    def _bind(self, engine: DriftEngine, name: str, capital: int) -> int:
        """Create-and-fund the engine's vault, or bind an existing one, together with the
        engine's record (so its capital moves are queued for it from now on); returns
        the cash a fresh sub-account starts with."""
        from drift_engine.vaults.booking import find_vault, in_write_transaction, summarize
        from drift_engine.vaults.errors import UnknownVaultError

        record = engine._record()
        has_record = self.store.load(engine.engine_id) is not None

        def put(s: Any) -> None:
            if not has_record:
                _put_record(s, record)

        def bind(s: Any) -> int:
            row = find_vault(s, name, lock=True)
            # A new sub-account holds none of the vault's positions (a vault that traded
            # in a simulator whose state was not saved): fund it with the vault's last
            # known equity (cash + position value of its latest snapshot).
            summary = summarize(s, row)
            put(s)
            if not row.is_active:  # the vault it books into is the one ⚡ ACTIVE (ADR-0018)
                _make_active(s, row)
            return summary.equity if summary.snapshot_at is not None else summary.balance

        try:
            return in_write_transaction(self.db, bind)
        except UnknownVaultError:
            pass
        self.registry.create_funded_vault(name, engine.engine_id, capital, also=put)
        return capital

    def _capital_coming(self, engine_id: str) -> bool:
        return any(
            c.kind in ("deposit", "transfer_in") for c in CommandQueue(self.db).pending([engine_id])
        )

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
        """Commit the held writes and the paper state now, in one transaction."""
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
        fence = self.leases.renew_in if self.leases is not None else None
        self.ledger_mark = self.store.save_checkpoint(
            self.name, ts, self.epoch, state, records, batch=self.batch, fence=fence
        )
        self.capital.committed()
        self._checkpoint_ts = ts
        self._checkpointed = self._fingerprint()

    def discard(self) -> None:
        """Drop the writes held since the last checkpoint (an interrupted tick: a restart
        replays it from the checkpoint)."""
        if self.batch is not None:
            self.batch.clear()

    def _fingerprint(self) -> tuple[Any, ...]:
        return (self.sim._seq, tuple((e.engine_id, e.state.value) for e in self.engines))

    def maybe_checkpoint(self, ts: int) -> bool:
        """Checkpoint when something happened since the last one, or every
        `checkpoint_every_s` of heartbeat time (prices alone replay from the data)."""
        if not self.persist:
            return False
        due = self._checkpoint_ts is None or ts - self._checkpoint_ts >= self.checkpoint_every_s
        held = self.batch is not None and len(self.batch) > 0
        if not due and not held and self._fingerprint() == self._checkpointed:
            return False
        self.checkpoint(ts)
        return True

    def heartbeat(self, events: Iterable[Any], **kw: Any) -> HeartbeatDataCollector:
        """The heartbeat over this stack; with `persist` it checkpoints the paper state at
        the end of ticks (after engines, operator hooks, snapshots and the heartbeat row)."""
        kw.setdefault("snapshotter", VaultSnapshotter(self.registry, batch=self.batch))
        kw.setdefault("store", self.store)
        kw.setdefault("commands", self.commands)
        then = kw.pop("on_tick", None)

        def on_tick(result: Any) -> None:
            self.maybe_checkpoint(result.ts)
            if then is not None:
                then(result)

        return HeartbeatDataCollector(
            events, self.board, self.engines, markets=[self.feed], on_tick=on_tick, **kw
        )


__all__ = [
    "DEFAULT_PRICES",
    "NoCapitalError",
    "PaperStack",
    "VaultSnapshotter",
    "sim_symbols",
]


def _make_active(s: Any, row: Any) -> None:
    """`row` becomes its engine's active vault, in the caller's transaction."""
    from datetime import UTC, datetime

    from sqlalchemy import update

    from drift_engine.storage.models import VaultRow

    now = datetime.now(UTC)
    s.execute(
        update(VaultRow)
        .where(VaultRow.engine_id == row.engine_id, VaultRow.is_active.is_(True))
        .values(is_active=False, updated_at=now)
    )
    s.flush()
    row.is_active = True
    row.updated_at = now
