"""Our session events as the notification-channel seed's Socket.IO events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from wagate.faces.channels.states import channel_status
from wagate.live import service as live_service
from wagate.sessions.models import SessionState

# States whose connection_update says why the connection ended.
_ENDED = frozenset({SessionState.DISCONNECTED, SessionState.LOGGED_OUT, SessionState.FAILED})


def _timestamp(data: dict[str, Any]) -> str:
    """The seed's timestamps are ISO 8601; our events carry Unix seconds."""
    seconds = data.get("timestamp")
    when = datetime.fromtimestamp(seconds, UTC) if isinstance(seconds, int) else datetime.now(UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def channel_event(
    channel_id: uuid.UUID, event_type: str, data: dict[str, Any]
) -> tuple[str, dict[str, Any]] | None:
    """``(event name, payload)`` for one of our event messages, or None to skip it."""
    base = {"channelId": str(channel_id), "timestamp": _timestamp(data)}
    if event_type == live_service.QR_EVENT and data.get("qrImage"):
        return "qr_code", {**base, "qrCode": data["qrImage"]}
    if event_type == live_service.PAIRING_CODE_EVENT and data.get("pairingCode"):
        return "pairing_code", {**base, "code": data["pairingCode"]}
    if event_type == "session.status":
        state = SessionState(data["state"])
        update: dict[str, Any] = {**base, "status": channel_status(state, data.get("reason"))}
        if state in _ENDED and data.get("reason"):
            update["lastDisconnect"] = {"reason": data["reason"], "date": base["timestamp"]}
        return "connection_update", update
    if event_type == "message.received":
        return "incoming_message", {
            "channelId": base["channelId"],
            "messageId": data.get("messageId"),
            "from": data.get("sender") or data.get("from"),
            "timestamp": base["timestamp"],
            "message": data.get("text") or "",
            "type": "incoming",
        }
    if event_type == "message.status":
        return "message_status_update", {
            "channelId": base["channelId"],
            "messageId": data.get("messageId"),
            "status": data.get("status"),
            "timestamp": base["timestamp"],
        }
    return None
