"""Vault sync status: the stale flag of ON_CHAIN vaults (vaults/sync_status.py).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 14:45:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vault_sync_status",
        sa.Column("vault_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("stale_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_ok_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_slot", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["vault_id"], ["vaults.id"], name=op.f("fk_vault_sync_status_vault_id_vaults")
        ),
        sa.PrimaryKeyConstraint("vault_id", name=op.f("pk_vault_sync_status")),
    )


def downgrade() -> None:
    op.drop_table("vault_sync_status")
