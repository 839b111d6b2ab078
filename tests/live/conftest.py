"""The app under test served by a real uvicorn, for WebSocket clients."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
import uvicorn
from fastapi import FastAPI


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def ws_base(app: FastAPI) -> AsyncIterator[str]:
    """``ws://`` base URL of the app (its lifespan already runs under the ``app`` fixture)."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)  # uvicorn has no event to await for "listening"
    yield f"ws://127.0.0.1:{port}"
    server.should_exit = True
    await task
