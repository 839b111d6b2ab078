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


def _megabytes(limit: int) -> str:
    return f"{limit / (1024 * 1024):.4g} MB"


def _too_large(limit: int, json_media: bool = False) -> AppError:
    if json_media:
        message = (
            f"Media sent as base64 in JSON is limited to {_megabytes(limit)} of JSON; "
            "send larger files as multipart/form-data or by mediaUrl"
        )
    else:
        message = f"Request body is larger than the limit of {_megabytes(limit)}"
    return AppError(ErrorCode.PAYLOAD_TOO_LARGE, message)


def _media_paths() -> dict[str, str]:
    kinds = ("image", "video", "audio", "document", "sticker")
    return {f"{API_PREFIX}/messages/send-{kind}": kind for kind in kinds}


def upload_limits(settings: Settings) -> dict[str, int]:
    """Body limits by path for the media endpoints' uploads."""
    return {
        path: settings.max_media_bytes(kind) + _FORM_OVERHEAD
        for path, kind in _media_paths().items()
    }


def base64_limits(settings: Settings) -> dict[str, int]:
    """Body limits by path for media sent as base64 in a JSON body: the file's
    own limit, or the lower cap on base64, grown by the encoding."""
    return {
        path: int(min(settings.max_media_bytes(kind), settings.max_base64_bytes) * _BASE64_GROWTH)
        + _FORM_OVERHEAD
        for path, kind in _media_paths().items()
    }


class UploadLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        limits: dict[str, int],
        default_limit: int,
        json_limits: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.limits = limits
        self.default_limit = default_limit
        self.json_limits = json_limits or {}

    def _limit_for(self, scope: Scope) -> tuple[int, bool]:
        """The body limit of a request, and whether it is the one of JSON media."""
        path = scope["path"].rstrip("/")
        content_type = dict(scope["headers"]).get(b"content-type", b"")
        if path in self.json_limits and content_type.startswith(b"application/json"):
            return self.json_limits[path], True
        return self.limits.get(path, self.default_limit), False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, json_media = self._limit_for(scope)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit, json_media)
            return
        received = 0
        exceeded = False
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _too_large(limit, json_media)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if exceeded:
                # The app answered a body it could not read (FastAPI turns a
                # failed JSON read into 400): the answer is 413, not that.
                if message["type"] == "http.response.start" and not response_started:
                    response_started = True
                    await self._refuse(scope, receive, send, limit, json_media)
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except AppError as exc:
            if exc.code is not ErrorCode.PAYLOAD_TOO_LARGE or response_started:
                raise
            await self._refuse(scope, receive, send, limit, json_media)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, limit: int, json_media: bool = False
    ) -> None:
        """413 in the shape of the face the request was for."""
        error = _too_large(limit, json_media)
        response = render_error(
            scope, error.code, error.status, error.message, {"connection": "close"}
        )
        await response(scope, receive, send)
