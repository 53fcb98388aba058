"""The web dashboard: a FastAPI app (JSON API, SSE, the page) over the project's database.

Entry points: `python run_dashboard.py` / `drift-engine dashboard` (`run.run_dashboard`);
in-process (demo, tests, bench): `create_app(DashboardReader(db), ...)` served by
`DashboardServer`. Design: docs/adr/0007-dashboard-reads-the-database.md.
"""

from drift_engine.dashboard.app import create_app
from drift_engine.dashboard.control import EngineControl, QueuedEngineControl
from drift_engine.dashboard.reader import DashboardReader, LatestMarkets
from drift_engine.dashboard.server import DashboardServer

__all__ = [
    "DashboardReader",
    "DashboardServer",
    "EngineControl",
    "LatestMarkets",
    "QueuedEngineControl",
    "create_app",
]
