"""An engine's side of a sandbox network running in another process.

One WebSocket carries requests, answers and pushed events. When it drops,
every session connected through it hears ``DisconnectedEvent(network)`` and
calls fail with :class:`NetworkError`; the next call dials again.

The sandbox is the authority on which sessions are linked; each time we dial
we learn its list, and keep a copy in a small file beside the gateway's data,
so ``is_linked`` answers at once even while the sandbox is away. A logout the
sandbox could not hear is kept in that file too, and told on the next dial.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from wagate.engines.base import (
    ConnectedEvent,
    DisconnectedEvent,
    DisconnectReason,
    EngineError,
    EngineEvent,
    EventSink,
    FailedEvent,
    GroupInfo,
    LoggedOutEvent,
    NetworkError,
    NumberCheck,
    OutgoingMessage,
    Presence,
    SendReceipt,
)
from wagate.engines.sandbox import protocol
from wagate.engines.sandbox.store import write_atomic

logger = logging.getLogger("wagate.sandbox.remote")

_ENDED = (DisconnectedEvent, LoggedOutEvent, FailedEvent)


class RemoteNetwork:
    """Implements :class:`~wagate.engines.sandbox.ports.DevicePort` over a WebSocket."""

    def __init__(
        self,
        url: str,
        linked_cache: Path,
        *,
        keepalive: float = 20.0,
        request_timeout: float = 30.0,
    ) -> None:
        self.url = url
        self._linked_cache = linked_cache
        self._keepalive = keepalive
        self._request_timeout = request_timeout
        self._socket: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._dial_lock = asyncio.Lock()
        self._cache_lock = asyncio.Lock()
        self._request_ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._events: asyncio.Queue[tuple[EventSink, EngineEvent]] = asyncio.Queue()
        self._sinks: dict[str, EventSink] = {}
        self._connected: set[str] = set()  # sessions with a live connection through us
        self._linked: set[str] = set()
        self._pending_logouts: set[str] = set()
        self._background: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        self._linked, self._pending_logouts = await asyncio.to_thread(self._load_cache)
        self._dispatcher = asyncio.create_task(self._dispatch(), name="sandbox-remote-events")
        try:
            await self._dial()
        except NetworkError as exc:
            # Not fatal: sessions report it as they start, and we dial again then.
            logger.warning("sandbox at %s is not reachable yet: %s", self.url, exc.detail)

    async def close(self) -> None:
        socket, self._socket = self._socket, None
        if socket is not None:
            await socket.close()
        tasks = [t for t in (self._reader, self._dispatcher, *self._background) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._fail_pending("the engine is closing")

    def is_linked(self, session_id: str) -> bool:
        return session_id in self._linked

    # -- device operations ------------------------------------------------------

    async def connect(self, session_id: str, sink: EventSink, *, resume: bool) -> None:
        self._sinks[session_id] = sink
        await self.call("connect", session_id=session_id, resume=resume)
        self._connected.add(session_id)

    async def disconnect(self, session_id: str) -> None:
        self._connected.discard(session_id)
        await self.call("disconnect", session_id=session_id)

    async def logout(self, session_id: str) -> None:
        # Forget the link here first: if the sandbox cannot hear it now, it will
        # on the next dial, and this session never resumes the old link meanwhile.
        self._connected.discard(session_id)
        self._linked.discard(session_id)
        self._pending_logouts.add(session_id)
        await self._save_cache()
        await self.call("logout", session_id=session_id)
        self._pending_logouts.discard(session_id)
        await self._save_cache()

    async def request_pairing_code(
        self, session_id: str, phone_number: str, sink: EventSink
    ) -> str:
        self._sinks[session_id] = sink
        code: str = await self.call(
            "request_pairing_code", session_id=session_id, phone_number=phone_number
        )
        self._connected.add(session_id)
        return code

    async def send(self, session_id: str, message: OutgoingMessage) -> SendReceipt:
        receipt: SendReceipt = await self.call("send", session_id=session_id, message=message)
        return receipt

    async def check_numbers(self, session_id: str, numbers: list[str]) -> list[NumberCheck]:
        checks: list[NumberCheck] = await self.call(
            "check_numbers", session_id=session_id, numbers=numbers
        )
        return checks

    async def list_groups(self, session_id: str) -> list[GroupInfo]:
        groups: list[GroupInfo] = await self.call("list_groups", session_id=session_id)
        return groups

    async def get_group(self, session_id: str, jid: str) -> GroupInfo:
        group: GroupInfo = await self.call("get_group", session_id=session_id, jid=jid)
        return group

    async def mark_read(
        self, session_id: str, chat: str, message_ids: list[str], sender: str | None
    ) -> None:
        await self.call(
            "mark_read", session_id=session_id, chat=chat, message_ids=message_ids, sender=sender
        )

    async def send_presence(self, session_id: str, chat: str, presence: Presence) -> None:
        await self.call("send_presence", session_id=session_id, chat=chat, presence=presence)

    async def download_media(self, session_id: str, reference: str) -> bytes:
        data: bytes = await self.call("download_media", session_id=session_id, reference=reference)
        return data

    # -- the socket -------------------------------------------------------------

    async def call(self, op: str, **args: Any) -> Any:
        """One request and its answer; raises what the sandbox raised, or NetworkError."""
        return await self._request(await self._dial(), op, args)

    async def _request(self, socket: ClientConnection, op: str, args: dict[str, Any]) -> Any:
        request_id = next(self._request_ids)
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = answer
        try:
            await socket.send(protocol.request_frame(request_id, op, args))
            return await asyncio.wait_for(answer, self._request_timeout)
        except ConnectionClosed:
            raise NetworkError("the connection to the sandbox was lost") from None
        except TimeoutError:
            raise NetworkError(f"the sandbox did not answer {op} in time") from None
        finally:
            self._pending.pop(request_id, None)

    async def _dial(self) -> ClientConnection:
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
                raise NetworkError(
                    f"the sandbox at {self.url} is unreachable", detail=str(exc)
                ) from None
            self._socket = socket
            self._reader = asyncio.create_task(self._read(socket), name="sandbox-remote-reader")
            await self._catch_up(socket)
            return socket

    async def _catch_up(self, socket: ClientConnection) -> None:
        """Tell the sandbox the logouts it missed, then learn which sessions it has linked."""
        for session_id in sorted(self._pending_logouts):
            try:
                await self._request(socket, "logout", {"session_id": session_id})
            except NetworkError:
                raise
            except EngineError as exc:
                logger.warning("the sandbox refused the logout of %s: %s", session_id, exc)
            self._pending_logouts.discard(session_id)
        linked: list[str] = await self._request(socket, "linked_sessions", {})
        self._linked = set(linked)
        await self._save_cache()

    async def _read(self, socket: ClientConnection) -> None:
        try:
            async for raw in socket:
                self._take(protocol.parse_frame(raw))
        except ConnectionClosed:
            pass
        except Exception:
            logger.exception("the sandbox sent something we cannot read; dropping the connection")
            await socket.close()
        finally:
            self._lost(socket)

    def _take(self, frame: dict[str, Any]) -> None:
        if "event" in frame:
            event = protocol.decode_value(frame["event"])
            self._track(event)
            sink = self._sinks.get(event.session_id)
            if sink is not None:
                self._events.put_nowait((sink, event))
            return
        answer = self._pending.get(frame.get("id", -1))
        if answer is None or answer.done():
            return
        if "error" in frame:
            answer.set_exception(protocol.error_from_wire(frame["error"]))
        else:
            answer.set_result(protocol.decode_value(frame.get("result")))

    def _track(self, event: EngineEvent) -> None:
        if isinstance(event, ConnectedEvent) and event.session_id not in self._linked:
            self._linked.add(event.session_id)
            self._save_cache_soon()
        elif isinstance(event, LoggedOutEvent) and event.session_id in self._linked:
            self._linked.discard(event.session_id)
            self._save_cache_soon()
        if isinstance(event, _ENDED):
            self._connected.discard(event.session_id)

    def _lost(self, socket: ClientConnection) -> None:
        if self._socket is not socket:
            return
        self._socket = None
        self._fail_pending("the connection to the sandbox was lost")
        for session_id in sorted(self._connected):
            sink = self._sinks.get(session_id)
            if sink is not None:
                event = DisconnectedEvent(
                    session_id,
                    DisconnectReason.NETWORK,
                    will_retry=False,
                    detail="lost the connection to the sandbox network",
                )
                self._events.put_nowait((sink, event))
        self._connected.clear()

    def _fail_pending(self, reason: str) -> None:
        for answer in self._pending.values():
            if not answer.done():
                answer.set_exception(NetworkError(reason))

    async def _dispatch(self) -> None:
        # Events reach the engine from their own task, in order: a handler that
        # calls back into us must not wait on the reader that feeds it.
        while True:
            sink, event = await self._events.get()
            try:
                await sink(event)
            except Exception:
                logger.exception("handling %s failed", type(event).__name__)

    # -- which sessions are linked ---------------------------------------------

    def _load_cache(self) -> tuple[set[str], set[str]]:
        try:
            data = json.loads(self._linked_cache.read_text(encoding="utf-8"))
            return set(data["linked"]), set(data["pendingLogouts"])
        except FileNotFoundError:
            return set(), set()
        except (OSError, ValueError, KeyError, TypeError):
            logger.warning("ignoring an unreadable %s", self._linked_cache)
            return set(), set()

    def _save_cache_soon(self) -> None:
        task = asyncio.create_task(self._save_cache())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _save_cache(self) -> None:
        async with self._cache_lock:
            text = json.dumps(
                {"linked": sorted(self._linked), "pendingLogouts": sorted(self._pending_logouts)}
            )
            try:
                await asyncio.to_thread(write_atomic, self._linked_cache, text)
            except OSError:
                logger.warning("could not keep linked sessions in %s", self._linked_cache)
