"""The wire protocol of engines in another process: JSON text frames over one WebSocket.

The remote sandbox (``wagate sandbox serve``) and the engine host
(:mod:`wagate.engines.host`) both speak it; :mod:`.channel` is its client side.

- request  ``{"id": 7, "op": "send", "args": {...}}`` (control operations are
  ``"control.<method>"``)
- answer   ``{"id": 7, "result": ...}`` or ``{"id": 7, "error": {...}}``
- event    ``{"event": {...}, "id": 3}``, pushed for the sessions this socket
  connected; the receiver answers the id (``{"id": 3, "result": null}``) once
  the event is handled, and the sender counts it delivered only then
  (:class:`EventAcknowledgements`, used by the engine host and the remote
  sandbox alike, as an in-process engine waits for its event sink)

Values go through :mod:`codec`, so dataclasses, bytes (base64) and datetimes
arrive as they left. Errors carry their class name and are rebuilt only from
the engine errors and :class:`SandboxError`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.connection import Connection
from websockets.exceptions import ConnectionClosed

from wagate.engines.base import (
    EngineError,
    EngineEvent,
    InvalidRecipientError,
    MediaError,
    NetworkError,
    NotConnectedError,
    NotLinkedError,
    RateLimitedError,
    SessionBannedError,
    UnsupportedError,
)
from wagate.engines.sandbox import codec
from wagate.engines.sandbox.models import SandboxError

logger = logging.getLogger("wagate.engines.protocol")

PROTOCOL_VERSION = 1
CONTROL_PREFIX = "control."
# What a session does, by the same name whether the peer serves a whole engine
# (engines/host/server.py) or a sandbox network's devices (engines/sandbox/server.py).
SESSION_OPERATIONS = frozenset(
    {
        "logout",
        "request_pairing_code",
        "send",
        "check_numbers",
        "list_groups",
        "get_group",
        "mark_read",
        "send_presence",
        "download_media",
    }
)
DEVICE_OPERATIONS = SESSION_OPERATIONS | {"connect", "disconnect", "linked_sessions"}
# Media travels inside frames, base64; this leaves room for 100 MB files.
MAX_FRAME_BYTES = 140 * 1024 * 1024

_ENGINE_ERRORS: dict[str, type[EngineError]] = {
    cls.__name__: cls
    for cls in (
        EngineError,
        NotConnectedError,
        RateLimitedError,
        NetworkError,
        NotLinkedError,
        SessionBannedError,
        InvalidRecipientError,
        MediaError,
        UnsupportedError,
    )
}


class ProtocolError(ValueError):
    """A frame that does not follow the protocol."""


class EventAcknowledgements:
    """The sending side of events: each goes out with an id and counts as delivered
    only once the peer answered that id, which it does after handling the event."""

    def __init__(self) -> None:
        self._event_ids = itertools.count(1)
        self._answers: dict[int, asyncio.Future[None]] = {}

    def take(self, frame: dict[str, Any]) -> bool:
        """Whether ``frame`` is the peer's answer to an event (then it is taken)."""
        if "op" in frame:
            return False
        answer = self._answers.get(frame.get("id", -1))
        if answer is not None and not answer.done():
            answer.set_result(None)
        return True

    async def deliver(
        self,
        event: EngineEvent,
        next_socket: Callable[[], Awaitable[Connection]],
        send_lock: asyncio.Lock,
    ) -> None:
        """Send ``event`` on the socket ``next_socket`` gives until a peer answers it; a
        socket closed first means another try, under the same id, on the next one.
        Raises what ``next_socket`` raises when there is none."""
        event_id = next(self._event_ids)
        answer: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._answers[event_id] = answer
        try:
            while True:
                socket = await next_socket()
                try:
                    async with send_lock:
                        await socket.send(event_frame(event, event_id))
                    await _until_closed_or(answer, socket)
                except ConnectionClosed:
                    pass
                if answer.done():
                    return
        finally:
            self._answers.pop(event_id, None)


async def _until_closed_or(answer: asyncio.Future[None], socket: Connection) -> None:
    closed = asyncio.ensure_future(socket.wait_closed())
    try:
        await asyncio.wait({answer, closed}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        closed.cancel()


def request_frame(request_id: int, op: str, args: dict[str, Any]) -> str:
    return json.dumps({"id": request_id, "op": op, "args": codec.encode(args)})


def result_frame(request_id: int, result: object) -> str:
    return json.dumps({"id": request_id, "result": codec.encode(result)})


def event_frame(event: EngineEvent, event_id: int | None = None) -> str:
    frame: dict[str, Any] = {"event": codec.encode(event)}
    if event_id is not None:
        frame["id"] = event_id
    return json.dumps(frame)


def error_frame(request_id: int | None, error: Exception) -> str:
    return json.dumps({"id": request_id, "error": error_to_wire(error)})


async def answer(raw: str | bytes, run: Callable[[str, dict[str, Any]], Awaitable[Any]]) -> str:
    """The answer frame to a request frame: ``run(op, args)``'s result, or its error."""
    request_id: int | None = None
    try:
        request = parse_frame(raw)
        request_id = request.get("id")
        args = decode_value(request.get("args") or {})
        if not isinstance(args, dict):
            raise ProtocolError("args must be an object")
        return result_frame(request_id or 0, await run(str(request.get("op")), args))
    except (EngineError, SandboxError) as exc:
        return error_frame(request_id, exc)
    except ProtocolError as exc:
        return error_frame(request_id, SandboxError.invalid(str(exc)))
    except Exception as exc:
        logger.exception("request %s failed", request_id)
        return error_frame(request_id, exc)


def parse_frame(raw: str | bytes) -> dict[str, Any]:
    try:
        frame = json.loads(raw)
    except ValueError as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(frame, dict):
        raise ProtocolError("a frame must be a JSON object")
    return frame


def decode_value(data: Any) -> Any:
    try:
        return codec.decode(data)
    except codec.CodecError as exc:
        raise ProtocolError(str(exc)) from None


def error_to_wire(error: Exception) -> dict[str, Any]:
    if isinstance(error, SandboxError):
        return {
            "type": "SandboxError",
            "code": error.code,
            "message": error.message,
            "status": error.status,
        }
    if isinstance(error, EngineError):
        wire: dict[str, Any] = {
            "type": type(error).__name__,
            "message": error.message,
            "detail": error.detail,
        }
        if isinstance(error, RateLimitedError):
            wire["retryAfter"] = error.retry_after
        return wire
    return {"type": "EngineError", "message": "the sandbox failed to do this", "detail": None}


def error_from_wire(data: Any) -> Exception:
    if not isinstance(data, dict):
        return EngineError("the sandbox answered with a malformed error")
    message = str(data.get("message") or "sandbox error")
    if data.get("type") == "SandboxError":
        return SandboxError(str(data.get("code")), message, int(data.get("status") or 400))
    cls = _ENGINE_ERRORS.get(str(data.get("type")), EngineError)
    if cls is RateLimitedError:
        retry_after = data.get("retryAfter")
        return RateLimitedError(
            message, retry_after=float(retry_after) if retry_after is not None else None
        )
    detail = data.get("detail")
    return cls(message, detail=str(detail) if detail is not None else None)
