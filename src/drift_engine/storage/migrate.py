"""Schema migrations: Alembic, shipped inside the package and found from it, not the cwd.

`upgrade(url)` is what the app calls on start. Concurrent starts are safe: on SQLite the
migration runs in a BEGIN IMMEDIATE transaction (one process migrates, the other then
finds the schema current); on PostgreSQL `env.py` takes an advisory lock first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from drift_engine.storage.engine import DEFAULT_BUSY_TIMEOUT_MS, make_engine
from drift_engine.storage.revisions import (  # noqa: F401 - STORAGE_DIR, shipped_head: re-exported
    ALEMBIC_INI,
    MIGRATIONS_DIR,
    STORAGE_DIR,
    shipped_head,
)

if TYPE_CHECKING:  # Alembic is imported only when a migration may run (it costs ~0.2 s)
    from alembic.config import Config


def alembic_config(url: str | None = None) -> Config:
    """Alembic config with the packaged script location (and `url`, when given)."""
    from alembic.config import Config

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
    from alembic import command

    _run(command.upgrade, url, revision, busy_timeout_ms)


def downgrade(url: str, revision: str, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> None:
    """Take the database at `url` back to `revision` ("base": empty). For development."""
    from alembic import command

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


def stored_revision(url: str) -> str | None:
    """The revision recorded in the database's `alembic_version` (None: no such table or
    no row), read with plain SQL."""
    from sqlalchemy import inspect, text

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            if "alembic_version" not in inspect(connection).get_table_names():
                return None
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
            return rows[0][0] if len(rows) == 1 else None
    finally:
        engine.dispose()
