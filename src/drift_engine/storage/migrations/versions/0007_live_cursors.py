"""Live history cursors: where each ON_CHAIN vault's transaction history was read up to
(live/cursor.py), so a restart reads history from there, not from the beginning.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 01:20:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "live_cursors",
        sa.Column("vault_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account", sa.String(length=44), nullable=False),
        sa.Column("signature", sa.String(length=88), nullable=False),
        sa.Column("slot", sa.BigInteger(), nullable=False),
        sa.Column("ledger_mark", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["vault_id"], ["vaults.id"], name=op.f("fk_live_cursors_vault_id_vaults")
        ),
        sa.PrimaryKeyConstraint("vault_id", name=op.f("pk_live_cursors")),
    )


def downgrade() -> None:
    op.drop_table("live_cursors")
