"""A JSON body is JSON, whatever the client called it.

``curl -d '{...}'`` sends ``application/x-www-form-urlencoded``, and some
clients send no ``Content-Type`` at all; the seeds' own examples do both. For
requests to a face, a body sent without a type or with a form type is read
and, when it is a JSON object or array, handed on as ``application/json``. A
body that is not JSON is handed on untouched, so real forms still work.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wagate.faces.base import Faces

_RETYPED = frozenset({b"", b"application/x-www-form-urlencoded", b"text/plain"})
_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _media_type(headers: list[tuple[bytes, bytes]]) -> bytes:
    for name, value in headers:
        if name.lower() == b"content-type":
            return value.split(b";", 1)[0].strip().lower()
    return b""


def _is_json_document(body: bytes) -> bool:
    stripped = body.lstrip()
    if not stripped.startswith((b"{", b"[")):
        return False
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


class JsonBodyMiddleware:
    def __init__(self, app: ASGIApp, faces: Faces) -> None:
        self.app = app
        self.faces = faces

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in _WITH_BODY
            or self.faces.for_path(scope["path"]) is None
            or _media_type(scope["headers"]) not in _RETYPED
        ):
            await self.app(scope, receive, send)
            return
        # Read the whole body (the body-size guard outside this one still counts it).
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        if _is_json_document(body):
            headers = [(n, v) for n, v in scope["headers"] if n.lower() != b"content-type"]
            scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}
        replayed: Message = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay([replayed], receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
