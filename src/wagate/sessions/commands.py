"""What people ask of a session's connection, done to its engine after the
commit that recorded the ask (so the engine never acts on a change that was
rolled back): connect, stop, log out, restart, forget, pairing codes. Failures
to connect become the session's state, not errors."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from wagate.engines.base import (
    DisconnectReason,
    EngineError,
    NotLinkedError,
    SessionBannedError,
)
from wagate.errors import AppError, ErrorCode
from wagate.sessions import service
from wagate.sessions.engine_calls import engine_errors
from wagate.sessions.engines import EngineRegistry
from wagate.sessions.events import EventRouter, engine_may_move
from wagate.sessions.models import SessionState, WhatsAppSession
from wagate.sessions.reconnect import Reconnector
from wagate.sessions.repository import SessionRepository

logger = logging.getLogger(__name__)


class SessionCommands:
    def __init__(
        self,
        engines: EngineRegistry,
        router: EventRouter,
        reconnector: Reconnector,
        quiet: set[uuid.UUID],
    ) -> None:
        self.engines = engines
        self.router = router
        self.reconnector = reconnector
        # Sessions a person is stopping, logging out or deleting: the engine's
        # own reports of that are not news.
        self.quiet = quiet
        self.closing = False

    async def connect(self, session_id: uuid.UUID, engine_name: str) -> None:
        """Start or resume a session's connection; failures become state, not errors."""
        if self.closing:
            return
        engine = self.engines.engine(engine_name)
        self.engines.drives(session_id, engine_name)
        try:
            await engine.start_session(str(session_id))
        except NotLinkedError as exc:
            await self.record(session_id, SessionState.LOGGED_OUT, exc.message)
        except SessionBannedError as exc:
            await self.record(session_id, SessionState.FAILED, exc.message, DisconnectReason.BANNED)
        except EngineError as exc:
            reason = DisconnectReason.NETWORK if exc.temporary else DisconnectReason.CONNECT_FAILURE
            await self.record(session_id, SessionState.DISCONNECTED, exc.message, reason)
            if exc.temporary:
                self.reconnector.schedule(session_id, engine_name)

    async def restart(self, session_id: uuid.UUID, engine_name: str) -> None:
        self.engines.engine(engine_name)
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
        self.reconnector.reset(session_id)
        engine = self.engines.get(engine_name)
        if engine is None:
            return
        call = engine.stop_session if how == "stop" else engine.logout
        with self.quieted(session_id):
            try:
                await call(str(session_id))
            except EngineError as exc:
                logger.warning("%s of %s: %s", how, session_id, exc.message)

    async def discard(self, session_id: uuid.UUID, engine_name: str) -> None:
        """After a session was deleted: log its device out and forget it."""
        await self.logout(session_id, engine_name)
        self.quiet.add(session_id)
        self.router.forget(session_id)
        self.engines.forget(session_id)

    async def request_pairing_code(self, session: WhatsAppSession, phone_number: str) -> str:
        if session.linked and session.session_state is SessionState.CONNECTED:
            raise AppError(ErrorCode.CONFLICT, "The session is already linked to a phone")
        engine = self.engines.engine(session.engine)
        self.engines.drives(session.id, session.engine)
        with engine_errors():
            return await engine.request_pairing_code(str(session.id), phone_number)

    async def record(
        self,
        session_id: uuid.UUID,
        state: SessionState,
        detail: str | None,
        reason: str | None = None,
    ) -> None:
        """What a failed start means for the session, stored in the session's order."""
        self.reconnector.resuming.discard(session_id)

        async def unit(db: AsyncSession) -> None:
            session = await SessionRepository(db).get_by_id(session_id)
            if session is not None and (
                engine_may_move(session) or state in (SessionState.LOGGED_OUT, SessionState.FAILED)
            ):
                await service.transition(db, session, state, reason=reason, detail=detail)

        await self.router.in_order(session_id, unit)

    @contextlib.contextmanager
    def quieted(self, session_id: uuid.UUID) -> Iterator[None]:
        self.quiet.add(session_id)
        try:
            yield
        finally:
            self.quiet.discard(session_id)
