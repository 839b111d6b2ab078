"""Group commit: units of work from every session applied in batches, one
transaction per batch.

A unit is an async function that takes the batch's ``AsyncSession`` and does
what a transaction of its own would have done (it flushes, never commits; side
effects go through :func:`~wagate.storage.db.after_commit`). The writer runs
the units waiting in its queue one after another, in the order they were
submitted, each in a SAVEPOINT: a unit that fails rolls back alone and its
caller gets the error, the others commit. After the commit the batch's
``after_commit`` callbacks run, in the units' order, and then each unit's
waiter is resolved, so a caller hears "done" only of what is durable.

One writer instead of a transaction per event keeps the many sessions' events
off each other's backs: on SQLite they no longer queue on the single write
lock one commit at a time (busy-waiting in SQLite's sleep steps), and the
commit, the lock and the transaction's set-up are paid once per batch.

Order: units run in submission order, so whoever submits a session's events in
the order they happened gets them stored in that order.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

# A module, not names: db.py imports this one to give each Database its writer.
from wagate.storage import db as storage_db

if TYPE_CHECKING:
    from wagate.storage.db import AfterCommit, Database

logger = logging.getLogger(__name__)

T = TypeVar("T")
Unit = Callable[[AsyncSession], Awaitable[T]]

# Units in one transaction at most: enough to pay a commit for many events,
# few enough that the first of them is not kept waiting long.
MAX_UNITS = 256
# How often a batch is tried against a busy or unreachable database before its
# units fail (an engine reports an event only once: worth a few tries).
ATTEMPTS = 5


class WriterClosed(RuntimeError):
    """The writer is closing and takes no more work."""


@dataclass(slots=True)
class _Pending(Generic[T]):
    unit: Unit[T]
    waiter: asyncio.Future[T]
    outcome: tuple[bool, Any] = field(default=(False, None))
    tries: int = 0


class _NeedSavepoints(Exception):
    """A unit failed in a batch run without savepoints."""


class _UnitBroke(Exception):
    def __init__(self, pending: _Pending[Any], error: DBAPIError) -> None:
        self.pending = pending
        self.error = error


class BatchWriter:
    """Applies submitted units of work in batches; see the module's docstring."""

    def __init__(
        self, database: Database, *, max_units: int = MAX_UNITS, attempts: int = ATTEMPTS
    ) -> None:
        self.database = database
        self.max_units = max_units
        self.attempts = attempts
        self._queue: deque[_Pending[Any]] = deque()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.batches = 0  # committed batches, for tests and metrics
        self.units = 0

    def submit(self, unit: Unit[T]) -> asyncio.Future[T]:
        """Queue ``unit``; the future resolves with its result once its batch
        committed (or with its error, the others' commit notwithstanding)."""
        if self._closing:
            raise WriterClosed("the database writer is closing")
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[T] = loop.create_future()
        self._queue.append(_Pending(unit, waiter))
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._run(), name="database-batch-writer")
        assert self._wake is not None
        self._wake.set()
        return waiter

    async def run(self, unit: Unit[T]) -> T:
        """Submit ``unit`` and wait until it is durable; returns what it returned.

        The wait is shielded: a caller that gives up does not take the unit out
        of its batch (it may already be committed)."""
        return await asyncio.shield(self.submit(unit))

    async def close(self) -> None:
        """Apply what was submitted, then stop."""
        self._closing = True
        task = self._task
        if task is not None and not task.done():
            assert self._wake is not None
            self._wake.set()
            await task

    async def _run(self) -> None:
        assert self._wake is not None
        wake = self._wake
        while True:
            if not self._queue:
                if self._closing:
                    return
                wake.clear()
                await wake.wait()
                continue
            # Whatever arrives while a batch is applied waits for the next one,
            # which is how batches grow with the load.
            batch = [self._queue.popleft() for _ in range(min(self.max_units, len(self._queue)))]
            try:
                await self._apply(batch)
            except BaseException as exc:
                for pending in batch:
                    if not pending.waiter.done():
                        pending.waiter.set_exception(
                            exc if isinstance(exc, Exception) else WriterClosed(str(exc))
                        )
                if not isinstance(exc, Exception):
                    self._fail_queued()
                    raise
                logger.exception("a batch of %d units failed", len(batch))

    async def _apply(self, batch: list[_Pending[Any]]) -> None:
        todo = list(batch)
        attempt = 0
        savepoints = False
        while True:
            attempt += 1
            try:
                callbacks = await self._transaction(todo, savepoints)
                break
            except _NeedSavepoints:
                # A unit failed: again, each unit in a savepoint, so it fails alone.
                savepoints = True
                attempt -= 1
                continue
            except _UnitBroke as broke:
                # A busy or dropped database, met inside one unit: all units try
                # again; one that keeps meeting it fails alone.
                broke.pending.tries += 1
                if broke.pending.tries >= self.attempts:
                    broke.pending.outcome = (False, broke.error)
                    todo.remove(broke.pending)
                    attempt = 0
                error: DBAPIError = broke.error
            except (OperationalError, DBAPIError) as exc:
                if not _retryable(exc) or attempt >= self.attempts:
                    raise
                error = exc
            logger.warning(
                "a batch of %d units failed (attempt %d): %s; retrying",
                len(todo),
                attempt,
                error.orig if error.orig is not None else error,
            )
            await asyncio.sleep(0.05 * max(attempt, 1))
        self.batches += 1
        self.units += len(batch)
        for callback in callbacks:
            try:
                result = callback()
                if result is not None:
                    await result
            except Exception:
                logger.exception("an after-commit callback failed")
        for pending in batch:
            if pending.waiter.done():
                continue
            ok, value = pending.outcome
            if ok:
                pending.waiter.set_result(value)
            else:
                pending.waiter.set_exception(value)

    async def _transaction(self, batch: list[_Pending[Any]], savepoints: bool) -> list[AfterCommit]:
        """One try at the batch. Units run bare first (a savepoint costs two more
        round trips per unit); only when one fails does the batch run again with
        a savepoint around each."""
        async with self.database.sessionmaker() as db:
            try:
                if self.database.sqlite:
                    # Take the write lock now: a transaction that reads first and
                    # writes later fails at once (no busy wait) when another
                    # writer committed in between. It also makes the savepoints
                    # below nest in a real transaction under pysqlite.
                    await db.execute(text("BEGIN IMMEDIATE"))
                for pending in batch:
                    callbacks = storage_db.after_commit_callbacks(db)
                    mark = len(callbacks)
                    try:
                        if savepoints:
                            async with db.begin_nested():
                                pending.outcome = (True, await pending.unit(db))
                        else:
                            pending.outcome = (True, await pending.unit(db))
                            await db.flush()
                    except (OperationalError, DBAPIError) as exc:
                        if _retryable(exc):
                            raise _UnitBroke(pending, exc) from exc
                        pending.outcome = (False, exc)
                        if not savepoints:
                            raise _NeedSavepoints from exc
                        del callbacks[mark:]
                    except Exception as exc:
                        pending.outcome = (False, exc)
                        if not savepoints:
                            raise _NeedSavepoints from exc
                        del callbacks[mark:]
                await db.commit()
            except BaseException:
                await db.rollback()
                raise
            return list(storage_db.after_commit_callbacks(db, take=True))

    def _fail_queued(self) -> None:
        while self._queue:
            pending = self._queue.popleft()
            if not pending.waiter.done():
                pending.waiter.set_exception(WriterClosed("the database writer stopped"))


def _retryable(exc: DBAPIError) -> bool:
    """A busy or dropped database: the batch as a whole may succeed on another try."""
    return isinstance(exc, OperationalError) or exc.connection_invalidated
