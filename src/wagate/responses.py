"""Responses every face may use."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send


class DeferredJSONResponse(JSONResponse):
    """A JSON response whose body is rendered when it is sent: after the request's
    transaction committed, so it may wait for work that the commit started (the
    engine's ack of a send, a session's first QR code)."""

    def __init__(self, render: Callable[[], Awaitable[Any]], status_code: int = 200) -> None:
        self._render = render
        super().__init__(None, status_code=status_code)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.body = self.render(await self._render())
        self.init_headers()
        await super().__call__(scope, receive, send)
