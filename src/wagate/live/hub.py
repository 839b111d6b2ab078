"""The live hub: fed by the outbox's one reader (``events/reader.py``), it
fans each event out to the streams watching its session, and to the user-level
streams of its user that want it.

Each subscriber has a bounded queue. One that falls more than
``live_queue_size`` events behind is marked overflowed and dropped by its
stream, so a slow client costs a fixed amount of memory, never more.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from wagate.events.models import OutboxEvent
from wagate.events.tail import last_seq
from wagate.live.logs import hide_websocket_queries
from wagate.storage.db import Database

# Which of its user's events a user-level stream takes.
EventFilter = Callable[[OutboxEvent], bool]


class Subscriber:
    """One stream's view of the hub: the events of one session, in order."""

    def __init__(
        self,
        session_id: uuid.UUID | None,
        after: int,
        size: int,
        *,
        user_id: uuid.UUID | None = None,
        wants: EventFilter | None = None,
    ) -> None:
        # A session's stream, or (session_id None) a user's stream of the events
        # of theirs that ``wants`` takes.
        self.session_id = session_id
        self.user_id = user_id
        self.wants = wants
        # The hub's position when this subscriber joined: every event after it
        # reaches the queue, none before it does.
        self.after = after
        self.queue: asyncio.Queue[OutboxEvent] = asyncio.Queue(maxsize=size)
        # Set when the stream must end: it fell behind, or the hub is closing.
        self.ended = asyncio.Event()
        self.overflowed = False

    def push(self, event: OutboxEvent) -> None:
        if self.ended.is_set() or event.seq <= self.after:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            self.ended.set()

    def end(self) -> None:
        self.ended.set()


class LiveHub:
    """An outbox consumer (``events.reader.OutboxConsumer``) that reads nothing
    while nobody watches."""

    def __init__(self, database: Database, *, queue_size: int) -> None:
        self.database = database
        self.queue_size = queue_size
        self._sessions: defaultdict[uuid.UUID, set[Subscriber]] = defaultdict(set)
        self._users: defaultdict[uuid.UUID, set[Subscriber]] = defaultdict(set)
        # None while nobody listens: the reader then reads nothing for the hub.
        self._cursor: int | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        hide_websocket_queries()

    async def close(self) -> None:
        for subscribers in [*self._sessions.values(), *self._users.values()]:
            for subscriber in list(subscribers):
                subscriber.end()

    async def subscribe(self, session_id: uuid.UUID) -> Subscriber:
        """A stream of one session's events, from now on."""
        async with self._lock:
            subscriber = Subscriber(session_id, await self._position(), self.queue_size)
            self._sessions[session_id].add(subscriber)
        return subscriber

    async def subscribe_user(self, user_id: uuid.UUID, wants: EventFilter) -> Subscriber:
        """A stream of the user's events (any session's, or none's) that ``wants`` takes."""
        async with self._lock:
            subscriber = Subscriber(
                None, await self._position(), self.queue_size, user_id=user_id, wants=wants
            )
            self._users[user_id].add(subscriber)
        return subscriber

    async def _position(self) -> int:
        if self._cursor is None:
            async with self.database.transaction() as db:
                self._cursor = await last_seq(db)
        return self._cursor

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber.session_id is not None:
            _discard(self._sessions, subscriber.session_id, subscriber)
        elif subscriber.user_id is not None:
            _discard(self._users, subscriber.user_id, subscriber)
        if not self._sessions and not self._users:
            self._cursor = None

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in [*self._sessions.values(), *self._users.values()])

    # -- the outbox consumer ------------------------------------------------

    async def position(self, db: AsyncSession) -> int | None:
        return self._cursor

    async def take(self, db: AsyncSession, events: Sequence[OutboxEvent]) -> None:
        if self._cursor is None:
            return  # everybody left while the reader read
        for event in events:
            if event.session_id is not None:
                for subscriber in list(self._sessions.get(event.session_id, ())):
                    subscriber.push(event)
            for subscriber in list(self._users.get(event.user_id, ())):
                if subscriber.wants is not None and subscriber.wants(event):
                    subscriber.push(event)
        self._cursor = max(self._cursor, events[-1].seq)


def _discard(
    index: defaultdict[uuid.UUID, set[Subscriber]], key: uuid.UUID, subscriber: Subscriber
) -> None:
    subscribers = index.get(key)
    if subscribers is not None:
        subscribers.discard(subscriber)
        if not subscribers:
            del index[key]
