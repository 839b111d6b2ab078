"""The multi-session face's declaration: its prefix, its error shape and which
of its routes count against which rate limits."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from wagate.errors import ErrorCode
from wagate.faces.base import Face, RouteLimits

PREFIX = "/api"

# Our codes whose status this face's guide spells otherwise. The guide knows
# 400, 401, 404 and 500: a key that is not valid is "unauthorized", and a
# session that is not logged in is the 404 its retry example expects.
_STATUS: dict[str, int] = {
    ErrorCode.INVALID_API_KEY: 401,
    ErrorCode.INVALID_CREDENTIALS: 401,
    ErrorCode.SESSION_NOT_CONNECTED: 404,
    ErrorCode.CONFLICT: 400,
}


def render_error(code: str, status: int, message: str) -> tuple[int, dict[str, Any]]:
    """``{"error": "<error type>", "message": "<detail>"}``: the type is the
    status's reason phrase (``Not Found``), the detail our message."""
    status = _STATUS.get(code, status)
    try:
        kind = HTTPStatus(status).phrase
    except ValueError:
        kind = "Error"
    return status, {"error": kind, "message": message}


MULTISESSION = Face(
    name="multisession",
    prefix=PREFIX,
    render_error=render_error,
    limits=RouteLimits(
        auth=frozenset({f"{PREFIX}/login"}),
        send_prefixes=(f"{PREFIX}/send", f"{PREFIX}/sessions/{{session_id}}/send"),
        session_changes_prefix=f"{PREFIX}/sessions",
        reads=frozenset({f"{PREFIX}/sessions/{{session_id}}/check-number"}),
    ),
)
