"""Reading the outbox in order: on PostgreSQL an event whose transaction commits
late (after a later event) is waited for, never stepped over."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from wagate.auth.models import User
from wagate.config import Settings
from wagate.events.service import record_event
from wagate.events.tail import OutboxTail, last_seq
from wagate.storage.db import Database
from wagate.storage.migrate import migrate

pytestmark = pytest.mark.both_databases


@pytest.fixture
async def database(settings: Settings) -> Any:
    """The database alone, with no gateway running beside it."""
    db = Database.from_settings(settings)
    await migrate(db)
    yield db
    await db.dispose()


@pytest.fixture
async def user_id(database: Database) -> uuid.UUID:
    user = User(email=f"{uuid.uuid4().hex[:8]}@example.com", password_hash="x")
    async with database.transaction() as db:
        db.add(user)
    return user.id


async def write(database: Database, user_id: uuid.UUID, name: str) -> None:
    async with database.transaction() as db:
        await record_event(db, user_id=user_id, session_id=None, event_type=name, data={})


async def read(database: Database, tail: OutboxTail, after: int) -> list[str]:
    async with database.transaction() as db:
        return [event.type for event in await tail.read(db, after, 100)]


async def test_events_come_in_order(
    database: Database, user_id: uuid.UUID, db_backend: str
) -> None:
    tail = OutboxTail(postgres=db_backend == "postgresql")
    async with database.transaction() as db:
        start = await last_seq(db)
    for name in ("a", "b", "c"):
        await write(database, user_id, name)
    assert await read(database, tail, start) == ["a", "b", "c"]


async def test_a_late_commit_holds_back_what_follows(
    database: Database, user_id: uuid.UUID, db_backend: str
) -> None:
    if db_backend != "postgresql":
        pytest.skip("SQLite has one writer: commits come in seq order")
    tail = OutboxTail(postgres=True, min_hole_age=0)
    async with database.transaction() as db:
        start = await last_seq(db)
    async with database.sessionmaker() as late:
        await record_event(late, user_id=user_id, session_id=None, event_type="late", data={})
        await late.flush()  # takes its seq, not yet committed
        await write(database, user_id, "early")
        assert await read(database, tail, start) == []
        assert await read(database, tail, start) == []  # still running: still held
        await late.commit()
    assert await read(database, tail, start) == ["late", "early"]


async def test_a_rolled_back_event_is_passed_over_once_its_time_is_over(
    database: Database, user_id: uuid.UUID, db_backend: str
) -> None:
    if db_backend != "postgresql":
        pytest.skip("SQLite reuses no seq of a rolled back insert")
    tail = OutboxTail(postgres=True, min_hole_age=0)
    async with database.transaction() as db:
        start = await last_seq(db)
    async with database.sessionmaker() as doomed:
        await record_event(doomed, user_id=user_id, session_id=None, event_type="gone", data={})
        await doomed.flush()
        await write(database, user_id, "after")
        assert await read(database, tail, start) == []
        await doomed.rollback()
    # Other transactions on the server (other test runs) may still be older
    # than the hole; they end on their own time, so look again for a while.
    for _ in range(200):
        got = await read(database, tail, start)
        if got:
            break
        await asyncio.sleep(0.05)
    assert got == ["after"]
