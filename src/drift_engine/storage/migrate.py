"""Schema migrations: Alembic, shipped inside the package and found from it, not the cwd.

`upgrade(url)` is what the app calls on start. Concurrent starts are safe: on SQLite the
migration runs in a BEGIN IMMEDIATE transaction (one process migrates, the other then
finds the schema current); on PostgreSQL `env.py` takes an advisory lock first.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config

from drift_engine.storage.engine import DEFAULT_BUSY_TIMEOUT_MS, make_engine

STORAGE_DIR = Path(__file__).resolve().parent
MIGRATIONS_DIR = STORAGE_DIR / "migrations"
ALEMBIC_INI = STORAGE_DIR / "alembic.ini"


def alembic_config(url: str | None = None) -> Config:
    """Alembic config with the packaged script location (and `url`, when given)."""
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # ConfigParser interpolation would eat a '%' in a password.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(
    url: str, revision: str = "head", *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS
) -> None:
    """Bring the database at `url` up to `revision` (default: the newest)."""
    _run(command.upgrade, url, revision, busy_timeout_ms)


def downgrade(url: str, revision: str, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> None:
    """Take the database at `url` back to `revision` ("base": empty). For development."""
    _run(command.downgrade, url, revision, busy_timeout_ms)


def _run(
    alembic_command: Callable[[Config, str], object],
    url: str,
    revision: str,
    busy_timeout_ms: int,
) -> None:
    engine = make_engine(url, busy_timeout_ms=busy_timeout_ms)
    try:
        with engine.connect() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            alembic_command(config, revision)
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest migration shipped with the package."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(url: str) -> str | None:
    """The revision the database is at (None for an empty database)."""
    from alembic.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
