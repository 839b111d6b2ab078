"""The keep-alive sweep: a safety net under the reconnects. A linked session
left disconnected with no reconnect under way (a lost event, an engine that
gave up) is reconnected."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from wagate.config import Settings
from wagate.sessions.engines import EngineRegistry
from wagate.sessions.models import SessionState
from wagate.sessions.reconnect import NO_RECONNECT, Reconnector
from wagate.sessions.repository import SessionRepository
from wagate.storage.base import utcnow
from wagate.storage.db import Database

logger = logging.getLogger(__name__)


class KeepAlive:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        engines: EngineRegistry,
        reconnector: Reconnector,
    ) -> None:
        self.database = database
        self.settings = settings
        self.engines = engines
        self.reconnector = reconnector
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="session-keepalive")

    def task(self) -> asyncio.Task[None] | None:
        return self._task

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.keepalive_seconds)
            try:
                await self.sweep()
            except Exception:
                logger.exception("session keep-alive sweep failed")

    async def sweep(self) -> None:
        async with self.database.transaction() as db:
            candidates = await SessionRepository(db).to_resume()
        stale_after = timedelta(seconds=self.settings.keepalive_seconds)
        for session in candidates:
            if (
                session.session_state is SessionState.DISCONNECTED
                and session.reason not in NO_RECONNECT
                and utcnow() - session.state_changed_at > stale_after
                and self.engines.get(session.engine) is not None
                and not self.reconnector.pending(session.id)
            ):
                self.reconnector.schedule(session.id, session.engine)
