"""What a live stream shows: who may watch, the state it starts from, and how
each outbox event is put to the client.

Takes a DB session and plain values; never commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wagate.auth import credentials
from wagate.auth.models import User
from wagate.errors import AppError, ErrorCode
from wagate.events.models import OutboxEvent
from wagate.events.service import with_sequence
from wagate.sessions import qr
from wagate.sessions import service as sessions_service
from wagate.sessions.models import SessionState, WhatsAppSession
from wagate.storage.base import utcnow
from wagate.webhooks import catalog

QR_EVENT = "session.qr"
PAIRING_CODE_EVENT = "session.pairing_code"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The session as it stands, and the events already reflected in it."""

    messages: list[dict[str, Any]]
    reflected: frozenset[int]


async def watched_session(
    db: AsyncSession, token: str, session_id: uuid.UUID, *, secret: str
) -> WhatsAppSession:
    """The session a token's user may watch (AppError: bad token, not theirs)."""
    principal = await credentials.resolve(db, token=token, api_key=None, secret=secret)
    return await credentials.session_by_id(db, principal, str(session_id))


async def snapshot(db: AsyncSession, session_id: uuid.UUID, after: int) -> Snapshot | None:
    """The current status (and QR or pairing code, when one is showing) of a session.

    The seqs of its events after ``after`` that are visible now are read
    *before* the session row, so each of them is reflected in the state
    read: the stream skips those, and sends every later event after the
    snapshot. Without that, an older QR could follow a newer "connected".
    """
    statement = select(OutboxEvent.seq).where(
        OutboxEvent.session_id == session_id, OutboxEvent.seq > after
    )
    reflected = frozenset((await db.execute(statement)).scalars().all())
    session = await db.get(WhatsAppSession, session_id, populate_existing=True)
    if session is None:
        return None
    now = int(utcnow().timestamp())
    base = {"sessionId": str(session.id), "timestamp": now}
    messages = [
        {"type": "session.status", "data": {**base, **sessions_service.status_data(session)}}
    ]
    if session.session_state is SessionState.QR and session.qr_code:
        data = {**base, "qrCode": session.qr_code, "status": "pending"}
        messages.append({"type": QR_EVENT, "data": with_qr_image(data)})
    if session.session_state is SessionState.PAIRING_CODE and session.pairing_code:
        # The code waiting to be entered on the phone (its number is not kept).
        data = {**base, "pairingCode": session.pairing_code, "phoneNumber": None}
        messages.append({"type": PAIRING_CODE_EVENT, "data": {**data, "status": "pending"}})
    return Snapshot(messages, reflected)


async def watching_user(
    db: AsyncSession, token: str | None, api_key: str | None, *, secret: str
) -> User:
    """The user whose own stream a token or user key may watch (AppError: bad
    credential, or a session key, which acts for one session and not its user)."""
    principal = await credentials.resolve(db, token=token, api_key=api_key, secret=secret)
    if principal.session is not None:
        message = "A session key cannot watch its user's events; use a user key"
        raise AppError(ErrorCode.INVALID_API_KEY, message)
    return principal.user


def user_event_filter(names: list[str] | None) -> Callable[[OutboxEvent], bool]:
    """What a user's stream carries: with no ``names``, the user's own events
    (those of no session: ``campaign.*``, a user-level webhook's
    ``webhook.disabled``); else the named events (webhook names, ``*``), the
    user's own and every session's, as a user-level webhook gets them. Raises
    ``catalog.UnknownEventError``."""
    if not names:
        return lambda event: event.session_id is None
    subscribed = catalog.normalize_events(names)
    return lambda event: catalog.wants(subscribed, event.type)


def event_message(event: OutboxEvent) -> dict[str, Any]:
    data = with_sequence(event)
    if event.type == QR_EVENT:
        data = with_qr_image(data)
    return {"type": event.type, "data": data}


def with_qr_image(data: dict[str, Any]) -> dict[str, Any]:
    code = data.get("qrCode")
    if not isinstance(code, str) or not code:
        return data
    return {**data, "qrImage": _qr_image(code)}


@lru_cache(maxsize=64)
def _qr_image(code: str) -> str:
    # Every stream watching a session shows the same QR: render it once.
    return qr.qr_data_url(code)
