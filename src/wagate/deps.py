"""Dependencies as named types: ``async def endpoint(db: DbSession, user: CurrentUser)``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from wagate.auth import service as auth_service
from wagate.auth.models import User
from wagate.config import Settings
from wagate.errors import AppError, ErrorCode, not_found
from wagate.events.service import OutboxSignal
from wagate.messages.queue import OutboundQueue
from wagate.net.forwarded import TrustedProxies
from wagate.sessions import service as sessions_service
from wagate.sessions.manager import SessionManager
from wagate.sessions.models import WhatsAppSession
from wagate.storage.db import Database


def get_settings(request: Request) -> Settings:
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


def get_client_address(request: Request) -> str | None:
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


async def get_current_user(request: Request, db: DbSession, settings: SettingsDep) -> User:
    token = bearer_token(request)
    if token is None:
        raise AppError(ErrorCode.NO_TOKEN, "Authentication token missing")
    user = await auth_service.user_from_token(db, token, secret=settings.resolved_secret_key)
    request.state.user_id = str(user.id)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_admin_user(user: CurrentUser) -> User:
    if not user.is_admin:
        raise AppError(ErrorCode.FORBIDDEN, "Administrator rights are required")
    return user


AdminUser = Annotated[User, Depends(get_admin_user)]


async def get_user_by_token_or_key(request: Request, db: DbSession, settings: SettingsDep) -> User:
    """A person (Bearer JWT) or their software (a stable user API key in ``x-api-key``)."""
    raw_key = request.headers.get("x-api-key")
    if raw_key and bearer_token(request) is None:
        user = await auth_service.user_for_api_key(db, raw_key)
        request.state.user_id = str(user.id)
        return user
    return await get_current_user(request, db, settings)


UserByTokenOrKey = Annotated[User, Depends(get_user_by_token_or_key)]


def get_session_manager(request: Request) -> SessionManager:
    manager: SessionManager = request.app.state.session_manager
    return manager


def get_outbox_signal(request: Request) -> OutboxSignal:
    signal: OutboxSignal = request.app.state.outbox_signal
    return signal


Manager = Annotated[SessionManager, Depends(get_session_manager)]
Signal = Annotated[OutboxSignal, Depends(get_outbox_signal)]


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
    session_id = await _session_id_from_request(request)
    session = await sessions_service.session_for_api_key(db, raw_key, session_id)
    request.state.user_id = str(session.user_id)
    request.state.session_id = str(session.id)
    return session


ApiSession = Annotated[WhatsAppSession, Depends(get_api_session)]


def get_outbound_queue(request: Request) -> OutboundQueue:
    queue: OutboundQueue = request.app.state.outbound_queue
    return queue


Queue = Annotated[OutboundQueue, Depends(get_outbound_queue)]


async def get_session_by_key_or_token(
    request: Request, db: DbSession, settings: SettingsDep
) -> WhatsAppSession:
    """For reads a person makes in the dashboard as well as software with a key:
    an API key (either mode), or a Bearer token with ``sessionId``."""
    if request.headers.get("x-api-key"):
        return await get_api_session(request, db)
    user = await get_current_user(request, db, settings)
    session_id = await _session_id_from_request(request)
    if not session_id:
        raise AppError(ErrorCode.VALIDATION_ERROR, "sessionId is required")
    session = await sessions_service.get_owned(db, user, parse_id(session_id, "Session"))
    request.state.session_id = str(session.id)
    return session


SessionByKeyOrToken = Annotated[WhatsAppSession, Depends(get_session_by_key_or_token)]
