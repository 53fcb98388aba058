"""Run sessions: which process runs which engines, at what speed, on which data (ADR-0018).

The dashboard's banner (simulated time, speed, data sources, "replay finished") and its
truthful liveness ("not running — last tick 8 m ago") read this table; `demo` and `run`
write one row when they start and close it when they end.

Revision ID: 0008
Revises: 0007 (chained after 0007 when that lands: see ADR-0018)
Create Date: 2026-12-02 09:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "run_sessions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("host", sa.String(length=128), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("speed", sa.Float(), nullable=True),
        sa.Column("sim_start", sa.BigInteger(), nullable=True),
        sa.Column("sim_end", sa.BigInteger(), nullable=True),
        sa.Column("engines", _JSON, nullable=False),
        sa.Column("data", _JSON, nullable=False),
        sa.Column("controls", sa.Boolean(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_sessions")),
    )


def downgrade() -> None:
    op.drop_table("run_sessions")
