"""The engine host's side: one engine in this process, served to the gateway over a socket.

The gateway that started us is the only peer (the URL carries a secret it
chose). Its requests are the engine's own methods by name, plus
``control.<method>`` for the engine's control face (the sandbox's phones) and
``linked`` (which of these sessions resume without a QR). Every event the
engine emits goes to the gateway as an event frame with an id, and the engine
waits for the gateway's answer, as it waits for its event sink in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as serve_websocket
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from wagate.config import Settings
from wagate.engines.base import Engine, EngineContext, EngineEvent
from wagate.engines.registry import create_engine
from wagate.engines.sandbox import protocol

logger = logging.getLogger("wagate.engines.host")

# The Engine methods a gateway may call, by name.
ENGINE_OPERATIONS = protocol.SESSION_OPERATIONS | {"start_session", "stop_session"}
PEER_WAIT_SECONDS = 30.0  # how long an event waits for the gateway to (re)connect


class EngineServer:
    """Serves one engine to one gateway at a time."""

    def __init__(self, engine_name: str, settings: Settings) -> None:
        context = EngineContext(settings=settings, emit=self._emit, data_dir=settings.data_dir)
        self.engine: Engine = create_engine(engine_name, context)
        self._peer: ServerConnection | None = None
        self._peer_changed = asyncio.Event()
        self._acks = protocol.EventAcknowledgements()
        self._send_lock = asyncio.Lock()

    async def handle(self, socket: ServerConnection) -> None:
        previous, self._peer = self._peer, socket
        self._peer_changed.set()
        if previous is not None:
            await previous.close()
        requests: set[asyncio.Task[None]] = set()
        try:
            async for raw in socket:
                if self._acks.take(protocol.parse_frame(raw)):
                    continue
                task = asyncio.create_task(self._answer(socket, raw))
                requests.add(task)
                task.add_done_callback(requests.discard)
        except ConnectionClosed:
            pass
        finally:
            if self._peer is socket:
                self._peer = None

    async def _answer(self, socket: ServerConnection, raw: str | bytes) -> None:
        frame = await protocol.answer(raw, self._run)
        with contextlib.suppress(ConnectionClosed):
            async with self._send_lock:
                await socket.send(frame)

    async def _run(self, op: str, args: dict[str, Any]) -> Any:
        engine = self.engine
        if op.startswith(protocol.CONTROL_PREFIX):
            control = getattr(engine, "control", None)
            if control is None:
                raise protocol.ProtocolError(f"the {engine.name} engine has no control face")
            return await getattr(control, op.removeprefix(protocol.CONTROL_PREFIX))(**args)
        if op == "linked":
            return [
                session_id for session_id in args["session_ids"] if engine.is_linked(session_id)
            ]
        if op not in ENGINE_OPERATIONS:
            raise protocol.ProtocolError(f"unknown operation {op!r}")
        try:
            return await getattr(engine, op)(**args)
        except TypeError as exc:
            raise protocol.ProtocolError(f"bad arguments for {op}: {exc}") from None

    async def _emit(self, event: EngineEvent) -> None:
        """The engine's event sink: delivered once the gateway has handled it."""
        await self._acks.deliver(event, self._current_peer, self._send_lock)

    async def _current_peer(self) -> ServerConnection:
        async with asyncio.timeout(PEER_WAIT_SECONDS):
            while self._peer is None:
                self._peer_changed.clear()
                await self._peer_changed.wait()
        return self._peer


async def serve(
    engine_name: str, settings: Settings, token: str, on_ready: Callable[[str], None]
) -> None:
    """Open the engine and serve it on a loopback port until cancelled."""
    server = EngineServer(engine_name, settings)

    def only_our_gateway(_socket: ServerConnection, request: Request) -> Response | None:
        if request.path != f"/{token}":
            return _socket.respond(HTTPStatus.FORBIDDEN, "not yours\n")
        return None

    await server.engine.open()
    try:
        async with serve_websocket(
            server.handle,
            "127.0.0.1",
            0,
            process_request=only_our_gateway,
            ping_interval=settings.keepalive_seconds,
            ping_timeout=settings.keepalive_seconds,
            max_size=protocol.MAX_FRAME_BYTES,
        ) as listening:
            port = next(iter(listening.sockets)).getsockname()[1]
            on_ready(f"ws://127.0.0.1:{port}/{token}")
            await asyncio.Future()  # until cancelled
    finally:
        await server.engine.close()
