"""Sessions: creation under plan limits, keys, and every change of state.

Takes a DB session and plain values; never commits. A change of state is
stored as a transition and written to the outbox in the same transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wagate.analytics import service as analytics
from wagate.auth import tokens
from wagate.auth.models import User
from wagate.auth.repository import UserRepository
from wagate.errors import AppError, ErrorCode, not_found
from wagate.events.service import record_event
from wagate.sessions.models import SessionState, SessionTransition, WhatsAppSession
from wagate.sessions.repository import SessionRepository
from wagate.storage.base import utcnow

# State changes that go to the owner's activity log (most are routine and do not).
_AUDITED_STATES = {
    SessionState.CONNECTED: "session.connected",
    SessionState.LOGGED_OUT: "session.logged_out",
    SessionState.FAILED: "session.failed",
    SessionState.STOPPED: "session.stopped",
}


@dataclass(frozen=True, slots=True)
class CreatedSession:
    session: WhatsAppSession
    api_key: str


async def create_session(
    db: AsyncSession,
    user: User,
    *,
    name: str,
    engine: str,
    free_plan_sessions: int,
    declared_phone: str | None = None,
    ip_address: str | None = None,
) -> CreatedSession:
    sessions = SessionRepository(db)
    if not user.is_admin:
        # The count and the insert are one step: concurrent creates wait here.
        await UserRepository(db).lock(user.id)
    if not user.is_admin and await sessions.count_for(user.id) >= free_plan_sessions:
        raise AppError(
            ErrorCode.SESSION_LIMIT_REACHED,
            f"Your plan allows {free_plan_sessions} sessions; delete one to create another",
        )
    key = tokens.new_key(tokens.SESSION_KEY_PREFIX)
    session = WhatsAppSession(
        user_id=user.id,
        name=name,
        engine=engine,
        api_key_hash=key.hash,
        api_key_last_four=key.last_four,
        state=SessionState.PENDING,
        declared_phone=declared_phone,
    )
    await sessions.create(session)
    await transition(db, session, SessionState.PENDING, initial=True)
    await _audit(db, session, "session.create", ip_address)
    return CreatedSession(session=session, api_key=key.raw)


async def get_owned(db: AsyncSession, user: User, session_id: uuid.UUID) -> WhatsAppSession:
    session = await SessionRepository(db).get_for(user.id, session_id)
    if session is None:
        raise not_found("Session")
    return session


async def list_owned(db: AsyncSession, user: User) -> list[WhatsAppSession]:
    return await SessionRepository(db).list_for(user.id)


async def update(
    db: AsyncSession,
    user: User,
    session_id: uuid.UUID,
    *,
    name: str | None,
    send_rate_per_minute: int | None,
    typing_delay_ms: int | None,
    fields_set: set[str],
) -> WhatsAppSession:
    """Change what a person may change. ``sendRatePerMinute: null`` returns the
    session to the server's default pace."""
    session = await get_owned(db, user, session_id)
    if name is not None:
        session.name = name
    if "sendRatePerMinute" in fields_set:
        session.send_rate_per_minute = send_rate_per_minute
    if typing_delay_ms is not None:
        session.typing_delay_ms = typing_delay_ms
    await db.flush()
    return session


async def rotate_api_key(db: AsyncSession, user: User, session_id: uuid.UUID) -> CreatedSession:
    session = await get_owned(db, user, session_id)
    key = tokens.new_key(tokens.SESSION_KEY_PREFIX)
    session.api_key_hash = key.hash
    session.api_key_last_four = key.last_four
    await db.flush()
    return CreatedSession(session=session, api_key=key.raw)


async def delete(
    db: AsyncSession, user: User, session_id: uuid.UUID, ip_address: str | None = None
) -> WhatsAppSession:
    session = await get_owned(db, user, session_id)
    await _audit(db, session, "session.delete", ip_address)
    await SessionRepository(db).delete(session)
    return session


async def _audit(
    db: AsyncSession, session: WhatsAppSession, action: str, ip_address: str | None
) -> None:
    await analytics.record_activity(
        db,
        user_id=session.user_id,
        action=action,
        metadata={"sessionId": str(session.id), "name": session.name},
        ip_address=ip_address,
    )


def status_data(session: WhatsAppSession) -> dict[str, Any]:
    """What session events carry: the SAK status and the finer state with its reason."""
    state = session.session_state
    return {
        "status": state.sak_status,
        "state": state.value,
        "reason": session.reason,
        "phoneNumber": session.phone_number,
        "name": session.name,
    }


async def transition(
    db: AsyncSession,
    session: WhatsAppSession,
    to_state: SessionState,
    *,
    reason: str | None = None,
    detail: str | None = None,
    initial: bool = False,
) -> bool:
    """Move a session to ``to_state``; store it and write its events. Returns whether
    anything changed (a repeated state with the same reason is not a transition)."""
    from_state = session.session_state
    is_new = initial
    if not is_new and from_state is to_state and session.reason == reason:
        return False
    now = utcnow()
    session.state = to_state
    session.reason = reason
    session.detail = detail
    session.state_changed_at = now
    if to_state is not SessionState.QR:
        session.qr_code = None
        session.qr_expires_at = None
    if to_state is not SessionState.PAIRING_CODE:
        session.pairing_code = None
    if to_state is SessionState.CONNECTED:
        session.linked = True
        session.last_connected_at = now
    if to_state in (SessionState.LOGGED_OUT, SessionState.FAILED):
        session.linked = False
    db.add(
        SessionTransition(
            session_id=session.id,
            from_state=None if is_new else from_state,
            to_state=to_state,
            reason=reason,
            detail=detail,
            created_at=now,
        )
    )
    data = status_data(session)
    data["previousState"] = None if is_new else from_state
    await _event(db, session, "session.status", data)
    if to_state is SessionState.CONNECTED:
        await _event(db, session, "session.connected", status_data(session))
    elif from_state is SessionState.CONNECTED:
        await _event(db, session, "session.disconnected", status_data(session))
    if to_state in _AUDITED_STATES:
        await analytics.record_activity(
            db,
            user_id=session.user_id,
            action=_AUDITED_STATES[to_state],
            metadata={"sessionId": str(session.id), "phoneNumber": session.phone_number}
            | ({"reason": reason} if reason else {}),
        )
    await db.flush()
    return True


async def show_qr(
    db: AsyncSession,
    session: WhatsAppSession,
    code: str,
    expires_at: datetime,
) -> None:
    await transition(db, session, SessionState.QR)
    session.qr_code = code
    session.qr_expires_at = expires_at
    await _event(db, session, "session.qr", {"qrCode": code, "status": "pending"})
    await db.flush()


async def show_pairing_code(
    db: AsyncSession,
    session: WhatsAppSession,
    code: str,
    phone_number: str,
) -> None:
    await transition(db, session, SessionState.PAIRING_CODE)
    session.pairing_code = code
    await _event(
        db,
        session,
        "session.pairing_code",
        {"pairingCode": code, "phoneNumber": phone_number, "status": "pending"},
    )
    await db.flush()


async def mark_connected(
    db: AsyncSession,
    session: WhatsAppSession,
    *,
    phone_number: str,
    push_name: str | None,
    jid: str | None,
) -> None:
    session.phone_number = phone_number
    session.push_name = push_name
    session.jid = jid
    await transition(db, session, SessionState.CONNECTED)


async def _event(
    db: AsyncSession,
    session: WhatsAppSession,
    event_type: str,
    data: dict[str, Any],
) -> None:
    await record_event(
        db, user_id=session.user_id, session_id=session.id, event_type=event_type, data=data
    )
