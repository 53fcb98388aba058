"""The demo's two paper engines (delta-neutral SOL and BTC) running in a background thread.

Built the way `drift-engine demo` builds them: its engine ids and markets, `PaperStack`
(simulator, vault registry, engine store), `DeltaNeutralStrategy`, the bundled real
hourly funding and prices, and the `HeartbeatDataCollector` with the `run` command's
`apply_operator_commands` hook, which applies what the control API queues. One change:
the strategies enter at any positive carry over a 1-hour lookback (the demo: 5% APR over
24 h) so that positions exist within the few simulated hours a test runs.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from drift_engine.backtest.runner import market_events
from drift_engine.commands.demo import DEMO_ENGINES, DEMO_NAMES
from drift_engine.commands.run import apply_operator_commands
from drift_engine.dashboard.reader import LatestMarkets
from drift_engine.engine.engine import DriftEngine
from drift_engine.engine.paper import PaperStack
from drift_engine.risk import RiskLimits
from drift_engine.storage import Database
from drift_engine.strategies import DeltaNeutralStrategy

START = int(datetime(2026, 1, 12, tzinfo=UTC).timestamp())
END = int(datetime(2026, 2, 2, tzinfo=UTC).timestamp())  # inside BTC-PERP's real data
CAPITAL = 10_000_000_000  # 10,000 USDC each
ENGINES = dict(DEMO_ENGINES)  # engine id -> perp market: dn-sol, dn-btc
SOL_ENGINE, BTC_ENGINE = (engine_id for engine_id, _ in DEMO_ENGINES)


class PaperEngines:
    """`with PaperEngines(db) as pe:` two engines trade; `pe.markets` feeds the dashboard."""

    def __init__(
        self,
        db: Database,
        *,
        tick_s: int = 300,
        sleep_s: float = 0.02,
        names: dict[str, str] | None = None,
        limits: RiskLimits | None = None,
    ) -> None:
        self.db = db
        self.stack = PaperStack(db, list(ENGINES.values()), START, epoch="dash")
        self.markets = LatestMarkets()
        self.engines: dict[str, DriftEngine] = {}
        for engine_id, market in ENGINES.items():
            strategy = DeltaNeutralStrategy(
                {"market": market, "entry_apr": 0.0, "lookback_hours": 1}
            )
            engine = self.stack.add_engine(engine_id, strategy, CAPITAL, limits=limits)
            engine.name = (names or DEMO_NAMES).get(engine_id)
            self.engines[engine_id] = engine
        # a second, inactive vault of the SOL engine: the badge must not be on it
        reserve = self.stack.registry.create_vault("sol-reserve", SOL_ENGINE)
        self.reserve_vault_id = reserve.id
        events, _ = market_events("bundled", list(ENGINES.values()), START, END)
        self.heartbeat = self.stack.heartbeat(
            events,
            snapshot_every_s=3600,
            record_every_s=0,
            sync_hooks=[
                apply_operator_commands(self.stack),
                # the heartbeat thread publishes market state for the dashboard's threads
                lambda _ts: self.markets.publish(self.stack.board.snapshots()),
            ],
        )
        self.tick_s = tick_s
        self.sleep_s = sleep_s
        self.ticks = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="paper-engines")

    def warm_up(self, hours: int = 6) -> None:
        """Run some ticks before the dashboard opens (positions, snapshots, funding)."""
        for engine in self.engines.values():
            engine.start(START)
        self.ts = START
        while self.ts < START + hours * 3600:
            self._tick()

    def _tick(self) -> None:
        self.ts += self.tick_s
        self.heartbeat.tick(self.ts)
        self.ticks += 1

    def _run(self) -> None:
        try:
            while not self._stop.is_set() and self.ts < END:
                self._tick()
                time.sleep(self.sleep_s)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def __enter__(self) -> PaperEngines:
        if not getattr(self, "ts", None):
            self.warm_up()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)
