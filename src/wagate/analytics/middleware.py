"""What every HTTP request leaves behind: its metric, its API-call count and its
rate-limit headers. Pure ASGI, one pass, nothing read from the body."""

from __future__ import annotations

import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wagate.analytics.api_calls import ApiCallBuffer
from wagate.analytics.metrics import Metrics
from wagate.analytics.ratelimit import HEADERS_STATE

# Requests that matched no route are counted under one label, never their path
# (a scanner's random paths would otherwise grow the metric without bound).
UNMATCHED = "<unmatched>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestAccountingMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: Metrics, api_calls: ApiCallBuffer) -> None:
        self.app = app
        self.metrics = metrics
        self.api_calls = api_calls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                extra = state.get(HEADERS_STATE)
                if extra:
                    headers = list(message.get("headers", []))
                    present = {name.lower() for name, _ in headers}
                    for name, value in extra.items():
                        if name.lower().encode() not in present:
                            headers.append((name.lower().encode(), value.encode()))
                    message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            self.metrics.observe_request(method, route, status, time.perf_counter() - started)
            self._count_api_call(scope, state)

    def _count_api_call(self, scope: Scope, state: dict[str, Any]) -> None:
        """A request that resolved to a session counts as one of its calls when it
        came with an API key (the test the native auth dependencies make: an
        ``x-api-key`` header) or acted on the session through a face, whose
        clients are software with a token."""
        session_id, user_id = state.get("session_id"), state.get("user_id")
        if not session_id or not user_id:
            return
        by_key = any(name == b"x-api-key" for name, _ in scope["headers"])
        if not by_key and not state.get("counts_as_api_call"):
            return
        self.api_calls.add(uuid.UUID(user_id), uuid.UUID(session_id))
