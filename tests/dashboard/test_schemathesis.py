"""Property-based fuzzing of the API from its own OpenAPI: no input yields a 500 and every
answer matches the documented schema. Bounded examples, so it runs in seconds."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from drift_engine.dashboard.app import create_app
from drift_engine.dashboard.control import QueuedEngineControl
from drift_engine.dashboard.reader import DashboardReader
from drift_engine.engine.market_board import MarketBoard
from drift_engine.engine.store import SqlEngineStore
from drift_engine.storage import Database

from .conftest import TOKEN, build_scenario

_DIR = Path(tempfile.mkdtemp(prefix="dashboard-fuzz-"))
_DB = Database.open(f"sqlite:///{_DIR / 'fuzz.db'}")
build_scenario(_DB)
_BOARD = MarketBoard(["SOL-PERP", "BTC-PERP"])
_BOARD.set_price("SOL-PERP", 150_000_000, ts=1)
_BOARD.add_funding("SOL-PERP", 3600, 0.00001)
APP = create_app(
    DashboardReader(_DB, markets=_BOARD.snapshots),
    control=QueuedEngineControl(SqlEngineStore(_DB)),
    token=TOKEN,
)

schema = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(path="/api/stream")

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_never_500_and_matches_its_schema(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS)


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_with_the_token_never_500(case: schemathesis.Case) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"},
        checks=[not_a_server_error, status_code_conformance],
    )


def teardown_module() -> None:
    _DB.dispose()
    shutil.rmtree(_DIR, ignore_errors=True)
