"""What every face (a seed's dialect of the API) declares once, and the table
of mounted faces that the error handlers, the body-size guard and the rate
limiter consult by path.

A face renders its own errors: :class:`Face.render_error` turns one of our
error codes, its status and message into the status and body its clients
expect. Paths outside every face (the dashboard, /health, /sandbox) are
answered in the native shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

# (code, status, message) -> (status, body)
ErrorRenderer = Callable[[str, int, str], tuple[int, dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class RouteLimits:
    """Which of a face's routes count against the narrower rate limits.

    Route paths are the templates a route is declared with
    (``/api/sessions/{session_id}/send``), so they match however the client
    spelled the id."""

    # Login and sign-up: limited per client address, before any credential.
    auth: frozenset[str] = frozenset()
    # Sends (every route whose path starts with one of these): limited per session.
    send_prefixes: tuple[str, ...] = ()
    # History reads: limited per session.
    history: frozenset[str] = frozenset()
    # Webhook creation (POST): limited per user.
    webhooks: frozenset[str] = frozenset()
    # POST, PUT, PATCH and DELETE under this prefix, sends and ``reads`` aside:
    # limited per user.
    session_changes_prefix: str | None = None
    # Routes that take a body but change nothing (a number check).
    reads: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Face:
    name: str
    prefix: str
    render_error: ErrorRenderer
    limits: RouteLimits = field(default_factory=RouteLimits)

    def owns(self, path: str) -> bool:
        return path == self.prefix or path.startswith(f"{self.prefix}/")


class Faces:
    """The mounted faces; a path belongs to the face with the longest prefix
    that owns it (``/api/v1/...`` is the native face, not ``/api``'s)."""

    def __init__(self, faces: Iterable[Face]) -> None:
        self._faces = sorted(faces, key=lambda face: len(face.prefix), reverse=True)

    def __iter__(self) -> Any:
        return iter(self._faces)

    def for_path(self, path: str) -> Face | None:
        return next((face for face in self._faces if face.owns(path)), None)
