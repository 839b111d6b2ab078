"""What every WebSocket face does with a session's events: take its token,
stream the events it renders, notice the client leaving, drop one that falls
behind. ``/api/v1/sessions/{id}/events`` sends every event as it is; the
multi-session face's QR socket sends the few it translates."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from wagate.auth import credentials
from wagate.config import Settings
from wagate.live import service
from wagate.live.hub import EventFilter, LiveHub, Subscriber
from wagate.sessions.models import WhatsAppSession
from wagate.storage.db import Database

# Close codes (4000-4999 are the application's own, mirroring HTTP statuses).
CLOSE_UNAUTHORIZED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_SLOW_CONSUMER = 1013  # "try again later": it fell too far behind
CLOSE_GOING_AWAY = 1001
_CLOSE_TIMEOUT = 5.0

# A message of the native stream ({"type", "data"}) as the client's, or None to skip it.
Translate = Callable[[dict[str, Any]], dict[str, Any] | None]


def as_is(message: dict[str, Any]) -> dict[str, Any]:
    return message


def websocket_token(websocket: WebSocket, query_token: str | None) -> str | None:
    """``?token=`` (browsers cannot set headers on a WebSocket), else a Bearer header."""
    if query_token:
        return query_token
    scheme, _, value = websocket.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def authorized_session(
    websocket: WebSocket, query_token: str | None, ref: str
) -> WhatsAppSession:
    """The session ``ref`` (an id or a phone number) names, for the socket's
    credentials (a token, or a key in ``x-api-key``): the one resolver's checks."""
    database: Database = websocket.app.state.database
    settings: Settings = websocket.app.state.settings
    async with database.transaction() as db:
        principal = await credentials.resolve(
            db,
            token=websocket_token(websocket, query_token),
            api_key=websocket.headers.get("x-api-key"),
            secret=settings.resolved_secret_key,
        )
        return await credentials.session_by_reference(db, principal, ref)


async def follow(websocket: WebSocket, session_id: uuid.UUID, translate: Translate) -> None:
    """Stream a session to an accepted, authorized socket: its state as it stands
    first, then every event as it is committed, each as ``translate`` puts it."""
    hub: LiveHub = websocket.app.state.live_hub
    database: Database = websocket.app.state.database
    subscriber = await hub.subscribe(session_id)
    try:
        async with database.transaction() as db:
            snapshot = await service.snapshot(db, session_id, subscriber.after)
        if snapshot is None:
            await close(websocket, CLOSE_NOT_FOUND, "Session not found")
            return
        for message in snapshot.messages:
            translated = translate(message)
            if translated is not None:
                await websocket.send_json(translated)
        await _stream(websocket, subscriber, snapshot.reflected, translate)
    except WebSocketDisconnect:
        pass
    finally:
        hub.unsubscribe(subscriber)


async def follow_user(
    websocket: WebSocket, user_id: uuid.UUID, wants: EventFilter, ready: dict[str, Any]
) -> None:
    """Stream a user's events that ``wants`` takes to an accepted, authorized
    socket: ``ready`` first (from then on nothing is missed), then each event
    as it is committed."""
    hub: LiveHub = websocket.app.state.live_hub
    subscriber = await hub.subscribe_user(user_id, wants)
    try:
        await websocket.send_json(ready)
        await _stream(websocket, subscriber, frozenset(), as_is)
    except WebSocketDisconnect:
        pass
    finally:
        hub.unsubscribe(subscriber)


async def _stream(
    websocket: WebSocket, subscriber: Subscriber, reflected: frozenset[int], translate: Translate
) -> None:
    """Send queued events until the client leaves, falls behind, or we shut down.

    Sending runs in a task of its own, so a client that stops reading (its
    socket full, the send blocked) is still dropped the moment it overflows.
    """
    sender = asyncio.create_task(_send_events(websocket, subscriber, reflected, translate))
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
        await close(websocket, CLOSE_SLOW_CONSUMER, "Too slow: fell behind the event stream")
    else:
        await close(websocket, CLOSE_GOING_AWAY, "Server shutting down")


async def _send_events(
    websocket: WebSocket, subscriber: Subscriber, reflected: frozenset[int], translate: Translate
) -> None:
    while True:
        event = await subscriber.queue.get()
        if event.seq in reflected:
            continue
        message = translate(service.event_message(event))
        if message is not None:
            await websocket.send_json(message)


async def _drain(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return


async def close(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.application_state is not WebSocketState.CONNECTED:
        return
    # A client that stopped reading may never take the close frame either.
    with contextlib.suppress(Exception):
        async with asyncio.timeout(_CLOSE_TIMEOUT):
            await websocket.close(code, reason)
