"""The async database engine, its sessions, and the unit of work."""

from __future__ import annotations

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
from sqlalchemy.pool import ConnectionPoolEntry

from wagate.config import Settings
from wagate.private_files import ensure_private_file
from wagate.storage.batch import BatchWriter

AfterCommit = Callable[[], Awaitable[None] | None]
_AFTER_COMMIT = "wagate_after_commit"


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


class Database:
    """Owns the engine and hands out sessions."""

    def __init__(self, url: str, *, schema: str | None = None, echo: bool = False) -> None:
        self.url = url
        self.schema = schema
        self.engine = create_engine(url, schema=schema, echo=echo)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
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


async def run_after_commit(session: AsyncSession) -> None:
    callbacks = after_commit_callbacks(session, take=True)
    for callback in callbacks:
        result = callback()
        if result is not None:
            await result
