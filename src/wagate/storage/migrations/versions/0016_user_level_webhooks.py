"""user-level webhooks (no session) and the campaign's completion event

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wagate.storage.base

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.alter_column("session_id", existing_type=sa.Uuid(), nullable=True)
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(
            sa.Column(
                "completion_reported_at",
                wagate.storage.base.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
    # Campaigns that ended before this revision are not reported again.
    op.execute(
        "UPDATE campaigns SET completion_reported_at = finished_at WHERE state = 'completed'"
    )


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("completion_reported_at")
    op.execute("DELETE FROM webhooks WHERE session_id IS NULL")
    with op.batch_alter_table("webhooks") as batch:
        batch.alter_column("session_id", existing_type=sa.Uuid(), nullable=False)
