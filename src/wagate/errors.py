"""One error type for the whole app, answered as the SAK error envelope.

``{"success": false, "error": {"code": ..., "message": ...}}`` with the codes and
statuses of the SAK reference, plus a few of our own.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

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


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message), status_code=exc.status, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            error_body(ErrorCode.VALIDATION_ERROR, _describe_validation(exc.errors())),
            status_code=400,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
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
        return JSONResponse(
            error_body(code, str(message)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = getattr(request.state, "request_id", "-")
        logger.exception("unhandled error (request %s)", request_id, exc_info=exc)
        return JSONResponse(
            error_body(
                ErrorCode.INTERNAL_ERROR, f"Internal server error (request id {request_id})"
            ),
            status_code=500,
            headers={"X-Request-Id": request_id},
        )
