"""Logging set-up and the per-request log line with its request id."""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import sys
import time

from pythonjsonlogger.json import JsonFormatter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wagate.config import Settings

access_logger = logging.getLogger("wagate.access")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


# A request id must be unique, not secret: a random prefix per process and a
# counter give 32 hex digits (uuid4().hex's shape) without a system call per
# request, which was most of this middleware's cost.
_REQUEST_ID_PREFIX = secrets.token_hex(8)
_request_numbers = itertools.count(1)


def new_request_id() -> str:
    return f"{_REQUEST_ID_PREFIX}{next(_request_numbers):016x}"


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(
            JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", timestamp=True)
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # uvicorn's own access log would repeat ours, with the query string (which
    # may carry a token) in it.
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every URL it calls at INFO; webhook and media URLs can hold secrets.
    logging.getLogger("httpx").setLevel(logging.WARNING)


class RequestContextMiddleware:
    """Gives every HTTP request an id (``X-Request-Id``) and logs one line for it.

    The line holds method, route, status, duration, user and session, never
    headers, query strings or bodies: those can carry keys, tokens and messages.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_REQUEST_ID.fullmatch(incoming) else new_request_id()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"x-request-id" for name, _ in headers):
                    headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if access_logger.isEnabledFor(logging.INFO):  # else skip building the line
                self._log(scope, request_id, status, started)

    @staticmethod
    def _log(scope: Scope, request_id: str, status: int, started: float) -> None:
        state = scope["state"]
        route = getattr(scope.get("route"), "path", scope["path"])
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        access_logger.info(
            "%s %s %s %.1fms",
            scope["method"],
            route,
            status,
            duration_ms,
            extra={
                "request_id": request_id,
                "method": scope["method"],
                "route": route,
                "status": status,
                "duration_ms": duration_ms,
                "user_id": state.get("user_id"),
                "session_id": state.get("session_id"),
            },
        )
