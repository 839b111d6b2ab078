"""Sending accounts as the broadcaster seed sees them: one session per phone
number, started (or restarted) by that number."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from wagate.auth.models import User
from wagate.errors import AppError, ErrorCode
from wagate.jid import InvalidJidError, normalize_number
from wagate.sessions import lifecycle
from wagate.sessions.manager import SessionManager
from wagate.sessions.models import WhatsAppSession


async def start_for_number(
    db: AsyncSession,
    manager: SessionManager,
    user: User,
    phone_number: str,
    *,
    ip_address: str | None = None,
) -> WhatsAppSession:
    """The user's account for this number, connecting (a new one begins linking
    with the number declared; a disconnected one resumes, or asks for a new
    scan when its device was unlinked)."""
    try:
        digits = normalize_number(phone_number)
    except InvalidJidError as exc:
        raise AppError(ErrorCode.VALIDATION_ERROR, f"phoneNumber: {exc}") from exc
    try:
        existing = await lifecycle.find(db, user, digits)
    except AppError as exc:
        if exc.code is not ErrorCode.NOT_FOUND:
            raise
        created = await lifecycle.create(
            db, manager, user, name=f"+{digits}", declared_phone=digits, ip_address=ip_address
        )
        return created.session
    return await lifecycle.connect(db, manager, user, existing.id)
