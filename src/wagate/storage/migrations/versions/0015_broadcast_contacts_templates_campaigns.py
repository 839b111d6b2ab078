"""broadcast contacts templates campaigns

Revision ID: 0015
Revises: 0008
Create Date: 2026-12-02 06:53:57.866186

Broadcasts (campaigns/): a user's contacts (tags, custom fields, opt-out),
message templates, campaigns and one row per campaign recipient.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wagate.storage.base

revision: str = "0015"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "broadcast_contacts",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("jid", sa.String(length=128), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("opted_out_at", wagate.storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", wagate.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", wagate.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_broadcast_contacts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcast_contacts")),
        sa.UniqueConstraint("user_id", "jid", name="uq_broadcast_contacts_user_jid"),
    )
    with op.batch_alter_table("broadcast_contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_broadcast_contacts_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "broadcast_templates",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("media_url", sa.Text(), nullable=True),
        sa.Column("media_type", sa.String(length=16), nullable=True),
        sa.Column("defaults", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", wagate.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", wagate.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_broadcast_templates_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcast_templates")),
    )
    with op.batch_alter_table("broadcast_templates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_broadcast_templates_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "campaigns",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("template_id", sa.Uuid(), nullable=False),
        sa.Column("session_ids", sa.JSON(), nullable=False),
        sa.Column("session_weights", sa.JSON(), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("media", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("rate_per_minute", sa.Integer(), nullable=False),
        sa.Column("jitter_seconds", sa.Double(), nullable=False),
        sa.Column("typing_ms", sa.Integer(), nullable=False),
        sa.Column("daily_cap", sa.Integer(), nullable=True),
        sa.Column("quiet_start", sa.String(length=5), nullable=True),
        sa.Column("quiet_end", sa.String(length=5), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("check_numbers", sa.Boolean(), nullable=False),
        sa.Column("scheduled_at", wagate.storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_at", wagate.storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", wagate.storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", wagate.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", wagate.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["broadcast_templates.id"],
            name=op.f("fk_campaigns_template_id_broadcast_templates"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_campaigns_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_campaigns_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_campaigns_user_id"), ["user_id"], unique=False)

    op.create_table(
        "campaign_recipients",
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("jid", sa.String(length=128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("message_id", sa.String(length=128), nullable=True),
        sa.Column("queued_at", wagate.storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("replied_at", wagate.storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reply_message_id", sa.String(length=128), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_recipients_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["broadcast_contacts.id"],
            name=op.f("fk_campaign_recipients_contact_id_broadcast_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_campaign_recipients_session_id_sessions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_recipients")),
        sa.UniqueConstraint("campaign_id", "contact_id", name="uq_campaign_recipients_contact"),
    )
    with op.batch_alter_table("campaign_recipients", schema=None) as batch_op:
        batch_op.create_index(
            "ix_campaign_recipients_message", ["session_id", "message_id"], unique=False
        )
        batch_op.create_index(
            "ix_campaign_recipients_reply", ["session_id", "jid", "queued_at"], unique=False
        )
        batch_op.create_index(
            "ix_campaign_recipients_next", ["campaign_id", "status", "position"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("campaign_recipients", schema=None) as batch_op:
        batch_op.drop_index("ix_campaign_recipients_reply")
        batch_op.drop_index("ix_campaign_recipients_next")
        batch_op.drop_index("ix_campaign_recipients_message")

    op.drop_table("campaign_recipients")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaigns_user_id"))
        batch_op.drop_index(batch_op.f("ix_campaigns_state"))

    op.drop_table("campaigns")
    with op.batch_alter_table("broadcast_templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_broadcast_templates_user_id"))

    op.drop_table("broadcast_templates")
    with op.batch_alter_table("broadcast_contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_broadcast_contacts_user_id"))

    op.drop_table("broadcast_contacts")
