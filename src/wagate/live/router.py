"""``/api/v1/sessions/{id}/events``: a session's events over a WebSocket.

The client gets ``{"type", "data"}`` messages: first the session's current
state, then every event of the session as it is committed. It authenticates
with its JWT, as ``?token=`` (browsers cannot set headers on a WebSocket) or
an ``Authorization: Bearer`` header.
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
    websocket_token,
)
from wagate.schemas import API_PREFIX
from wagate.storage.db import Database

router = APIRouter(prefix=f"{API_PREFIX}/sessions", tags=["live"])


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
