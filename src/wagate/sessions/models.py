from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from wagate.storage.base import Base, IdMixin, TimestampMixin, utcnow


class SessionState(enum.StrEnum):
    PENDING = "pending"
    QR = "qr"
    PAIRING_CODE = "pairing_code"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    LOGGED_OUT = "logged_out"
    FAILED = "failed"
    # A person disconnected it: never resumed or reconnected until connected again.
    STOPPED = "stopped"

    @property
    def sak_status(self) -> str:
        """The coarse ``status`` of the SAK reference: pending, connected or disconnected."""
        if self in (SessionState.PENDING, SessionState.QR, SessionState.PAIRING_CODE):
            return "pending"
        if self is SessionState.CONNECTED:
            return "connected"
        return "disconnected"


class WhatsAppSession(IdMixin, TimestampMixin, Base):
    """A gateway session: one linked WhatsApp device, owned by one user."""

    __tablename__ = "sessions"
    __table_args__ = (
        Index("ix_sessions_user_phone_number", "user_id", "phone_number"),
        Index("ix_sessions_user_declared_phone", "user_id", "declared_phone"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    engine: Mapped[str] = mapped_column(String(32))
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    api_key_last_four: Mapped[str] = mapped_column(String(4))
    state: Mapped[str] = mapped_column(String(20), default=SessionState.PENDING.value)
    reason: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    linked: Mapped[bool] = mapped_column(default=False)
    phone_number: Mapped[str | None] = mapped_column(String(32))
    # The number its owner says it will link (faces that address sessions by
    # number); ``phone_number`` is the one the engine reported when it linked.
    declared_phone: Mapped[str | None] = mapped_column(String(32))
    push_name: Mapped[str | None] = mapped_column(String(200))
    jid: Mapped[str | None] = mapped_column(String(100))
    qr_code: Mapped[str | None] = mapped_column(Text)
    qr_expires_at: Mapped[datetime | None] = mapped_column()
    pairing_code: Mapped[str | None] = mapped_column(String(16))
    last_connected_at: Mapped[datetime | None] = mapped_column()
    # Sending behaviour: messages per minute (None: the server default; 0: no
    # pacing) and how long "typing…" shows before each message.
    send_rate_per_minute: Mapped[int | None] = mapped_column()
    typing_delay_ms: Mapped[int] = mapped_column(default=0)
    state_changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def session_state(self) -> SessionState:
        return SessionState(self.state)


class SessionTransition(IdMixin, Base):
    """Every change of a session's state, kept for its history."""

    __tablename__ = "session_transitions"
    __table_args__ = (Index("ix_session_transitions_session_at", "session_id", "created_at"),)

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
