"""Silences, flapping alerts and auto-resolve

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "silences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("matchers", JSON, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_by", sa.String(length=32), nullable=True),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_silences_active", "silences", ["ends_at"])
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("silence_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("flapping", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.create_foreign_key("fk_alerts_silence_id", "silences", ["silence_id"], ["id"])
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("auto_resolve_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_incidents_auto_resolve_at", ["auto_resolve_at"])


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_index("ix_incidents_auto_resolve_at")
        batch.drop_column("auto_resolve_at")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_constraint("fk_alerts_silence_id", type_="foreignkey")
        batch.drop_column("flapping")
        batch.drop_column("silence_id")
    op.drop_index("ix_silences_active", "silences")
    op.drop_table("silences")
