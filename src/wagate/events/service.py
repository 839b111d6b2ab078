"""Recording domain events in the outbox, and waking whoever reads it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wagate.events.models import OutboxEvent
from wagate.storage.base import utcnow
from wagate.storage.db import after_commit


class OutboxSignal:
    """Wakes outbox readers (webhook relay, live streams) after a commit.

    Readers still poll the table now and then, so a missed wake-up (another
    process wrote the row) only delays, never loses, an event.
    """

    def __init__(self) -> None:
        self._waiters: set[asyncio.Event] = set()

    def notify(self) -> None:
        for waiter in self._waiters:
            waiter.set()

    def subscribe(self) -> asyncio.Event:
        event = asyncio.Event()
        self._waiters.add(event)
        return event

    def unsubscribe(self, event: asyncio.Event) -> None:
        self._waiters.discard(event)


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
    signal: OutboxSignal | None = None,
) -> OutboxEvent:
    """Write an event beside the change it reports; it becomes visible on commit."""
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
    if signal is not None:
        after_commit(db, signal.notify)
    return event
