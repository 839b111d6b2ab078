"""Reading the outbox in order, without stepping over an event that is late.

On PostgreSQL a ``seq`` is taken when a row is inserted, not when its
transaction commits, so event 41 can become visible after event 42. A reader
that simply remembered "42 done" would never see 41. :class:`OutboxTail` only
moves past a hole in the sequence once every transaction that was running
when it first saw the hole has ended; by then the missing event is either
visible or never will be (rolled back, or deleted). SQLite has one writer at a
time and commits in ``seq`` order, so there it reads straight on.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from wagate.events.models import OutboxEvent

# Between taking its ``seq`` and getting a transaction id, an INSERT runs for
# microseconds; a hole is never skipped sooner than this, to cover that gap too.
_MIN_HOLE_AGE = 1.0


@dataclass(frozen=True, slots=True)
class TailRead:
    events: Sequence[OutboxEvent]
    # Every event after ``after`` visible now was read (none held back at a hole,
    # fewer than ``limit`` rows): the reader is at the head.
    complete: bool
    # ``limit`` rows came back: there may be more right away.
    full: bool


class OutboxTail:
    def __init__(self, *, postgres: bool, min_hole_age: float = _MIN_HOLE_AGE) -> None:
        self._postgres = postgres
        self._min_hole_age = min_hole_age
        # missing seq -> (transaction horizon when first seen, monotonic time then)
        self._holes: dict[int, tuple[int, float]] = {}

    async def read(self, db: AsyncSession, after: int, limit: int) -> Sequence[OutboxEvent]:
        """Up to ``limit`` events after ``after`` that can be handed on in order."""
        return (await self.read_from(db, after, limit)).events

    def forget_below(self, seq: int) -> None:
        """Holes under ``seq`` concern nobody any more (every reader is past them)."""
        self._holes = {missing: seen for missing, seen in self._holes.items() if missing >= seq}

    async def read_from(
        self, db: AsyncSession, after: int, limit: int, *, keep_holes: bool = False
    ) -> TailRead:
        """As :meth:`read`, saying whether it reached the head. With ``keep_holes``
        the holes it passed are remembered until :meth:`forget_below` (several
        readers at different places share one tail)."""
        oldest_running = await self._oldest_running(db) if self._postgres else 0
        statement = (
            select(OutboxEvent)
            .where(OutboxEvent.seq > after)
            .order_by(OutboxEvent.seq)
            .limit(limit)
        )
        rows = (await db.execute(statement)).scalars().all()
        full = len(rows) == limit
        if not self._postgres:
            return TailRead(rows, complete=not full, full=full)
        accepted: list[OutboxEvent] = []
        expected = after + 1
        for row in rows:
            if row.seq != expected and not await self._hole_closed(db, expected, oldest_running):
                if not keep_holes:
                    self.forget_below(expected)
                return TailRead(accepted, complete=False, full=False)
            accepted.append(row)
            expected = row.seq + 1
        if not keep_holes:
            self.forget_below(expected)
        return TailRead(accepted, complete=not full, full=full)

    async def _hole_closed(self, db: AsyncSession, missing: int, oldest_running: int) -> bool:
        seen = self._holes.get(missing)
        if seen is None:
            horizon = await db.scalar(
                text("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
            )
            self._holes[missing] = (int(horizon or 0), time.monotonic())
            return False
        horizon, first_seen = seen
        # ``oldest_running`` was read before the rows: if every transaction of
        # the hole's time had ended by then, a committed event would be in them.
        return oldest_running >= horizon and time.monotonic() - first_seen >= self._min_hole_age

    @staticmethod
    async def _oldest_running(db: AsyncSession) -> int:
        value = await db.scalar(
            text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        )
        return int(value or 0)


async def last_seq(db: AsyncSession) -> int:
    """The newest event's seq (0 for an empty outbox): where a new reader starts."""
    value = await db.scalar(select(OutboxEvent.seq).order_by(OutboxEvent.seq.desc()).limit(1))
    return int(value or 0)
