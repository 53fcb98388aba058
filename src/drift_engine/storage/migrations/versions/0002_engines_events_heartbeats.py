"""Engine records, engine events and heartbeats (moved from the engine's `create_all`),
with `heartbeats.market_state` for the dashboard.

Databases written before this migration had these tables created by the engine store's
`create_all` (outside Alembic) while at 0001: for them the tables are adopted as they
are and only the missing column is added, so no engine history is lost.

The engine's display name, margin metrics and risk limits go in `engine_records.extra`
(JSON keys `name`, `margin`, `risk_limits`), which needs no column.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 14:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _existing_tables() -> set[str]:
    return set(sa.inspect(op.get_bind()).get_table_names())


def _columns(table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade() -> None:
    existing = _existing_tables()

    if "engine_records" not in existing:
        op.create_table(
            "engine_records",
            sa.Column("engine_id", sa.String(length=64), nullable=False),
            sa.Column("strategy", sa.String(length=64), nullable=False),
            sa.Column("config", _json(), nullable=False),
            sa.Column("mode", sa.String(length=16), nullable=False),
            sa.Column("state", sa.String(length=16), nullable=False),
            sa.Column("strategy_state", sa.Text(), nullable=False),
            sa.Column("high_water_mark", sa.BigInteger(), nullable=False),
            sa.Column("last_ts", sa.BigInteger(), nullable=False),
            sa.Column("vault_id", sa.String(length=64), nullable=False),
            sa.Column("extra", _json(), nullable=False),
            sa.Column("command", sa.String(length=16), nullable=True),
            sa.PrimaryKeyConstraint("engine_id", name=op.f("pk_engine_records")),
        )
    elif "command" not in _columns("engine_records"):
        with op.batch_alter_table("engine_records", schema=None) as batch_op:
            batch_op.add_column(sa.Column("command", sa.String(length=16), nullable=True))

    if "engine_events" not in existing:
        op.create_table(
            "engine_events",
            sa.Column("id", _ID, autoincrement=True, nullable=False),
            sa.Column("engine_id", sa.String(length=64), nullable=False),
            sa.Column("ts", sa.BigInteger(), nullable=False),
            sa.Column("kind", sa.String(length=32), nullable=False),
            sa.Column("message", sa.Text(), nullable=False),
            sa.Column("data", _json(), nullable=False),
            sa.PrimaryKeyConstraint("id", name=op.f("pk_engine_events")),
        )
        with op.batch_alter_table("engine_events", schema=None) as batch_op:
            batch_op.create_index(
                batch_op.f("ix_engine_events_engine_id"), ["engine_id"], unique=False
            )

    if "heartbeats" not in existing:
        op.create_table(
            "heartbeats",
            sa.Column("id", _ID, autoincrement=True, nullable=False),
            sa.Column("ts", sa.BigInteger(), nullable=False),
            sa.Column("recorded_at", sa.String(length=40), nullable=False),
            sa.Column("duration_ms", sa.Float(), nullable=False),
            sa.Column("events", sa.Integer(), nullable=False),
            sa.Column("engines_stepped", sa.Integer(), nullable=False),
            sa.Column("errors", _json(), nullable=False),
            sa.Column("market_state", _json(), nullable=True),
            sa.PrimaryKeyConstraint("id", name=op.f("pk_heartbeats")),
        )
        with op.batch_alter_table("heartbeats", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_heartbeats_ts"), ["ts"], unique=False)
    elif "market_state" not in _columns("heartbeats"):
        with op.batch_alter_table("heartbeats", schema=None) as batch_op:
            batch_op.add_column(sa.Column("market_state", _json(), nullable=True))


def downgrade() -> None:
    op.drop_table("heartbeats")
    op.drop_table("engine_events")
    op.drop_table("engine_records")
