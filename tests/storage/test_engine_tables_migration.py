"""Migration 0002: the engine tables (records, events, heartbeats) are Alembic's, from an
empty database, from a database at 0001 holding vault data, and from one whose engine
tables an older engine store created itself; downgrading to 0001 keeps the vaults."""

from __future__ import annotations

from sqlalchemy import inspect, text

from drift_engine.engine.ports import EngineRecord
from drift_engine.engine.store import SqlEngineStore
from drift_engine.storage import Database, current_revision, downgrade, make_engine, upgrade

ENGINE_TABLES = {"engine_records", "engine_events", "heartbeats"}


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _columns(url: str, table: str) -> set[str]:
    engine = make_engine(url)
    try:
        return {c["name"] for c in inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def _seed_vault_data(url: str) -> None:
    """A vault with two ledger entries, written at revision 0001."""
    engine = make_engine(url)
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO vaults (name, engine_id, vault_type, status, quote_asset, "
                "is_active, created_at, updated_at) VALUES ('paper-sol', 'dn-sol', 'virtual', "
                "'open', 'USDC', true, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
        )
        vault_id = c.execute(text("SELECT id FROM vaults WHERE name = 'paper-sol'")).scalar_one()
        for key, amount in (("d1", 10_000_000_000), ("d2", 5_000_000)):
            c.execute(
                text(
                    "INSERT INTO ledger_entries (vault_id, kind, amount, fee, idempotency_key, "
                    "occurred_at, booked_at) VALUES (:v, 'deposit', :a, 0, :k, "
                    "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                ),
                {"v": vault_id, "a": amount, "k": key},
            )
    engine.dispose()


def _vault_balance(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as c:
        total = c.execute(text("SELECT SUM(amount - fee) FROM ledger_entries")).scalar_one()
    engine.dispose()
    return int(total)


def _record(engine_id: str = "dn-sol") -> EngineRecord:
    return EngineRecord(
        engine_id=engine_id,
        strategy="delta-neutral",
        config={"market": "SOL-PERP"},
        mode="paper",
        state="running",
        strategy_state="{}",
        high_water_mark=10_000_000_000,
        last_ts=1_700_000_000,
        vault_id="1",
        extra={"name": "Delta-neutral SOL", "risk_limits": {"health_floor": 30}},
    )


def test_open_on_an_empty_database_creates_the_engine_tables(database_url: str) -> None:
    db = Database.open(database_url)
    try:
        assert _tables(database_url) >= ENGINE_TABLES
        assert "market_state" in _columns(database_url, "heartbeats")
        store = SqlEngineStore(db)
        store.save(_record())
        store.log("dn-sol", 1_700_000_000, "transition", "started", {"to": "running"})
        store.record_heartbeat(1_700_000_060, 1.5, 3, 1, [], market_state={"SOL-PERP": {}})
        loaded = store.load("dn-sol")
        assert loaded is not None and loaded.extra["name"] == "Delta-neutral SOL"
        assert [e.message for e in store.events("dn-sol")] == ["started"]
        (beat,) = store.heartbeats()
        assert beat.engines_stepped == 1 and beat.market_state == {"SOL-PERP": {}}
    finally:
        db.dispose()


def test_upgrade_from_0001_keeps_the_vault_data(database_url: str) -> None:
    upgrade(database_url, "0001")
    assert not (_tables(database_url) & ENGINE_TABLES)
    _seed_vault_data(database_url)
    before = _vault_balance(database_url)

    db = Database.open(database_url)
    try:
        assert current_revision(database_url) not in (None, "0001")
        assert _tables(database_url) >= ENGINE_TABLES
        assert _vault_balance(database_url) == before == 10_005_000_000
        store = SqlEngineStore(db)
        store.save(_record())
        assert store.load("dn-sol") is not None
    finally:
        db.dispose()


def test_upgrade_adopts_engine_tables_an_older_store_created(database_url: str) -> None:
    """Before 0002 the engine store ran `create_all` on a database at 0001: its tables and
    rows survive the upgrade, and the heartbeats gain `market_state`."""
    upgrade(database_url, "0001")
    _seed_vault_data(database_url)
    engine = make_engine(database_url)
    # what create_all made of an autoincrementing Integer primary key on each backend
    serial = "SERIAL" if engine.dialect.name == "postgresql" else "INTEGER"
    with engine.begin() as c:
        c.execute(
            text(
                "CREATE TABLE engine_records (engine_id VARCHAR(64) PRIMARY KEY, "
                "strategy VARCHAR(64) NOT NULL, config JSON NOT NULL, mode VARCHAR(16) NOT NULL, "
                "state VARCHAR(16) NOT NULL, strategy_state TEXT NOT NULL, "
                "high_water_mark BIGINT NOT NULL, last_ts BIGINT NOT NULL, "
                "vault_id VARCHAR(64) NOT NULL, extra JSON NOT NULL, command VARCHAR(16))"
            )
        )
        c.execute(
            text(
                f"CREATE TABLE engine_events (id {serial} PRIMARY KEY, engine_id VARCHAR(64) "
                "NOT NULL, ts BIGINT NOT NULL, kind VARCHAR(32) NOT NULL, message TEXT NOT NULL, "
                "data JSON NOT NULL)"
            )
        )
        c.execute(
            text(
                f"CREATE TABLE heartbeats (id {serial} PRIMARY KEY, ts BIGINT NOT NULL, "
                "recorded_at VARCHAR(40) NOT NULL, duration_ms FLOAT NOT NULL, "
                "events INTEGER NOT NULL, engines_stepped INTEGER NOT NULL, errors JSON NOT NULL)"
            )
        )
        c.execute(
            text(
                "INSERT INTO engine_records VALUES ('dn-btc', 'delta-neutral', '{}', 'paper', "
                "'paused', '{\"entered\": true}', 7, 1700000000, '2', '{}', NULL)"
            )
        )
        c.execute(
            text(
                "INSERT INTO heartbeats (ts, recorded_at, duration_ms, events, engines_stepped, "
                "errors) VALUES (1700000000, '2026-01-01T00:00:00+00:00', 2.0, 4, 2, '[]')"
            )
        )
    engine.dispose()

    db = Database.open(database_url)
    try:
        assert "market_state" in _columns(database_url, "heartbeats")
        store = SqlEngineStore(db)
        old = store.load("dn-btc")
        assert old is not None
        assert (old.state, old.strategy_state, old.high_water_mark) == (
            "paused",
            '{"entered": true}',
            7,
        )
        (beat,) = store.heartbeats()
        assert (beat.engines_stepped, beat.market_state) == (2, None)
        assert _vault_balance(database_url) == 10_005_000_000
    finally:
        db.dispose()


def test_downgrade_to_0001_drops_only_the_engine_tables(database_url: str) -> None:
    db = Database.open(database_url)
    SqlEngineStore(db).save(_record())
    db.dispose()
    _seed_vault_data(database_url)

    downgrade(database_url, "0001")
    assert current_revision(database_url) == "0001"
    assert not (_tables(database_url) & ENGINE_TABLES)
    assert _vault_balance(database_url) == 10_005_000_000

    db = Database.open(database_url)  # and up again
    try:
        assert _tables(database_url) >= ENGINE_TABLES
        assert SqlEngineStore(db).load("dn-sol") is None
    finally:
        db.dispose()
