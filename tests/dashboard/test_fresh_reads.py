"""The hot endpoints' freshness rule (dashboard/jsoncache.py), on SQLite and PostgreSQL:
an answer is one whole read, the first request after a commit starts one refresh and is
answered from the read kept before it, every answer once that refresh landed includes the
commit, a commit during a refresh is picked up by the next one, however many requests
wait only one refresh runs, and a refresh that fails is never served as if the database
had answered. No timing is asserted: the order of events is forced."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from sqlalchemy.exc import OperationalError

from drift_engine.dashboard.app import create_app
from drift_engine.dashboard.reader import DashboardReader
from drift_engine.dashboard.schemas import EngineSummaryOut, HealthOut, VaultOut
from drift_engine.engine.store import SqlEngineStore
from drift_engine.storage import Database
from drift_engine.storage.testing import throwaway_database_url
from drift_engine.vaults import VaultRegistry

from .conftest import T0, Scenario, _record, build_scenario, settle

ENGINES = TypeAdapter(list[EngineSummaryOut])
HEALTH = TypeAdapter(HealthOut)
VAULTS = TypeAdapter(list[VaultOut])
PATHS = ("/api/health", "/api/engines", "/api/vaults")


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Scenario]:
    if request.param == "postgresql" and not os.environ.get("DATABASE_URL"):
        pytest.skip("PostgreSQL variant runs when DATABASE_URL is set")
    with throwaway_database_url(request.param, tmp_path) as url:
        db = Database.open(url)
        built = build_scenario(db)
        yield Scenario(db, VaultRegistry(db, clock=lambda: T0), SqlEngineStore(db), built.vaults)
        db.dispose()


class Clock:
    def __init__(self) -> None:
        self.now = T0 + timedelta(hours=4)

    def __call__(self):
        return self.now


def _uncached(scenario: Scenario, clock: Clock) -> dict[str, bytes]:
    """Each answer computed from scratch by a reader of its own, at the same clock."""
    reader = DashboardReader(scenario.db, stale_after=1e12, clock=clock)
    return {
        "/api/health": HEALTH.dump_json(reader.health()),
        "/api/engines": ENGINES.dump_json(reader.list_engines()),
        "/api/vaults": VAULTS.dump_json(reader.list_vaults()),
    }


def _write(scenario: Scenario, n: int) -> None:
    """What a heartbeat commits: a funding payment, a snapshot, a heartbeat row; and an
    operator's state change."""
    sol = scenario.vaults["sol"]
    at = T0 + timedelta(hours=4 + n)
    scenario.registry.ledger.book_funding(
        "dn-sol", sol, market_index=0, funding_ts=int(at.timestamp()), amount=1_000 + n
    )
    scenario.registry.snapshots.record(
        "dn-sol", sol, position_value=n, unrealized_pnl=n, health=50 + n, taken_at=at
    )
    scenario.store.record_heartbeat(int(at.timestamp()), 4.0, 1, 2, [])
    state = "paused" if n % 2 else "running"
    scenario.store.save(_record("dn-btc", "delta-neutral BTC", state, scenario.vaults["btc"]))


def _answers(c: TestClient) -> dict[str, bytes]:
    return {path: c.get(path).content for path in PATHS}


def test_a_commit_shows_once_the_refresh_it_started_lands_never_before_never_mixed(
    world: Scenario,
) -> None:
    clock = Clock()
    reader = DashboardReader(world.db, stale_after=1e12, clock=clock)
    with TestClient(create_app(reader)) as c:
        before = _uncached(world, clock)
        assert _answers(c) == before
        settle(c)
        for n, path in enumerate(PATHS * 2, start=1):
            _write(world, n)
            after = _uncached(world, clock)
            assert all(after[p] != before[p] for p in PATHS)
            # the first request after the commit starts its endpoint's refresh and is
            # answered from the read kept before it: the whole previous read
            assert c.get(path).content == before[path]
            # the others: their endpoint's kept read, or the new one if it landed
            # (engines and health share one), each whole, never a mix
            for other, body in _answers(c).items():
                assert body in (before[other], after[other])
            settle(c)
            # once the refreshes landed: every answer includes the commit
            assert _answers(c) == after
            assert _answers(c) == after
            health = c.get("/api/health").json()
            assert health["heartbeat_seq"] == 1 + n
            engines = {e["id"]: e["state"] for e in c.get("/api/engines").json()}
            assert engines["dn-btc"] == ("PAUSED" if n % 2 else "RUNNING")
            # on PostgreSQL each request above may have started a version check: let
            # them land, so the next write's first request is the one that starts a read
            settle(c)
            before = after


