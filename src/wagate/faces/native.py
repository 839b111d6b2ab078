"""The native face: the SAK API under ``/api/v1``. Its routers live in their
domain folders (``sessions/router.py``...); this is what the shared machinery
needs to know about it."""

from __future__ import annotations

from typing import Any

from wagate.errors import error_body
from wagate.faces.base import Face, RouteLimits
from wagate.schemas import API_PREFIX


def render_error(code: str, status: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, error_body(code, message)


NATIVE = Face(
    name="native",
    prefix=API_PREFIX,
    render_error=render_error,
    limits=RouteLimits(
        auth=frozenset({f"{API_PREFIX}/auth/register", f"{API_PREFIX}/auth/login"}),
        send_prefixes=(f"{API_PREFIX}/messages/send",),
        history=frozenset({f"{API_PREFIX}/messages/history"}),
        webhooks=frozenset({f"{API_PREFIX}/webhooks"}),
        session_changes_prefix=f"{API_PREFIX}/sessions",
    ),
)
