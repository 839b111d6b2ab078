"""Counting API-key requests per session and day without a write per request.

Each API-key request adds one to a dict in memory (no I/O on the request path);
every ``WAGATE_ANALYTICS_FLUSH_SECONDS`` (and at shutdown) the counts go to the
usage counters in one transaction, one upsert per (session, day). On SQLite a
write per request would make every read-only API call (history, chats) take
the single writer lock; buffered, a busy session costs one upsert per flush.
Several processes may flush into the same rows: the upserts add up. The price:
usage reports show API calls up to one interval late, and a process killed
with ``kill -9`` loses up to one interval of counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from datetime import date

from wagate.analytics import counters, service
from wagate.storage.db import Database, after_commit

logger = logging.getLogger(__name__)

Key = tuple[uuid.UUID, date, uuid.UUID]  # user, day, session


class ApiCallBuffer:
    def __init__(self) -> None:
        self._counts: Counter[Key] = Counter()
        self._in_flight: Counter[Key] = Counter()  # being written by a flush
        self._database: Database | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def add(self, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
        self._counts[(user_id, counters.today(), session_id)] += 1

    def pending(self) -> dict[Key, dict[str, int]]:
        """What this process counted but has not committed yet, for usage reports
        that should be live (other processes' calls show after their flush)."""
        return {key: {"api_calls": n} for key, n in (self._counts + self._in_flight).items()}

    async def start(self, database: Database, interval: float) -> None:
        self._database = database
        self._task = asyncio.create_task(self._run(interval), name="api-call-flush")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self.flush()
        except Exception:
            logger.exception("API call counts could not be written at shutdown and are lost")

    async def flush(self) -> None:
        """Write what was counted. On failure the counts stay for the next try."""
        if self._database is None:
            return
        async with self._lock:
            taken, self._counts = self._counts, Counter()
            if not taken:
                return
            self._in_flight = taken
            try:
                async with self._database.transaction() as db:
                    service.count_api_calls(db, {key: {"api_calls": n} for key, n in taken.items()})
                    # Right at the commit, so a report never counts them twice.
                    after_commit(db, self._in_flight.clear)
            except Exception:
                self._in_flight = Counter()
                self._counts.update(taken)
                raise

    async def _run(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.flush()
            except Exception:
                logger.exception("API call counts could not be written; will retry")
