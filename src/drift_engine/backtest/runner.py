"""Backtests: the same engine, simulator and vault ledger as paper trading, on a
simulated clock, as fast as possible.

`run_backtest` builds a throw-away database (SQLite in a temporary directory unless a URL
is given), a `PaperStack` with one engine, and replays market data through the
`HeartbeatDataCollector` (one tick per `interval_s` boundary that has data). Money figures
come from what happened to the engine's simulated sub-account: `backtest.attribution`
splits its value change into funding, interest, fees, slippage and price/basis, which add
up to the net PnL exactly; `ledger_funding` and `ledger_fees` are read back from the vault
ledger so the parts can be checked against what was booked.

Data (`source`, see `drift_engine.data.pipeline`): "bundled" (default) replays Drift's real
hourly funding records shipped in the package, with the records' hourly oracle TWAPs as the
price path (markets without a real file: the synthetic market, labelled); "store" the local
store; "synthetic" the seeded synthetic market; or the path of a data file or folder.
`bridge_s` adds a labelled synthetic intra-hour path (a seeded Brownian bridge) between the
real hourly prices. The report's `data` object names each input series, where it comes
from and whether it is real.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from drift_engine.backtest.attribution import PnlAttribution, holds_perp
from drift_engine.backtest.report import (
    BacktestReport,
    Sample,
    max_drawdown,
    net_apr,
    sharpe,
)
from drift_engine.data.pipeline import DEFAULT_SEED, SOURCES, MarketData, open_market_data
from drift_engine.engine.engine import EngineState
from drift_engine.engine.paper import PaperStack, VaultSnapshotter
from drift_engine.engine.store import WriteBatch
from drift_engine.heap import frozen_set_up, rare_young_collections
from drift_engine.risk import RiskLimits
from drift_engine.strategies import DriftStrategy, strategy_class

HOUR = 3600
#: a backtest's held writes (ledger entries, engine record, vault snapshots, heartbeat
#: rows) are committed once per simulated week and at the end: the same rows as a
#: commit per day (ADR-0020 amendment, session 4: the commit's fixed cost was ~0.3 ms
#: per funding hour), a week of them is a few hundred rows in memory
WRITE_EVERY_S = 7 * 24 * HOUR
#: how long after its hour a backtest waits for the hour's funding update before it
#: samples the account without it (`run_backtest`'s `sample_due`): Drift's keepers
#: crank the update within minutes (the bundled real records: 0-299 s after the hour)
FUNDING_GRACE_S = 300


#: the replay runs with the set-up's heap frozen out of the garbage collections
#: (`heap.frozen_set_up`, ADR-0026); False: collected as any heap (the reference)
FREEZE_SET_UP = True

#: the replay collects generation 0 once 50,000 objects are new instead of 700
#: (`heap.rare_young_collections`, ADR-0026): each young collection walked the tape's
#: per-chunk lists; False: the process's thresholds (the reference)
RARE_YOUNG_GC = True

#: a backtest into a scratch database (no `database_url`: deleted when the run ends)
#: writes what its report reads back (the vault and its ledger) and the engine's record
#: and events, the record only at the start and the end (`DriftEngine.saves_records`),
#: and no heartbeat rows or daily vault snapshots: nothing reads them before the file is
#: deleted (ADR-0027); False: it writes them all as a kept database (`--db`) does
SCRATCH_LEAN = True

#: the hourly sample (`run_backtest`'s `on_tick`) answers `sample_due` on the hour's
#: funding update without the call, reads the account once for `holds_perp` and the
#: health's liquidation test, and asks `health_now` without `health()`'s call; False:
#: `sample_due`, `health()` and a look-up each (the reference)
SAMPLE_INLINE = True


def parse_date(text: str) -> int:
    """ISO date or datetime (UTC) -> unix seconds."""
    try:
        d = datetime.fromisoformat(text)
    except ValueError:
        d = datetime.combine(date.fromisoformat(text), datetime.min.time())
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    return int(d.timestamp())


def market_events(
    source: str,
    markets: list[str],
    start: int,
    end: int,
    seed: int = DEFAULT_SEED,
    *,
    bridge_s: int = 0,
    data_dir: str | os.PathLike[str] | None = None,
) -> tuple[Iterator[Any], str]:
    """(ordered market events for the perps in `markets` and their spot legs, label)."""
    data = open_market_data(
        source, markets, start, end, seed=seed, bridge_s=bridge_s, data_dir=data_dir
    )
    return data.events, data.label()


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def _fast_sqlite(db: Any) -> None:
    """A backtest database is thrown away: no fsync on commit."""
    from sqlalchemy import event

    if db.dialect != "sqlite":
        return

    def _sync_off(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous = OFF")
        cursor.close()

    event.listen(db.engine, "connect", _sync_off)
    db.engine.dispose()


@dataclass
class Progress:
    """What a progress callback receives: data time reached and events so far."""

    ts: int
    start: int
    end: int
    events: int


def run_backtest(
    strategy: str | type[DriftStrategy],
    market: str,
    start: int,
    end: int,
    params: dict[str, Any] | None = None,
    *,
    source: str = "bundled",
    seed: int = DEFAULT_SEED,
    bridge_s: int = 0,
    data_dir: str | os.PathLike[str] | None = None,
    capital: int = 10_000_000_000,
    risk: RiskLimits | None = None,
    interval_s: int = 60,
    database_url: str | None = None,
    margin_refresh_move: float = 0.002,
    progress: Callable[[Progress], None] | None = None,
    progress_every_s: int = 6 * HOUR,
    data: tuple[Iterable[Any], str] | None = None,
    stepping: str = "fast",
) -> BacktestReport:
    """Run one strategy on one market from `start` to `end` (unix s) and report.

    The run covers [start, end): every event before `end` is applied and booked, those
    after the last bar boundary at one last tick at `end` itself (ADR-0020 point 48).

    `strategy` is a spec (`strategy_class`) or a strategy class. A strategy that trades
    more than one perp names them in `markets()`; `market` is its first. `data`, when
    given, is (the time-ordered market events, their label) to use instead of loading
    `source` (a sweep loads its data once and passes it to every run).

    `stepping`: "fast" (default) steps only the bars on which something can happen
    (strategy wake conditions, margin price bands, due times: ADR-0020); "bar" steps
    every bar, the reference the fast path is tested equal to. Fast stepping computes
    margin exactly at every step it takes (`margin_refresh_move` is then 0). Ledger
    entries, engine records and vault snapshots are held in memory and committed in
    one transaction per simulated week (`WRITE_EVERY_S`) and at the end. Without a
    `database_url` the run's database is a scratch file deleted at its end, and it
    gets only what the report reads back (no heartbeat rows or daily vault snapshots,
    the engine record only at the start and the end: `SCRATCH_LEAN`, ADR-0027).
    """
    if stepping not in ("fast", "bar"):
        raise ValueError(f"stepping must be 'fast' or 'bar', not {stepping!r}")
    from drift_engine.core.program_math import is_being_liquidated
    from drift_engine.storage.database import Database

    params = dict(params or {})
    cls = strategy_class(strategy) if isinstance(strategy, str) else strategy
    strategy = cls.name or cls.__name__  # a file spec is no engine id
    if "market" in cls.config_model.model_fields:
        params.setdefault("market", market)
    strat = cls(params)
    markets = list(dict.fromkeys(strat.markets() or [market]))
    opened: MarketData | None = None
    if data is None:
        opened = open_market_data(
            source, markets, start, end, seed=seed, bridge_s=bridge_s, data_dir=data_dir
        )
        events, label = opened.events, opened.label()
    else:
        events, label = iter(data[0]), data[1]
    tmp = None
    if database_url is None:  # a copy of a migrated template: no migrations per run
        from drift_engine.storage.scratch import scratch_database

        tmp = tempfile.TemporaryDirectory(prefix="drift-backtest-")
        db = scratch_database(Path(tmp.name) / "backtest.db")
    else:
        db = Database.open(database_url)
    _fast_sqlite(db)
    try:
        stack = PaperStack(db, markets, start, epoch="bt")
        if opened is not None:
            stack.board.data_sources = opened.sources_by_market()
        engine = stack.add_engine(f"backtest-{strategy}-{market}", strat, capital, limits=risk)
        engine.venue.margin_refresh_move = 0.0 if stepping == "fast" else margin_refresh_move
        engine.persist_every_s = 24 * HOUR
        lean = SCRATCH_LEAN and tmp is not None  # (a scratch database: nobody reads it)
        engine.saves_records = not lean  # (the record: at the start and the end)
        # one transaction per simulated week for bookings, records and snapshots
        batch = WriteBatch()
        stack.store.batch = batch
        stack.store.coalesce_records = True
        engine.ledger.batch = batch
        engine.start(start)
        pnl = PnlAttribution(stack.sim, engine.venue, capital)
        samples: list[Sample] = []
        last = {"sample": None, "progress": start, "flush": start}

        def flush() -> None:
            if len(batch):
                with db.write() as s:
                    batch.run(s)
                batch.clear()

        sim, user_key = stack.sim, engine.venue.key

        def health() -> int:
            """The account's health as `venue.margin(ts).health` computes it (SDK getHealth
            from the maintenance calculation; 0 while being liquidated), from the
            simulator's maintenance calculation: after a funding hour it is the one the
            liquidation check just made (`maintenance_now`), not a new margin pass; with
            `sim.liquidation.CHARGED_SLACK` from the kept pair and bounds when they decide
            it (`health_now`, exact either way)."""
            if is_being_liquidated(sim.user(user_key)):
                return 0
            return sim.health_now(user_key)

        def sample_due(ts: int) -> bool:
            """One sample per clock hour, at the hour's funding update: the account after
            that hour's funding, so the report's hourly returns (Sharpe, drawdown) are
            hour by hour. The update lands minutes after the hour (the bundled real
            records: 0-299 s), often a price bar before it. An hour waits for its update
            when the hour before had one (the data has hourly funding), until
            `FUNDING_GRACE_S`, then takes its first tick from then (an hour with no
            tick by then, hourly bars without the update, goes unsampled); an hour
            after one without an update, and data without funding, take their first
            tick. ("An hour since the last sample" lost ~12 % of the bundled real
            hours: after a sample at a record a minute into hour h, an hour h+1 whose
            ticks all came at h+1:00 went unsampled.)"""
            last_ts = last["sample"]
            if last_ts is None:
                return True
            hour = ts // HOUR
            if hour == last_ts // HOUR:
                return False
            return (
                not awaits_update(hour)
                or pnl.last_funding_ts // HOUR == hour
                or ts >= hour * HOUR + FUNDING_GRACE_S
            )

        def awaits_update(hour: int) -> bool:
            """Clock hour `hour` waits for its funding update: the hour before had one
            (or this one has: the data has hourly funding)."""
            funded = pnl.last_funding_ts
            return funded is not None and funded // HOUR >= hour - 1

        def next_sample() -> int | None:
            """The earliest tick `sample_due` may take that is not a funding update (the
            fast path never skips those, and asks again after each): fast stepping
            wakes there."""
            last_ts = last["sample"]
            if last_ts is None:
                return None
            hour = last_ts // HOUR + 1
            return hour * HOUR + (FUNDING_GRACE_S if awaits_update(hour) else 0)

        def on_tick(result: Any) -> None:
            pnl.check()  # what the engines' steps did
            ts = result.ts
            if ts - last["flush"] >= WRITE_EVERY_S:
                last["flush"] = ts
                flush()
            if SAMPLE_INLINE:
                # `sample_due(ts)` where it is True on the hour's funding update (a new
                # clock hour, the update in it: either way of its answer holds)
                last_ts, funded = last["sample"], pnl.last_funding_ts
                hour = ts // HOUR
                if (
                    last_ts is not None
                    and funded is not None
                    and funded // HOUR == hour
                    and last_ts // HOUR != hour
                ) or sample_due(ts):
                    last["sample"] = ts
                    user = sim.user(user_key)  # (one look-up for both tests)
                    in_market = holds_perp(user)
                    value, funding = pnl.value(), pnl.parts.funding
                    # `health()`
                    now = 0 if is_being_liquidated(user) else sim.health_now(user_key)
                    samples.append(Sample(ts, value, funding, in_market, now))
            elif sample_due(ts):
                last["sample"] = ts
                in_market = holds_perp(sim.user(user_key))
                samples.append(Sample(ts, pnl.value(), pnl.parts.funding, in_market, health()))
            if progress is not None and ts - last["progress"] >= progress_every_s:
                last["progress"] = ts
                progress(Progress(ts, start, end, hb.events_processed))

        hb = stack.heartbeat(
            events,
            snapshot_every_s=24 * HOUR,
            record_every_s=24 * HOUR,
            on_tick=on_tick,
            snapshotter=None if lean else VaultSnapshotter(stack.registry, batch=batch),
            store=None if lean else stack.store,  # (the heartbeat rows' store)
            commands=None,  # nobody queues operator commands into a backtest's database
        )
        hb.markets.append(pnl)  # after the simulator: sees each event's records at once

        def next_progress() -> int | None:
            return None if progress is None else last["progress"] + progress_every_s

        wall0 = time.perf_counter()
        with (
            frozen_set_up() if FREEZE_SET_UP else contextlib.nullcontext(),
            rare_young_collections() if RARE_YOUNG_GC else contextlib.nullcontext(),
        ):
            hb.run_events(
                interval_s=interval_s,
                until=end,
                fast=stepping == "fast",
                wakes=(next_sample, next_progress),
            )
        wall = time.perf_counter() - wall0
        if progress is not None:
            progress(Progress(end, start, end, hb.events_processed))
        final_ts = hb.last_ts or start
        if engine.state is not EngineState.STOPPED and engine._last_snap is not None:
            # the record carries the margin of the last tick's snapshot, as a step at it
            # takes: fast stepping may have passed that tick quietly, and a quiet hour's
            # record keeps the margin of the last real step (ADR-0020 point 68)
            engine.snapshot(engine.last_ts)
        engine.persist()
        flush()
        final_equity = pnl.finish()
        equities = [s.equity for s in samples] + [final_equity]
        ledger_funding, ledger_fees = _ledger_figures(db, engine.ledger.vault_id)
        stats = engine.stats
        parts = pnl.parts
        report = BacktestReport(
            strategy=strategy,
            market=market,
            start=start,
            end=end,
            params=strat.config.model_dump(mode="json"),
            data_label=label,
            data=_data_json(opened, label, source, market, interval_s),
            initial_equity=capital,
            final_equity=final_equity,
            net_pnl=final_equity - capital,
            net_apr=net_apr(capital, final_equity, max(1, final_ts - start)),
            funding=parts.funding,
            interest=parts.interest,
            fees=parts.fees,
            slippage=parts.slippage,
            price_basis=parts.price_basis,
            rounding=parts.rounding,
            funding_hours=pnl.funding_hours,
            funding_payments=pnl.funding_payments,
            max_drawdown=max_drawdown(equities),
            sharpe=sharpe(equities, 24 * 365),
            time_in_market=(sum(s.in_market for s in samples) / len(samples)) if samples else 0.0,
            trades=stats.trades,
            fills=stats.fills,
            liquidations=stats.liquidations,
            rejections=stats.rejections,
            events=hb.events_processed,
            ticks=hb.ticks,
            wall_seconds=wall,
            events_per_second=hb.events_processed / wall if wall > 0 else 0.0,
            ledger_funding=ledger_funding,
            ledger_fees=ledger_fees,
            ledger_balance=engine.ledger.balance(),
            strategy_state=engine.strategy.state.model_dump(mode="json"),
            samples=samples,
            errors=stats.errors,
            last_error=stats.last_error,
        )
        return report
    finally:
        db.dispose()
        if tmp is not None:
            tmp.cleanup()


def _ledger_figures(db: Any, vault: Any) -> tuple[int, int]:
    """(the funding booked, the fees of fills and liquidations) read back from the
    vault's ledger: one SUM per kind in the database, the sums of its entries' amounts
    and fees (a year is ~17.5k entries; reading them as objects cost ~0.5 s)."""
    from sqlalchemy import func, select

    from drift_engine.storage.enums import EntryKind
    from drift_engine.storage.models import LedgerEntryRow
    from drift_engine.vaults.booking import find_vault

    with db.read() as s:
        vault_id = find_vault(s, vault).id
        rows = s.execute(
            select(
                LedgerEntryRow.kind,
                func.sum(LedgerEntryRow.amount),
                func.sum(LedgerEntryRow.fee),
            )
            .where(LedgerEntryRow.vault_id == vault_id)
            .group_by(LedgerEntryRow.kind)
        ).all()
    amounts = {EntryKind(kind): int(amount) for kind, amount, _ in rows}
    fees = {EntryKind(kind): int(fee) for kind, _, fee in rows}
    funding = amounts.get(EntryKind.FUNDING, 0)
    return funding, fees.get(EntryKind.FILL, 0) + fees.get(EntryKind.LIQUIDATION, 0)


def _data_json(
    data: MarketData | None, label: str, source: str, market: str, interval_s: int
) -> dict[str, Any]:
    """The report's `data` object: each input series of `market` (funding, prices,
    intra-hour prices, spot rates) with its source and kind. Data handed in by a caller
    (a sweep's shared events) is known by its label only."""
    if data is None:
        return {"requested_source": source, "description": label, "engine_tick_s": interval_s}
    out: dict[str, Any] = {"requested_source": data.source, **data.for_market(market)}
    out["bridge_s"] = data.bridge_s or None
    out["engine_tick_s"] = interval_s
    out["description"] = data.describe()
    return out


__all__ = [
    "DEFAULT_SEED",
    "SOURCES",
    "Progress",
    "market_events",
    "parse_date",
    "run_backtest",
]
