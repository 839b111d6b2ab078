"""``/api/v1/sessions/{id}/events``: a session's events over a WebSocket.

The client gets ``{"type", "data"}`` messages: first the session's current
state, then every event of the session as it is committed. It authenticates
with its JWT, as ``?token=`` (browsers cannot set headers on a WebSocket) or
an ``Authorization: Bearer`` header.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from wagate.config import Settings
from wagate.errors import AppError, ErrorCode
from wagate.live import service
from wagate.live.hub import LiveHub, Subscriber
from wagate.schemas import API_PREFIX
from wagate.storage.db import Database

router = APIRouter(prefix=f"{API_PREFIX}/sessions", tags=["live"])

# Close codes (4000-4999 are the application's own, mirroring HTTP statuses).
CLOSE_UNAUTHORIZED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_SLOW_CONSUMER = 1013  # "try again later": it fell too far behind
CLOSE_GOING_AWAY = 1001
_CLOSE_TIMEOUT = 5.0


def _token(websocket: WebSocket, query_token: str | None) -> str | None:
    if query_token:
        return query_token
    scheme, _, value = websocket.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


@router.websocket("/{session_id}/events")
async def session_events(
    websocket: WebSocket, session_id: str, token: str | None = Query(default=None)
) -> None:
    state = websocket.app.state
    hub: LiveHub = state.live_hub
    database: Database = state.database
    settings: Settings = state.settings
    await websocket.accept()
    raw_token = _token(websocket, token)
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

    subscriber = await hub.subscribe(parsed)
    try:
        async with database.transaction() as db:
            snapshot = await service.snapshot(db, parsed, subscriber.after)
        if snapshot is None:
            await websocket.close(CLOSE_NOT_FOUND, "Session not found")
            return
        for message in snapshot.messages:
            await websocket.send_json(message)
        await _stream(websocket, subscriber, snapshot.reflected)
    except WebSocketDisconnect:
        pass
    finally:
        hub.unsubscribe(subscriber)


async def _stream(websocket: WebSocket, subscriber: Subscriber, reflected: frozenset[int]) -> None:
    """Send queued events until the client leaves, falls behind, or we shut down.

    Sending runs in a task of its own, so a client that stops reading (its
    socket full, the send blocked) is still dropped the moment it overflows.
    """
    sender = asyncio.create_task(_send_events(websocket, subscriber, reflected))
    # Reading is how a closed connection is noticed; clients need not send anything.
    reader = asyncio.create_task(_drain(websocket))
    ended = asyncio.create_task(subscriber.ended.wait())
    tasks = {sender, reader, ended}
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if reader in done:
        return
    if subscriber.overflowed:
        await _close(websocket, CLOSE_SLOW_CONSUMER, "Too slow: fell behind the event stream")
    else:
        await _close(websocket, CLOSE_GOING_AWAY, "Server shutting down")


async def _send_events(
    websocket: WebSocket, subscriber: Subscriber, reflected: frozenset[int]
) -> None:
    while True:
        event = await subscriber.queue.get()
        if event.seq not in reflected:
            await websocket.send_json(service.event_message(event))


async def _drain(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.application_state is not WebSocketState.CONNECTED:
        return
    # A client that stopped reading may never take the close frame either.
    with contextlib.suppress(Exception):
        async with asyncio.timeout(_CLOSE_TIMEOUT):
            await websocket.close(code, reason)
