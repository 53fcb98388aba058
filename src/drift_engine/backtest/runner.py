"""Backtests: the same engine, simulator and vault ledger as paper trading, on a
simulated clock, as fast as possible.

`run_backtest` builds a throw-away database (SQLite in a temporary directory unless a URL
is given), a `PaperStack` with one engine, and replays market data through the
`HeartbeatDataCollector` (one tick per `interval_s` of data time). The report's money
figures come from what the engine booked; `ledger_funding` is read back from the vault
ledger so the two can be compared.

Data (`source`):
- "bundled": Drift's real funding for the market (daily averages, Jan 10 - Feb 15 2026,
  expanded hourly) with synthetic 1-minute prices from `SyntheticMarket` (seeded; SOL
  starts at the bundled file's $100 reference price, so the funding paid per base unit
  and the synthetic price agree). Labelled "real funding + synthetic prices".
- "synthetic": seeded synthetic prices and funding (`SyntheticMarket`), any window from
  2026-01-01 on. Labelled "synthetic".
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from drift_engine.backtest.report import (
    BacktestReport,
    Sample,
    max_drawdown,
    net_apr,
    sharpe,
)
from drift_engine.engine.market_board import spot_symbol_for
from drift_engine.engine.paper import PaperStack
from drift_engine.risk import RiskLimits
from drift_engine.strategies import DriftStrategy, strategy_class

SOURCES = ("bundled", "synthetic")
HOUR = 3600


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
    source: str, markets: list[str], start: int, end: int, seed: int = 7
) -> tuple[Iterator[Any], str]:
    """(ordered market events for the perps in `markets` and their spot legs, label)."""
    from drift_engine.data import BundledSource, SyntheticMarket
    from drift_engine.data.models import merge_events

    symbols: list[str] = []
    for m in markets:
        symbols += [m, spot_symbol_for(m)]
    symbols.append("USDC")
    syn = SyntheticMarket(seed)
    if source == "synthetic":
        return syn.events(symbols, start, end), f"synthetic (seed {seed})"
    if source == "bundled":
        bundled = BundledSource()
        have = set(bundled.funding_markets())
        missing = [m for m in markets if m not in have]
        if missing:
            raise ValueError(f"the bundled funding file has no {missing} (it has {sorted(have)})")
        lo, hi = (
            min(bundled.windows()[m][0] for m in markets),
            max(bundled.windows()[m][1] for m in markets),
        )
        hi += HOUR - 1  # the last hourly record covers the hour after it
        if start < lo or end > hi:
            raise ValueError(
                f"the bundled funding covers {_iso(lo)} .. {_iso(hi)}; "
                f"asked for {_iso(start)} .. {_iso(end)}"
            )
        # Prices: synthetic 1-minute ticks of each perp (the spot leg follows the same
        # oracle in the simulator). Funding + spot rates: the bundled source.
        streams = [syn.oracle_events(m, start, end) for m in markets]
        streams.append(bundled.events(symbols, start, end))
        return merge_events(*streams), (
            f"real funding (Drift daily averages, expanded hourly) + synthetic prices (seed {seed})"
        )
    raise ValueError(f"unknown source {source!r} (known: {', '.join(SOURCES)})")


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
    seed: int = 7,
    capital: int = 10_000_000_000,
    risk: RiskLimits | None = None,
    interval_s: int = 60,
    database_url: str | None = None,
    margin_refresh_move: float = 0.002,
    progress: Callable[[Progress], None] | None = None,
    progress_every_s: int = 6 * HOUR,
    data: tuple[Iterable[Any], str] | None = None,
) -> BacktestReport:
    """Run one strategy on one market from `start` to `end` (unix s) and report.

    `strategy` is a spec (`strategy_class`) or a strategy class. A strategy that trades
    more than one perp names them in `markets()`; `market` is its first. `data`, when
    given, is (the time-ordered market events, their label) to use instead of loading
    `source` (a sweep loads its data once and passes it to every run).
    """
    from drift_engine.storage.database import Database

    params = dict(params or {})
    cls = strategy_class(strategy) if isinstance(strategy, str) else strategy
    strategy = cls.name or cls.__name__  # a file spec is no engine id
    if "market" in cls.config_model.model_fields:
        params.setdefault("market", market)
    strat = cls(params)
    markets = list(dict.fromkeys(strat.markets() or [market]))
    if data is None:
        events, label = market_events(source, markets, start, end, seed)
    else:
        events, label = iter(data[0]), data[1]
    tmp = None
    if database_url is None:
        tmp = tempfile.TemporaryDirectory(prefix="drift-backtest-")
        database_url = f"sqlite:///{Path(tmp.name) / 'backtest.db'}"
    db = Database.open(database_url)
    _fast_sqlite(db)
    try:
        stack = PaperStack(db, markets, start, epoch="bt")
        engine = stack.add_engine(f"backtest-{strategy}-{market}", strat, capital, limits=risk)
        engine.venue.margin_refresh_move = margin_refresh_move
        engine.persist_every_s = 24 * HOUR
        engine.start(start)
        samples: list[Sample] = []
        last = {"sample": None, "progress": start}

        def on_tick(result: Any) -> None:
            ts = result.ts
            if last["sample"] is None or ts - last["sample"] >= HOUR:
                last["sample"] = ts
                positions = engine.venue.positions()
                in_market = any(
                    p.market_type.value == "perp" and p.base_asset_amount != 0 for p in positions
                )
                samples.append(
                    Sample(
                        ts,
                        engine.venue.equity(),
                        engine.stats.funding,
                        in_market,
                        engine.venue.margin(ts).health,
                    )
                )
            if progress is not None and ts - last["progress"] >= progress_every_s:
                last["progress"] = ts
                progress(Progress(ts, start, end, hb.events_processed))

        hb = stack.heartbeat(
            events,
            snapshot_every_s=24 * HOUR,
            record_every_s=24 * HOUR,
            on_tick=on_tick,
        )
        wall0 = time.perf_counter()
        hb.run_events(interval_s=interval_s, until=end)
        wall = time.perf_counter() - wall0
        if progress is not None:
            progress(Progress(end, start, end, hb.events_processed))
        final_ts = hb.last_ts or start
        engine.persist()
        final_equity = engine.venue.equity()
        equities = [s.equity for s in samples] + [final_equity]
        from drift_engine.storage.enums import EntryKind

        entries = stack.registry.ledger.entries(engine.ledger.vault_id)
        ledger_funding = sum(e.amount for e in entries if e.kind is EntryKind.FUNDING)
        stats = engine.stats
        report = BacktestReport(
            strategy=strategy,
            market=market,
            start=start,
            end=end,
            params=strat.config.model_dump(mode="json"),
            data_label=label,
            initial_equity=capital,
            final_equity=final_equity,
            net_pnl=final_equity - capital,
            net_apr=net_apr(capital, final_equity, max(1, final_ts - start)),
            funding=stats.funding,
            interest=stats.interest,
            fees=stats.fees,
            slippage=stats.slippage,
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


__all__ = ["SOURCES", "Progress", "market_events", "parse_date", "run_backtest"]
