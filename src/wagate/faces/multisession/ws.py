"""``/api/ws/{id}?token=``: the guide's QR code WebSocket.

The client gets ``{"type": "qr", "data": {"qr": code}}`` for each QR code,
``{"type": "success"}`` once the session is connected, and
``{"type": "error", "data": {"error": text}}`` when linking ends without it
(the QR codes ran out, the device was logged out, the session failed) or the
request is refused. It starts from the session as it stands, then follows its
events as they are committed (the live hub, as ``/api/v1/sessions/{id}/events``).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect

from wagate.auth import credentials
from wagate.config import Settings
from wagate.engines.base import DisconnectReason
from wagate.errors import AppError, ErrorCode
from wagate.events.models import OutboxEvent
from wagate.faces.multisession.face import PREFIX
from wagate.live import service as live_service
from wagate.live.hub import LiveHub
from wagate.sessions.models import SessionState
from wagate.storage.db import Database

router = APIRouter(prefix=PREFIX, tags=["multi-session"])

CLOSE_UNAUTHORIZED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_GOING_AWAY = 1001
_ENDED = {SessionState.LOGGED_OUT, SessionState.FAILED}


def guide_message(event_type: str, data: dict[str, Any]) -> dict[str, Any] | None:
    """One of our session events as the guide's WebSocket message, if it is one."""
    if event_type == live_service.QR_EVENT and data.get("qrCode"):
        return {"type": "qr", "data": {"qr": data["qrCode"]}}
    if event_type != "session.status":
        return None
    state = SessionState(data["state"])
    if state is SessionState.CONNECTED:
        return {"type": "success"}
    timed_out = (
        state is SessionState.DISCONNECTED and data.get("reason") == DisconnectReason.QR_TIMEOUT
    )
    if state in _ENDED or timed_out:
        detail = data.get("reason") or state.value
        return {"type": "error", "data": {"error": f"Session {state.value}: {detail}"}}
    return None


def _token(websocket: WebSocket, query_token: str | None) -> str | None:
    if query_token:
        return query_token
    scheme, _, value = websocket.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def _refuse(websocket: WebSocket, code: int, message: str) -> None:
    await websocket.send_json({"type": "error", "data": {"error": message}})
    await websocket.close(code, message)


@router.websocket("/ws/{session_id}")
async def qr_socket(
    websocket: WebSocket, session_id: str, token: str | None = Query(default=None)
) -> None:
    state = websocket.app.state
    hub: LiveHub = state.live_hub
    database: Database = state.database
    settings: Settings = state.settings
    await websocket.accept()
    try:
        async with database.transaction() as db:
            principal = await credentials.resolve(
                db,
                token=_token(websocket, token),
                api_key=websocket.headers.get("x-api-key"),
                secret=settings.resolved_secret_key,
            )
            session = await credentials.session_by_reference(db, principal, session_id)
    except AppError as exc:
        code = CLOSE_NOT_FOUND if exc.code is ErrorCode.NOT_FOUND else CLOSE_UNAUTHORIZED
        await _refuse(websocket, code, exc.message)
        return

    subscriber = await hub.subscribe(session.id)
    try:
        async with database.transaction() as db:
            snapshot = await live_service.snapshot(db, session.id, subscriber.after)
        if snapshot is None:
            await _refuse(websocket, CLOSE_NOT_FOUND, "Session not found")
            return
        for message in snapshot.messages:
            translated = guide_message(message["type"], message["data"])
            if translated is not None:
                await websocket.send_json(translated)
        reader = asyncio.create_task(_drain(websocket))
        ended = asyncio.create_task(subscriber.ended.wait())
        sender = asyncio.create_task(_send_events(websocket, subscriber.queue, snapshot.reflected))
        tasks = {reader, ended, sender}
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if reader not in done:
            with contextlib.suppress(Exception):
                await websocket.close(CLOSE_GOING_AWAY, "Stream ended")
    except WebSocketDisconnect:
        pass
    finally:
        hub.unsubscribe(subscriber)


async def _send_events(
    websocket: WebSocket, queue: asyncio.Queue[OutboxEvent], reflected: frozenset[int]
) -> None:
    while True:
        event = await queue.get()
        if event.seq in reflected:
            continue
        translated = guide_message(event.type, event.payload)
        if translated is not None:
            await websocket.send_json(translated)


async def _drain(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
