from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wagate.events.models import SequenceId
from wagate.storage.base import Base, IdMixin, utcnow


class MessageStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # handed to the engine; no ack stored yet
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    PLAYED = "played"
    FAILED = "failed"
    RECEIVED = "received"  # an incoming message

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def public(self) -> str:
        """What clients see: ``sending`` is an internal step of ``queued``."""
        return MessageStatus.QUEUED.value if self is MessageStatus.SENDING else self.value


_RANK = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.READ: 4,
    MessageStatus.PLAYED: 5,
    MessageStatus.FAILED: 9,
    MessageStatus.RECEIVED: 9,
}


class Message(Base):
    """A message sent or received by a session. Outgoing ones waiting in
    ``queued``/``sending`` are the session's durable send queue, in ``seq`` order."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("session_id", "message_id", name="uq_messages_session_message"),
        UniqueConstraint("session_id", "idempotency_key", name="uq_messages_session_idempotency"),
        Index("ix_messages_session_status_seq", "session_id", "status", "seq"),
        Index("ix_messages_session_chat_seq", "session_id", "chat", "seq"),
        Index("ix_messages_session_created", "session_id", "created_at"),
    )

    seq: Mapped[int] = mapped_column(SequenceId, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(unique=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(128))
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    chat: Mapped[str] = mapped_column(String(128))
    from_jid: Mapped[str | None] = mapped_column(String(128))
    to_jid: Mapped[str | None] = mapped_column(String(128))
    participant: Mapped[str | None] = mapped_column(String(128))
    sender_lid: Mapped[str | None] = mapped_column(String(128))
    push_name: Mapped[str | None] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)
    caption: Mapped[str | None] = mapped_column(Text)
    media_sha256: Mapped[str | None] = mapped_column(String(64))
    media_mimetype: Mapped[str | None] = mapped_column(String(200))
    media_filename: Mapped[str | None] = mapped_column(String(255))
    media_size: Mapped[int | None] = mapped_column()
    voice_note: Mapped[bool] = mapped_column(default=False)
    content: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # location, contact, reaction
    quoted_message_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(12))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    typing_delay_ms: Mapped[int] = mapped_column(default=0)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    first_status: Mapped[str | None] = mapped_column(String(12))
    timestamp: Mapped[datetime] = mapped_column(default=utcnow)  # when WhatsApp says it was sent
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column()
    read_at: Mapped[datetime | None] = mapped_column()
    failed_at: Mapped[datetime | None] = mapped_column()

    @property
    def message_status(self) -> MessageStatus:
        return MessageStatus(self.status)


class MessageStatusChange(IdMixin, Base):
    __tablename__ = "message_status_changes"
    __table_args__ = (Index("ix_message_status_changes_message", "message_seq", "created_at"),)

    message_seq: Mapped[int] = mapped_column(
        SequenceId, ForeignKey("messages.seq", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Chat(IdMixin, Base):
    __tablename__ = "chats"
    __table_args__ = (UniqueConstraint("session_id", "jid", name="uq_chats_session_jid"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    jid: Mapped[str] = mapped_column(String(128))
    name: Mapped[str | None] = mapped_column(String(200))
    is_group: Mapped[bool] = mapped_column(default=False)
    unread_count: Mapped[int] = mapped_column(default=0)
    last_message_seq: Mapped[int | None] = mapped_column(SequenceId)
    last_message_at: Mapped[datetime | None] = mapped_column()


class Contact(IdMixin, Base):
    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("session_id", "jid", name="uq_contacts_session_jid"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    jid: Mapped[str] = mapped_column(String(128))
    phone_number: Mapped[str | None] = mapped_column(String(32))
    lid: Mapped[str | None] = mapped_column(String(128))
    push_name: Mapped[str | None] = mapped_column(String(200))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
