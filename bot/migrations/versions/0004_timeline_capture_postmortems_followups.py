"""Timeline capture from Slack, kept postmortems, follow-ups, the incident commander

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("commander", sa.String(length=32), nullable=True))
    with op.batch_alter_table("timeline_events") as batch:
        batch.add_column(sa.Column("source_key", sa.String(length=120), nullable=True))
        batch.create_unique_constraint(
            "uq_timeline_events_incident_id", ["incident_id", "source_key"]
        )
    op.create_table(
        "slack_events",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_slack_events_received_at", "slack_events", ["received_at"])
    op.create_table(
        "postmortems",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("markdown", sa.Text(), nullable=False),
        sa.Column("narrative", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "version"),
    )
    op.create_table(
        "followups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=32), nullable=True),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_followups_incident_id", "followups", ["incident_id"])
    op.create_index("ix_followups_owner", "followups", ["owner"])


def downgrade() -> None:
    op.drop_table("followups")
    op.drop_table("postmortems")
    op.drop_index("ix_slack_events_received_at", "slack_events")
    op.drop_table("slack_events")
    with op.batch_alter_table("timeline_events") as batch:
        batch.drop_constraint("uq_timeline_events_incident_id", type_="unique")
        batch.drop_column("source_key")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("commander")
