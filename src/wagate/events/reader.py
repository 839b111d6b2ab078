"""The outbox's one reader: a task that wakes after every commit that wrote an
event (``outbox_signal``) and polls now and then (another process's events),
reads what is new once, and hands it to each consumer: the webhook relay
(which turns events into deliveries under its durable cursor) and the live hub
(which pushes them to the streams watching).

A pass is one transaction. Each consumer says where it is (the relay from its
cursor row, locked on PostgreSQL; the hub from memory, or nothing while nobody
watches); the reader reads from the furthest behind and gives each consumer
the events after its own place. A consumer far ahead of the others (the hub,
while the relay works through a backlog) gets a read of its own in the same
pass, so nobody waits for anybody else's backlog. One :class:`OutboxTail` is
shared, so a late event (a hole in ``seq`` on PostgreSQL) is waited for once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wagate.events.models import OutboxEvent
from wagate.events.service import outbox_signal
from wagate.events.tail import OutboxTail
from wagate.storage.db import Database, is_sqlite

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
_MAX_CONFLICTS = 10
_CLOSE_GRACE = 2.0


class Conflict(Exception):
    """A consumer lost a race (another process moved its cursor first): the
    pass is rolled back and read again at once."""


class OutboxConsumer(Protocol):
    async def position(self, db: AsyncSession) -> int | None:
        """The last ``seq`` it has taken, read in the pass's transaction; None
        when it wants nothing now."""
        ...

    async def take(self, db: AsyncSession, events: Sequence[OutboxEvent]) -> None:
        """The events after its position, in order (never empty), inside the
        pass's transaction; raises :class:`Conflict` to have the pass retried."""
        ...


class OutboxReader:
    def __init__(
        self,
        database: Database,
        consumers: Sequence[OutboxConsumer],
        *,
        poll_seconds: float,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.database = database
        self.consumers = list(consumers)
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.signal = outbox_signal(database)
        self._tail = OutboxTail(postgres=not is_sqlite(database.url))
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    async def start(self) -> None:
        self._wake = self.signal.subscribe()
        self._task = asyncio.create_task(self._run(), name="outbox-reader")

    def wake(self) -> None:
        """Read now (a consumer that starts wanting events, for one)."""
        if self._wake is not None:
            self._wake.set()

    async def close(self) -> None:
        self._closing = True
        self.wake()
        if self._task is not None:
            # Let a pass in progress finish rather than cut it mid-transaction.
            _, pending = await asyncio.wait({self._task}, timeout=_CLOSE_GRACE)
            for task in pending:
                task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._wake is not None:
            self.signal.unsubscribe(self._wake)

    async def _run(self) -> None:
        assert self._wake is not None
        conflicts = 0
        while not self._closing:
            self._wake.clear()
            try:
                more = await self.read_once()
                conflicts = 0
            except (Conflict, IntegrityError):
                # Another relay won the race (or a webhook went away mid-batch).
                conflicts += 1
                more = conflicts <= _MAX_CONFLICTS
                if not more:
                    logger.warning("outbox pass lost %d races in a row; waiting", conflicts)
                    conflicts = 0
            except Exception:
                logger.exception("outbox pass failed; trying again shortly")
                more = False
            if more or self._closing:
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()

    async def read_once(self) -> bool:
        """One pass; True when some consumer may have more to take right away."""
        more = False
        async with self.database.transaction() as db:
            waiting: dict[int, int] = {}
            for index, consumer in enumerate(self.consumers):
                position = await consumer.position(db)
                if position is not None:
                    waiting[index] = position
            floor = min(waiting.values(), default=None)
            while waiting:
                after = min(waiting.values())
                read = await self._tail.read_from(db, after, self.batch_size, keep_holes=True)
                end = read.events[-1].seq if read.events else after
                for index, position in list(waiting.items()):
                    if not read.complete and position > end:
                        continue  # beyond what this read covers: a read of its own
                    del waiting[index]
                    events = [e for e in read.events if e.seq > position]
                    if events:
                        await self.consumers[index].take(db, events)
                more = more or read.full
            if floor is not None:
                self._tail.forget_below(floor + 1)
        return more
