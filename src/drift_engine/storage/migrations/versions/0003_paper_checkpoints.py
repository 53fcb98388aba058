"""Paper checkpoints: the simulated Drift of a paper stack, persisted at each heartbeat so
a restarted `drift-engine run` resumes the same positions (see engine/paper.py).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 14:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "paper_checkpoints",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("epoch", sa.String(length=32), nullable=False),
        sa.Column("ledger_mark", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_paper_checkpoints")),
    )


def downgrade() -> None:
    op.drop_table("paper_checkpoints")