def test_a_commit_made_while_a_refresh_reads_is_picked_up_by_the_next_refresh(
    world: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    reader = DashboardReader(world.db, stale_after=1e12, clock=clock)
    original = reader.engines_read
    commit_during_read = []

    def read_then_commit():
        read = original()
        if commit_during_read:  # the data version this refresh read is now behind
            _write(world, commit_during_read.pop())
        return read

    monkeypatch.setattr(reader, "engines_read", read_then_commit)
    with TestClient(create_app(reader)) as c:
        old = c.get("/api/health").json()
        settle(c)
        commit_during_read.append(1)
        _write(world, 2)
        c.get("/api/health")  # starts the refresh, during which write 1 commits
        settle(c)
        landed = c.get("/api/health").json()  # write 2 only; starts the next refresh
        assert landed["heartbeat_seq"] == old["heartbeat_seq"] + 1
        settle(c)
        newest = c.get("/api/health").json()
        assert newest["heartbeat_seq"] == old["heartbeat_seq"] + 2
        assert c.get("/api/health").content == _uncached(world, clock)["/api/health"]


def test_a_read_is_one_snapshot_when_a_commit_lands_between_its_statements(
    world: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the heartbeat row and the vault snapshots it reads, a heartbeat commits a
    new heartbeat row and snapshot: the read shows neither (PostgreSQL: REPEATABLE READ),
    never the old heartbeat with the new snapshot."""
    reader = DashboardReader(world.db, stale_after=1e12, clock=Clock())
    before = reader.engines_read()
    original = reader._pending_commands
    monkeypatch.setattr(
        reader, "_pending_commands", lambda session: (_write(world, 1), original(session))[1]
    )
    torn = reader.engines_read()
    assert torn.beat == before.beat
    assert torn.snapshots["dn-sol"].id == before.snapshots["dn-sol"].id
    assert {r.engine_id: r.state for r in torn.rows} == {r.engine_id: r.state for r in before.rows}
    monkeypatch.setattr(reader, "_pending_commands", original)
    after = reader.engines_read()
    assert after.beat[0] == before.beat[0] + 1
    assert after.snapshots["dn-sol"].id > before.snapshots["dn-sol"].id


def test_one_refresh_runs_however_many_requests_arrive_meanwhile(
    world: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    reader = DashboardReader(world.db, stale_after=1e12, clock=clock)
    calls = {"engines_read": 0, "list_vaults": 0}
    release = threading.Event()
    originals = {name: getattr(reader, name) for name in calls}

    def counted(name):
        def call():
            calls[name] += 1
            release.wait(30)  # held until every request below was answered
            return originals[name]()

        return call

    app = create_app(reader)
    before = _uncached(world, clock)

    async def scenario() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/api/health")).content == before["/api/health"]
            assert (await client.get("/api/vaults")).content == before["/api/vaults"]
            await app.state.fresh_reads.settle()
            for name in calls:
                monkeypatch.setattr(reader, name, counted(name))
            _write(world, 1)
            answers = await asyncio.gather(
                *(client.get(PATHS[i % 3]) for i in range(60))
            )  # fmt: skip
            release.set()
            await app.state.fresh_reads.settle()
            answers.append(await client.get("/api/vaults"))
            return answers

    answers = asyncio.run(scenario())
    assert calls == {"engines_read": 1, "list_vaults": 1}
    for i, answer in enumerate(answers[:-1]):
        assert answer.status_code == 200
        assert answer.content == before[PATHS[i % 3]]  # the kept read, whole
    assert answers[-1].content == _uncached(world, clock)["/api/vaults"]


def test_a_failed_refresh_is_not_served_as_if_the_database_answered(
    world: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    reader = DashboardReader(world.db, stale_after=1e12, clock=clock)

    def database_gone():
        raise OperationalError("SELECT ...", {}, Exception("could not connect to server"))

    with TestClient(create_app(reader), raise_server_exceptions=False) as c:
        assert c.get("/api/health").json()["db_ok"] is True
        settle(c)
        monkeypatch.setattr(reader, "engines_read", database_gone)
        _write(world, 1)
        c.get("/api/health")  # answered from the kept read; its refresh fails
        settle(c)
        health = c.get("/api/health")  # nothing kept now: this request reads, and fails
        assert health.status_code == 200
        assert health.json()["status"] == "db_error" and health.json()["db_ok"] is False
        engines = c.get("/api/engines")
        assert engines.status_code == 500
        assert engines.json() == {"detail": "internal error: OperationalError"}
        monkeypatch.undo()
        assert c.get("/api/engines").content == _uncached(world, clock)["/api/engines"]


def test_the_vault_list_recomputes_only_touched_vaults_and_equals_a_full_computation(
    world: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kept vault list recomputes a vault only when an entry or snapshot of its own,
    its row, its engine's name or its sync status moved; after each kind of write it
    equals the list a reader with nothing kept computes."""
    reader = DashboardReader(world.db, stale_after=1e12)
    reader.list_vaults()
    computed: list[str] = []
    original = reader._vault_out
    monkeypatch.setattr(
        reader,
        "_vault_out",
        lambda s, row, names: (computed.append(row.name), original(s, row, names))[1],
    )
    btc, chain, treasury = world.vaults["btc"], world.vaults["chain"], world.registry.treasury()
    at = T0 + timedelta(days=2)
    writes = [
        (lambda: _write(world, 1), {"sol-v2"}),
        (lambda: world.registry.snapshots.record(
            "dn-btc", btc, position_value=5, unrealized_pnl=5, health=70, taken_at=at
        ), {"btc-main"}),
        (lambda: world.registry.sync_status.mark_stale(chain, "HTTP 429", at), {"sol-chain"}),
        (lambda: world.registry.sync_status.mark_fresh(chain, slot=9, at=at), {"sol-chain"}),
        (lambda: world.registry.set_active(world.vaults["sol_old"]), {"sol-v1", "sol-v2"}),
        (lambda: world.registry.deposit(treasury.id, 5 * 10**6, key="more"), {treasury.name}),
    ]  # fmt: skip
    for write, expected in writes:
        computed.clear()
        write()
        kept = VAULTS.dump_json(reader.list_vaults())
        assert kept == VAULTS.dump_json(DashboardReader(world.db).list_vaults())
        assert sorted(computed) == sorted(expected)
