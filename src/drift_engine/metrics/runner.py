"""A runner's own metrics: its heartbeat, its engines as of their last tick, its RPC
traffic and its notifiers — read from what the runner holds in memory.

Nothing here costs the heartbeat a database read. `observe_tick(result)` (the heartbeat's
`on_tick`) updates a histogram and a few counters; `publish(engines)` copies each engine's
figures (state, equity, margin, the ledger totals its sink keeps) into an immutable
snapshot at most every `publish_every_s` wall seconds and at the end of a run; a scrape
reads the last snapshot from another thread without touching the engines.

Two registries, because two servers show these metrics:
* `process` — heartbeat, RPC, transactions, notices, runner info: what only this process
  knows. The dashboard served by this process adds it to its own `/metrics`, whose
  engine and vault figures come from the database (`metrics.fleet`);
* `registry` — `process` plus the engine and vault figures from memory: what
  `run --metrics-port` serves.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from drift_engine.metrics.figures import (
    PREFIX,
    EngineFigures,
    VaultFigures,
    families,
    liquidation_distance_pct,
)

#: Tick durations (seconds): from a backtest tick to a slow live tick.
TICK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
#: Transaction send and confirmation times (seconds).
TX_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120)
RPC_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class _Callback(Collector):
    """A collector that yields whatever a function returns at scrape time."""

    def __init__(self, fn: Callable[[], Iterable[Metric]]) -> None:
        self._fn = fn

    def collect(self) -> Iterable[Metric]:
        return list(self._fn())


class RunnerMetrics:
    """The metrics of one `drift-engine run` process."""

    def __init__(
        self,
        *,
        runner: str = "",
        publish_every_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runner = runner
        self.publish_every_s = publish_every_s
        self._clock = clock
        self._last_publish: float | None = None
        self._lock = threading.Lock()
        self._engines: tuple[EngineFigures, ...] = ()
        self._vaults: tuple[VaultFigures, ...] = ()
        self._notifier: Any = None
        #: what the heartbeat thread last did, for the health endpoints
        self.last_tick_wall: float | None = None
        self.ticks = 0

        self.process = CollectorRegistry(auto_describe=True)
        r = self.process
        self.tick_seconds = Histogram(
            f"{PREFIX}_tick_duration_seconds",
            "Time one heartbeat tick took (markets, commands, engines, snapshots, hooks)",
            buckets=TICK_BUCKETS,
            registry=r,
        )
        self.ticks_total = Counter(f"{PREFIX}_ticks", "Heartbeat ticks run", registry=r)
        self.tick_events = Counter(
            f"{PREFIX}_tick_events", "Market data events the ticks applied", registry=r
        )
        self.tick_errors = Counter(
            f"{PREFIX}_tick_errors", "Errors isolated by the heartbeat (engines, hooks)", registry=r
        )
        self.tick_lag = Gauge(
            f"{PREFIX}_tick_lag_seconds",
            "Wall seconds the last tick started after its scheduled time",
            registry=r,
        )
        self.last_tick_ts = Gauge(
            f"{PREFIX}_last_tick_timestamp_seconds",
            "Engine time (unix seconds) of the last tick: simulated for paper, real for live",
            registry=r,
        )
        self.engines_held = Gauge(
            f"{PREFIX}_runner_engines", "Engines this runner holds (its leases)", registry=r
        )
        self.rpc_calls = Counter(
            f"{PREFIX}_rpc_calls", "Solana JSON-RPC calls, by method", ["method"], registry=r
        )
        #: registered between the call and the error counters: a scrape reads the calls,
        #: then the gauge, then the errors (the order a consistent cut needs)
        self.rpc_in_flight = Gauge(
            f"{PREFIX}_rpc_in_flight",
            "Solana JSON-RPC round trips started and not yet accounted for (calls, errors)",
            registry=r,
        )
        self.rpc_errors = Counter(
            f"{PREFIX}_rpc_errors",
            "Solana JSON-RPC calls that failed (transport, HTTP or JSON-RPC error), by method",
            ["method"],
            registry=r,
        )
        self.rpc_seconds = Histogram(
            f"{PREFIX}_rpc_duration_seconds",
            "Solana JSON-RPC call time, by method",
            ["method"],
            buckets=RPC_BUCKETS,
            registry=r,
        )
        self.tx_send_seconds = Histogram(
            f"{PREFIX}_tx_send_seconds",
            "Time to hand a signed transaction to the RPC (sendTransaction)",
            buckets=TX_BUCKETS,
            registry=r,
        )
        self.tx_confirm_seconds = Histogram(
            f"{PREFIX}_tx_confirm_seconds",
            "Time from the first send of a transaction to its confirmation",
            ["outcome"],
            buckets=TX_BUCKETS,
            registry=r,
        )
        self.priority_fee = Counter(
            f"{PREFIX}_priority_fee_lamports",
            "Priority fees paid on landed transactions (lamports), by engine",
            ["engine"],
            registry=r,
        )
        self.process.register(_Callback(self._runner_families))

        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_Callback(lambda: self.process.collect()))
        self.registry.register(_Callback(self._engine_families))

    # ------------------------------------------------------------------ heartbeat
    def observe_tick(self, result: Any) -> None:
        """The heartbeat's on_tick: a few counters, no allocation worth the name."""
        self.tick_seconds.observe(result.duration_ms / 1000)
        self.ticks_total.inc()
        if result.events:
            self.tick_events.inc(result.events)
        if result.errors:
            self.tick_errors.inc(len(result.errors))
        self.tick_lag.set(getattr(result, "lag_s", 0.0))
        self.last_tick_ts.set(result.ts)
        self.last_tick_wall = time.time()
        self.ticks += 1

    # ------------------------------------------------------------------ engines
    def publish(self, engines: Iterable[Any], *, force: bool = False) -> bool:
        """Copy the engines' figures for the next scrape, at most every
        `publish_every_s` (always with `force`). Runs in the heartbeat's thread."""
        now = self._clock()
        if (
            not force
            and self._last_publish is not None
            and now - self._last_publish < self.publish_every_s
        ):
            return False
        self._last_publish = now
        out_e, out_v = [], []
        for engine in engines:
            e, v = engine_figures(engine, runner=self.runner)
            out_e.append(e)
            if v is not None:
                out_v.append(v)
        with self._lock:
            self._engines, self._vaults = tuple(out_e), tuple(out_v)
        return True

    def figures(self) -> tuple[tuple[EngineFigures, ...], tuple[VaultFigures, ...]]:
        with self._lock:
            return self._engines, self._vaults

    def _engine_families(self) -> list[Metric]:
        engines, vaults = self.figures()
        return families(engines, vaults)

    # ------------------------------------------------------------------ notices
    def watch_notifier(self, notifier: Any) -> None:
        self._notifier = notifier

    def _runner_families(self) -> list[Metric]:
        out: list[Metric] = []
        info = GaugeMetricFamily(
            f"{PREFIX}_runner_info", "This runner (host:pid:start)", labels=["runner"]
        )
        info.add_metric([self.runner], 1)
        out.append(info)
        if self._notifier is not None:
            notices = GaugeMetricFamily(
                f"{PREFIX}_notices",
                "Notices per sink: sent, failed (after every try), dropped (queue full)",
                labels=["sink", "outcome"],
            )
            failing = GaugeMetricFamily(
                f"{PREFIX}_notifier_failing", "1 while a sink's last notice failed", labels=["sink"]
            )
            bad = set(self._notifier.failing())
            for sink, counts in sorted(self._notifier.stats().items()):
                for outcome, n in sorted(counts.items()):
                    notices.add_metric([sink, outcome], n)
                failing.add_metric([sink], 1 if sink in bad else 0)
            out += [notices, failing]
        return out


