"""Which user plays which sandbox phone.

The network itself is shared, like WhatsApp: any session may message any
number. But only the user who created a phone may act as it (send from it,
read its messages, scan with it), so one tenant cannot read another's traffic.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from wagate.storage.base import Base, utcnow


class SandboxPhoneOwner(Base):
    __tablename__ = "sandbox_phone_owners"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
