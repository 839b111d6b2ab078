"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import Connection, text

import wagate.models  # noqa: F401  (every table on the metadata)
from wagate.storage.base import Base

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
