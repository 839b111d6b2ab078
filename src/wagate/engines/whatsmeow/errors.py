"""The one place where neonize's and whatsmeow's failures become wagate engine errors.

neonize raises :class:`neonize.exc.NeonizeError` subclasses that carry whatsmeow's
error text (``websocket not connected``, ``429 rate-overlimit``, ``dial tcp: ...``);
the class says which call failed, the text says why. :func:`translate` reads
both, :func:`engine_errors` wraps a block of neonize calls, in the spirit of
httpx's ``map_httpcore_exceptions``. Nothing else in this package catches
neonize exceptions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from wagate.engines.base import (
    EngineError,
    InvalidRecipientError,
    MediaError,
    NetworkError,
    NotConnectedError,
    NotLinkedError,
    RateLimitedError,
    SessionBannedError,
)

_NOT_CONNECTED = (
    "websocket not connected",
    "not connected",
    "client is nil",
    "timed out waiting for message send response",
)
_NOT_LINKED = (
    "doesn't contain a device jid",
    "not logged in",
    "not-authorized",
    "device removed",
    "logged out",
    "device was deleted",
)
_NETWORK = (
    "failed to dial",
    "dial tcp",
    "no such host",
    "connection refused",
    "connection reset",
    "broken pipe",
    "i/o timeout",
    "network is unreachable",
    "context deadline exceeded",
    "info query timed out",
    "proxyconnect",
    "tls handshake",
    "unexpected eof",
    "websocket disconnected",
    "noise handshake failed",
    "service-unavailable",
    "internal-server-error",
)
_RATE_LIMITED = ("rate-overlimit", "too many requests")
_BANNED = ("banned", "temporarily banned")
_INVALID_RECIPIENT = (
    "unknown server",
    "recipient must be a user jid",
    "item-not-found",
    "bad-request",
    "not participating in that group",
    "group does not exist",
    "invalid jid",
    "phone number too short",
    "international phone number required",
    "not on whatsapp",
    "no lid found",
    "non-status broadcast lists",
)
_MEDIA_CLASSES = frozenset(
    {"UploadError", "DownloadError", "ConvertStickerError", "FFProbeError", "MediaError"}
)
_MEDIA_TEXT = (
    "media",
    "download failed",
    "hash of media",
    "invalid media hmac",
    "file too short",
    "file length does not match",
    "no url present",
    "didn't find any attachments",
)


class EmptyAnswerError(EngineError):
    """neonize's way of saying a query matched nothing ("Function returned nothing.")."""


def _has(text: str, needles: tuple[str, ...]) -> bool:
    return any(needle in text for needle in needles)


def _is_neonize(exc: BaseException) -> bool:
    return any(cls.__module__.startswith("neonize") for cls in type(exc).__mro__)


def translate(exc: BaseException, *, operation: str) -> EngineError:
    """Turn any exception raised by neonize (or the Go core beneath it) into an EngineError."""
    if isinstance(exc, EngineError):
        return exc
    raw = str(exc) or type(exc).__name__
    text = raw.lower()
    names = {cls.__name__ for cls in type(exc).__mro__}
    detail = f"{type(exc).__name__}: {raw}"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return NetworkError(f"{operation}: timed out waiting for WhatsApp", detail=detail)
    if isinstance(exc, ConnectionError | OSError) and not _is_neonize(exc):
        return NetworkError(f"{operation}: cannot reach WhatsApp ({raw})", detail=detail)
    if "function returned nothing" in text:
        return EmptyAnswerError(f"{operation}: WhatsApp returned nothing", detail=detail)
    if _has(text, _RATE_LIMITED):
        return RateLimitedError(f"{operation}: WhatsApp refused the request as too frequent")
    if _has(text, _BANNED):
        return SessionBannedError(f"{operation}: the account is banned", detail=detail)
    if _has(text, _NOT_CONNECTED):
        return NotConnectedError(f"{operation}: the session is not connected", detail=detail)
    if _has(text, _NETWORK):
        return NetworkError(f"{operation}: cannot reach WhatsApp", detail=detail)
    if names & _MEDIA_CLASSES or _has(text, _MEDIA_TEXT):
        return MediaError(f"{operation}: {raw}", detail=detail)
    if _has(text, _INVALID_RECIPIENT) or "IsOnWhatsAppError" in names:
        return InvalidRecipientError(f"{operation}: {raw}", detail=detail)
    if _has(text, _NOT_LINKED):
        return NotLinkedError(f"{operation}: the session is not linked", detail=detail)
    return EngineError(f"{operation} failed: {raw}", detail=detail)


@contextmanager
def engine_errors(operation: str) -> Iterator[None]:
    """Run a block of neonize calls; whatever escapes it is an :class:`EngineError`."""
    try:
        yield
    except EngineError:
        raise
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise translate(exc, operation=operation) from exc
