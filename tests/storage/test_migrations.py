"""The migrations build exactly the schema the models describe, on both databases;
start-up imports Alembic only when the database is behind the newest revision."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from sqlalchemy import Connection, text

import wagate.models  # noqa: F401  (every table on the metadata)
from wagate.storage.base import Base
from wagate.storage.migrate import alembic_config, head_revisions

pytestmark = pytest.mark.both_databases


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrated_schema_matches_the_models(app: FastAPI) -> None:
    async with app.state.database.engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == []


async def test_outbox_numbers_are_never_reused_on_sqlite(app: FastAPI) -> None:
    database = app.state.database
    if database.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL sequences never reuse a number")
    async with database.engine.connect() as connection:
        sql = (
            await connection.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'outbox_events'")
            )
        ).scalar_one()
    assert "AUTOINCREMENT" in sql


# Runs ``migrate`` on the database in argv, in a process of its own, and prints
# whether Alembic was imported and the revision the database is at afterwards.
_MIGRATE_PROBE = """
import asyncio, sys
from sqlalchemy import text
from wagate.storage.db import Database
from wagate.storage.migrate import migrate

async def main():
    database = Database(sys.argv[1], schema=sys.argv[2] or None)
    await migrate(database)
    async with database.engine.connect() as connection:
        rows = (await connection.execute(text("SELECT version_num FROM alembic_version"))).all()
    await database.dispose()
    print("alembic" in sys.modules, ",".join(sorted(row[0] for row in rows)))

asyncio.run(main())
"""


def _migrate_in_a_new_process(app: FastAPI) -> tuple[bool, str]:
    database = app.state.database
    completed = subprocess.run(
        [sys.executable, "-c", _MIGRATE_PROBE, database.url, database.schema or ""],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    imported, revision = completed.stdout.split()
    return imported == "True", revision


def test_the_head_read_without_alembic_is_alembics_head() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    assert head_revisions() == frozenset(scripts.get_heads())


async def test_a_database_at_head_starts_without_importing_alembic(app: FastAPI) -> None:
    imported, revision = _migrate_in_a_new_process(app)
    assert not imported, "migrate() imported Alembic on a database already at head"
    assert frozenset([revision]) == head_revisions()


async def test_a_database_behind_head_is_migrated_to_head(app: FastAPI) -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    (head,) = scripts.get_heads()
    previous = scripts.get_revision(head).down_revision
    assert isinstance(previous, str)

    def downgrade(connection: Connection) -> None:
        command.downgrade(alembic_config(connection), previous)

    async with app.state.database.engine.connect() as connection:
        await connection.run_sync(downgrade)
        await connection.commit()

    imported, revision = _migrate_in_a_new_process(app)
    assert imported, "a database behind head must be migrated with Alembic"
    assert revision == head
    async with app.state.database.engine.connect() as connection:
        assert await connection.run_sync(_differences) == []
