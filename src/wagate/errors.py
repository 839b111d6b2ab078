"""One error type for the whole app, answered in the shape of the face it reached.

The native face answers the SAK error envelope,
``{"success": false, "error": {"code": ..., "message": ...}}``, with the codes
and statuses of the SAK reference plus a few of our own; every other face
renders the same outcomes in its own shape (``faces/``). Paths outside every
face answer the native envelope.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

if TYPE_CHECKING:
    # Faces import this module for its codes; the table is read from app.state.
    from wagate.faces.base import Faces

logger = logging.getLogger("wagate.errors")


class ErrorCode(enum.StrEnum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    NO_TOKEN = "NO_TOKEN"  # noqa: S105  (an error code, not a secret)
    INVALID_TOKEN = "INVALID_TOKEN"  # noqa: S105
    NO_API_KEY = "NO_API_KEY"
    INVALID_API_KEY = "INVALID_API_KEY"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    USER_EXISTS = "USER_EXISTS"
    REGISTRATION_CLOSED = "REGISTRATION_CLOSED"
    SESSION_LIMIT_REACHED = "SESSION_LIMIT_REACHED"
    SESSION_NOT_CONNECTED = "SESSION_NOT_CONNECTED"
    CONFLICT = "CONFLICT"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    ENGINE_ERROR = "ENGINE_ERROR"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


_DEFAULT_STATUS: dict[ErrorCode, int] = {
    ErrorCode.VALIDATION_ERROR: 400,
    ErrorCode.NO_TOKEN: 401,
    ErrorCode.INVALID_TOKEN: 401,
    ErrorCode.NO_API_KEY: 401,
    ErrorCode.INVALID_CREDENTIALS: 401,
    ErrorCode.INVALID_API_KEY: 403,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.REGISTRATION_CLOSED: 403,
    ErrorCode.SESSION_LIMIT_REACHED: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.USER_EXISTS: 409,
    ErrorCode.SESSION_NOT_CONNECTED: 409,
    ErrorCode.CONFLICT: 409,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: 422,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.RATE_LIMIT_EXCEEDED: 429,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.ENGINE_ERROR: 502,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
}


class AppError(Exception):
    """An error a client is meant to see."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status if status is not None else _DEFAULT_STATUS[code]
        self.headers = headers


def not_found(what: str) -> AppError:
    return AppError(ErrorCode.NOT_FOUND, f"{what} not found")


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"success": False, "error": {"code": code, "message": message}}


def _describe_validation(errors: Sequence[Any]) -> str:
    parts: list[str] = []
    for error in errors:
        location = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path")]
        field = ".".join(location) or "body"
        message = str(error.get("msg", "is invalid"))
        if error.get("type") == "json_invalid":
            return "Request body is not valid JSON"
        parts.append(f"{field}: {message}")
    return "; ".join(parts) or "Invalid request"


def render_error(
    scope: Scope,
    code: str,
    status: int,
    message: str,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The error as the face that owns the request's path shows it."""
    app = scope.get("app")
    faces: Faces | None = getattr(app.state, "faces", None) if app is not None else None
    face = faces.for_path(scope["path"]) if faces is not None else None
    if face is None:
        body = error_body(code, message)
    else:
        status, body = face.render_error(code, status, message)
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        return render_error(request.scope, exc.code, exc.status, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        message = _describe_validation(exc.errors())
        return render_error(request.scope, ErrorCode.VALIDATION_ERROR, 400, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        by_status = {
            401: (ErrorCode.NO_TOKEN, exc.detail),
            403: (ErrorCode.FORBIDDEN, exc.detail),
            404: (ErrorCode.NOT_FOUND, "Route not found"),
            405: (ErrorCode.METHOD_NOT_ALLOWED, "Method not allowed"),
            413: (ErrorCode.PAYLOAD_TOO_LARGE, "Request body is too large"),
            415: (ErrorCode.UNSUPPORTED_MEDIA_TYPE, exc.detail),
            429: (ErrorCode.RATE_LIMIT_EXCEEDED, exc.detail),
        }
        code, message = by_status.get(exc.status_code, (ErrorCode.VALIDATION_ERROR, exc.detail))
        if exc.status_code >= 500:
            code, message = ErrorCode.INTERNAL_ERROR, "Internal server error"
        headers = getattr(exc, "headers", None)
        return render_error(request.scope, code, exc.status_code, str(message), headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = getattr(request.state, "request_id", "-")
        logger.exception("unhandled error (request %s)", request_id, exc_info=exc)
        return render_error(
            request.scope,
            ErrorCode.INTERNAL_ERROR,
            500,
            f"Internal server error (request id {request_id})",
            {"X-Request-Id": request_id},
        )
