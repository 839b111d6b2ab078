"""Webhook endpoints, the deliveries owed to them, and every attempt made.

The outbox row is the source of truth for what happened; a delivery is one
outbox event owed to one webhook; an attempt is one HTTP request for it.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from wagate.storage.base import Base, IdMixin, TimestampMixin, utcnow

# The outbox's own sequence type (SQLite only autoincrements an INTEGER key).
SequenceNumber = BigInteger().with_variant(Integer(), "sqlite")


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its next attempt (or for its webhook to be enabled)
    DELIVERING = "delivering"  # claimed by a dispatcher until ``lease_until``
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # every retry was used, or the body cannot be sent


class Webhook(IdMixin, TimestampMixin, Base):
    """An endpoint that receives a session's events, or (no session) its user's:
    the user's own events and the subscribed events of every session of theirs."""

    __tablename__ = "webhooks"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list[str]] = mapped_column(JSON)
    # Fernet token of the signing secret, keyed from the instance secret.
    secret_encrypted: Mapped[str] = mapped_column(Text)
    send_secret_header: Mapped[bool] = mapped_column(default=True)
    # The body's shape (webhooks/formats.py): ``sak`` or ``multisession``.
    format: Mapped[str] = mapped_column(String(16), default="sak", server_default="sak")
    is_active: Mapped[bool] = mapped_column(default=True)
    # Consecutive failed attempts, and when the current run of failures began.
    failed_attempts: Mapped[int] = mapped_column(default=0)
    failing_since: Mapped[datetime | None] = mapped_column()
    last_success_at: Mapped[datetime | None] = mapped_column()
    # Nothing is sent before this: the endpoint is down (it failed every recent
    # event, so only a probe goes out now and then) or asked to wait (Retry-After).
    hold_until: Mapped[datetime | None] = mapped_column()
    disabled_reason: Mapped[str | None] = mapped_column(String(40))


class WebhookDelivery(IdMixin, Base):
    """One outbox event owed to one webhook."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # A webhook's next delivery: its oldest due one, found by seq.
        Index("ix_webhook_deliveries_head", "webhook_id", "status", "event_seq"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    webhook_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    event_seq: Mapped[int] = mapped_column(SequenceNumber)
    event_id: Mapped[uuid.UUID] = mapped_column()
    event_type: Mapped[str] = mapped_column(String(64))
    # The body to send: the outbox payload, kept here so pruning the outbox
    # never strands a delivery that is still owed.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    lease_until: Mapped[datetime | None] = mapped_column()
    last_status_code: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class WebhookAttempt(IdMixin, Base):
    """One HTTP request made for a delivery, kept for the deliveries endpoint."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery_at", "delivery_id", "attempted_at"),)

    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    attempt: Mapped[int] = mapped_column()
    status_code: Mapped[int | None] = mapped_column()
    duration_ms: Mapped[int] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_retry_at: Mapped[datetime | None] = mapped_column()


class RelayCursor(Base):
    """How far the outbox has been turned into deliveries: one row per relay.

    It moves in the same transaction that creates the deliveries, so a restart
    neither skips nor repeats an event.
    """

    __tablename__ = "webhook_relay_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_seq: Mapped[int] = mapped_column(SequenceNumber)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