def engine_figures(engine: Any, *, runner: str = "") -> tuple[EngineFigures, VaultFigures | None]:
    """An engine's figures from memory: its state, its last margin (the one its record
    persists), its venue's equity now, and its ledger sink's totals."""
    margin = getattr(engine, "_margin", None)
    health = leverage = distance = None
    if margin is not None:
        from drift_engine.engine.engine import margin_json

        health = margin.health
        leverage = margin.leverage / 10_000
        distance = liquidation_distance_pct(margin_json(margin))
    orders = _orders(engine)
    unhedged = _unhedged(engine)
    figures = EngineFigures(
        engine=engine.engine_id,
        name=engine.name or engine.engine_id,
        mode=engine.mode.value,
        strategy=engine.strategy.name,
        state=engine.state.value,
        runner=runner,
        health=health,
        leverage=leverage,
        liquidation_distance_pct=distance,
        open_orders=orders.get("working"),
        unknown_orders=orders.get("unknown"),
        unhedged_notional=unhedged,
    )
    ledger = engine.ledger
    totals_of = getattr(ledger, "totals", None)
    if totals_of is None:
        return figures, None
    totals = totals_of()
    from drift_engine.vaults.entries import CAPITAL_KINDS

    capital = {k.value for k in CAPITAL_KINDS}
    balance = sum(a - f for a, f, _ in totals.values())
    equity = engine.venue.equity()
    net_in = sum(a for kind, (a, _f, _n) in totals.items() if kind in capital)
    vault = VaultFigures(
        vault=str(ledger.vault_id),
        engine=engine.engine_id,
        type="ON_CHAIN" if engine.mode.value == "live" else "VIRTUAL",
        active=True,
        balance=balance,
        equity=equity,
        pnl=equity - net_in,
        funding=totals.get("funding", (0, 0, 0))[0],
        fees=sum(f for _a, f, _n in totals.values()),
        entries={kind: n for kind, (_a, _f, n) in totals.items()},
    )
    return figures, vault


def _orders(engine: Any) -> Mapping[str, int]:
    """Working and UNKNOWN order counts: the engine's order book when it has one, else
    the venue's open orders."""
    book = getattr(engine, "orders", None)
    summary = getattr(book, "summary", None)
    if callable(summary):
        try:
            s = summary()
            unknown = (s.get("by_status") or {}).get("unknown", 0)
            return {"working": int(s.get("working", 0)), "unknown": int(unknown)}
        except Exception:  # noqa: BLE001 - figures are best effort
            pass
    try:
        return {"working": len(engine.venue.open_orders())}
    except Exception:  # noqa: BLE001
        return {}


def _unhedged(engine: Any) -> int | None:
    """The engine's unhedged exposure (the strategy's view at its last step; 0: none)."""
    if not hasattr(engine, "_unhedged"):
        return None
    value = engine._unhedged
    if value is None:
        return 0
    notional = (
        value.get("notional", 0) if isinstance(value, Mapping) else getattr(value, "notional", 0)
    )
    return abs(int(notional or 0))


__all__ = ["RunnerMetrics", "engine_figures"]
