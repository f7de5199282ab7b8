"""Interactive steps: the checklist message, step checks and the opening alert's labels

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("steps_ts", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("labels", JSON, nullable=False, server_default="{}"))
    with op.batch_alter_table("step_progress") as batch:
        batch.add_column(sa.Column("check", JSON, nullable=True))
        batch.add_column(sa.Column("check_outcome", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("check_detail", sa.Text(), nullable=True))
        batch.add_column(sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("step_progress") as batch:
        for column in ("checked_at", "check_detail", "check_outcome", "check"):
            batch.drop_column(column)
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("labels")
        batch.drop_column("steps_ts")
