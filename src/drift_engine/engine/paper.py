"""Assembling paper engines for real: simulators, vaults in the database, engines, heartbeat.

`PaperStack` is what `backtest`, `demo` and `run` share: one `MarketBoard` the engines
read, the project's database with the `VaultRegistry` (each engine's VIRTUAL vault funded
from the paper treasury, created and funded in one transaction) and the engine store, and
a `HeartbeatDataCollector` over a market data stream that applies the operator commands
queued for the engines (`engine.commands`, with `engine.capital` moving capital into and
out of sub-accounts).

Each paper engine trades alone in its own simulated Drift — a `PaperCell`: its own
`DriftSimulator` (the markets its strategy trades, their spot legs and USDC), its
sub-account, its own checkpoint named after its lease (`engine:<id>`, ADR-0019). An
engine's results therefore never depend on which other engines share its runner, and any
runner holding the engine's lease can carry it on: several `drift-engine run` processes
share the engines of one database, a runner picks up an engine whose runner died and
carries it on from its checkpoint, exactly as the dead runner would have.

Paper state survives a restart (`persist=True`, what `drift-engine run` uses; backtests
and the demo start fresh and save nothing). A persisting stack writes nothing while a
tick runs: the ledger entries, engine records and events, the outcomes of the operator
commands, the vault snapshots and the heartbeat row go into a `WriteBatch`, and at the
end of a tick in which anything happened the stack commits them in ONE transaction with
the checkpoints of the cells that need one (`maybe_checkpoint`: each cell once an hour at
its own minute, and at once when a write a replay would not redo exactly is about it;
`SqlEngineStore.save_checkpoints`): the simulator's `dump()`, the market board, the
engine's record and its venue's cursor, and the ledger's highest entry id — and, first, a
renewal of the runner's leases, so a runner that lost them commits nothing (ADR-0011).

`restore(engine_ids)` reads the engines' checkpoints before they are added: the stack
resumes at the newest one (`restored_ts`); a cell whose checkpoint is older (an engine
taken over from a runner that died, or one that was not run for a while) is *lagging* and
`catch_up` replays the data it missed through its own small heartbeat — its strategy,
commands and checkpoints tick by tick — before it joins the others. A crash mid-tick
loses that tick and nothing else: it is replayed from the checkpoint (the simulator is
deterministic, and a command is stamped with the tick that applies it), producing the
same entries, which are booked then.

A checkpoint written before ADR-0019 (`paper`, one simulator for all the engines of a
database) is split on first use: each engine's cell starts from it with only its own
sub-account. A checkpoint made before some of the config's markets existed is extended
with them (fresh markets at the catalog's parameters).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
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
    """Heartbeat hook: one vault snapshot (equity, health, positions) per engine.

    `taken_until` (engine id -> unix s, the stack's) holds, for engines restored from a
    checkpoint, the newest snapshot already committed: a replayed tick up to then does
    not take it again (the run a crash interrupted took it, with the same values)."""

    def __init__(
        self,
        registry: Any,
        *,
        batch: WriteBatch | None = None,
        taken_until: dict[str, int] | None = None,
    ) -> None:
        self.registry = registry
        self.batch = batch
        self.taken_until = {} if taken_until is None else taken_until

    def snapshot(self, engine: DriftEngine, ts: int) -> None:
        until = self.taken_until.get(engine.engine_id)
        if until is not None and ts <= until:
            return
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

            def write(s: Any) -> None:
                snapshots.record_in(s, engine_id, vault, **point)

            # what `WriteBatch.run` writes in bulk with the tick's other rows (same row)
            write.snapshot = (snapshots, engine_id, vault, point)  # type: ignore[attr-defined]
            self.batch.add(write)  # replayed exactly (`taken_until`): no checkpoint forced
            return
        snapshots.record(engine.engine_id, ledger.vault_id, **point)


@dataclass
class PaperCell:
    """One engine's simulated Drift and what its checkpoint says about it."""

    engine_id: str
    sim: Any
    feed: SimulatorFeed
    epoch: str
    #: the heartbeat time of the checkpoint it resumed from (None: fresh)
    restored_ts: int | None = None
    #: what the checkpoint holds about the engine (record, sub-account, venue cursor)
    saved: dict[str, Any] | None = None
    #: the board as of its checkpoint (a lagging cell reads it while it catches up)
    board_state: dict[str, Any] | None = None
    ledger_mark: int = 0
    engine: DriftEngine | None = None
    #: ticked since its last checkpoint / when that was / what the state looked like
    checkpoint_ts: int | None = None
    checkpointed: tuple[Any, ...] | None = None
    lagging: bool = False
    added_markets: list[str] = field(default_factory=list)

    @property
    def checkpoint_name(self) -> str:
        return cell_checkpoint(self.engine_id)

    def fingerprint(self) -> tuple[Any, ...]:
        """What makes a cell checkpoint at once when it changes: the engine's state.
        The simulator moving (prices, funding, fills) does not: a replay from the
        older checkpoint over the same data redoes it exactly (ADR-0020, session 5)."""
        return (self.engine.state.value if self.engine is not None else None,)


def _record_json(record: EngineRecord) -> dict[str, Any]:
    """An engine record as its checkpoint holds it (`EngineRecord(**...)` reads it back):
    a shallow dict, serialised at once (no deep copy of its JSON values)."""
    return {f.name: getattr(record, f.name) for f in fields(record)}


def cell_checkpoint(engine_id: str) -> str:
    """The checkpoint of an engine's cell is named after its lease (ADR-0019)."""
    from drift_engine.engine.lease import engine_lease

    return engine_lease(engine_id)


#: The checkpoint name of the one-simulator stacks written before ADR-0019.
LEGACY_CHECKPOINT = "paper"


def _only_account(dump: dict[str, Any], sub_account_id: int) -> dict[str, Any]:
    """A simulator dump with one sub-account: the others (engines of a pre-ADR-0019
    shared simulator) are left out with their resting orders and exposure."""
    out = dict(dump)

    def mine(entry: list[Any]) -> bool:
        return entry[1] == sub_account_id

    out["users"] = [u for u in dump["users"] if mine(u)]
    out["resting"] = [[t, i, [r for r in v if mine(r)]] for t, i, v in dump["resting"]]
    out["exposed"] = [[t, i, [a for a in v if mine(a)]] for t, i, v in dump["exposed"]]
    return out


class PaperStack:
    """Paper engines, each in its own simulator (`PaperCell`), sharing one database,
    one market board and one heartbeat."""

    def __init__(
        self,
        db: Any,
        perps: Iterable[str],
        start_ts: int,
        *,
        interest_rates: dict[str, tuple[Any, Any]] | None = None,
        epoch: str | None = None,
        name: str = LEGACY_CHECKPOINT,
        persist: bool = False,
        checkpoint_every_s: int = 3600,
    ) -> None:
        from drift_engine.vaults.registry import VaultRegistry

        self.db = db
        self.name = name
        self.registry = VaultRegistry(db)
        self.store = SqlEngineStore(db)
        self.perps = list(dict.fromkeys(perps))
        self.interest_rates = interest_rates
        self.board = MarketBoard(self.perps)
        for s, p in self._default_prices(sim_symbols(self.perps)).items():
            self.board.set_price(s, p, start_ts)
        self.engines: list[DriftEngine] = []
        self.cells: dict[str, PaperCell] = {}
        self.persist = persist
        self.checkpoint_every_s = checkpoint_every_s
        #: the epoch of every cell this stack creates (None: a random one per cell, so
        #: record ids stay unique in a vault's ledger whatever simulators came before)
        self.epoch = epoch
        #: the heartbeat time of the newest checkpoint this stack resumed from (None: fresh)
        self.restored_ts: int | None = None
        self.start_ts = start_ts
        self._saved: dict[str, PaperCell] = {}
        #: engine id -> its vault's newest snapshot committed before a restore
        #: (`VaultSnapshotter.taken_until`)
        self.snapshots_until: dict[str, int] = {}
        self._restored_ids: set[str] = set()
        #: markets the config trades that a restored simulator did not (added now)
        self.added_markets: list[str] = []
        #: a persisting stack holds its writes until the next checkpoint (module docstring)
        self.batch: WriteBatch | None = WriteBatch() if persist else None
        self.store.batch = self.batch
        #: the runner's leases, renewed inside each checkpoint's transaction (`run` sets it)
        self.leases: Any = None
        self.capital = PaperCapitalMoves(self)
        self.commands = OperatorCommands.for_store(self.store, capital=self.capital)
        #: set by `heartbeat()`: the main heartbeat, which cells join once caught up
        self.main: HeartbeatDataCollector | None = None

    @staticmethod
    def _default_prices(symbols: Iterable[str]) -> dict[str, int]:
        return {s: DEFAULT_PRICES.get(_asset(s), 1_000_000) for s in symbols if s != "USDC"}

    # ------------------------------------------------------------------ the one-cell view
    @property
    def sim(self) -> Any:
        """The simulator of a stack with one engine (backtests, tests)."""
        if len(self.cells) != 1:
            raise DriftEngineError(
                f"this paper stack has {len(self.cells)} simulators (one per engine): "
                "use engine.venue.sim"
            )
        return next(iter(self.cells.values())).sim

    @property
    def feed(self) -> SimulatorFeed:
        if len(self.cells) != 1:
            raise DriftEngineError("this paper stack has one feed per engine")
        return next(iter(self.cells.values())).feed

    # ------------------------------------------------------------------ restoring
    def now(self) -> int:
        """The stack's heartbeat time: the main heartbeat's last tick, else its start."""
        if self.main is not None and self.main.last_ts is not None:
            return self.main.last_ts
        return self.start_ts

    def restore(self, engine_ids: Iterable[str], *, advance: bool = True) -> int | None:
        """Read the checkpoints of these engines' cells (a pre-ADR-0019 shared checkpoint
        for those that have none); with `advance` (before the heartbeat starts) the stack
        resumes at the newest (`restored_ts`, the board as of then). Returns it (None:
        nothing to resume)."""
        if not self.persist:
            return self.restored_ts
        legacy: dict[str, Any] | None | bool = False
        for engine_id in engine_ids:
            if engine_id in self._saved or engine_id in self.cells:
                continue
            saved = self.store.load_checkpoint(cell_checkpoint(engine_id))
            if saved is None:
                if legacy is False:
                    legacy = self.store.load_checkpoint(LEGACY_CHECKPOINT)
                saved = _legacy_part(legacy, engine_id) if legacy else None
            if saved is None:
                continue
            state = saved["state"]
            info = state["engines"][engine_id]
            self._saved[engine_id] = PaperCell(
                engine_id,
                sim=None,
                feed=None,  # type: ignore[arg-type]
                epoch=saved["epoch"],
                restored_ts=saved["ts"],
                saved={"sim": state["sim"], **info},
                board_state=state["board"],
                ledger_mark=saved["ledger_mark"],
            )
            if advance and (self.restored_ts is None or saved["ts"] > self.restored_ts):
                self.restored_ts = saved["ts"]
                self.board.load(state["board"])
        if advance and self.restored_ts is not None:
            self.start_ts = max(self.start_ts, self.restored_ts)
            # ticks after the newest checkpoint may have been recorded (a checkpoint is
            # written only for cells that changed): replaying them records nothing twice
            self.store.heartbeats_until = self.store.last_heartbeat_ts()
        return self.restored_ts

    def _cell(self, engine_id: str, strategy: DriftStrategy) -> PaperCell:
        """The engine's cell: restored from its checkpoint, or a fresh simulator at the
        stack's time and the board's prices."""
        from drift_engine.core.markets import MarketCatalog
        from drift_engine.sim import DriftSimulator

        symbols = sim_symbols(strategy.markets() or self.perps)
        saved = self._saved.pop(engine_id, None)
        if saved is not None:
            catalog = MarketCatalog.from_constants()
            dump = saved.saved["sim"]  # type: ignore[index]
            have = {tuple(p[:2]) for p in dump["prices"]}
            added = [
                s
                for s in symbols
                if s != "USDC"
                and (catalog.by_symbol(s).market_type.value, catalog.by_symbol(s).market_index)
                not in have
            ]
            _with_markets(dump, added, self._prices_now(added))
            sim = DriftSimulator.load(dump)
            sim.state.number_of_markets = len(sim.perp_markets)
            sim.state.number_of_spot_markets = len(sim.spot_markets)
            saved.sim = sim
            saved.feed = SimulatorFeed(sim)
            saved.added_markets = added
            saved.checkpoint_ts = saved.restored_ts
            saved.lagging = saved.restored_ts is not None and saved.restored_ts < self.now()
            self.added_markets += [m for m in added if m not in self.added_markets]
            self._restored_ids.add(engine_id)
            return saved
        sim = DriftSimulator(
            self._prices_now(symbols), ts=self.now(), interest_rates=self.interest_rates
        )
        # a fresh simulator numbers its records from 1: the epoch keeps ids unique
        epoch = self.epoch or uuid.uuid4().hex[:8]
        return PaperCell(engine_id, sim, SimulatorFeed(sim), epoch)

    def _prices_now(self, symbols: Iterable[str]) -> dict[str, int]:
        """First oracle prices of a new simulator: the board's (what the data said last),
        the defaults before any data."""
        out = self._default_prices(symbols)
        snaps = self.board.snapshots()
        for snap in snaps.values():
            spot = spot_symbol_for(snap.symbol)
            if snap.symbol in out and snap.oracle_price:
                out[snap.symbol] = snap.oracle_price
            if spot in out and (snap.spot_oracle_price or snap.oracle_price):
                out[spot] = snap.spot_oracle_price or snap.oracle_price
        return out

    # ------------------------------------------------------------------ engines
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
        """A paper engine with its VIRTUAL vault and its own simulated Drift.

        A new vault is created, funded with `capital` from the paper treasury and bound to
        the engine (its first record) in one transaction. An engine whose checkpoint the
        stack restored resumes its sub-account (a lagging one reads its own board until
        `catch_up`); any other gets a fresh simulator whose sub-account is funded with its
        vault's cash (read in the transaction that binds them). An engine with nothing to
        trade — no equity and no deposit queued for it — raises `NoCapitalError`."""
        if self.persist and engine_id not in self._saved:
            self.restore([engine_id], advance=self.main is None)
        ts = self.now() if ts is None else ts
        name = vault_name or engine_id
        # while it replays what a crashed run booked after its checkpoint, the engine reads
        # the balance it read the first time (ADR-0020 session 5, point 28)
        ledger = VaultLedgerSink(self.registry.ledger, engine_id, name, replay_balance="as_then")
        cell = self._cell(engine_id, strategy)
        board = self.board
        if cell.saved is not None:
            # the sub-account as checkpointed: its positions, orders and unread records
            saved = cell.saved
            key = next(k for k in cell.sim.accounts if k[1] == saved["sub_account_id"])
            venue = PaperVenue(cell.sim, key, epoch=cell.epoch)
            venue._cursor = saved["cursor"]
            venue._returned = set(saved["returned"])
            ledger.replay_after(cell.ledger_mark, saved.get("unmet", ()))
            # snapshots the interrupted run committed after the checkpoint: not again
            taken = self.registry.snapshots.engine_taken_until(ledger.vault_id)
            if taken is not None:
                self.snapshots_until[engine_id] = taken
            # and its events (the entry's orders and fills): not logged again
            self.store.note_events_committed(engine_id)
            if cell.lagging:
                board = MarketBoard(self.perps)
                board.load(cell.board_state or {})
            # the engine record as of the checkpoint (a crash may have left a newer one)
            with self.db.write() as s:
                _put_record(s, EngineRecord(**saved["record"]))
            self.store.forget(engine_id)
        else:
            venue = PaperVenue(cell.sim, sub_account_id=0, epoch=cell.epoch)
        engine = DriftEngine(
            engine_id,
            strategy,
            venue,
            ledger,
            board,
            mode=EngineMode.PAPER,
            risk=RiskManager(limits or RiskLimits()),
            store=self.store,
        )
        if cell.saved is None:
            cash = self._bind(engine, name, capital)
            if cash > 0:
                venue.fund(cash, ts)
        ledger.batch = self.batch
        if self.persist:
            ledger.load()  # balance and booked keys read now, not inside a later tick
        if venue.equity() <= 0 and not self._capital_coming(engine_id):
            raise NoCapitalError(
                f"engine {engine_id!r}: vault {name!r} holds no capital (equity "
                f"{venue.equity() / 1e6:,.2f} USDC) — refusing to run it. Deposit with "
                f"`drift-engine vaults deposit {name} AMOUNT`, or disable the engine"
            )
        cell.engine = engine
        self.cells[engine_id] = cell
        self.engines.append(engine)
        if self.main is not None and not cell.lagging:
            self._join(cell)
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
        """True if `engine` resumed its sub-account from saved paper state."""
        return engine.engine_id in self._restored_ids

    def lagging(self) -> list[PaperCell]:
        """Cells restored from a checkpoint older than the stack's time (see `catch_up`)."""
        return [c for c in self.cells.values() if c.lagging]

    # ------------------------------------------------------------------ checkpoints
    def checkpoint(self, ts: int, cells: Iterable[PaperCell] | None = None) -> None:
        """Commit the held writes and the state of `cells` (default: every cell in step
        with the stack) as of heartbeat time `ts`, in one transaction."""
        chosen = [c for c in self.cells.values() if not c.lagging] if cells is None else list(cells)
        checkpoints = []
        records = []
        for cell in chosen:
            engine, sim = cell.engine, cell.sim
            assert engine is not None
            v = engine.venue
            since = min(v._cursor, len(sim.records))
            record = engine._record()
            records.append(record)
            state = {
                "sim": sim.dump(records_since=since),
                "board": (engine.board.dump()),
                "engines": {
                    engine.engine_id: {
                        "record": _record_json(record),
                        "sub_account_id": v.sub_account_id,
                        "cursor": v._cursor - since,
                        "returned": sorted(v._returned),
                        "unmet": engine.ledger.unmet()
                        if isinstance(engine.ledger, VaultLedgerSink)
                        else [],
                    }
                },
            }
            checkpoints.append((cell.checkpoint_name, ts, cell.epoch, state))
        fence = self.leases.renew_in if self.leases is not None else None
        mark = self.store.save_checkpoints(checkpoints, records, batch=self.batch, fence=fence)
        self.capital.committed()
        for cell in chosen:
            cell.ledger_mark = mark
            cell.checkpoint_ts = ts
            cell.checkpointed = cell.fingerprint()

    def discard(self) -> None:
        """Drop the writes held since the last checkpoint (an interrupted tick: a restart
        replays it from the checkpoint)."""
        if self.batch is not None:
            self.batch.clear()

    def maybe_checkpoint(self, ts: int, cells: Iterable[PaperCell] | None = None) -> bool:
        """Commit what the tick wrote with the checkpoints of the cells that need one:
        those a held write is about that a replay would not redo exactly
        (`WriteBatch.touched`: command outcomes, capital moves), those
        whose engine state changed (`fingerprint`), and each cell once per
        `checkpoint_every_s` at its own phase (`checkpoint_phases`: 10 cells of an
        hour checkpoint at minutes 3, 9, ..., 57, not all at the funding hour).

        A cell left at an older checkpoint loses nothing committed: the simulator
        replays from the checkpoint over the same data (a restart catches it up,
        `catch_up`), and what the replayed ticks write again is written exactly once —
        bookings by their keys (`replay_after`), engine records because the latest
        wins, vault snapshots up to the newest committed one are not taken again
        (`snapshots_until`), heartbeat rows up to the newest one are not recorded
        again (`heartbeats_until`), engine events up to the engine's newest one are not
        logged again (`SqlEngineStore.events_until`). So the funding hour, when every
        cell changes, commits its bookings and records without ten checkpoints
        (ADR-0020, session 5), and the tick at which every engine enters its orders,
        fills and events without ten either (session 6).
        Held writes about no cell commit with whatever checkpoints are due, maybe none."""
        if not self.persist:
            return False
        chosen = [c for c in self.cells.values() if not c.lagging] if cells is None else list(cells)
        batch = self.batch
        held = batch is not None and len(batch) > 0
        touched = batch.touched if batch is not None else set()
        every = self.checkpoint_every_s
        phases = self.checkpoint_phases()
        need = [
            c
            for c in chosen
            if c.engine_id in touched
            or c.fingerprint() != c.checkpointed
            or _due(c.checkpoint_ts, ts, every, phases[c.engine_id])
        ]
        if not (held or need):
            return False
        self.checkpoint(ts, need)
        return True

    def checkpoint_phases(self) -> dict[str, int]:
        """engine id -> the second of each `checkpoint_every_s` at which its cell is
        due: the cells spread evenly in the order they were added, none at the period's
        start (the funding hour), so a tick checkpoints few cells for being due."""
        every, n = self.checkpoint_every_s, len(self.cells)
        return {e: every * (2 * i + 1) // (2 * n) for i, e in enumerate(self.cells)}

    # ------------------------------------------------------------------ heartbeats
    def heartbeat(self, events: Iterable[Any], **kw: Any) -> HeartbeatDataCollector:
        """The heartbeat over this stack's engines (lagging cells join once caught up);
        with `persist` it checkpoints at the end of ticks (after engines, operator hooks,
        snapshots and the heartbeat row)."""
        kw.setdefault("snapshotter", self._snapshotter())
        kw.setdefault("store", self.store)
        kw.setdefault("commands", self.commands)
        then = kw.pop("on_tick", None)
        if self.persist:  # the first booking tick does not compile the flush's reads
            from drift_engine.vaults.bulk import compile_statements

            with self.db.read() as session:
                compile_statements(session)

        def on_tick(result: Any) -> None:
            self.maybe_checkpoint(result.ts)
            if then is not None:
                then(result)

        cells = [c for c in self.cells.values() if not c.lagging]
        lagging = {c.engine_id for c in self.cells.values() if c.lagging}
        hb = HeartbeatDataCollector(
            events,
            self.board,
            [e for e in self.engines if e.engine_id not in lagging],
            markets=[c.feed for c in cells],
            on_tick=on_tick,
            **kw,
        )
        self.main = hb
        return hb

    def _snapshotter(self) -> VaultSnapshotter:
        return VaultSnapshotter(self.registry, batch=self.batch, taken_until=self.snapshots_until)

    def _join(self, cell: PaperCell) -> None:
        """A cell in step with the stack joins the main heartbeat and its board."""
        assert cell.engine is not None
        cell.lagging = False
        cell.engine.board = self.board
        for symbol in cell.engine.strategy.markets():
            self.board.add(symbol)
        if self.main is not None:
            if cell.engine not in self.main.engines:
                self.main.add_engine(cell.engine)
            if cell.feed not in self.main.markets:
                self.main.markets.append(cell.feed)

    def catch_up(
        self,
        cell: PaperCell,
        events: Iterable[Any],
        until_ts: int,
        *,
        interval_s: int,
        snapshot_every_s: int = 3600,
    ) -> int:
        """Tick a lagging cell alone from its checkpoint up to `until_ts` (the stack's
        time) over `events` (the run's data stream), as the runner it lost would have —
        commands, snapshots and checkpoints included — then join it to the others.
        Returns the ticks run."""
        from drift_engine.clock import SimulatedClock

        assert cell.engine is not None and cell.restored_ts is not None
        start = cell.restored_ts + interval_s
        ticks = 0
        if start <= until_ts:
            seen = cell.restored_ts
            hb = HeartbeatDataCollector(
                (e for e in events if e.time > seen),
                cell.engine.board,
                [cell.engine],
                markets=[cell.feed],
                snapshotter=self._snapshotter(),
                snapshot_every_s=snapshot_every_s,
                # its own reader of the queue, read at every tick: the runner's reader
                # (read at most every poll_s of wall time) must not end up holding only
                # this engine's commands when the main heartbeat goes on
                commands=OperatorCommands.for_store(self.store, capital=self.capital, poll_s=0),
                on_tick=lambda r: self.maybe_checkpoint(r.ts, [cell]),
            )
            hb.run(SimulatedClock(start), start=start, until=until_ts, interval_s=interval_s)
            ticks = hb.ticks
            if self.persist and hb.last_ts is not None:
                cell.engine.persist()
                self.checkpoint(hb.last_ts, [cell])
        self._join(cell)
        return ticks


def _due(last: int | None, ts: int, every: int, phase: int) -> bool:
    """A cell checkpointed at `last` is due at `ts` once a time `phase + k * every`
    lies after `last` and at or before `ts` (never checkpointed: due)."""
    if last is None or every <= 0:
        return True
    return (ts - phase) // every > (last - phase) // every


def _legacy_part(legacy: dict[str, Any], engine_id: str) -> dict[str, Any] | None:
    """An engine's share of a pre-ADR-0019 shared checkpoint: the same shape as a cell's
    checkpoint, its simulator holding only this engine's sub-account."""
    state = legacy["state"]
    info = state["engines"].get(engine_id)
    if info is None:
        return None
    return {
        "ts": legacy["ts"],
        "epoch": legacy["epoch"],
        "ledger_mark": legacy["ledger_mark"],
        "state": {
            "sim": _only_account(state["sim"], info["sub_account_id"]),
            "board": state["board"],
            "engines": {engine_id: info},
        },
    }


__all__ = [
    "DEFAULT_PRICES",
    "LEGACY_CHECKPOINT",
    "NoCapitalError",
    "PaperCell",
    "PaperStack",
    "VaultSnapshotter",
    "cell_checkpoint",
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
