"""The live hub: tails the outbox once and fans each event out to the streams
watching its session.

Each subscriber has a bounded queue. One that falls more than
``live_queue_size`` events behind is marked overflowed and dropped by its
stream, so a slow client costs a fixed amount of memory, never more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict

from wagate.events.models import OutboxEvent
from wagate.events.service import OutboxSignal
from wagate.live.logs import hide_websocket_queries
from wagate.storage.db import Database, is_sqlite
from wagate.webhooks.outbox import OutboxTail, last_seq

logger = logging.getLogger(__name__)

_BATCH = 500
_CLOSE_GRACE = 2.0


class Subscriber:
    """One stream's view of the hub: the events of one session, in order."""

    def __init__(self, session_id: uuid.UUID, after: int, size: int) -> None:
        self.session_id = session_id
        # The hub's position when this subscriber joined: every event after it
        # reaches the queue, none before it does.
        self.after = after
        self.queue: asyncio.Queue[OutboxEvent] = asyncio.Queue(maxsize=size)
        # Set when the stream must end: it fell behind, or the hub is closing.
        self.ended = asyncio.Event()
        self.overflowed = False

    def push(self, event: OutboxEvent) -> None:
        if self.ended.is_set():
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            self.ended.set()

    def end(self) -> None:
        self.ended.set()


class LiveHub:
    def __init__(
        self, database: Database, signal: OutboxSignal, *, queue_size: int, poll_seconds: float
    ) -> None:
        self.database = database
        self.signal = signal
        self.queue_size = queue_size
        self.poll_seconds = poll_seconds
        self._tail = OutboxTail(postgres=not is_sqlite(database.url))
        self._subscribers: defaultdict[uuid.UUID, set[Subscriber]] = defaultdict(set)
        # None while nobody listens: the hub then reads nothing at all.
        self._cursor: int | None = None
        self._lock = asyncio.Lock()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    async def start(self) -> None:
        hide_websocket_queries()
        self._wake = self.signal.subscribe()
        self._task = asyncio.create_task(self._run(), name="live-hub")

    async def close(self) -> None:
        self._closing = True
        if self._wake is not None:
            self._wake.set()
        if self._task is not None:
            # Let a read in progress finish rather than cut it mid-transaction.
            _, pending = await asyncio.wait({self._task}, timeout=_CLOSE_GRACE)
            for task in pending:
                task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._wake is not None:
            self.signal.unsubscribe(self._wake)
        for subscribers in list(self._subscribers.values()):
            for subscriber in list(subscribers):
                subscriber.end()

    async def subscribe(self, session_id: uuid.UUID) -> Subscriber:
        async with self._lock:
            if self._cursor is None:
                async with self.database.transaction() as db:
                    self._cursor = await last_seq(db)
            subscriber = Subscriber(session_id, self._cursor, self.queue_size)
            self._subscribers[session_id].add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        subscribers = self._subscribers.get(subscriber.session_id)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self._subscribers[subscriber.session_id]
        if not self._subscribers:
            self._cursor = None

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    async def _run(self) -> None:
        assert self._wake is not None
        while not self._closing:
            self._wake.clear()
            try:
                full = await self._read_once()
            except Exception:
                logger.exception("live hub could not read the outbox; trying again shortly")
                full = False
            if full or self._closing:
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()

    async def _read_once(self) -> bool:
        async with self._lock:
            cursor = self._cursor
            if cursor is None:
                return False
            async with self.database.transaction() as db:
                events = await self._tail.read(db, cursor, _BATCH)
            if self._cursor is None:
                return False  # everybody left while we read
            for event in events:
                if event.session_id is not None:
                    for subscriber in list(self._subscribers.get(event.session_id, ())):
                        subscriber.push(event)
                self._cursor = event.seq
            return len(events) == _BATCH
