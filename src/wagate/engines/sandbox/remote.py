"""An engine's side of a sandbox network running in another process.

One WebSocket carries requests, answers and pushed events. When it drops,
every session connected through it hears ``DisconnectedEvent(network)`` and
calls fail with :class:`NetworkError`; the next call dials again. Each event
is acknowledged only once its sink (the gateway's session manager, which
stores it) returned, so the sandbox gives what a dead gateway never stored to
the next connection, in order.

The sandbox is the authority on which sessions are linked; each time we dial
we learn its list, and keep a copy in a small file beside the gateway's data,
so ``is_linked`` answers at once even while the sandbox is away. A logout the
sandbox could not hear is kept in that file too, and told on the next dial.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from wagate.engines.base import (
    DisconnectedEvent,
    DisconnectReason,
    EngineEvent,
    EventSink,
    FailedEvent,
    LoggedOutEvent,
    NetworkError,
)
from wagate.engines.forwarding import ForwardedCalls
from wagate.engines.sandbox.channel import Channel, Request
from wagate.engines.sandbox.linked import LinkedSessions

logger = logging.getLogger("wagate.sandbox.remote")

_ENDED = (DisconnectedEvent, LoggedOutEvent, FailedEvent)


class RemoteNetwork(ForwardedCalls):
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
        self._channel = Channel(
            url,
            self._deliver,
            on_dial=self._catch_up,
            on_lost=self._lost,
            keepalive=keepalive,
            request_timeout=request_timeout,
            peer=f"the sandbox at {url}",
        )
        self._sinks: dict[str, EventSink] = {}
        self._connected: set[str] = set()  # sessions with a live connection through us
        self._linked = LinkedSessions(linked_cache)

    async def open(self) -> None:
        await self._linked.load()
        try:
            await self._channel.dial()
        except NetworkError as exc:
            # Not fatal: sessions report it as they start, and we dial again then.
            logger.warning("sandbox at %s is not reachable yet: %s", self.url, exc.detail)

    async def close(self) -> None:
        await self._channel.close()

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
        self._connected.discard(session_id)
        await self._linked.logout(session_id, lambda: self.call("logout", session_id=session_id))

    async def request_pairing_code(
        self, session_id: str, phone_number: str, sink: EventSink
    ) -> str:
        self._sinks[session_id] = sink
        code: str = await self.call(
            "request_pairing_code", session_id=session_id, phone_number=phone_number
        )
        self._connected.add(session_id)
        return code

    async def download_media(self, session_id: str, reference: str) -> bytes:
        data: bytes = await self.call("download_media", session_id=session_id, reference=reference)
        return data

    # -- the socket -------------------------------------------------------------

    async def call(self, op: str, **args: Any) -> Any:
        """One request and its answer; raises what the sandbox raised, or NetworkError."""
        return await self._channel.call(op, **args)

    async def _catch_up(self, request: Request) -> None:
        """Tell the sandbox the logouts it missed, then learn which sessions it has linked."""
        await self._linked.replay_logouts(
            lambda session_id: request("logout", {"session_id": session_id})
        )
        await self._linked.replace(await request("linked_sessions", {}))

    async def _deliver(self, event: EngineEvent) -> None:
        await self._linked.note(event)
        if isinstance(event, _ENDED):
            self._connected.discard(event.session_id)
        sink = self._sinks.get(event.session_id)
        if sink is not None:
            await sink(event)

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
