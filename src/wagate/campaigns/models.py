"""Tables of the broadcast domain: contacts, templates, campaigns, recipients."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wagate.storage.base import Base, IdMixin, TimestampMixin


class BroadcastContact(IdMixin, TimestampMixin, Base):
    """A person a user broadcasts to, owned by the user (any of their sessions
    may send to it). ``jid`` is the address the send path uses."""

    __tablename__ = "broadcast_contacts"
    __table_args__ = (UniqueConstraint("user_id", "jid", name="uq_broadcast_contacts_user_jid"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    jid: Mapped[str] = mapped_column(String(128))
    phone: Mapped[str] = mapped_column(String(32))  # E.164 digits, no "+"
    name: Mapped[str | None] = mapped_column(String(200))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    opted_out: Mapped[bool] = mapped_column(default=False)
    opted_out_at: Mapped[datetime | None] = mapped_column()


class MessageTemplate(IdMixin, TimestampMixin, Base):
    __tablename__ = "broadcast_templates"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    media_url: Mapped[str | None] = mapped_column(Text)
    media_type: Mapped[str | None] = mapped_column(String(16))  # image | video | document
    defaults: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CampaignState(enum.StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Campaign(IdMixin, TimestampMixin, Base):
    __tablename__ = "campaigns"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    template_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("broadcast_templates.id", ondelete="RESTRICT")
    )
    session_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Each session's share of the round robin ({session id: weight}; 1 when absent).
    session_weights: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    # {"contactIds": [...], "tags": [...]}: resolved into recipients at the start.
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The template's media, fetched once at the start: a messages MediaRef's fields.
    media: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(12), default=CampaignState.DRAFT.value, index=True)
    rate_per_minute: Mapped[int] = mapped_column(default=0)  # per session; 0: no pacing
    jitter_seconds: Mapped[float] = mapped_column(default=0.0)
    typing_ms: Mapped[int] = mapped_column(default=0)  # "typing…" shown before each send
    daily_cap: Mapped[int | None] = mapped_column()  # per session per day (in time_zone)
    # Quiet hours ("HH:MM", start may be after end: overnight) in time_zone.
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    check_numbers: Mapped[bool] = mapped_column(default=False)
    scheduled_at: Mapped[datetime | None] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    # When ``campaign.completed`` was recorded (once, the first time the finished
    # campaign had no message left waiting in a queue).
    completion_reported_at: Mapped[datetime | None] = mapped_column()


class RecipientStatus(enum.StrEnum):
    """Before the core holds the message; afterwards the message's status counts."""

    PENDING = "pending"
    QUEUED = "queued"  # handed to the core's send queue: see the message
    SKIPPED = "skipped"


class CampaignRecipient(IdMixin, Base):
    """One contact of one campaign: exactly one message, keyed on this row
    (the message's idempotency key is ``campaign:<id>``)."""

    __tablename__ = "campaign_recipients"
    __table_args__ = (
        UniqueConstraint("campaign_id", "contact_id", name="uq_campaign_recipients_contact"),
        Index("ix_campaign_recipients_next", "campaign_id", "status", "position"),
        Index("ix_campaign_recipients_message", "session_id", "message_id"),
        Index("ix_campaign_recipients_reply", "session_id", "jid", "queued_at"),
    )

    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("broadcast_contacts.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column()
    jid: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default=RecipientStatus.PENDING.value)
    reason: Mapped[str | None] = mapped_column(Text)
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("sessions.id", ondelete="SET NULL")
    )
    message_id: Mapped[str | None] = mapped_column(String(128))
    queued_at: Mapped[datetime | None] = mapped_column()
    # The recipient's first reply after its message (to the sending session).
    replied_at: Mapped[datetime | None] = mapped_column()
    reply_message_id: Mapped[str | None] = mapped_column(String(128))
