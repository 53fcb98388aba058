"""Backtest speed: bars/s of the full engine on a year of 1-minute bars, fast stepping vs
per-bar stepping, and (with --compare) NautilusTrader and backtrader on the same bars.

    .venv/bin/python bench/backtest_speed.py                     # a year, fast + 7 days per-bar
    .venv/bin/python bench/backtest_speed.py --days 30 --reference-days 3
    .venv/bin/python bench/backtest_speed.py --compare           # + NautilusTrader, backtrader

The data is the seeded synthetic SOL-PERP market (labelled synthetic): one oracle price per
minute and one funding record per hour (plus its spot leg's ticks and rates). The strategy
is the one the comparison runs everywhere: on the first bar it sells one short of 1x the
equity and holds it, booking hourly funding. Ours runs through the whole engine (strategy,
risk checks, the simulator with exact liquidation checks, the vault ledger in SQLite); once
in, it declares that nothing but a fill wakes it, so fast stepping steps only the bars on
which something can happen and books the funding hours in quiet stretches (ADR-0020: the
simulator settles each hour with its own rules, the engine books it without a real step).
Data preparation is timed apart, as the others' is: `open_market_data` opens the year and
its events are made as column chunks (`data.columns`: the price arrays as generated, no
object per tick) before the timer, as NautilusTrader's bars are built before
`engine.run()`; bars/s is bars of the year / CPU seconds of `run_backtest`'s replay and the
run's end up to its last flush (`timing_replays`; CPU, not wall: the machine is shared),
and likewise of `engine.run()` / `cerebro.run()` for the others. The product path
(`drift-engine backtest`: the data made as the replay reads it) is timed too and printed
beside it, with the preparation's seconds.

--compare installs NautilusTrader and backtrader, each into its own venv under
--venv-dir (pip, the package registry; nothing touches this project's venv), writes the
same minute closes and hourly funding rates to a file, runs an equivalent strategy in
each (a market sell on the first bar, hourly funding booked from the same rates) and
prints bars/s side by side with the ratios. `--rounds N` runs ours and each of them N
times, alternated, and prints the ratio of the fastest runs (and of the medians) too: on
a shared machine one run of a side can be slowed 20-50 % by the load. Every side runs on
the interpreter that runs this script (printed first; the others' venvs are made with it,
one per interpreter): its build moves our pure-Python replay more than the others'
compiled loops, so compare ratios on one interpreter. Figures depend on the machine and
its load; nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DAY = 86_400
MINUTE = 60
PINS = {"nautilus": "nautilus_trader==1.221.0", "backtrader": "backtrader==1.9.78.123"}


def hold_short_strategy() -> type:
    from drift_engine.core.types import MarketType, OrderIntent, PositionDirection
    from drift_engine.strategies.base import (
        DriftStrategy,
        PlaceOrders,
        StrategyConfig,
        StrategyState,
    )
    from drift_engine.strategies.wake import EVERY_TICK

    class HoldShortConfig(StrategyConfig):
        market: str = "SOL-PERP"
        leverage: float = 1.0

    class HoldShortState(StrategyState):
        entered: bool = False
        funding: int = 0

    class HoldShort(DriftStrategy[HoldShortConfig, HoldShortState]):
        """Sell one short of `leverage` x equity on the first bar and hold it."""

        name: ClassVar[str] = "hold-short"
        config_model = HoldShortConfig
        state_model = HoldShortState

        def markets(self) -> list[str]:
            return [self.config.market]

        def on_tick(self, snap: Any) -> list[Any]:
            if self.state.entered:
                return []
            self.state.entered = True
            m = snap.market(self.config.market)
            base = int(snap.vault.equity * self.config.leverage) * 10**9 // m.oracle_price
            base -= base % m.perp_step_size
            order = OrderIntent(m.perp_market_index, MarketType.PERP, PositionDirection.SHORT, base)
            return [PlaceOrders((order,), reason="enter short")]

        def on_funding(self, payment: Any) -> None:
            self.state.funding += payment.amount

        def wake_conditions(self, snap: Any) -> tuple[Any, ...]:
            # holding, nothing wakes it: funding is booked (on_funding) at quiet hours
            return () if self.state.entered else EVERY_TICK

    return HoldShort


def open_data(days: int, seed: int) -> tuple[Any, str, int, int]:
    """(the year's event stream, as `drift-engine backtest` opens it, label, start, end)."""
    from drift_engine.data.pipeline import open_market_data
    from drift_engine.data.synthetic import DEFAULT_ORIGIN

    start, end = DEFAULT_ORIGIN, DEFAULT_ORIGIN + days * DAY
    data = open_market_data("synthetic", ["SOL-PERP"], start, end, seed=seed)
    return data.events, data.label(), start, end


def prepare_data(days: int, seed: int) -> tuple[Any, str, int, int, float]:
    """The same, made now as column chunks held in memory (+ the CPU seconds it took)."""
    events, label, start, end = open_data(days, seed)
    c0 = time.process_time()
    prepared = events.prepared()
    return prepared, label, start, end, time.process_time() - c0


@contextmanager
def counting_quiet_hours() -> Iterator[list[int]]:
    """[n]: the funding hours booked in quiet stretches (`engine.quiet.quiet_step` calls,
    no real engine step) while the block runs."""
    import drift_engine.engine.quiet as quiet

    light_step = quiet.quiet_step
    count = [0]

    def counted(engine: Any, ts: int, *args: Any) -> None:
        count[0] += 1
        light_step(engine, ts, *args)

    quiet.quiet_step = counted
    try:
        yield count
    finally:
        quiet.quiet_step = light_step


@contextmanager
def timing_replays() -> Iterator[list[float]]:
    """[s, ...]: the CPU seconds of each replay run while the block runs: from the start
    of `run_events` to the report's read of the ledger (`runner._ledger_figures`), so the
    run's end is in it (the last snapshot, the engine's record, and the flush of what the
    replay left held: a change that holds writes longer cannot move their cost out of
    the figure). The data's preparation and the report's figures are outside it."""
    from drift_engine.backtest import runner
    from drift_engine.heartbeat import HeartbeatDataCollector

    run_events = HeartbeatDataCollector.run_events
    ledger_figures = runner._ledger_figures
    cpu: list[float] = []
    started: list[float] = []

    def timed(self: Any, **kw: Any) -> Any:
        started.append(time.process_time())
        return run_events(self, **kw)

    def read(*args: Any, **kw: Any) -> Any:
        if started:
            cpu.append(time.process_time() - started.pop())
        return ledger_figures(*args, **kw)

    HeartbeatDataCollector.run_events = timed  # type: ignore[method-assign]
    runner._ledger_figures = read
    try:
        yield cpu
    finally:
        HeartbeatDataCollector.run_events = run_events  # type: ignore[method-assign]
        runner._ledger_figures = ledger_figures


def run_ours(events: Any, label: str, start: int, end: int, stepping: str) -> dict:
    from drift_engine.backtest.runner import run_backtest

    bars = (end - start) // MINUTE
    t0 = time.process_time()
    with timing_replays() as replay_cpu, counting_quiet_hours() as quiet_hours:
        report = run_backtest(
            hold_short_strategy(),
            "SOL-PERP",
            start,
            end,
            data=(events, label),
            stepping=stepping,
        )
    cpu = time.process_time() - t0
    return {
        "bars": bars,
        "wall": report.wall_seconds,
        "cpu": replay_cpu[0],
        "cpu_total": cpu,
        "bars_per_s": bars / replay_cpu[0],
        "fills": report.fills,
        "funding": report.funding,
        "funding_hours": report.funding_hours,
        "ticks": report.ticks,
        "quiet_hours": quiet_hours[0],
        "final_equity": report.final_equity,
        "initial_equity": report.initial_equity,
    }


def per_million(ours: dict) -> float:
    """Our funding in USDC per $1,000,000 short: ours shorts 1x its initial equity (the
    others $1M), so the figures compare as rates on the same notional (they differ by the
    price each side multiplies: Drift's funding uses its own TWAPs, the others the bar's
    close)."""
    return ours["funding"] / ours["initial_equity"] * 1_000_000


def export_bars(events: list[Any], path: Path) -> int:
    """Minute closes of SOL-PERP and the hourly funding rates (fraction of notional)."""
    ts, close, fts, frate = [], [], [], []
    for e in events:
        if e.kind == "oracle" and e.market == "SOL-PERP":
            ts.append(e.ts)
            close.append(e.price / 1e6)
        elif e.kind == "funding" and e.market == "SOL-PERP":
            from drift_engine.engine.market_board import hourly_rate

            fts.append(e.ts)
            frate.append(hourly_rate(e))
    np.savez(path, ts=np.array(ts), close=np.array(close), fts=np.array(fts), frate=np.array(frate))
    return len(ts)


NAUTILUS = r"""
import json, sys, time
import numpy as np, pandas as pd
from decimal import Decimal
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig, StrategyConfig
from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.data import BarType
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide
from nautilus_trader.model.identifiers import Venue
from nautilus_trader.model.objects import Money
from nautilus_trader.persistence.wranglers import BarDataWrangler
from nautilus_trader.test_kit.providers import TestInstrumentProvider
from nautilus_trader.trading.strategy import Strategy

d = np.load(sys.argv[1])
rates = dict(zip(d["fts"].tolist(), d["frate"].tolist()))

class Cfg(StrategyConfig, frozen=True):
    bar_type: str
    instrument_id: str

class HoldShort(Strategy):
    def __init__(self, config):
        super().__init__(config)
        self.entered = False
        self.funding = 0.0
        self.qty = None
    def on_start(self):
        self.bt = BarType.from_str(self.config.bar_type)
        self.inst = self.cache.instrument(self.bt.instrument_id)
        self.subscribe_bars(self.bt)
    def on_bar(self, bar):
        price = float(bar.close)
        if not self.entered:
            self.entered = True
            self.qty = self.inst.make_qty(1_000_000 / price)
            order = self.order_factory.market(self.bt.instrument_id, OrderSide.SELL, self.qty)
            self.submit_order(order)
            return
        t = bar.ts_event // 1_000_000_000
        r = rates.get(t)
        if r is not None:  # the short receives rate x notional
            self.funding += float(self.qty) * price * r

inst = TestInstrumentProvider.ethusdt_perp_binance()
engine = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(bypass_logging=True)))
engine.add_venue(venue=Venue("BINANCE"), oms_type=OmsType.NETTING, account_type=AccountType.MARGIN,
                 base_currency=None, starting_balances=[Money(10_000_000, USDT)])
engine.add_instrument(inst)
bt = BarType.from_str(f"{inst.id}-1-MINUTE-LAST-EXTERNAL")
close = d["close"]
df = pd.DataFrame({"open": close, "high": close, "low": close, "close": close, "volume": 1e9},
                  index=pd.to_datetime(d["ts"], unit="s", utc=True))
bars = BarDataWrangler(bt, inst).process(df)
engine.add_data(bars)
strat = HoldShort(Cfg(bar_type=str(bt), instrument_id=str(inst.id)))
engine.add_strategy(strat)
t0 = time.perf_counter(); c0 = time.process_time()
engine.run()
wall = time.perf_counter() - t0; cpu = time.process_time() - c0
print(json.dumps({"bars": len(bars), "wall": wall, "cpu": cpu, "funding": strat.funding}))
"""

BACKTRADER = r"""
import json, sys, time
import numpy as np, pandas as pd
import backtrader as bt

d = np.load(sys.argv[1])
rates = dict(zip(d["fts"].tolist(), d["frate"].tolist()))

class HoldShort(bt.Strategy):
    def __init__(self):
        self.entered = False
        self.funding = 0.0
        self.size = 0.0
    def next(self):
        price = self.data.close[0]
        if not self.entered:
            self.entered = True
            self.size = 1_000_000 / price
            self.sell(size=self.size)
            return
        t = int(bt.num2date(self.data.datetime[0]).timestamp())
        r = rates.get(t)
        if r is not None:
            self.funding += self.size * price * r

close = d["close"]
df = pd.DataFrame({"open": close, "high": close, "low": close, "close": close, "volume": 1e9},
                  index=pd.to_datetime(d["ts"], unit="s"))
cerebro = bt.Cerebro(stdstats=False)
cerebro.adddata(bt.feeds.PandasData(dataname=df))
cerebro.addstrategy(HoldShort)
cerebro.broker.setcash(10_000_000.0)
t0 = time.perf_counter(); c0 = time.process_time()
strat = cerebro.run()[0]
wall = time.perf_counter() - t0; cpu = time.process_time() - c0
print(json.dumps({"bars": len(df), "wall": wall, "cpu": cpu, "funding": strat.funding}))
"""


OTHERS = {"nautilus": NAUTILUS, "backtrader": BACKTRADER}


def ensure_venv(root: Path, name: str) -> Path:
    """A venv with `name`'s pinned package (created and installed once), made with this
    interpreter: one venv per base interpreter, so every side of a comparison runs on the
    same build."""
    base = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    venv = root / f"{name}-{hashlib.sha1(base.encode()).hexdigest()[:8]}"
    python = venv / "bin" / "python"
    mod = "nautilus_trader" if name == "nautilus" else "backtrader"
    if python.exists():
        ok = subprocess.run([python, "-c", f"import {mod}, pandas"], capture_output=True)
        if ok.returncode == 0:
            return python
    print(f"installing {PINS[name]} into {venv} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", PINS[name], "pandas"], check=True)
    return python


