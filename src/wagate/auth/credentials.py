"""The one credential resolver every face uses (HTTP, WebSocket, Socket.IO).

A Bearer JWT or a user key (``wgk_``) acts for any of its user's sessions; a
session key (``sak_``) acts for its own session only. Each path makes the same
checks: the credential is valid and not revoked or expired, and its user is
active. Takes a DB session and plain values; never commits.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from wagate.auth import cache as credential_cache
from wagate.auth import service as auth_service
from wagate.auth import tokens
from wagate.auth.models import User
from wagate.errors import AppError, ErrorCode, not_found
from wagate.sessions import lifecycle
from wagate.sessions.models import WhatsAppSession
from wagate.sessions.repository import SessionRepository


class CredentialKind(enum.StrEnum):
    TOKEN = "token"  # noqa: S105  (a kind of credential, not a secret)
    USER_KEY = "user_key"
    SESSION_KEY = "session_key"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as: a user, and for a session key the one session it may use."""

    user: User
    kind: CredentialKind
    session: WhatsAppSession | None = None

    @property
    def by_key(self) -> bool:
        return self.kind is not CredentialKind.TOKEN


_INVALID_KEY = "Invalid or inactive API key"


async def resolve(
    db: AsyncSession, *, token: str | None, api_key: str | None, secret: str
) -> Principal:
    """The principal behind a Bearer token or an ``x-api-key``; a token wins when
    both are sent (a person in the dashboard acts as themselves)."""
    if token:
        user = await auth_service.user_from_token(db, token, secret=secret)
        return Principal(user, CredentialKind.TOKEN)
    if not api_key:
        raise AppError(ErrorCode.NO_TOKEN, "Authentication token missing")
    if api_key.startswith(tokens.SESSION_KEY_PREFIX):
        key_hash = tokens.hash_key(api_key)
        cache = credential_cache.of(db)
        if cache is None:
            session = await SessionRepository(db).get_by_key_hash(key_hash)
        else:
            session = await cache.session_by_key_hash(db, key_hash)
        if session is None:
            raise AppError(ErrorCode.INVALID_API_KEY, _INVALID_KEY)
        owner = await auth_service.active_owner(db, session.user_id)
        return Principal(owner, CredentialKind.SESSION_KEY, session)
    user = await auth_service.user_for_api_key(db, api_key)
    return Principal(user, CredentialKind.USER_KEY)


async def session_by_id(db: AsyncSession, principal: Principal, raw_id: str) -> WhatsAppSession:
    """One of the principal's sessions by its id: another user's, or an id that is
    not one of ours, is not found; a session key names its own session only."""
    if principal.session is not None:
        if raw_id != str(principal.session.id):
            raise AppError(ErrorCode.FORBIDDEN, "This API key belongs to another session")
        return principal.session
    try:
        session_id = uuid.UUID(raw_id)
    except ValueError:
        raise not_found("Session") from None
    cache = credential_cache.of(db)
    if cache is None:
        session = await SessionRepository(db).get_for(principal.user.id, session_id)
    else:
        session = await cache.session(db, session_id)
    if session is None or session.user_id != principal.user.id:
        raise not_found("Session")
    return session


async def session_by_reference(db: AsyncSession, principal: Principal, ref: str) -> WhatsAppSession:
    """One of the principal's sessions by its id or its phone number (faces that
    address sessions by number); anything else is not found."""
    session = await lifecycle.find(db, principal.user, ref)
    if principal.session is not None and session.id != principal.session.id:
        raise AppError(ErrorCode.FORBIDDEN, "This API key belongs to another session")
    return session
