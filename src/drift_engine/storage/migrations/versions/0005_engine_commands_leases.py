"""Operator commands as a durable queue, and runner leases (ADR-0011).

`engine_commands` replaces `engine_records.command` (one slot that a second command
overwrote): a command still waiting in that column is moved into the queue as pending,
then the column is dropped. `leases` holds one row per engine (and per paper stack) with
the runner that holds it and until when.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 10:00:00

"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    commands = op.create_table(
        "engine_commands",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("engine_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("vault", sa.String(length=64), nullable=True),
        sa.Column("counterparty", sa.String(length=64), nullable=True),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_ts", sa.BigInteger(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engine_commands")),
        sa.UniqueConstraint("key", name=op.f("uq_engine_commands_key")),
    )
    op.create_index(
        "ix_engine_commands_engine_id_status", "engine_commands", ["engine_id", "status"]
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("host", sa.String(length=128), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("holder_started_ms", sa.BigInteger(), nullable=False),
        sa.Column("acquired_ms", sa.BigInteger(), nullable=False),
        sa.Column("renewed_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )

    bind = op.get_bind()
    waiting = bind.execute(
        sa.text("SELECT engine_id, command FROM engine_records WHERE command IS NOT NULL")
    ).all()
    now = datetime.now(UTC)
    if bind.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)
    if waiting:
        op.bulk_insert(
            commands,
            [
                {
                    "engine_id": engine_id,
                    "kind": command,
                    "key": f"migrated:{uuid.uuid4().hex}",
                    "source": "migration-0005",
                    "status": "pending",
                    "requested_at": now,
                }
                for engine_id, command in waiting
            ],
        )
    with op.batch_alter_table("engine_records", schema=None) as batch_op:
        batch_op.drop_column("command")


def downgrade() -> None:
    with op.batch_alter_table("engine_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("command", sa.String(length=16), nullable=True))
    op.drop_table("leases")
    op.drop_index("ix_engine_commands_engine_id_status", table_name="engine_commands")
    op.drop_table("engine_commands")
