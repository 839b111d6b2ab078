"""The typed event router: what an engine reports, stored in order through the
database's batch writer (storage/batch.py).

A session's events are taken in the order they arrive: each is prepared (work
that needs no transaction, such as downloading an incoming message's media)
and then submitted to the writer under the session's ordering lock, which is
not held while the batch commits. The writer applies units in submission
order, so the session's events are stored in order, batched with every other
session's. ``store`` returns once the event's batch committed: only then may
the engine count the event delivered.

Session events (QR, connected, disconnected, logged out, failed) move the
session; every other type goes to the handlers registered for it, in the
order they registered, inside the same unit of work.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from wagate.engines.base import (
    ConnectedEvent,
    DisconnectedEvent,
    EngineEvent,
    FailedEvent,
    LoggedOutEvent,
    PairingCodeEvent,
    QrCodeEvent,
)
from wagate.sessions import service
from wagate.sessions.models import SessionState, WhatsAppSession
from wagate.sessions.repository import SessionRepository
from wagate.storage.base import utcnow
from wagate.storage.db import Database

E = TypeVar("E")
T = TypeVar("T")

# Handlers for the events the manager does not own (messages, receipts, groups):
# they get the session row and the event inside the event's unit of work.
EventHandler = Callable[[AsyncSession, WhatsAppSession, Any], Awaitable[None]]
# Work before the unit of work, outside any lock but the session's order: takes
# the session id and the event, returns the event to store (the same, or one
# that carries what was fetched).
Preparer = Callable[[uuid.UUID, Any], Awaitable[Any]]

# What an engine reports of a connection; a stopped session hears only of its
# device being logged out or its account failing.
CONNECTION_EVENTS = (QrCodeEvent, PairingCodeEvent, ConnectedEvent, DisconnectedEvent)


def engine_may_move(session: WhatsAppSession) -> bool:
    """A session a person stopped stays stopped until a person connects it."""
    return session.session_state is not SessionState.STOPPED


class EventRouter:
    def __init__(self, database: Database) -> None:
        self.database = database
        self._handlers: defaultdict[type[Any], list[EventHandler]] = defaultdict(list)
        self._preparers: dict[type[Any], Preparer] = {}
        self._order: defaultdict[uuid.UUID, asyncio.Lock] = defaultdict(asyncio.Lock)

    def on_event(self, event_type: type[Any], handler: EventHandler) -> None:
        """Handlers of one event type run in the order they registered."""
        self._handlers[event_type].append(handler)

    def on_prepare(self, event_type: type[Any], preparer: Preparer) -> None:
        self._preparers[event_type] = preparer

    def order(self, session_id: uuid.UUID) -> asyncio.Lock:
        """Held while a session's unit is prepared and submitted (never over a commit)."""
        return self._order[session_id]

    def forget(self, session_id: uuid.UUID) -> None:
        self._order.pop(session_id, None)

    async def in_order(
        self, session_id: uuid.UUID, unit: Callable[[AsyncSession], Awaitable[T]]
    ) -> T:
        """Store ``unit`` after whatever this session submitted before it."""
        async with self._order[session_id]:
            waiter = self.database.writer.submit(unit)
        return await asyncio.shield(waiter)

    async def store(
        self, session_id: uuid.UUID, event: EngineEvent, *, go_on: Callable[[], bool]
    ) -> WhatsAppSession | None:
        """Prepare and store ``event``; returns the session row as the commit left
        it, or ``None`` when it is gone (or ``go_on`` said no while we waited)."""
        kind = type(event)
        async with self._order[session_id]:
            if not go_on():
                return None
            preparer = self._preparers.get(kind)
            prepared = await preparer(session_id, event) if preparer is not None else event

            async def unit(db: AsyncSession) -> WhatsAppSession | None:
                session = await SessionRepository(db).get_by_id(session_id)
                if session is not None:
                    await self.apply(db, session, prepared, kind)
                return session

            waiter = self.database.writer.submit(unit)
        return await asyncio.shield(waiter)

    async def apply(
        self, db: AsyncSession, session: WhatsAppSession, event: Any, kind: type[Any]
    ) -> None:
        if isinstance(event, CONNECTION_EVENTS) and not engine_may_move(session):
            return
        match event:
            case QrCodeEvent(code=code, expires_in=expires_in):
                expires_at = utcnow() + timedelta(seconds=expires_in)
                await service.show_qr(db, session, code, expires_at)
            case PairingCodeEvent(code=code, phone_number=phone):
                await service.show_pairing_code(db, session, code, phone)
            case ConnectedEvent(phone_number=phone, push_name=push_name, jid=jid):
                await service.mark_connected(
                    db, session, phone_number=phone, push_name=push_name, jid=jid
                )
            case DisconnectedEvent(reason=reason, detail=detail):
                await service.transition(
                    db,
                    session,
                    SessionState.DISCONNECTED,
                    reason=reason,
                    detail=detail,
                )
            case LoggedOutEvent(reason=reason, detail=detail):
                await service.transition(
                    db,
                    session,
                    SessionState.LOGGED_OUT,
                    reason=reason,
                    detail=detail,
                )
            case FailedEvent(reason=reason, detail=detail):
                await service.transition(
                    db, session, SessionState.FAILED, reason=reason, detail=detail
                )
            case _:
                for handler in self._handlers.get(kind, ()):
                    await handler(db, session, event)
