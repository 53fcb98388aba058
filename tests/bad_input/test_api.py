"""Sweep, API parameters: the dashboard answers a bad request with a 4xx naming the
problem (never a 500), and the database is byte-for-byte what it was."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient

from drift_engine.dashboard.app import create_app
from drift_engine.dashboard.control import QueuedEngineControl
from drift_engine.dashboard.reader import DashboardReader
from drift_engine.engine.store import SqlEngineStore
from drift_engine.storage import Database

from .conftest import World

TOKEN = "sweep-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass(frozen=True)
class Request:
    id: str
    path: str
    status: int
    expect: str = ""  # a fragment of the JSON `detail` (stringified)
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)


def get(case_id: str, path: str, status: int = 422, expect: str = "", **headers: str) -> Request:
    return Request(case_id, path, status, expect, headers=headers)


def post(case_id: str, path: str, status: int, expect: str = "", **headers: str) -> Request:
    return Request(case_id, path, status, expect, method="POST", headers=headers)


SNAP = "/api/vaults/2/snapshots"
LEDGER = "/api/vaults/2/ledger"

CASES = [
    get("since-year-1-plus-14", f"{SNAP}?since=0001-01-01T00:00:00%2B14:00", expect="range"),
    get("since-year-9999-minus-14", f"{SNAP}?since=9999-12-31T23:59:59-14:00", expect="range"),
    get("since-words", f"{SNAP}?since=yesterday", expect="since"),
    get("since-empty", f"{SNAP}?since=", expect="since"),
    get("since-null", f"{SNAP}?since=null", expect="since"),
    get("since-month-13", f"{SNAP}?since=2026-13-01T00:00:00", expect="since"),
    get("since-huge-number", f"{SNAP}?since=" + "9" * 400, expect="since"),
    get("snap-limit-zero", f"{SNAP}?limit=0", expect="limit"),
    get("snap-limit-negative", f"{SNAP}?limit=-1", expect="limit"),
    get("snap-limit-huge", f"{SNAP}?limit=10001", expect="limit"),
    get("snap-limit-words", f"{SNAP}?limit=all", expect="limit"),
    get("snap-limit-float", f"{SNAP}?limit=1.5", expect="limit"),
    get("snap-limit-4301-digits", f"{SNAP}?limit=" + "9" * 4301, expect="limit"),
    get("ledger-limit-zero", f"{LEDGER}?limit=0", expect="limit"),
    get("ledger-limit-501", f"{LEDGER}?limit=501", expect="limit"),
    get("ledger-before-zero", f"{LEDGER}?before=0", expect="before"),
    get("ledger-before-negative", f"{LEDGER}?before=-5", expect="before"),
    get("ledger-before-2-63", f"{LEDGER}?before={2**63}", expect="before"),
    get("ledger-before-null", f"{LEDGER}?before=null", expect="before"),
    get("ledger-before-words", f"{LEDGER}?before=latest", expect="before"),
    get("vault-id-too-long", "/api/vaults/" + "1" * 129 + "/ledger", expect="vault_id"),
    get("engine-id-too-long", "/api/engines/" + "e" * 129, expect="engine_id"),
    get("vault-unknown", "/api/vaults/999/ledger", 404, "no vault"),
    get("vault-not-a-number", "/api/vaults/abc/snapshots", 404, "no vault"),
    get("vault-huge-id", "/api/vaults/" + "9" * 40 + "/ledger", 404, "no vault"),
    get("engine-unknown", "/api/engines/ghost", 404, "no engine"),
    get("unknown-path", "/api/nothing", 404),
    get("static-traversal", "/static/..%2F..%2Fconfig.py", 404),
    post("control-no-token", "/api/engines/eng-a/kill", 401, "bearer"),
    post("control-wrong-token", "/api/engines/eng-a/kill", 401, "wrong", Authorization="Bearer x"),
    post("control-basic-auth", "/api/engines/eng-a/stop", 401, "", Authorization="Basic eDp5"),
    post("control-unknown-engine", "/api/engines/ghost/kill", 404, "no engine", **AUTH),
    post("control-unknown-action", "/api/engines/eng-a/explode", 404, "", **AUTH),
    post("control-id-too-long", "/api/engines/" + "e" * 200 + "/kill", 422, "engine_id", **AUTH),
    post("post-on-a-read", "/api/vaults", 405),
    get("get-on-control", "/api/engines/eng-a/kill", 405),
    get("host-evil", "/api/vaults", 421, "evil.example", Host="evil.example"),
    get("host-evil-with-port", "/api/vaults", 421, "evil.example", Host="evil.example:8000"),
    get("host-ip-elsewhere", "/api/vaults", 421, "10.0.0.1", Host="10.0.0.1"),
    get("host-rebinding-stream", "/api/stream", 421, "attacker", Host="attacker.test"),
    post("host-evil-control", "/api/engines/eng-a/kill", 421, "evil", Host="evil.example",
         **AUTH),
]  # fmt: skip


@pytest.fixture(scope="module")
def api(worlds: dict[bool, World]) -> Iterator[tuple[TestClient, World]]:
    world = worlds[False]
    db = Database.open(world.db_url, create=False)
    app = create_app(
        DashboardReader(db),
        control=QueuedEngineControl(SqlEngineStore(db)),
        token=TOKEN,
        hosts=["testserver"],  # the name the test client sends, as a server's bound name
        max_streams=2,
    )
    with TestClient(app) as client:
        yield client, world
    db.dispose()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_requests_get_a_4xx_and_change_nothing(api, case: Request) -> None:
    client, world = api
    before = world.snapshot()
    r = client.request(case.method, case.path, headers=case.headers)
    assert r.status_code == case.status, (case.id, r.status_code, r.text)
    assert 400 <= r.status_code < 500
    assert case.expect.lower() in r.text.lower(), (case.id, r.text)
    assert "Traceback" not in r.text and "internal error" not in r.text
    assert world.snapshot() == before, f"{case.id}: the database changed"


def test_streams_past_the_cap_get_a_503_and_change_nothing(api) -> None:
    client, world = api
    slots = client.app.state.stream_slots
    before = world.snapshot()
    taken = [slots.take() for _ in range(slots.limit)]
    try:
        r = client.get("/api/stream")
    finally:
        for _ in taken:
            slots.release()
    assert r.status_code == 503 and r.headers["retry-after"]
    assert "too many live streams" in r.json()["detail"]
    assert world.snapshot() == before


def test_api_cases_are_many_and_distinct() -> None:
    assert len(CASES) >= 35
    assert len({c.id for c in CASES}) == len(CASES)
