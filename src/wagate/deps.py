"""Dependencies as named types: ``async def endpoint(db: DbSession, user: CurrentUser)``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from wagate.auth import credentials, tokens
from wagate.auth.models import User
from wagate.config import Settings
from wagate.errors import AppError, ErrorCode, not_found
from wagate.messages.queue import OutboundQueue
from wagate.net.forwarded import TrustedProxies
from wagate.sessions.manager import SessionManager
from wagate.sessions.models import WhatsAppSession
from wagate.storage.db import Database

# Dependencies are ``async def`` even when they do not await: FastAPI runs a
# plain ``def`` dependency in a worker thread, a hand-off per request.


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    """The request is the unit of work: commit after the endpoint returns and
    before the response is sent, or roll back on error; then start background work."""
    async with get_database(request).transaction() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbSession = Annotated[AsyncSession, Depends(get_db, scope="function")]


async def get_client_address(request: Request) -> str | None:
    return client_address(request)


def client_address(request: Request) -> str | None:
    """The client's IP: the peer, or what a trusted proxy says in X-Forwarded-For."""
    proxies: TrustedProxies = request.app.state.trusted_proxies
    peer = request.client.host if request.client else None
    return proxies.client_address(peer, request.headers.get("x-forwarded-for"))


ClientAddress = Annotated[str | None, Depends(get_client_address)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def resolve_principal(
    request: Request, db: AsyncSession, *, token: str | None, api_key: str | None
) -> credentials.Principal:
    """Every HTTP credential goes through here (and the WebSocket faces call
    ``credentials.resolve`` the same way), so the checks are the same everywhere."""
    settings: Settings = request.app.state.settings
    principal = await credentials.resolve(
        db, token=token, api_key=api_key, secret=settings.resolved_secret_key
    )
    request.state.user_id = str(principal.user.id)
    if principal.session is not None:
        request.state.session_id = str(principal.session.id)
    return principal


async def get_current_user(request: Request, db: DbSession) -> User:
    token = bearer_token(request)
    if token is None:
        raise AppError(ErrorCode.NO_TOKEN, "Authentication token missing")
    return (await resolve_principal(request, db, token=token, api_key=None)).user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_admin_user(user: CurrentUser) -> User:
    if not user.is_admin:
        raise AppError(ErrorCode.FORBIDDEN, "Administrator rights are required")
    return user


AdminUser = Annotated[User, Depends(get_admin_user)]


async def get_user_by_token_or_key(request: Request, db: DbSession) -> User:
    """A person (Bearer JWT) or their software (a stable user API key in ``x-api-key``)."""
    token = bearer_token(request)
    raw_key = request.headers.get("x-api-key")
    if raw_key and token is None and raw_key.startswith(tokens.SESSION_KEY_PREFIX):
        # A session key names a session, not its user's account.
        raise AppError(ErrorCode.INVALID_API_KEY, "Invalid or inactive API key")
    return (await resolve_principal(request, db, token=token, api_key=raw_key)).user


UserByTokenOrKey = Annotated[User, Depends(get_user_by_token_or_key)]


async def get_session_manager(request: Request) -> SessionManager:
    manager: SessionManager = request.app.state.session_manager
    return manager


Manager = Annotated[SessionManager, Depends(get_session_manager)]


def parse_id(value: str, what: str) -> uuid.UUID:
    """Ids in paths: anything that is not one of ours is simply not found."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise not_found(what) from None


async def _session_id_from_request(request: Request) -> str | None:
    session_id = request.headers.get("x-session-id") or request.query_params.get("sessionId")
    if session_id:
        return session_id
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            body = await request.json()
        except ValueError:
            return None
        value = body.get("sessionId") if isinstance(body, dict) else None
        return str(value) if value else None
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        value = (await request.form()).get("sessionId")
        return value if isinstance(value, str) and value else None
    return None


async def get_api_session(request: Request, db: DbSession) -> WhatsAppSession:
    """The session an API-key request acts for (both modes of the SAK reference):
    a session key alone, or a user key with ``x-session-id`` / ``sessionId``."""
    raw_key = request.headers.get("x-api-key")
    if not raw_key:
        raise AppError(ErrorCode.NO_API_KEY, "API key missing (x-api-key header)")
    principal = await resolve_principal(request, db, token=None, api_key=raw_key)
    session_id = await _session_id_from_request(request)
    if principal.session is not None:
        session = await credentials.session_by_id(
            db, principal, session_id or str(principal.session.id)
        )
    elif not session_id:
        raise AppError(
            ErrorCode.VALIDATION_ERROR,
            "x-session-id header (or sessionId) is required with a user API key",
        )
    else:
        session = await credentials.session_by_id(db, principal, session_id)
    request.state.session_id = str(session.id)
    return session


ApiSession = Annotated[WhatsAppSession, Depends(get_api_session)]


async def get_outbound_queue(request: Request) -> OutboundQueue:
    queue: OutboundQueue = request.app.state.outbound_queue
    return queue


Queue = Annotated[OutboundQueue, Depends(get_outbound_queue)]


async def get_session_by_key_or_token(request: Request, db: DbSession) -> WhatsAppSession:
    """For reads a person makes in the dashboard as well as software with a key:
    an API key (either mode), or a Bearer token with ``sessionId``."""
    if request.headers.get("x-api-key"):
        return await get_api_session(request, db)
    token = bearer_token(request)
    if token is None:
        raise AppError(ErrorCode.NO_TOKEN, "Authentication token missing")
    principal = await resolve_principal(request, db, token=token, api_key=None)
    session_id = await _session_id_from_request(request)
    if not session_id:
        raise AppError(ErrorCode.VALIDATION_ERROR, "sessionId is required")
    session = await credentials.session_by_id(db, principal, session_id)
    request.state.session_id = str(session.id)
    return session


SessionByKeyOrToken = Annotated[WhatsAppSession, Depends(get_session_by_key_or_token)]


async def get_principal(request: Request, db: DbSession) -> credentials.Principal:
    """The faces' credentials: a Bearer JWT, else a user or session key in ``x-api-key``."""
    return await resolve_principal(
        request, db, token=bearer_token(request), api_key=request.headers.get("x-api-key")
    )


Authenticated = Annotated[credentials.Principal, Depends(get_principal)]


async def face_session(
    request: Request, db: AsyncSession, principal: credentials.Principal, ref: str
) -> WhatsAppSession:
    """The session a face names by id or phone number, within the sessions the
    principal may act for; the request then counts as one of its API calls."""
    session = await credentials.session_by_reference(db, principal, ref)
    request.state.session_id = str(session.id)
    # Software acting on a session through a face: one of the session's API calls.
    request.state.counts_as_api_call = True
    return session


async def get_face_session(
    request: Request, db: DbSession, principal: Authenticated, session_id: str
) -> WhatsAppSession:
    """A face's ``{session_id}`` path parameter: a session id or phone number."""
    return await face_session(request, db, principal, session_id)


FaceSession = Annotated[WhatsAppSession, Depends(get_face_session)]
