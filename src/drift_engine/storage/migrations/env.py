"""Alembic environment for drift-engine. Runs online only, on our engine factory's engine
(so SQLite migrations get the same WAL/IMMEDIATE settings as the app)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from drift_engine.storage.engine import make_engine
from drift_engine.storage.models import Base, UTCDateTime

# Any constant: serializes concurrent `upgrade` calls on one PostgreSQL database.
_PG_MIGRATION_LOCK_ID = 80080008

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError("no database URL: pass -x url=... or use drift_engine.storage.upgrade")
    return url


def _render_item(type_: str, obj: object, _autogen_context: object) -> str | bool:
    """Migrations name the column's database type, not our Python-side decorator."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
        # All migrations in one transaction on every database. Alembic's SQLite default
        # commits after each migration, so a second process that read the old revision
        # while the first was between migrations replayed the next one ("table already
        # exists"). Our engine issues BEGIN IMMEDIATE itself (the driver does not commit
        # before DDL), so SQLite DDL is transactional here and the lock is held to the end.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK_ID})"))
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as fresh:
            _run(fresh)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("drift-engine migrations run online only")
run_migrations_online()