def run_other(python: Path, script: str, data: Path) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(script)
    out = subprocess.run([python, f.name, str(data)], capture_output=True, text=True)
    Path(f.name).unlink()
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r["bars_per_s"] = r["bars"] / r["cpu"]
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--reference-days", type=int, default=7, help="per-bar run (0: skip)")
    ap.add_argument("--compare", action="store_true", help="also NautilusTrader, backtrader")
    ap.add_argument(
        "--venv-dir",
        type=Path,
        default=Path.home() / ".cache" / "drift-engine-bench",
        help="where --compare keeps its venvs",
    )
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="with --compare: run ours and each other N times, alternated, and print the "
        "ratio of the fastest runs too (a shared machine's load slows single runs)",
    )
    args = ap.parse_args()

    # every side runs on this interpreter (the others' venvs are made with it); its build
    # moves ours more than theirs (pure Python against compiled loops): a build without
    # profile-guided optimisation runs our replay slower
    print(f"python: {sys.executable}: {sys.version.split()[0]} {sys.version.split(None, 1)[1]}")
    prepared, label, start, end, prep_cpu = prepare_data(args.days, args.seed)
    print(
        f"data: {label}: {prepared.count:,} events, {(end - start) // MINUTE:,} minute bars "
        f"over {args.days} days, prepared as column chunks in {prep_cpu:.2f} s CPU",
        flush=True,
    )
    fast = run_ours(prepared, label, start, end, "fast")
    print(
        f"drift-engine fast stepping: {fast['bars']:,} bars in {fast['cpu']:.2f} s CPU "
        f"({fast['wall']:.2f} s wall, {fast['cpu_total']:.2f} s CPU with setup) = "
        f"{fast['bars_per_s']:,.0f} bars/s ({fast['ticks']:,} ticks, {fast['fills']} fills, "
        f"{fast['quiet_hours']:,} funding hours booked in quiet stretches, "
        f"{fast['funding_hours']:,} funding hours, funding {fast['funding'] / 1e6:+,.2f} USDC "
        f"= {per_million(fast):+,.2f} per $1M short)",
        flush=True,
    )
    opened, *_ = open_data(args.days, args.seed)
    product = run_ours(opened, label, start, end, "fast")
    print(
        f"  the product path (data made as the replay reads it, as `drift-engine backtest`): "
        f"replay {product['cpu']:.2f} s CPU = {product['bars_per_s']:,.0f} bars/s; "
        f"prepared data: replay {fast['cpu']:.2f} s CPU + data preparation {prep_cpu:.2f} s; "
        f"same final equity: {product['final_equity'] == fast['final_equity']}",
        flush=True,
    )
    results = {"drift-engine (fast)": fast}
    if args.reference_days:
        n = args.reference_days
        ref_events, *_ = open_data(n, args.seed)
        ref = run_ours(list(ref_events), label, start, start + n * DAY, "bar")
        short_events, *_ = open_data(n, args.seed)
        short = run_ours(short_events.prepared(), label, start, start + n * DAY, "fast")
        print(
            f"drift-engine per-bar stepping ({n} days): {ref['bars_per_s']:,.0f} bars/s; "
            f"fast on the same {n} days: {short['bars_per_s']:,.0f} bars/s; same final "
            f"equity: {ref['final_equity'] == short['final_equity']}",
            flush=True,
        )
        results["drift-engine (per-bar)"] = ref
    if args.compare:
        others: dict[str, list[float]] = {}
        ours_runs = [fast["bars_per_s"]]
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "bars.npz"
            export_bars(open_data(args.days, args.seed)[0], data)
            args.venv_dir.mkdir(parents=True, exist_ok=True)
            pythons: dict[str, Path] = {}
            for name in ("nautilus", "backtrader"):
                try:
                    pythons[name] = ensure_venv(args.venv_dir, name)
                except Exception as exc:  # noqa: BLE001 - print and go on with the other
                    print(f"{name}: could not install: {exc}", flush=True)
            for round_ in range(args.rounds):
                if round_ > 0:  # ours again, then the others, alternated round by round
                    again, *_ = prepare_data(args.days, args.seed)
                    ours_runs.append(run_ours(again, label, start, end, "fast")["bars_per_s"])
                    print(f"round {round_ + 1}: drift-engine {ours_runs[-1]:,.0f} bars/s")
                for name, python in pythons.items():
                    try:
                        r = run_other(python, OTHERS[name], data)
                    except Exception as exc:  # noqa: BLE001 - print and go on with the other
                        print(f"{name}: could not run: {exc}", flush=True)
                        continue
                    others.setdefault(name, []).append(r["bars_per_s"])
                    results.setdefault(name, r)
                    print(
                        f"{'' if round_ == 0 else f'round {round_ + 1}: '}{name}: "
                        f"{r['bars']:,} bars in {r['cpu']:.2f} s CPU ({r['wall']:.2f} s wall) = "
                        f"{r['bars_per_s']:,.0f} bars/s (funding {r['funding']:+,.2f} on its "
                        "$1M short)",
                        flush=True,
                    )
        ours = fast["bars_per_s"]
        made = product["bars_per_s"]
        for name in ("nautilus", "backtrader"):
            if name in results:
                theirs = results[name]["bars_per_s"]
                print(
                    f"ratio drift-engine fast / {name}: {ours / theirs:.2f}x "
                    f"({made / theirs:.2f}x with our data made during the replay)"
                )
        if args.rounds > 1:
            best = max(ours_runs)
            for name, runs in others.items():
                print(
                    f"over {len(ours_runs)} rounds, fastest of each: drift-engine {best:,.0f}, "
                    f"{name} {max(runs):,.0f} bars/s: ratio {best / max(runs):.2f}x (median "
                    f"of each: {statistics.median(ours_runs) / statistics.median(runs):.2f}x)"
                )


if __name__ == "__main__":
    main()
