"""webhooks: hold an endpoint that is down (or asked to wait) as a whole

Revision ID: 0010
Revises: 0006
Create Date: 2026-12-02 06:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wagate.storage.base

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(
            sa.Column("hold_until", wagate.storage.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("hold_until")
