"""A loopback HTTP receiver written below HTTP libraries (asyncio streams), for
tests that need what a framework would not do: hang, break off, answer slowly,
or just stay out of the way of a process being killed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


async def read_request_body(reader: asyncio.StreamReader) -> bytes:
    """The body of the next HTTP/1.1 request on ``reader`` (framed by Content-Length)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return await reader.readexactly(length)


@dataclass
class RawReceiver:
    """Listens on a free loopback port; a subclass answers connections in ``_handle``."""

    port: int = field(default=0, kw_only=True)
    _server: asyncio.Server | None = field(default=None, kw_only=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError
