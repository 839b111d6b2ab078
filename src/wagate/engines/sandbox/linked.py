"""Which sessions an engine in another process keeps linked, remembered on this side.

The other process (a sandbox server, the engine host) is the authority; each
time we reach it we learn its list. A copy is kept in a small file beside the
gateway's data, so ``is_linked`` answers at once even while that process is
away, and so is a logout it could not hear, to be told when it is back.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from wagate.engines.base import (
    ConnectedEvent,
    EngineError,
    EngineEvent,
    LoggedOutEvent,
    NetworkError,
)
from wagate.engines.sandbox.store import write_atomic

logger = logging.getLogger("wagate.engines.linked")


class LinkedSessions:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = asyncio.Lock()
        self.linked: set[str] = set()
        self.pending_logouts: set[str] = set()

    def __contains__(self, session_id: object) -> bool:
        return session_id in self.linked

    async def load(self) -> None:
        self.linked, self.pending_logouts = await asyncio.to_thread(self._read)

    async def replace(self, linked: Iterable[str]) -> None:
        """What the other process says it has linked."""
        self.linked = set(linked)
        await self._save()

    async def note(self, event: EngineEvent) -> None:
        """Learn from an event: connected means linked, logged out means not."""
        if isinstance(event, ConnectedEvent) and event.session_id not in self.linked:
            self.linked.add(event.session_id)
            await self._save()
        elif isinstance(event, LoggedOutEvent) and event.session_id in self.linked:
            self.linked.discard(event.session_id)
            await self._save()

    async def logout(self, session_id: str, tell: Callable[[], Awaitable[None]]) -> None:
        """Forget the link here first: if ``tell`` cannot reach the other process, it
        hears of it when it is back, and the session never resumes the old link meanwhile."""
        self.linked.discard(session_id)
        self.pending_logouts.add(session_id)
        await self._save()
        await tell()
        self.pending_logouts.discard(session_id)
        await self._save()

    async def replay_logouts(self, tell: Callable[[str], Awaitable[None]]) -> None:
        """Tell the other process, just reached, the logouts it missed."""
        for session_id in sorted(self.pending_logouts):
            try:
                await tell(session_id)
            except NetworkError:
                raise
            except EngineError as exc:
                logger.warning("the logout of %s was refused: %s", session_id, exc)
            self.pending_logouts.discard(session_id)

    def _read(self) -> tuple[set[str], set[str]]:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
            return set(data["linked"]), set(data["pendingLogouts"])
        except FileNotFoundError:
            return set(), set()
        except (OSError, ValueError, KeyError, TypeError):
            logger.warning("ignoring an unreadable %s", self._path)
            return set(), set()

    async def _save(self) -> None:
        async with self._lock:
            text = json.dumps(
                {"linked": sorted(self.linked), "pendingLogouts": sorted(self.pending_logouts)}
            )
            try:
                await asyncio.to_thread(write_atomic, self._path, text)
            except OSError:
                logger.warning("could not keep linked sessions in %s", self._path)
