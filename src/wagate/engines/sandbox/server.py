"""The sandbox network as its own process, reached by engines over a WebSocket.

Running it apart from the gateway makes faults real: kill it and every
gateway connection drops; start it again on the same data folder and linked
sessions resume without a QR.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as serve_websocket
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from wagate.config import Settings
from wagate.engines.base import EngineEvent, NetworkError
from wagate.engines.sandbox import protocol
from wagate.engines.sandbox.control import LocalControl
from wagate.engines.sandbox.network import DEFAULT_MAX_MESSAGES_PER_PHONE, SandboxNetwork
from wagate.engines.sandbox.ports import CONTROL_OPERATIONS

logger = logging.getLogger("wagate.sandbox.server")


class EventNotAcknowledged(NetworkError):
    """The socket closed before the engine said it had handled the event."""


class _Peer:
    """One engine on one socket: its requests, and the events of the sessions it connected.

    An event counts as handed over only once the engine acknowledged it (after its
    gateway stored it). Until then the device's connection holds it, and when the
    socket drops first it goes back to the front of the device's inbox, so the next
    connection gets it again, in order: at least once, under the same message id.
    """

    def __init__(
        self, socket: ServerConnection, network: SandboxNetwork, control: LocalControl
    ) -> None:
        self._socket = socket
        self._network = network
        self._control = control
        self._send_lock = asyncio.Lock()
        self._acks = protocol.EventAcknowledgements()
        self._sessions: set[str] = set()
        self._requests: set[asyncio.Task[None]] = set()

    async def push(self, event: EngineEvent) -> None:
        """The sink of every session this peer connected: returns once acknowledged."""
        await self._acks.deliver(event, self._socket_while_open, self._send_lock)

    async def _socket_while_open(self) -> ServerConnection:
        # Only this socket: a device that dials again is another peer.
        if self._socket.state is not State.OPEN:
            raise EventNotAcknowledged("the engine's connection closed before it took the event")
        return self._socket

    async def _send(self, frame: str) -> None:
        async with self._send_lock:
            await self._socket.send(frame)

    async def serve(self) -> None:
        try:
            async for raw in self._socket:
                with contextlib.suppress(protocol.ProtocolError):
                    if self._acks.take(protocol.parse_frame(raw)):
                        continue
                # Each request runs on its own, so a slow one never holds up the rest.
                task = asyncio.create_task(self._answer(raw))
                self._requests.add(task)
                task.add_done_callback(self._requests.discard)
        except ConnectionClosed:
            pass
        finally:
            for task in list(self._requests):
                task.cancel()
            for session_id in self._sessions:
                await self._network.disconnect(session_id, sink=self.push)

    async def _answer(self, raw: str | bytes) -> None:
        frame = await protocol.answer(raw, self._run)
        with contextlib.suppress(ConnectionClosed):
            await self._send(frame)

    async def _run(self, op: str, args: dict[str, Any]) -> Any:
        if op.startswith(protocol.CONTROL_PREFIX):
            name = op.removeprefix(protocol.CONTROL_PREFIX)
            if name not in CONTROL_OPERATIONS:
                raise protocol.ProtocolError(f"unknown control operation {name!r}")
            try:
                return await getattr(self._control, name)(**args)
            except TypeError as exc:
                raise protocol.ProtocolError(f"bad arguments for {name}: {exc}") from None
        if op not in protocol.DEVICE_OPERATIONS:
            raise protocol.ProtocolError(f"unknown operation {op!r}")
        network = self._network
        session_id = str(args.get("session_id"))
        if op == "connect":
            self._sessions.add(session_id)
            return await network.connect(session_id, self.push, resume=bool(args.get("resume")))
        if op == "request_pairing_code":
            self._sessions.add(session_id)
            return await network.request_pairing_code(
                session_id, str(args.get("phone_number")), self.push
            )
        if op == "disconnect":
            self._sessions.discard(session_id)
            return await network.disconnect(session_id, sink=self.push)
        if op == "logout":
            self._sessions.discard(session_id)
        try:
            return await getattr(network, op)(**args)
        except TypeError as exc:
            raise protocol.ProtocolError(f"bad arguments for {op}: {exc}") from None


async def serve(
    host: str,
    port: int,
    data_dir: Path,
    settings: Settings,
    *,
    max_messages_per_phone: int = DEFAULT_MAX_MESSAGES_PER_PHONE,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the sandbox network until cancelled. ``on_ready`` gets the ``ws://`` URL
    once it listens (useful with ``port=0``, which picks a free port)."""
    network = SandboxNetwork(settings, data_dir, max_messages_per_phone=max_messages_per_phone)
    await network.open()
    control = LocalControl(network)

    async def handle(socket: ServerConnection) -> None:
        await _Peer(socket, network, control).serve()

    try:
        async with serve_websocket(
            handle,
            host,
            port,
            ping_interval=settings.keepalive_seconds,
            ping_timeout=settings.keepalive_seconds,
            max_size=protocol.MAX_FRAME_BYTES,
        ) as server:
            bound_port = next(iter(server.sockets)).getsockname()[1]
            url = f"ws://{host}:{bound_port}/"
            logger.info("sandbox network listening on %s (data in %s)", url, data_dir)
            if on_ready is not None:
                on_ready(url)
            await asyncio.Future()  # until cancelled
    finally:
        await network.close()


def run(
    host: str,
    port: int,
    data_dir: Path,
    settings: Settings | None = None,
    *,
    max_messages_per_phone: int = DEFAULT_MAX_MESSAGES_PER_PHONE,
) -> None:
    """Run the sandbox process in the foreground; SIGINT or SIGTERM stop it cleanly."""
    settings = settings or Settings(data_dir=data_dir)

    def announce(url: str) -> None:
        # A line on stdout that scripts and tests wait for.
        print(f"sandbox listening on {url}", flush=True)

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await serve(
                host,
                port,
                data_dir,
                settings,
                max_messages_per_phone=max_messages_per_phone,
                on_ready=announce,
            )

    asyncio.run(main())
