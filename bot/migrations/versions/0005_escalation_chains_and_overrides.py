"""Escalation chains (pages.chain_start) and on-call overrides

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pages") as batch:
        batch.add_column(sa.Column("chain_start", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "oncall_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=80), nullable=False),
        sa.Column("layer", sa.String(length=80), nullable=True),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_oncall_overrides_end", "oncall_overrides", ["ends_at"])


def downgrade() -> None:
    op.drop_index("ix_oncall_overrides_end", "oncall_overrides")
    op.drop_table("oncall_overrides")
    with op.batch_alter_table("pages") as batch:
        batch.drop_column("chain_start")
