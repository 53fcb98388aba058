"""Packaged Alembic migrations: found from the package, current with the models,
reversible, safe to run concurrently, and enforcing the ledger's invariants."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from drift_engine.storage import current_revision, downgrade, make_engine, upgrade
from drift_engine.storage.migrate import MIGRATIONS_DIR, alembic_config
from drift_engine.storage.models import Base

TABLES = {
    "vaults",
    "ledger_entries",
    "vault_snapshots",
    "engine_records",
    "engine_events",
    "heartbeats",
    "alembic_version",
}
#: The newest revision (later migrations move it; the tests follow).
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_upgrade_creates_the_schema_from_any_cwd(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # nothing may depend on the working directory
    assert current_revision(database_url) is None
    upgrade(database_url)
    upgrade(database_url)  # idempotent
    assert current_revision(database_url) == HEAD
    engine = make_engine(database_url)
    assert set(inspect(engine).get_table_names()) >= TABLES
    engine.dispose()


def test_migrations_match_the_models(database_url: str) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


def test_downgrade_and_upgrade_again(database_url: str) -> None:
    upgrade(database_url)
    downgrade(database_url, "base")
    assert current_revision(database_url) is None
    upgrade(database_url)
    assert current_revision(database_url) == HEAD


def test_migrations_ship_inside_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert any(MIGRATIONS_DIR.glob("versions/0001_*.py"))
    assert MIGRATIONS_DIR.is_relative_to(Path(__import__("drift_engine").__file__).parent)


def test_a_failed_upgrade_leaves_the_database_as_it_was(database_url: str) -> None:
    """All pending migrations commit as one unit. Alembic's SQLite default commits each
    migration on its own: a failure midway left a half-upgraded schema, and a second
    process that read the revision between two commits replayed the next migration
    ("table engine_commands already exists", seen in CI)."""
    upgrade(database_url, "0004")
    engine = make_engine(database_url)
    with engine.begin() as connection:  # 0006 will find its table taken and fail
        connection.exec_driver_sql("CREATE TABLE engine_orders (id INTEGER PRIMARY KEY)")
    engine.dispose()
    with pytest.raises(Exception, match="engine_orders"):
        upgrade(database_url)
    assert current_revision(database_url) == "0004"
    engine = make_engine(database_url)
    assert "engine_commands" not in inspect(engine).get_table_names()  # 0005 rolled back
    engine.dispose()


def test_concurrent_first_starts_both_succeed(database_url: str) -> None:
    code = "import sys; from drift_engine.storage import upgrade; upgrade(sys.argv[1])"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, database_url],
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        for _ in range(3)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert current_revision(database_url) == HEAD
