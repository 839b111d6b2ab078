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
import json
import logging
from pathlib import Path
from typing import Any

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
from wagate.engines.sandbox.channel import Channel, Request
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
        self._channel = Channel(
            url,
            self._deliver,
            on_dial=self._catch_up,
            on_lost=self._lost,
            keepalive=keepalive,
            request_timeout=request_timeout,
            peer=f"the sandbox at {url}",
        )
        self._cache_lock = asyncio.Lock()
        self._sinks: dict[str, EventSink] = {}
        self._connected: set[str] = set()  # sessions with a live connection through us
        self._linked: set[str] = set()
        self._pending_logouts: set[str] = set()
        self._background: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        self._linked, self._pending_logouts = await asyncio.to_thread(self._load_cache)
        try:
            await self._channel.dial()
        except NetworkError as exc:
            # Not fatal: sessions report it as they start, and we dial again then.
            logger.warning("sandbox at %s is not reachable yet: %s", self.url, exc.detail)

    async def close(self) -> None:
        await self._channel.close()
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

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
        return await self._channel.call(op, **args)

    async def _catch_up(self, request: Request) -> None:
        """Tell the sandbox the logouts it missed, then learn which sessions it has linked."""
        for session_id in sorted(self._pending_logouts):
            try:
                await request("logout", {"session_id": session_id})
            except NetworkError:
                raise
            except EngineError as exc:
                logger.warning("the sandbox refused the logout of %s: %s", session_id, exc)
            self._pending_logouts.discard(session_id)
        linked: list[str] = await request("linked_sessions", {})
        self._linked = set(linked)
        await self._save_cache()

    async def _deliver(self, event: EngineEvent) -> None:
        self._track(event)
        sink = self._sinks.get(event.session_id)
        if sink is not None:
            await sink(event)

    def _track(self, event: EngineEvent) -> None:
        if isinstance(event, ConnectedEvent) and event.session_id not in self._linked:
            self._linked.add(event.session_id)
            self._save_cache_soon()
        elif isinstance(event, LoggedOutEvent) and event.session_id in self._linked:
            self._linked.discard(event.session_id)
            self._save_cache_soon()
        if isinstance(event, _ENDED):
            self._connected.discard(event.session_id)

    def _lost(self) -> None:
        for session_id in sorted(self._connected):
            event = DisconnectedEvent(
                session_id,
                DisconnectReason.NETWORK,
                will_retry=False,
                detail="lost the connection to the sandbox network",
            )
            self._channel.post(event)
        self._connected.clear()

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
