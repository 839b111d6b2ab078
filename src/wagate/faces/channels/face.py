"""The notification-channel face's declaration: its prefix, its error shape and
which of its routes count against which rate limits."""

from __future__ import annotations

from typing import Any

from wagate.errors import ErrorCode
from wagate.faces.base import Face, RouteLimits

PREFIX = "/api/whatsapp/channels"

# Our codes whose status this face spells otherwise: the channel service knows
# "not found" for a channel that is not the caller's, including one a session
# key does not belong to.
_STATUS: dict[str, int] = {ErrorCode.FORBIDDEN: 404}
# A channel is what the core calls a session.
_SESSION_NOT_FOUND = "Session not found"


def render_error(code: str, status: int, message: str) -> tuple[int, dict[str, Any]]:
    """``{"ok": false, "message": "<detail>", "error": "<CODE>"}``: the seed's
    ``ok`` envelope with its message, and our code for software that branches."""
    status = _STATUS.get(code, status)
    if code == ErrorCode.FORBIDDEN or message == _SESSION_NOT_FOUND:
        message, code = "Channel not found", ErrorCode.NOT_FOUND
    return status, {"ok": False, "message": message, "error": code}


CHANNELS = Face(
    name="channels",
    prefix=PREFIX,
    render_error=render_error,
    limits=RouteLimits(
        send_prefixes=(f"{PREFIX}/{{channel_id}}/send",),
        session_changes_prefix=PREFIX,
    ),
)
