"""session lifecycle: a declared phone number, sessions found by number

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 06:00:00

The new ``stopped`` state needs no schema change: ``state`` is a string.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("declared_phone", sa.String(length=32), nullable=True))
        batch_op.create_index(
            "ix_sessions_user_phone_number", ["user_id", "phone_number"], unique=False
        )
        batch_op.create_index(
            "ix_sessions_user_declared_phone", ["user_id", "declared_phone"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_sessions_user_declared_phone")
        batch_op.drop_index("ix_sessions_user_phone_number")
        batch_op.drop_column("declared_phone")
