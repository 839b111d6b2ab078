"""The async database engine, its sessions, and the unit of work."""

from __future__ import annotations

import asyncio
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
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from wagate.config import Settings
from wagate.private_files import ensure_private_file

AfterCommit = Callable[[], Awaitable[None] | None]
_AFTER_COMMIT = "wagate_after_commit"
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
    """Owns the engine and hands out sessions."""

    def __init__(self, url: str, *, schema: str | None = None, echo: bool = False) -> None:
        self.url = url
        self.schema = schema
        self.engine = create_engine(url, schema=schema, echo=echo)
        self.signals = CommitSignals()
        sync_sessions = sessionmaker()
        event.listen(sync_sessions, "after_commit", self.signals.committed)
        self.sessionmaker = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=sync_sessions
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(settings.resolved_database_url, schema=settings.database_schema)

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A unit of work outside a request: commits at the end, rolls back on error,
        then runs what was registered with :func:`after_commit`."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
            await run_after_commit(session)

    async def dispose(self) -> None:
        await self.engine.dispose()


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run ``callback`` once the current unit of work has committed (never on rollback).

    Background work (engine calls, deliveries) starts from here, so it only ever
    acts on rows that are durable.
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def wake_on_commit(session: AsyncSession, topic: str) -> None:
    """Fire the database's signal ``topic`` once the current transaction commits
    (never on rollback), whoever commits it."""
    session.info.setdefault(_WAKE_ON_COMMIT, set()).add(topic)


async def run_after_commit(session: AsyncSession) -> None:
    callbacks: list[AfterCommit] = session.info.pop(_AFTER_COMMIT, [])
    for callback in callbacks:
        result = callback()
        if result is not None:
            await result
