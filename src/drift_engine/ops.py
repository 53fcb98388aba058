"""What a runner does for the people operating it: alerts, metrics, health (ADR-0019).

`RunnerOps` is built once per `drift-engine run` and used by the paper and live paths
alike:

* its `notifier` (`[notify]`, `drift_engine.notify`) hears every engine's events
  (`attach(engine)`), the runner's own (started, engines taken over, lease lost,
  stopped), the live vaults going stale, and a daily summary;
* its `metrics` (`metrics.runner`) observe each heartbeat tick and publish the engines'
  figures for scrapes; `run --metrics-port` serves them with `/healthz` and `/readyz`
  (`status`), and a dashboard served by the runner adds them to its `/metrics`.

The heartbeat calls `on_tick(result, engines)` after each tick; it costs a few counter
updates, and the engines' figures are copied at most twice a wall second.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from drift_engine.metrics.runner import RunnerMetrics
from drift_engine.metrics.server import MetricsServer, RunnerStatus
from drift_engine.notify import EngineNotices, NoticeKind, Notifier, daily_summary

log = logging.getLogger("drift_engine.ops")


class RunnerOps:
    def __init__(
        self,
        *,
        runner: str,
        notifier: Notifier | None = None,
        stall_after_s: float = 120.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.runner = runner
        self.notifier = notifier or Notifier()
        self.metrics = RunnerMetrics(runner=runner)
        self.metrics.watch_notifier(self.notifier)
        self.status = RunnerStatus(stall_after_s=stall_after_s)
        self.status.last_tick_wall = lambda: self.metrics.last_tick_wall
        self.server: MetricsServer | None = None
        self._wall = wall
        self._day = self._today()
        self._engine_notices = EngineNotices(self.notifier)

    # ------------------------------------------------------------------ wiring
    def serve(self, sock: Any, host: str) -> MetricsServer:
        self.server = MetricsServer(sock, host, self.metrics.registry, self.status).start()
        return self.server

    def attach(self, engine: Any) -> Any:
        """The engine's events reach the notifier (its `on_event`)."""
        engine.on_event = self._engine_notices
        return engine

    def process_collector(self) -> Any:
        """This runner's own metrics (heartbeat, RPC, notices) for a dashboard's /metrics."""
        from drift_engine.metrics.runner import _Callback

        return _Callback(lambda: self.metrics.process.collect())

    # ------------------------------------------------------------------ the heartbeat
    def on_tick(self, result: Any, engines: Iterable[Any]) -> None:
        self.metrics.observe_tick(result)
        self.metrics.publish(engines)
        today = self._today()
        if today != self._day:
            self._day = today
            self.summary(engines, day=today)

    def finish(self, engines: Iterable[Any]) -> None:
        """The run's last figures, published whatever the throttle says."""
        self.metrics.publish(engines, force=True)

    def _today(self) -> str:
        return datetime.fromtimestamp(self._wall(), UTC).strftime("%Y-%m-%d")

    def summary(self, engines: Iterable[Any], *, day: str | None = None) -> Any:
        """The daily summary notice (sent once a UTC day of wall time; paper engines'
        simulated days pass far faster than anyone wants messages)."""
        self.metrics.publish(engines, force=True)
        figures, vaults = self.metrics.figures()
        by_engine = {v.engine: v for v in vaults}
        rows = []
        for f in figures:
            v = by_engine.get(f.engine)
            rows.append(
                {
                    "engine": f.engine,
                    "state": f.state,
                    "equity": v.equity if v else None,
                    "pnl": v.pnl if v else None,
                    "funding": v.funding if v else None,
                    "health": f.health,
                }
            )
        return self.notifier.notify(daily_summary(rows, day or self._day))

    # ------------------------------------------------------------------ the runner
    def say(self, text: str, engine_id: str | None = None, kind: NoticeKind = NoticeKind.RUNNER):
        return self.notifier.send(kind, engine_id, text)

    def close(self, timeout_s: float = 5.0) -> None:
        self.status.ready = False
        self.notifier.close(timeout_s)
        if self.server is not None:
            self.server.stop()


__all__ = ["RunnerOps"]
