"""The batch writer (group commit): units from many callers in one transaction,
each in a savepoint; waiters hear only of what is committed."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wagate.storage.db import Database, after_commit

pytestmark = pytest.mark.both_databases

CHILD = Path(__file__).with_name("_batch_child.py")


@pytest.fixture
async def database(database_settings: dict[str, str], tmp_path: Path) -> AsyncIterator[Database]:
    (tmp_path / "data").mkdir(exist_ok=True)
    schema = database_settings.get("database_schema")
    db = Database(database_settings["database_url"], schema=schema)
    async with db.engine.begin() as connection:
        await connection.execute(
            text(
                "CREATE TABLE batch_probe (seq INTEGER PRIMARY KEY"
                + (" AUTOINCREMENT" if db.sqlite else " GENERATED ALWAYS AS IDENTITY")
                + ", k VARCHAR(40) UNIQUE NOT NULL, lane INTEGER NOT NULL)"
            )
        )
    yield db
    await db.dispose()


def insert(key: str, lane: int = 0):  # type: ignore[no-untyped-def]
    async def unit(db: AsyncSession) -> str:
        await db.execute(
            text("INSERT INTO batch_probe (k, lane) VALUES (:k, :l)"), {"k": key, "l": lane}
        )
        return key

    return unit


async def keys(database: Database) -> list[str]:
    async with database.engine.connect() as connection:
        rows = await connection.execute(text("SELECT k FROM batch_probe ORDER BY seq"))
        return [row[0] for row in rows]


async def test_a_failing_unit_rolls_back_alone_and_its_caller_gets_the_error(
    database: Database,
) -> None:
    ran: list[str] = []

    def with_callback(key: str, fail: Exception | None = None):  # type: ignore[no-untyped-def]
        async def unit(db: AsyncSession) -> str:
            await insert(key)(db)
            after_commit(db, lambda: ran.append(key))
            if fail is not None:
                raise fail
            return key

        return unit

    writer = database.writer
    first = writer.submit(with_callback("a"))
    broken = writer.submit(with_callback("b", ValueError("this unit is broken")))
    duplicate = writer.submit(insert("a"))  # violates the unique key
    last = writer.submit(with_callback("c"))
    assert await first == "a"
    with pytest.raises(ValueError, match="this unit is broken"):
        await broken
    with pytest.raises(IntegrityError):
        await duplicate
    assert await last == "c"
    assert await keys(database) == ["a", "c"], "the failed units' rows must be rolled back alone"
    assert ran == ["a", "c"], "a failed unit's after-commit callbacks must not run"
    assert writer.batches == 1, "the four units were submitted together: one transaction"


async def test_each_lane_is_stored_in_the_order_it_was_submitted(database: Database) -> None:
    writer = database.writer
    waiters = []
    for i in range(400):
        lane = (i * 7) % 16
        waiters.append(writer.submit(insert(f"{lane}:{i}", lane)))
        if i % 37 == 0:
            await asyncio.sleep(0)  # let batches begin while more arrive
    await asyncio.gather(*waiters)
    stored = await keys(database)
    assert len(stored) == 400
    for lane in range(16):
        numbers = [int(k.split(":")[1]) for k in stored if k.startswith(f"{lane}:")]
        assert numbers == sorted(numbers), f"lane {lane} stored out of order: {numbers}"
    assert writer.batches < 400 / 4, f"{writer.batches} batches for 400 units: not grouped"


async def test_the_waiter_resolves_only_after_the_commit(database: Database) -> None:
    writer = database.writer
    release = asyncio.Event()
    started = asyncio.Event()

    async def slow(db: AsyncSession) -> None:
        started.set()
        await release.wait()
        await insert("slow")(db)

    fast = writer.submit(insert("fast"))
    held = writer.submit(slow)
    await started.wait()
    # "fast" ran, but its batch has not committed: nobody may hear it is done.
    await asyncio.sleep(0.05)
    assert not fast.done(), "a unit's waiter resolved before its batch committed"
    assert await keys(database) == [], "another connection saw an uncommitted batch"
    release.set()
    await fast
    assert await keys(database) == ["fast", "slow"], "a resolved waiter's row must be visible"
    await held


async def test_kill_9_in_the_middle_of_batches_loses_nothing_acknowledged(
    database: Database, database_settings: dict[str, str]
) -> None:
    args = [str(CHILD), database_settings["database_url"]]
    if database_settings.get("database_schema"):
        args.append(database_settings["database_schema"])
    for _ in range(3):
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert child.stdout is not None and child.stderr is not None
        acked: set[str] = set()
        async with asyncio.timeout(60):
            while len(acked) < 300:
                line = await child.stdout.readline()
                if not line:
                    break
                acked.add("u" + line.decode().split()[1])
        child.kill()  # SIGKILL, mid-batch: the child writes without a pause
        errors = (await child.communicate())[1].decode()
        assert len(acked) >= 300, f"the child did not write: {errors}"
        missing = acked - set(await keys(database))
        assert not missing, f"acknowledged but lost after kill -9: {sorted(missing)[:10]}"
        # Each round's keys start again at u0.
        async with database.engine.begin() as connection:
            await connection.execute(text("DELETE FROM batch_probe"))
