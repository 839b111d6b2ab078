from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from wagate.storage.base import Base, IdMixin, utcnow

# The counters a usage row keeps, in the order the API reports them.
USAGE_FIELDS = ("sent", "received", "failed", "delivered", "read", "api_calls")


class UsageCounter(Base):
    """What one session did on one day (UTC): a row per (user, session, day),
    incremented with upserts as things happen, so reading usage never scans the
    messages table.

    ``session_id`` has no foreign key on purpose: a deleted session's usage still
    belongs to its owner's history.
    """

    __tablename__ = "usage_counters"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    sent: Mapped[int] = mapped_column(default=0)
    received: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    delivered: Mapped[int] = mapped_column(default=0)
    read: Mapped[int] = mapped_column(default=0)
    api_calls: Mapped[int] = mapped_column(default=0)


class ActivityLog(IdMixin, Base):
    """Things a user (or their sessions) did that they may want to audit later."""

    __tablename__ = "activity_logs"
    __table_args__ = (Index("ix_activity_logs_user_created", "user_id", "created_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(64))
    # ``metadata`` is taken on declarative classes, hence the attribute name.
    details: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    ip_address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
