"""The broadcaster face's declaration: its prefix, its error shape and which
of its routes count against which rate limits."""

from __future__ import annotations

from typing import Any

from wagate.errors import ErrorCode
from wagate.faces.base import Face, RouteLimits

PREFIX = "/api/v1/whatsapp"

# The seed names one error: a send from an account that is not connected.
_MESSAGES: dict[str, tuple[int, str]] = {
    ErrorCode.SESSION_NOT_CONNECTED: (400, "Account not connected"),
}


def render_error(code: str, status: int, message: str) -> tuple[int, dict[str, Any]]:
    """``{"error": "<message>"}``, the shape of the seed's Express routes;
    sessions are "accounts" in its words."""
    status, message = _MESSAGES.get(code, (status, message))
    if code == ErrorCode.NOT_FOUND and message == "Session not found":
        message = "Account not found"
    return status, {"error": message, "code": code}


BROADCASTER = Face(
    name="broadcaster",
    prefix=PREFIX,
    render_error=render_error,
    limits=RouteLimits(
        send_prefixes=(f"{PREFIX}/send-message",),
        session_changes_prefix=PREFIX,
    ),
)
