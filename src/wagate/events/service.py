"""Recording domain events in the outbox, and waking whoever reads it.

:func:`record_event` marks its transaction; when that transaction commits
(a request's, ``Database.transaction()``'s, any session of the app's
sessionmaker), the database's ``outbox`` signal fires (``storage.db``'s commit
hook). Nobody passes a signal: whoever writes an event wakes the readers.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wagate.events.models import OutboxEvent
from wagate.storage.base import utcnow
from wagate.storage.db import Database, Signal, wake_on_commit

OUTBOX_TOPIC = "outbox"


def outbox_signal(database: Database) -> Signal:
    """Fires after every commit that wrote an outbox event in this process."""
    return database.signals.topic(OUTBOX_TOPIC)


def wake_readers_on_commit(db: AsyncSession) -> None:
    """Mark a transaction that wrote outbox rows some other way than
    :func:`record_event` (a bulk insert): its commit wakes the readers. A write
    through a bare connection (no ORM session) calls ``outbox_signal(…).notify()``
    after its commit instead."""
    wake_on_commit(db, OUTBOX_TOPIC)


def event_payload(
    event_type: str, session_id: uuid.UUID | None, timestamp: datetime, data: dict[str, Any]
) -> dict[str, Any]:
    payload: dict[str, Any] = {"event": event_type}
    if session_id is not None:
        payload["sessionId"] = str(session_id)
    payload.update(data)
    payload.setdefault("timestamp", int(timestamp.timestamp()))
    return payload


def with_sequence(event: OutboxEvent) -> dict[str, Any]:
    """The body receivers get: the event plus its ``sequence``, the outbox
    number, which grows with every event of a session (with gaps where other
    sessions' events fall), so a receiver can order what arrives out of order."""
    return {**event.payload, "sequence": event.seq}


async def record_event(
    db: AsyncSession,
    *,
    user_id: uuid.UUID,
    session_id: uuid.UUID | None,
    event_type: str,
    data: dict[str, Any],
) -> OutboxEvent:
    """Write an event beside the change it reports; it becomes visible on commit,
    and the commit wakes the outbox's readers. ``session_id`` None: an event of
    the user's (a campaign's progress), not of one session."""
    now = utcnow()
    event_id = uuid.uuid4()
    payload = {"id": str(event_id), **event_payload(event_type, session_id, now, data)}
    event = OutboxEvent(
        id=event_id,
        user_id=user_id,
        session_id=session_id,
        type=event_type,
        payload=payload,
        created_at=now,
    )
    db.add(event)
    wake_readers_on_commit(db)
    return event
