"""Index effects by (ordering_key, state): asking whether a card edit is already waiting
scanned every pending effect during a storm

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_effects_key_state", "effects", ["ordering_key", "state"])


def downgrade() -> None:
    op.drop_index("ix_effects_key_state", "effects")
