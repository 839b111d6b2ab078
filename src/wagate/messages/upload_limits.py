"""Refuse an oversized upload before it is read: by its Content-Length when it
has one, and by counting the bytes as they stream in when it does not."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wagate.config import Settings
from wagate.errors import AppError, ErrorCode, render_error
from wagate.schemas import API_PREFIX

# Room for the form's other fields and multipart boundaries around the file.
_FORM_OVERHEAD = 256 * 1024
_BASE64_GROWTH = 4 / 3


def _too_large(limit: int) -> AppError:
    return AppError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        f"Request body is larger than the limit of {limit // (1024 * 1024)} MB",
    )


def upload_limits(settings: Settings) -> dict[str, int]:
    """Body limits by path for the media endpoints; JSON bodies may carry base64."""
    limits: dict[str, int] = {}
    for kind in ("image", "video", "audio", "document", "sticker"):
        file_limit = settings.max_media_bytes(kind)
        limits[f"{API_PREFIX}/messages/send-{kind}"] = (
            int(file_limit * _BASE64_GROWTH) + _FORM_OVERHEAD
        )
    return limits


class UploadLimitMiddleware:
    def __init__(self, app: ASGIApp, limits: dict[str, int], default_limit: int) -> None:
        self.app = app
        self.limits = limits
        self.default_limit = default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"].rstrip("/"), self.default_limit)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit)
            return
        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised inside the app's read, so its error handler answers 413.
                    raise _too_large(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except AppError as exc:
            if exc.code is not ErrorCode.PAYLOAD_TOO_LARGE or response_started:
                raise
            await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """413 in the shape of the face the request was for."""
        error = _too_large(limit)
        response = render_error(
            scope, error.code, error.status, error.message, {"connection": "close"}
        )
        await response(scope, receive, send)
