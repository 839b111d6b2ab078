"""A session's live events for consumers that are not a raw WebSocket (the
Socket.IO face): the same hub subscription and snapshot as ``live/stream.py``,
as an async iterator of ``{"type", "data"}`` messages.

The session as it stands comes first, then every event committed after it, in
order and once: events already reflected in the snapshot are skipped.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from wagate.live import service
from wagate.live.hub import LiveHub, Subscriber
from wagate.storage.db import Database


class Feed:
    def __init__(self, subscriber: Subscriber, database: Database) -> None:
        self._subscriber = subscriber
        self._database = database

    @property
    def overflowed(self) -> bool:
        """It fell more than the hub's queue behind and was dropped."""
        return self._subscriber.overflowed

    async def messages(self) -> AsyncIterator[dict[str, Any]]:
        """Until the session is gone, the consumer falls behind, or the hub closes."""
        subscriber = self._subscriber
        assert subscriber.session_id is not None  # a session's feed
        async with self._database.transaction() as db:
            snapshot = await service.snapshot(db, subscriber.session_id, subscriber.after)
        if snapshot is None:
            return
        for message in snapshot.messages:
            yield message
        ended = asyncio.ensure_future(subscriber.ended.wait())
        try:
            while True:
                if subscriber.queue.empty():
                    getter = asyncio.ensure_future(subscriber.queue.get())
                    await asyncio.wait({getter, ended}, return_when=asyncio.FIRST_COMPLETED)
                    if not getter.done():
                        getter.cancel()
                        return
                    event = getter.result()
                elif subscriber.ended.is_set():
                    return
                else:
                    event = subscriber.queue.get_nowait()
                if event.seq not in snapshot.reflected:
                    yield service.event_message(event)
        finally:
            ended.cancel()


@asynccontextmanager
async def session_feed(
    hub: LiveHub, database: Database, session_id: uuid.UUID
) -> AsyncIterator[Feed]:
    subscriber = await hub.subscribe(session_id)
    try:
        yield Feed(subscriber, database)
    finally:
        hub.unsubscribe(subscriber)
