"""The async database engine, its sessions, and the unit of work."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.pool import ConnectionPoolEntry

from wagate.config import Settings
from wagate.private_files import ensure_private_file
from wagate.storage.batch import BatchWriter

AfterCommit = Callable[[], Awaitable[None] | None]
_AFTER_COMMIT = "wagate_after_commit"
_WROTE = "wagate_wrote"
_CONNECTED = "wagate_connected"
_WAKE_ON_COMMIT = "wagate_wake_on_commit"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the one writer; busy_timeout makes a second
    # writer wait for the lock instead of failing at once.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_engine(url: str, *, schema: str | None = None, echo: bool = False) -> AsyncEngine:
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            ensure_private_file(Path(database))
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {}
    if schema:
        connect_args["server_settings"] = {"search_path": schema}
    return create_async_engine(
        url,
        echo=echo,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        connect_args=connect_args,
    )


def _flushed(session: Session, _: UOWTransaction) -> None:
    session.info[_WROTE] = True


def _executed(state: ORMExecuteState) -> None:
    # Anything but a SELECT counts as a write (an UPDATE, a DELETE, raw SQL).
    if not state.is_select:
        state.session.info[_WROTE] = True


def _connected(session: Session, *_: Any) -> None:
    session.info[_CONNECTED] = True


async def _close(session: AsyncSession) -> None:
    """Close as ``async with`` would; a session that never took a connection
    (a request answered from memory) is closed in place: there is nothing to
    hand back, so no task and no greenlet for it."""
    if session.info.get(_CONNECTED):
        await session.__aexit__(None, None, None)
    else:
        session.sync_session.close()


def will_write(session: AsyncSession) -> None:
    """Say that the unit of work has a write to make at its commit that is not
    a pending row (a counter written in ``before_commit``): it must commit."""
    session.info[_WROTE] = True


def wrote(session: AsyncSession) -> bool:
    """Whether the unit of work changed anything: flushed, executed a statement
    that is not a SELECT, or holds changes not flushed yet."""
    return bool(session.info.get(_WROTE) or session.new or session.deleted or session.dirty)


class Signal:
    """Wakes whoever waits for a kind of change (``asyncio.Event`` per waiter).

    Waiters still look again now and then on their own: another process's
    change wakes nobody here, so a missed wake-up only delays, never loses.
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


class CommitSignals:
    """One :class:`Signal` per topic, fired when a transaction that asked for it
    (:func:`wake_on_commit`) commits. Hooked to the database's sessionmaker, so
    it works for request transactions, ``Database.transaction()`` and any other
    session the app opens, without anybody passing a signal around."""

    def __init__(self) -> None:
        self._signals: dict[str, Signal] = {}

    def topic(self, name: str) -> Signal:
        signal = self._signals.get(name)
        if signal is None:
            signal = self._signals[name] = Signal()
        return signal

    def committed(self, session: Session) -> None:
        # Fired for a savepoint's release too: only the outermost commit counts.
        if session.in_nested_transaction():
            return
        topics: set[str] = session.info.pop(_WAKE_ON_COMMIT, set())
        for name in topics:
            self.topic(name).notify()


class Database:
    """Owns the engine and hands out sessions.

    ``session_class`` is this database's own ``Session`` subclass, so parts of the
    app can listen to its sessions' events (the credential cache does) without
    touching any other database's; ``session_info`` is copied into every session's
    ``info``."""

    def __init__(self, url: str, *, schema: str | None = None, echo: bool = False) -> None:
        self.url = url
        self.schema = schema
        self.engine = create_engine(url, schema=schema, echo=echo)
        self.session_class: type[Session] = type("DatabaseSession", (Session,), {})
        event.listen(self.session_class, "after_flush", _flushed)
        event.listen(self.session_class, "do_orm_execute", _executed)
        event.listen(self.session_class, "after_begin", _connected)
        self.signals = CommitSignals()
        event.listen(self.session_class, "after_commit", self.signals.committed)
        self.session_info: dict[str, Any] = {}
        self.sessionmaker = async_sessionmaker(
            self.engine,
            expire_on_commit=False,
            sync_session_class=self.session_class,
            info=self.session_info,
        )
        self.sqlite = is_sqlite(url)
        # Group commit for engine events and the send queue's marks (storage/batch.py).
        self.writer = BatchWriter(self)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(settings.resolved_database_url, schema=settings.database_schema)

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """The unit of work (requests and background work alike): commits at the end
        if it wrote anything, rolls back on error, then runs what was registered with
        :func:`after_commit`. A unit that only read does not commit: its read
        transaction, if it ever opened one (the connection is taken at the first
        query, not before), simply ends when the session closes."""
        session = self.sessionmaker()
        try:
            try:
                yield session
                if wrote(session):
                    await session.commit()
            except BaseException:
                await session.rollback()
                raise
            await run_after_commit(session)
        finally:
            await _close(session)

    async def dispose(self) -> None:
        await self.writer.close()
        await self.engine.dispose()


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run ``callback`` once the current unit of work has committed (never on rollback).

    Background work (engine calls, deliveries) starts from here, so it only ever
    acts on rows that are durable.
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def after_commit_callbacks(session: AsyncSession, *, take: bool = False) -> list[AfterCommit]:
    """What ``session`` registered so far (a live list; ``take`` removes it)."""
    if take:
        taken: list[AfterCommit] = session.info.pop(_AFTER_COMMIT, [])
        return taken
    callbacks: list[AfterCommit] = session.info.setdefault(_AFTER_COMMIT, [])
    return callbacks


def wake_on_commit(session: AsyncSession, topic: str) -> None:
    """Fire the database's signal ``topic`` once the current transaction commits
    (never on rollback), whoever commits it."""
    session.info.setdefault(_WAKE_ON_COMMIT, set()).add(topic)


async def run_after_commit(session: AsyncSession) -> None:
    callbacks = after_commit_callbacks(session, take=True)
    for callback in callbacks:
        result = callback()
        if result is not None:
            await result


def upsert_insert(dialect: str) -> Any:
    """The ``insert`` of ``dialect`` (``sqlite`` or ``postgresql``), which has
    ``on_conflict_do_*``. The dialect's module is imported on first use: the
    PostgreSQL one is 2 MB a gateway on SQLite never needs."""
    module = importlib.import_module(
        "sqlalchemy.dialects.postgresql"
        if dialect == "postgresql"
        else "sqlalchemy.dialects.sqlite"
    )
    return module.insert
