"""Live events over a WebSocket.

``/api/v1/sessions/{id}/events``: a session's events. The client gets
``{"type", "data"}`` messages: first the session's current state, then every
event of the session as it is committed. It authenticates with its JWT, as
``?token=`` (browsers cannot set headers on a WebSocket) or an
``Authorization: Bearer`` header.

``/api/v1/events``: a user's events (``campaign.progress``,
``campaign.completed``…; with ``?events=`` the named events of every session
too), for a JWT or a user key (``x-api-key``), through the same resolver.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, WebSocket

from wagate.config import Settings
from wagate.errors import AppError, ErrorCode
from wagate.live import service
from wagate.live.stream import (
    CLOSE_NOT_FOUND,
    CLOSE_UNAUTHORIZED,
    as_is,
    follow,
    follow_user,
    websocket_token,
)
from wagate.schemas import API_PREFIX
from wagate.storage.base import utcnow
from wagate.storage.db import Database
from wagate.webhooks.catalog import UnknownEventError

router = APIRouter(prefix=f"{API_PREFIX}/sessions", tags=["live"])
user_router = APIRouter(prefix=API_PREFIX, tags=["live"])
# Close code: an ``events`` name that is not an event.
CLOSE_BAD_REQUEST = 4400


@router.websocket("/{session_id}/events")
async def session_events(
    websocket: WebSocket, session_id: str, token: str | None = Query(default=None)
) -> None:
    state = websocket.app.state
    database: Database = state.database
    settings: Settings = state.settings
    await websocket.accept()
    raw_token = websocket_token(websocket, token)
    if raw_token is None:
        await websocket.close(CLOSE_UNAUTHORIZED, "Authentication token missing")
        return
    try:
        parsed = uuid.UUID(session_id)
        async with database.transaction() as db:
            await service.watched_session(
                db, raw_token, parsed, secret=settings.resolved_secret_key
            )
    except ValueError:
        await websocket.close(CLOSE_NOT_FOUND, "Session not found")
        return
    except AppError as exc:
        code = CLOSE_NOT_FOUND if exc.code is ErrorCode.NOT_FOUND else CLOSE_UNAUTHORIZED
        await websocket.close(code, exc.message)
        return

    await follow(websocket, parsed, as_is)


@user_router.websocket("/events")
async def user_events(
    websocket: WebSocket,
    token: str | None = Query(default=None),
    events: str | None = Query(default=None, max_length=1024),
) -> None:
    state = websocket.app.state
    database: Database = state.database
    settings: Settings = state.settings
    await websocket.accept()
    names = [name for name in (events or "").split(",") if name.strip()]
    try:
        wants = service.user_event_filter(names)
    except UnknownEventError as exc:
        await websocket.close(CLOSE_BAD_REQUEST, f"Unknown event {', '.join(exc.names)}")
        return
    try:
        async with database.transaction() as db:
            user = await service.watching_user(
                db,
                websocket_token(websocket, token),
                websocket.headers.get("x-api-key"),
                secret=settings.resolved_secret_key,
            )
    except AppError as exc:
        await websocket.close(CLOSE_UNAUTHORIZED, exc.message)
        return
    ready = {
        "type": "ready",
        "data": {
            "userId": str(user.id),
            "events": names or None,
            "timestamp": int(utcnow().timestamp()),
        },
    }
    await follow_user(websocket, user.id, wants, ready)
