"""Sending, for every face: store the message, hand it to the session's queue
after the commit, and let the face wait a moment for the engine's ack.

A face calls :func:`submit` (or :func:`submit_for`) inside its request and
renders the answer after the commit with ``await submitted.status()``, which
waits up to ``WAGATE_SEND_WAIT_SECONDS`` for ``sent`` when the session is
connected and answers at once otherwise (``queued``: it goes out when the
session is back).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from wagate.auth.models import User
from wagate.errors import AppError, ErrorCode
from wagate.messages import service
from wagate.messages.models import MessageStatus
from wagate.messages.queue import OutboundQueue
from wagate.messages.service import OutgoingSpec
from wagate.sessions import lifecycle
from wagate.sessions.manager import SessionManager
from wagate.sessions.models import SessionState, WhatsAppSession
from wagate.storage.db import after_commit


@dataclass(slots=True)
class Submitted:
    """A stored send. ``status()`` is for after the commit."""

    message_id: str
    is_new: bool
    _known: str
    _seq: int
    _queue: OutboundQueue
    _future: asyncio.Future[str] | None
    _wait: float

    async def status(self) -> str:
        """The public status to answer with: ``sent`` (or ``failed``) if the engine
        answered within the wait, else ``queued``; a repeated send answers the
        first one's status."""
        if self._future is None:
            return self._known
        outcome = await self._queue.outcome(self._seq, self._future, self._wait)
        return MessageStatus(outcome).public if outcome else MessageStatus.QUEUED.value


async def submit(
    db: AsyncSession,
    manager: SessionManager,
    queue: OutboundQueue,
    session: WhatsAppSession,
    spec: OutgoingSpec,
    *,
    idempotency_key: str | None = None,
    require_connected: bool = False,
) -> Submitted:
    """Store ``spec`` as the tail of ``session``'s queue; the queue wakes after the
    commit. With ``require_connected`` a session that is not connected refuses
    the send (faces whose seed does) instead of queueing it."""
    connected = session.session_state is SessionState.CONNECTED
    if require_connected and not connected:
        raise AppError(
            ErrorCode.SESSION_NOT_CONNECTED, f"Session is {session.state}; it must be connected"
        )
    engine = manager.engine(session.engine)
    message, is_new = await service.enqueue(
        db,
        session,
        spec,
        message_id=engine.new_message_id(str(session.id)),
        idempotency_key=idempotency_key,
        sender_jid=session.jid,
    )
    if is_new:
        session_id = session.id
        after_commit(db, lambda: queue.wake(session_id))
    return Submitted(
        message_id=message.message_id,
        is_new=is_new,
        _known=MessageStatus(message.first_status or message.status).public,
        _seq=message.seq,
        _queue=queue,
        # Taken before the commit, so the outcome cannot slip past.
        _future=queue.expect(message.seq) if is_new else None,
        # Waiting for an ack only makes sense when the session can send right now.
        _wait=manager.settings.send_wait_seconds if connected else 0.0,
    )


async def submit_for(
    db: AsyncSession,
    manager: SessionManager,
    queue: OutboundQueue,
    user: User,
    ref: lifecycle.SessionRef,
    spec: OutgoingSpec,
    *,
    idempotency_key: str | None = None,
    require_connected: bool = False,
) -> Submitted:
    """:func:`submit` through the user's session named by id or number."""
    session = await lifecycle.find(db, user, ref)
    return await submit(
        db,
        manager,
        queue,
        session,
        spec,
        idempotency_key=idempotency_key,
        require_connected=require_connected,
    )
