"""Reconnecting sessions whose connection dropped and that the engine does not
retry itself: exponential backoff with jitter, one pending attempt per session."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable

from wagate.config import Settings
from wagate.engines.base import DisconnectReason
from wagate.sessions.backoff import reconnect_delay

logger = logging.getLogger(__name__)

Connect = Callable[[uuid.UUID, str], Awaitable[None]]

# A link attempt that timed out waits for a person; a stream replaced by another
# client would only knock that client off again.
NO_RECONNECT = frozenset(
    {
        DisconnectReason.QR_TIMEOUT,
        DisconnectReason.USER_REQUEST,
        DisconnectReason.SHUTDOWN,
        DisconnectReason.STREAM_REPLACED,
    }
)


class Reconnector:
    def __init__(self, settings: Settings, connect: Connect, quiet: set[uuid.UUID]) -> None:
        self.settings = settings
        self._connect = connect
        # Sessions a person is stopping, logging out or deleting (shared with the manager).
        self._quiet = quiet
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._attempts: defaultdict[uuid.UUID, int] = defaultdict(int)
        # Resumed at start-up, not confirmed by the engine yet: as good as pending.
        self.resuming: set[uuid.UUID] = set()
        self._closing = False

    def schedule(self, session_id: uuid.UUID, engine_name: str) -> None:
        if self._closing or session_id in self._quiet:
            return
        current = self._tasks.get(session_id)
        if current is not None and not current.done():
            return
        self._attempts[session_id] += 1
        attempt = self._attempts[session_id]
        delay = reconnect_delay(
            attempt,
            base=self.settings.reconnect_base_seconds,
            cap=self.settings.reconnect_max_seconds,
        )
        logger.info("session %s reconnects in %.2fs (attempt %d)", session_id, delay, attempt)
        self._tasks[session_id] = asyncio.create_task(
            self._after(session_id, engine_name, delay), name=f"reconnect-{session_id}"
        )

    async def _after(self, session_id: uuid.UUID, engine_name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        self._tasks.pop(session_id, None)
        await self._connect(session_id, engine_name)

    def cancel(self, session_id: uuid.UUID) -> None:
        task = self._tasks.pop(session_id, None)
        if task is not None:
            task.cancel()

    def reset(self, session_id: uuid.UUID) -> None:
        """Connected, or stopped by a person: the next drop starts the backoff anew."""
        self._attempts.pop(session_id, None)
        self.cancel(session_id)

    def pending(self, session_id: uuid.UUID) -> bool:
        """A reconnect is scheduled, or the session is being resumed after a start."""
        if session_id in self.resuming:
            return True
        task = self._tasks.get(session_id)
        return task is not None and not task.done()

    def tasks(self) -> list[asyncio.Task[None]]:
        return list(self._tasks.values())

    def close(self) -> None:
        self._closing = True
        for task in self._tasks.values():
            task.cancel()
