"""The session lifecycle manager: drives engines and turns what they report into
stored state.

It is the engines' event sink. Each engine event is handled under a per-session
lock in a transaction of its own, so a session's events are stored in the order
they happened. Connection drops the engine does not retry itself are retried
here, with exponential backoff and jitter; a keep-alive sweep catches any
session that should be connected and is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from wagate.config import Settings
from wagate.engines.base import (
    ConnectedEvent,
    DisconnectedEvent,
    DisconnectReason,
    Engine,
    EngineError,
    EngineEvent,
    FailedEvent,
    LoggedOutEvent,
    NotLinkedError,
    PairingCodeEvent,
    QrCodeEvent,
    SessionBannedError,
)
from wagate.errors import AppError, ErrorCode
from wagate.events.service import OutboxSignal
from wagate.sessions import service
from wagate.sessions.backoff import reconnect_delay
from wagate.sessions.engine_calls import engine_errors
from wagate.sessions.models import SessionState, WhatsAppSession
from wagate.sessions.repository import SessionRepository
from wagate.storage.base import utcnow
from wagate.storage.db import Database

logger = logging.getLogger(__name__)

# Handlers for the events the manager does not own (messages, receipts, groups):
# they get the session row and the event inside the event's transaction.
EventHandler = Callable[[AsyncSession, WhatsAppSession, Any], Awaitable[None]]
ConnectedHook = Callable[[uuid.UUID], Awaitable[None] | None]

# How often an engine event is tried against a busy or unreachable database.
_STORE_ATTEMPTS = 5

# A link attempt that timed out waits for a person; a stream replaced by another
# client would only knock that client off again.
_NO_RECONNECT = {
    DisconnectReason.QR_TIMEOUT,
    DisconnectReason.USER_REQUEST,
    DisconnectReason.SHUTDOWN,
    DisconnectReason.STREAM_REPLACED,
}

# What an engine reports of a connection; a stopped session hears only of its
# device being logged out or its account failing.
_CONNECTION_EVENTS = (QrCodeEvent, PairingCodeEvent, ConnectedEvent, DisconnectedEvent)


def _engine_may_move(session: WhatsAppSession) -> bool:
    """A session a person stopped stays stopped until a person connects it."""
    return session.session_state is not SessionState.STOPPED


# Engine events that settle where a session stands.
_LIFECYCLE_EVENTS = (ConnectedEvent, DisconnectedEvent, LoggedOutEvent, FailedEvent)


class SessionManager:
    def __init__(self, database: Database, settings: Settings, signal: OutboxSignal) -> None:
        self.database = database
        self.settings = settings
        self.signal = signal
        self.engines: dict[str, Engine] = {}
        self._locks: defaultdict[uuid.UUID, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._reconnects: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._attempts: defaultdict[uuid.UUID, int] = defaultdict(int)
        # Sessions a person is stopping, logging out or deleting: the engine's
        # own reports of that are not news.
        self._quiet: set[uuid.UUID] = set()
        self._handlers: defaultdict[type[Any], list[EventHandler]] = defaultdict(list)
        self._connected_hooks: list[ConnectedHook] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._keepalive: asyncio.Task[None] | None = None
        self._closing = False
        # Sessions this process saw connect (a stop records them as down), and
        # those resumed at start-up that the engine has not confirmed yet.
        self._connected_here: set[uuid.UUID] = set()
        self._resuming: set[uuid.UUID] = set()

    # -- wiring -------------------------------------------------------------

    def add_engine(self, engine: Engine) -> None:
        self.engines[engine.name] = engine

    def engine(self, name: str) -> Engine:
        try:
            return self.engines[name]
        except KeyError:
            raise AppError(
                ErrorCode.SERVICE_UNAVAILABLE, f"The {name!r} engine is not enabled on this server"
            ) from None

    def on_event(self, event_type: type[Any], handler: EventHandler) -> None:
        """Handlers of one event type run in the order they registered."""
        self._handlers[event_type].append(handler)

    def on_connected(self, hook: ConnectedHook) -> None:
        self._connected_hooks.append(hook)

    # -- start-up and shut-down ---------------------------------------------

    async def start(self) -> None:
        """Open the engines and resume every session that was linked."""
        for engine in self.engines.values():
            await engine.open()
        # Still "connected" only if the last process died without saying so.
        await self._record_shutdown(None)
        async with self.database.transaction() as db:
            repository = SessionRepository(db)
            to_resume = [(s.id, s.engine) for s in await repository.to_resume()]
            for waiting in await repository.waiting_for_link():
                owner = self.engines.get(waiting.engine)
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
                self._resuming.add(session_id)
                self._spawn(self.connect(session_id, engine_name))
            else:
                logger.warning("session %s needs the disabled engine %s", session_id, engine_name)
        self._keepalive = asyncio.create_task(self._keepalive_loop(), name="session-keepalive")

    async def close(self) -> None:
        self._closing = True
        tasks = [*self._reconnects.values(), *self._tasks]
        if self._keepalive:
            tasks.append(self._keepalive)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await self._record_shutdown(self._connected_here)
        except Exception:
            logger.exception("could not record the sessions' shut-down")
        for engine in self.engines.values():
            try:
                await engine.close()
            except Exception:
                logger.exception("engine %s did not close cleanly", engine.name)

    # -- what people ask for ------------------------------------------------

    async def connect(self, session_id: uuid.UUID, engine_name: str) -> None:
        """Start or resume a session's connection; failures become state, not errors."""
        if self._closing:
            return
        engine = self.engine(engine_name)
        try:
            await engine.start_session(str(session_id))
        except NotLinkedError as exc:
            await self._record(session_id, SessionState.LOGGED_OUT, exc.message)
        except SessionBannedError as exc:
            await self._record(
                session_id, SessionState.FAILED, exc.message, DisconnectReason.BANNED
            )
        except EngineError as exc:
            reason = DisconnectReason.NETWORK if exc.temporary else DisconnectReason.CONNECT_FAILURE
            await self._record(session_id, SessionState.DISCONNECTED, exc.message, reason)
            if exc.temporary:
                self._schedule_reconnect(session_id, engine_name)

    def connect_soon(self, session_id: uuid.UUID, engine_name: str) -> None:
        """Begin connecting without waiting for the engine (after a commit)."""
        self._quiet.discard(session_id)
        self._spawn(self.connect(session_id, engine_name))

    # Called after the commit that recorded what a person asked for, so the
    # engine never acts on a change that was rolled back.

    async def restart(self, session_id: uuid.UUID, engine_name: str) -> None:
        self.engine(engine_name)
        await self.stop(session_id, engine_name)
        await self.connect(session_id, engine_name)

    async def stop(self, session_id: uuid.UUID, engine_name: str) -> None:
        """Close a session's connection and schedule nothing after it (disconnect)."""
        await self._end(session_id, engine_name, "stop")

    async def logout(self, session_id: uuid.UUID, engine_name: str) -> None:
        """Log a session's device out; its state was changed by the request."""
        await self._end(session_id, engine_name, "logout")

    async def _end(
        self, session_id: uuid.UUID, engine_name: str, how: Literal["stop", "logout"]
    ) -> None:
        """Stop or log out a session's connection, with nothing reconnecting it;
        what the engine reports of it meanwhile is not news."""
        self._cancel_reconnect(session_id)
        self._attempts.pop(session_id, None)
        engine = self.engines.get(engine_name)
        if engine is None:
            return
        call = engine.stop_session if how == "stop" else engine.logout
        with self._quieted(session_id):
            try:
                await call(str(session_id))
            except EngineError as exc:
                logger.warning("%s of %s: %s", how, session_id, exc.message)

    async def discard(self, session_id: uuid.UUID, engine_name: str) -> None:
        """After a session was deleted: log its device out and forget it."""
        await self.logout(session_id, engine_name)
        self._quiet.add(session_id)
        self._locks.pop(session_id, None)

    async def request_pairing_code(self, session: WhatsAppSession, phone_number: str) -> str:
        if session.linked and session.session_state is SessionState.CONNECTED:
            raise AppError(ErrorCode.CONFLICT, "The session is already linked to a phone")
        engine = self.engine(session.engine)
        with engine_errors():
            return await engine.request_pairing_code(str(session.id), phone_number)

    # -- the engines' event sink --------------------------------------------

    async def handle_event(self, event: EngineEvent) -> None:
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
        async with self._locks[session_id]:
            if self._closing:
                return  # the stop recorded this session's state while we waited
            session = await self._apply_with_retries(session_id, event)
        if session is None or session.session_state is SessionState.STOPPED:
            return
        if isinstance(event, _LIFECYCLE_EVENTS):
            self._resuming.discard(session_id)
            if not isinstance(event, ConnectedEvent):
                self._connected_here.discard(session_id)
        if isinstance(event, ConnectedEvent):
            self._attempts.pop(session_id, None)
            self._cancel_reconnect(session_id)
            for hook in self._connected_hooks:
                result = hook(session_id)
                if result is not None:
                    await result
        elif (
            isinstance(event, DisconnectedEvent)
            and not event.will_retry
            and event.reason not in _NO_RECONNECT
        ):
            # Linked or not: an unlinked session gets its QR once the network is back.
            self._schedule_reconnect(session_id, session.engine)

    async def _apply_with_retries(
        self, session_id: uuid.UUID, event: EngineEvent
    ) -> WhatsAppSession | None:
        """Store an event, trying again when the database is briefly unavailable
        (busy, a dropped connection): an engine reports a message only once."""
        for attempt in range(1, _STORE_ATTEMPTS + 1):
            try:
                async with self.database.transaction() as db:
                    session = await SessionRepository(db).get_by_id(session_id)
                    if session is not None:
                        await self._apply(db, session, event)
                    return session
            except OperationalError:
                if attempt == _STORE_ATTEMPTS:
                    raise
                logger.warning(
                    "storing %s failed (attempt %d); retrying", type(event).__name__, attempt
                )
                await asyncio.sleep(0.2 * attempt)
        return None

    async def _apply(self, db: AsyncSession, session: WhatsAppSession, event: EngineEvent) -> None:
        signal = self.signal
        if isinstance(event, _CONNECTION_EVENTS) and not _engine_may_move(session):
            return
        match event:
            case QrCodeEvent(code=code, expires_in=expires_in):
                expires_at = utcnow() + timedelta(seconds=expires_in)
                await service.show_qr(db, session, code, expires_at, signal)
            case PairingCodeEvent(code=code, phone_number=phone):
                await service.show_pairing_code(db, session, code, phone, signal)
            case ConnectedEvent(phone_number=phone, push_name=push_name, jid=jid):
                await service.mark_connected(
                    db, session, phone_number=phone, push_name=push_name, jid=jid, signal=signal
                )
            case DisconnectedEvent(reason=reason, detail=detail):
                await service.transition(
                    db,
                    session,
                    SessionState.DISCONNECTED,
                    reason=reason,
                    detail=detail,
                    signal=signal,
                )
            case LoggedOutEvent(reason=reason, detail=detail):
                await service.transition(
                    db,
                    session,
                    SessionState.LOGGED_OUT,
                    reason=reason,
                    detail=detail,
                    signal=signal,
                )
            case FailedEvent(reason=reason, detail=detail):
                await service.transition(
                    db, session, SessionState.FAILED, reason=reason, detail=detail, signal=signal
                )
            case _:
                for handler in self._handlers.get(type(event), ()):
                    await handler(db, session, event)

    # -- reconnecting -------------------------------------------------------

    def _schedule_reconnect(self, session_id: uuid.UUID, engine_name: str) -> None:
        if self._closing or session_id in self._quiet:
            return
        current = self._reconnects.get(session_id)
        if current is not None and not current.done():
            return
        self._attempts[session_id] += 1
        delay = reconnect_delay(
            self._attempts[session_id],
            base=self.settings.reconnect_base_seconds,
            cap=self.settings.reconnect_max_seconds,
        )
        logger.info(
            "session %s reconnects in %.2fs (attempt %d)",
            session_id,
            delay,
            self._attempts[session_id],
        )
        self._reconnects[session_id] = asyncio.create_task(
            self._reconnect_after(session_id, engine_name, delay),
            name=f"reconnect-{session_id}",
        )

    async def _reconnect_after(self, session_id: uuid.UUID, engine_name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        self._reconnects.pop(session_id, None)
        await self.connect(session_id, engine_name)

    def _cancel_reconnect(self, session_id: uuid.UUID) -> None:
        task = self._reconnects.pop(session_id, None)
        if task is not None:
            task.cancel()

    def reconnect_pending(self, session_id: uuid.UUID) -> bool:
        """A reconnect is scheduled, or the session is being resumed after a start."""
        if session_id in self._resuming:
            return True
        task = self._reconnects.get(session_id)
        return task is not None and not task.done()

    async def _keepalive_loop(self) -> None:
        """A safety net: a linked session that is disconnected with no reconnect
        under way (a lost event, an engine that gave up) is reconnected."""
        while True:
            await asyncio.sleep(self.settings.keepalive_seconds)
            try:
                async with self.database.transaction() as db:
                    candidates = await SessionRepository(db).to_resume()
                for session in candidates:
                    stale = utcnow() - session.state_changed_at > timedelta(
                        seconds=self.settings.keepalive_seconds
                    )
                    if (
                        session.session_state is SessionState.DISCONNECTED
                        and session.reason not in _NO_RECONNECT
                        and stale
                        and session.engine in self.engines
                        and not self.reconnect_pending(session.id)
                    ):
                        self._schedule_reconnect(session.id, session.engine)
            except Exception:
                logger.exception("session keep-alive sweep failed")

    # -- helpers ------------------------------------------------------------

    async def _record_shutdown(self, only: set[uuid.UUID] | None) -> None:
        """Sessions stored as connected that are not any more: at a stop, those this
        process drove (``only``); at a start, any left by a process that died."""
        if only is not None and not only:
            return
        async with contextlib.AsyncExitStack() as held:
            # Events being stored for these sessions finish first (none start:
            # the manager is closing), so none lands after the shutdown.
            for session_id in sorted(only or ()):
                await held.enter_async_context(self._locks[session_id])
            await self._store_shutdown(only)
        if only is not None:
            only.clear()

    async def _store_shutdown(self, only: set[uuid.UUID] | None) -> None:
        async with self.database.transaction() as db:
            for session in await SessionRepository(db).connected(only):
                await service.transition(
                    db,
                    session,
                    SessionState.DISCONNECTED,
                    reason=DisconnectReason.SHUTDOWN,
                    detail="The gateway stopped",
                    signal=self.signal,
                )

    async def _record(
        self,
        session_id: uuid.UUID,
        state: SessionState,
        detail: str | None,
        reason: str | None = None,
    ) -> None:
        self._resuming.discard(session_id)
        async with self._locks[session_id], self.database.transaction() as db:
            session = await SessionRepository(db).get_by_id(session_id)
            if session is not None and (
                _engine_may_move(session) or state in (SessionState.LOGGED_OUT, SessionState.FAILED)
            ):
                await service.transition(
                    db, session, state, reason=reason, detail=detail, signal=self.signal
                )

    @contextlib.contextmanager
    def _quieted(self, session_id: uuid.UUID) -> Iterator[None]:
        self._quiet.add(session_id)
        try:
            yield
        finally:
            self._quiet.discard(session_id)

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        async def _run() -> None:
            await coroutine

        task = asyncio.create_task(_run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
