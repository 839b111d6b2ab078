"""The client side of :mod:`.protocol`: one WebSocket to an engine in another process.

A :class:`Channel` dials on demand, matches answers to requests, and hands the
events the peer pushes to ``on_event``: in order for each session, sessions
side by side, each from a task of its own (a handler that calls back into the
channel must not wait on the reader that feeds it). An event that carries an
id is answered once handled. When the socket drops, calls in flight fail with
:class:`ChannelLost` and ``on_lost`` hears it; the next call dials again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from wagate.engines.base import EngineEvent, NetworkError
from wagate.engines.sandbox import protocol

logger = logging.getLogger("wagate.engines.channel")

Request = Callable[[str, dict[str, Any]], Awaitable[Any]]


class ChannelLost(NetworkError):
    """The peer could not be reached, or the socket dropped mid-call."""


class Channel:
    def __init__(
        self,
        url: str,
        on_event: Callable[[EngineEvent], Awaitable[None]],
        *,
        on_dial: Callable[[Request], Awaitable[None]] | None = None,
        on_lost: Callable[[], None] | None = None,
        keepalive: float = 20.0,
        request_timeout: float = 30.0,
        peer: str = "the peer",
    ) -> None:
        """``on_dial`` runs on each new socket before anyone else may use it."""
        self.url = url
        self._on_event = on_event
        self._on_dial = on_dial
        self._on_lost = on_lost
        self._keepalive = keepalive
        self._request_timeout = request_timeout
        self._peer = peer
        self._socket: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._dial_lock = asyncio.Lock()
        self._request_ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._queues: dict[
            str, deque[tuple[EngineEvent, Callable[[], Awaitable[None]] | None]]
        ] = {}
        self._background: set[asyncio.Task[None]] = set()

    @property
    def connected(self) -> bool:
        return self._socket is not None

    async def call(self, op: str, **args: Any) -> Any:
        """One request and its answer; raises what the peer raised, or ChannelLost."""
        return await self._request(await self.dial(), op, args)

    async def dial(self) -> ClientConnection:
        async with self._dial_lock:
            if self._socket is not None:
                return self._socket
            try:
                socket = await connect(
                    self.url,
                    ping_interval=self._keepalive,
                    ping_timeout=self._keepalive,
                    max_size=protocol.MAX_FRAME_BYTES,
                    open_timeout=10,
                    proxy=None,
                )
            except (OSError, TimeoutError, WebSocketException) as exc:
                raise ChannelLost(f"{self._peer} is unreachable", detail=str(exc)) from None
            self._socket = socket
            self._reader = asyncio.create_task(self._read(socket), name=f"channel-{self._peer}")
            if self._on_dial is not None:
                await self._on_dial(lambda op, args: self._request(socket, op, args))
            return socket

    def post(self, event: EngineEvent) -> None:
        """Hand an event to ``on_event`` after those already queued for its session."""
        self._enqueue(event, None)

    async def close(self, *, finish_events: float = 0.0) -> None:
        """Close the socket; events already received get ``finish_events`` seconds to be
        handled (they are news the peer may not be able to send again)."""
        socket, self._socket = self._socket, None
        if socket is not None:
            await socket.close()
        if finish_events > 0 and self._background:
            await asyncio.wait(set(self._background), timeout=finish_events)
        tasks = [t for t in (self._reader, *self._background) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._fail_pending(f"{self._peer} closed")

    async def _request(self, socket: ClientConnection, op: str, args: dict[str, Any]) -> Any:
        request_id = next(self._request_ids)
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = answer
        try:
            await socket.send(protocol.request_frame(request_id, op, args))
            return await asyncio.wait_for(answer, self._request_timeout)
        except ConnectionClosed:
            raise ChannelLost(f"the connection to {self._peer} was lost") from None
        except TimeoutError:
            raise ChannelLost(f"{self._peer} did not answer {op} in time") from None
        finally:
            self._pending.pop(request_id, None)

    async def _read(self, socket: ClientConnection) -> None:
        try:
            async for raw in socket:
                self._take(socket, protocol.parse_frame(raw))
        except ConnectionClosed:
            pass
        except Exception:
            logger.exception(
                "%s sent something we cannot read; dropping the connection", self._peer
            )
            await socket.close()
        finally:
            self._lost(socket)

    def _take(self, socket: ClientConnection, frame: dict[str, Any]) -> None:
        if "event" in frame:
            event = protocol.decode_value(frame["event"])
            event_id = frame.get("id")
            acknowledge = None
            if isinstance(event_id, int):

                async def acknowledge() -> None:
                    with contextlib.suppress(ConnectionClosed):
                        await socket.send(protocol.result_frame(event_id, None))

            self._enqueue(event, acknowledge)
            return
        answer = self._pending.get(frame.get("id", -1))
        if answer is None or answer.done():
            return
        if "error" in frame:
            answer.set_exception(protocol.error_from_wire(frame["error"]))
        else:
            answer.set_result(protocol.decode_value(frame.get("result")))

    def _enqueue(
        self, event: EngineEvent, acknowledge: Callable[[], Awaitable[None]] | None
    ) -> None:
        queue = self._queues.get(event.session_id)
        if queue is None:
            queue = self._queues[event.session_id] = deque()
            task = asyncio.create_task(self._drain(event.session_id, queue))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        queue.append((event, acknowledge))

    async def _drain(
        self,
        session_id: str,
        queue: deque[tuple[EngineEvent, Callable[[], Awaitable[None]] | None]],
    ) -> None:
        try:
            while queue:
                event, acknowledge = queue.popleft()
                try:
                    await self._on_event(event)
                except Exception:
                    logger.exception("handling %s failed", type(event).__name__)
                if acknowledge is not None:
                    await acknowledge()
        finally:
            if self._queues.get(session_id) is queue:
                del self._queues[session_id]

    def _lost(self, socket: ClientConnection) -> None:
        if self._socket is not socket:
            return
        self._socket = None
        self._fail_pending(f"the connection to {self._peer} was lost")
        if self._on_lost is not None:
            self._on_lost()

    def _fail_pending(self, reason: str) -> None:
        for answer in self._pending.values():
            if not answer.done():
                answer.set_exception(ChannelLost(reason))
