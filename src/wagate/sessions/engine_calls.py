"""The one place where an engine's refusal becomes an API error.

Services that ask an engine for something on a person's behalf (a number
check, the groups, a pairing code) wrap the call in :func:`engine_errors`;
every face then renders the resulting :class:`AppError` in its own shape.
The table goes by the kind of error: only an error that a reconnect may cure
answers ``SESSION_NOT_CONNECTED``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

from wagate.engines import base
from wagate.engines.base import EngineError
from wagate.errors import AppError, ErrorCode

_BY_KIND: dict[type[EngineError], ErrorCode] = {
    base.NotConnectedError: ErrorCode.SESSION_NOT_CONNECTED,  # 409, until it reconnects
    base.NetworkError: ErrorCode.SERVICE_UNAVAILABLE,  # 503, WhatsApp is out of reach
    base.RateLimitedError: ErrorCode.RATE_LIMIT_EXCEEDED,  # 429
    base.NotLinkedError: ErrorCode.CONFLICT,  # 409, needs a new link, not a wait
    base.SessionBannedError: ErrorCode.CONFLICT,  # 409, the account is banned
    base.InvalidRecipientError: ErrorCode.NOT_FOUND,  # 404, no such number or group
    base.UnsupportedError: ErrorCode.VALIDATION_ERROR,  # 400, this engine cannot do it
    base.MediaError: ErrorCode.ENGINE_ERROR,  # 502
}


def to_app_error(error: EngineError) -> AppError:
    """The API error for an engine error, by the nearest kind in the table."""
    for kind in type(error).__mro__:
        code = _BY_KIND.get(kind)
        if code is not None:
            return AppError(code, error.message, headers=_retry_after(error))
    code = ErrorCode.SERVICE_UNAVAILABLE if error.temporary else ErrorCode.ENGINE_ERROR
    return AppError(code, error.message)


def _retry_after(error: EngineError) -> dict[str, str] | None:
    if isinstance(error, base.RateLimitedError) and error.retry_after:
        return {"Retry-After": str(max(1, math.ceil(error.retry_after)))}
    return None


@contextmanager
def engine_errors() -> Iterator[None]:
    try:
        yield
    except EngineError as exc:
        raise to_app_error(exc) from exc
