from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from wagate.storage.base import Base, utcnow

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT.
SequenceId = BigInteger().with_variant(Integer(), "sqlite")


class OutboxEvent(Base):
    """A domain event, written in the same transaction as the change it reports.

    ``seq`` orders events; ``id`` is the stable id receivers de-duplicate on.
    Webhook delivery and live streams read from here.
    """

    __tablename__ = "outbox_events"
    # AUTOINCREMENT on SQLite: readers keep a cursor on ``seq``, so a number must
    # never come back after the newest rows are deleted (a user's deletion cascades).
    __table_args__ = (
        Index("ix_outbox_events_session_seq", "session_id", "seq"),
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(SequenceId, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(unique=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    session_id: Mapped[uuid.UUID | None] = mapped_column()
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
