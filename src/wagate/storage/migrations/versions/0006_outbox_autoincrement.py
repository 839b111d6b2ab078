"""outbox seq never reused on SQLite

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 10:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # PostgreSQL sequences never hand a number out twice; SQLite's rowid does
    # once the newest rows are deleted, unless the table says AUTOINCREMENT.
    if op.get_context().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "outbox_events", recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ):
        pass


def downgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "outbox_events", recreate="always", table_kwargs={"sqlite_autoincrement": False}
    ):
        pass
