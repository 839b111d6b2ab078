"""The session lifecycle manager: drives engines and turns what they report into
stored state.

It is the engines' event sink and puts together the parts that do the work:
the engines by name (``engines.py``), what people ask of a connection
(``commands.py``), the typed event router that stores each event in order
through the database's batch writer (``events.py``), reconnects with backoff
(``reconnect.py``) and the keep-alive sweep (``keepalive.py``). An event is
handed back to the engine (and so acknowledged) only once its batch committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wagate.config import Settings
from wagate.engines.base import (
    ConnectedEvent,
    DisconnectedEvent,
    DisconnectReason,
    Engine,
    EngineEvent,
    FailedEvent,
    LoggedOutEvent,
)
from wagate.sessions import service
from wagate.sessions.commands import SessionCommands
from wagate.sessions.engines import EngineRegistry
from wagate.sessions.events import EventHandler, EventRouter, Preparer
from wagate.sessions.keepalive import KeepAlive
from wagate.sessions.models import SessionState, WhatsAppSession
from wagate.sessions.reconnect import NO_RECONNECT, Reconnector
from wagate.sessions.repository import SessionRepository
from wagate.storage.db import Database

logger = logging.getLogger(__name__)

ConnectedHook = Callable[[uuid.UUID], Awaitable[None] | None]

# Engine events that settle where a session stands.
_LIFECYCLE_EVENTS = (ConnectedEvent, DisconnectedEvent, LoggedOutEvent, FailedEvent)


class SessionManager:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self.registry = EngineRegistry()
        self.engines = self.registry.engines
        self._quiet: set[uuid.UUID] = set()
        self.router = EventRouter(database)
        self.reconnector = Reconnector(settings, self.connect, self._quiet)
        self.commands = SessionCommands(self.registry, self.router, self.reconnector, self._quiet)
        self.keepalive = KeepAlive(database, settings, self.registry, self.reconnector)
        self._connected_hooks: list[ConnectedHook] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False
        # Sessions this process saw connect (a stop records them as down).
        self._connected_here: set[uuid.UUID] = set()

    # -- wiring -------------------------------------------------------------

    def add_engine(self, engine: Engine) -> None:
        self.registry.add(engine)

    def engine(self, name: str) -> Engine:
        return self.registry.engine(name)

    def on_event(self, event_type: type[Any], handler: EventHandler) -> None:
        """Handlers of one event type run in the order they registered."""
        self.router.on_event(event_type, handler)

    def on_prepare(self, event_type: type[Any], preparer: Preparer) -> None:
        """Work done for an event before its unit of work (media downloads)."""
        self.router.on_prepare(event_type, preparer)

    def on_connected(self, hook: ConnectedHook) -> None:
        self._connected_hooks.append(hook)

    # -- start-up and shut-down ---------------------------------------------

    async def start(self) -> None:
        """Open the engines and resume every session that was linked."""
        await self.registry.open()
        # Still "connected" only if the last process died without saying so.
        await self._record_shutdown(None)
        async with self.database.transaction() as db:
            repository = SessionRepository(db)
            to_resume = [(s.id, s.engine) for s in await repository.to_resume()]
            for waiting in await repository.waiting_for_link():
                owner = self.registry.get(waiting.engine)
                if owner is not None and owner.is_linked(str(waiting.id)):
                    # Linked just before the last stop, before the news was stored.
                    to_resume.append((waiting.id, waiting.engine))
                    continue
                # The link attempt died with the previous process; GET /qr or
                # restart begins a new one.
                await service.transition(
                    db, waiting, SessionState.DISCONNECTED, reason=DisconnectReason.SHUTDOWN
                )
        for session_id, engine_name in to_resume:
            if engine_name in self.engines:
                self.reconnector.resuming.add(session_id)
                self._spawn(self.connect(session_id, engine_name))
            else:
                logger.warning("session %s needs the disabled engine %s", session_id, engine_name)
        self.keepalive.start()

    async def close(self) -> None:
        self._closing = True
        self.commands.closing = True
        self.reconnector.close()
        tasks = [*self.reconnector.tasks(), *self._tasks]
        keepalive = self.keepalive.task()
        if keepalive is not None:
            tasks.append(keepalive)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await self._record_shutdown(self._connected_here)
        except Exception:
            logger.exception("could not record the sessions' shut-down")
        await self.registry.close()

    # -- what people ask for (sessions/commands.py) --------------------------

    async def connect(self, session_id: uuid.UUID, engine_name: str) -> None:
        """Start or resume a session's connection; failures become state, not errors."""
        await self.commands.connect(session_id, engine_name)

    def connect_soon(self, session_id: uuid.UUID, engine_name: str) -> None:
        """Begin connecting without waiting for the engine (after a commit)."""
        self._quiet.discard(session_id)
        self._spawn(self.connect(session_id, engine_name))

    async def restart(self, session_id: uuid.UUID, engine_name: str) -> None:
        await self.commands.restart(session_id, engine_name)

    async def stop(self, session_id: uuid.UUID, engine_name: str) -> None:
        await self.commands.stop(session_id, engine_name)

    async def logout(self, session_id: uuid.UUID, engine_name: str) -> None:
        await self.commands.logout(session_id, engine_name)

    async def discard(self, session_id: uuid.UUID, engine_name: str) -> None:
        await self.commands.discard(session_id, engine_name)

    async def request_pairing_code(self, session: WhatsAppSession, phone_number: str) -> str:
        return await self.commands.request_pairing_code(session, phone_number)

    def reconnect_pending(self, session_id: uuid.UUID) -> bool:
        """A reconnect is scheduled, or the session is being resumed after a start."""
        return self.reconnector.pending(session_id)

    # -- the engines' event sink --------------------------------------------

    async def handle_event(self, event: EngineEvent) -> None:
        """Store ``event``; returns once it is committed (the engine's acknowledgement)."""
        if self._closing:
            return
        try:
            session_id = uuid.UUID(event.session_id)
        except ValueError:
            logger.warning("event for an unknown session id %r", event.session_id)
            return
        if session_id in self._quiet and isinstance(event, DisconnectedEvent | LoggedOutEvent):
            return
        if isinstance(event, ConnectedEvent):
            # Noted before it is stored, so a stop that follows at once knows it.
            self._connected_here.add(session_id)
        # The stop records this session's state once closing: nothing lands after it.
        session = await self.router.store(session_id, event, go_on=lambda: not self._closing)
        if session is None or session.session_state is SessionState.STOPPED:
            return
        if isinstance(event, _LIFECYCLE_EVENTS):
            self.reconnector.resuming.discard(session_id)
            if not isinstance(event, ConnectedEvent):
                self._connected_here.discard(session_id)
        if isinstance(event, ConnectedEvent):
            self.reconnector.reset(session_id)
            for hook in self._connected_hooks:
                result = hook(session_id)
                if result is not None:
                    await result
        elif (
            isinstance(event, DisconnectedEvent)
            and not event.will_retry
            and event.reason not in NO_RECONNECT
        ):
            # Linked or not: an unlinked session gets its QR once the network is back.
            self.reconnector.schedule(session_id, session.engine)

    # -- helpers ------------------------------------------------------------

    async def _record_shutdown(self, only: set[uuid.UUID] | None) -> None:
        """Sessions stored as connected that are not any more: at a stop, those this
        process drove (``only``); at a start, any left by a process that died."""
        if only is not None and not only:
            return

        async def unit(db: AsyncSession) -> None:
            for session in await SessionRepository(db).connected(only):
                await service.transition(
                    db,
                    session,
                    SessionState.DISCONNECTED,
                    reason=DisconnectReason.SHUTDOWN,
                    detail="The gateway stopped",
                )

        async with contextlib.AsyncExitStack() as held:
            # Events being prepared for these sessions are submitted first (none
            # start: the manager is closing), so none lands after the shutdown.
            for session_id in sorted(only or ()):
                await held.enter_async_context(self.router.order(session_id))
            await self.database.writer.run(unit)
        if only is not None:
            only.clear()

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        async def _run() -> None:
            await coroutine

        task = asyncio.create_task(_run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
