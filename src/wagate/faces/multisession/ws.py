"""``/api/ws/{id}?token=``: the guide's QR code WebSocket.

The client gets ``{"type": "qr", "data": {"qr": code}}`` for each QR code,
``{"type": "success"}`` once the session is connected, and
``{"type": "error", "data": {"error": text}}`` when linking ends without it
(the QR codes ran out, the device was logged out, the session failed) or the
request is refused. It starts from the session as it stands, then follows its
events as they are committed (the live hub, as ``/api/v1/sessions/{id}/events``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, WebSocket

from wagate.engines.base import DisconnectReason
from wagate.errors import AppError, ErrorCode
from wagate.faces.multisession.face import PREFIX
from wagate.live import service as live_service
from wagate.live.stream import CLOSE_NOT_FOUND, CLOSE_UNAUTHORIZED, authorized_session, follow
from wagate.sessions.models import SessionState

router = APIRouter(prefix=PREFIX, tags=["multi-session"])


def _error(text: str) -> dict[str, Any]:
    return {"type": "error", "data": {"error": text}}


def guide_message(event_type: str, data: dict[str, Any]) -> dict[str, Any] | None:
    """One of our session events as the guide's WebSocket message, if it is one."""
    if event_type == live_service.QR_EVENT and data.get("qrCode"):
        return {"type": "qr", "data": {"qr": data["qrCode"]}}
    if event_type != "session.status":
        return None
    state = SessionState(data["state"])
    if state is SessionState.CONNECTED:
        return {"type": "success"}
    reason = data.get("reason")
    if state is SessionState.DISCONNECTED and reason == DisconnectReason.QR_TIMEOUT:
        return _error("QR code timed out; connect again for a new one")
    if state is SessionState.LOGGED_OUT:
        return _error(f"Logged out ({reason}); connect again and scan a new QR code")
    if state is SessionState.FAILED:
        return _error(f"Session failed ({reason}); create a new one")
    return None


def _translate(message: dict[str, Any]) -> dict[str, Any] | None:
    return guide_message(message["type"], message["data"])


async def _refuse(websocket: WebSocket, code: int, message: str) -> None:
    await websocket.send_json(_error(message))
    await websocket.close(code, message)


@router.websocket("/ws/{session_id}")
async def qr_socket(
    websocket: WebSocket, session_id: str, token: str | None = Query(default=None)
) -> None:
    await websocket.accept()
    try:
        session = await authorized_session(websocket, token, session_id)
    except AppError as exc:
        code = CLOSE_NOT_FOUND if exc.code is ErrorCode.NOT_FOUND else CLOSE_UNAUTHORIZED
        await _refuse(websocket, code, exc.message)
        return

    await follow(websocket, session.id, _translate)
