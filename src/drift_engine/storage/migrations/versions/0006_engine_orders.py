"""Engine orders: every order an engine sends, with its life cycle (engine/orders.py).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 10:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "engine_orders",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("engine_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("user_order_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("working", sa.Boolean(), nullable=False),
        sa.Column("external", sa.Boolean(), nullable=False),
        sa.Column("market_type", sa.String(length=8), nullable=False),
        sa.Column("market_index", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("base_asset_amount", sa.BigInteger(), nullable=False),
        sa.Column("base_filled", sa.BigInteger(), nullable=False),
        sa.Column("quote_filled", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=True),
        sa.Column("intent", _JSON, nullable=False),
        sa.Column("send_ref", _JSON, nullable=False),
        sa.Column("fill_ids", _JSON, nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("created_ts", sa.BigInteger(), nullable=False),
        sa.Column("updated_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engine_orders")),
        sa.UniqueConstraint("engine_id", "seq", name="uq_engine_orders_engine_id_seq"),
    )
    op.create_index(
        "uq_engine_orders_working_user_order_id",
        "engine_orders",
        ["engine_id", "user_order_id"],
        unique=True,
        sqlite_where=sa.text("working"),
        postgresql_where=sa.text("working"),
    )


def downgrade() -> None:
    op.drop_index("uq_engine_orders_working_user_order_id", table_name="engine_orders")
    op.drop_table("engine_orders")
