"""Alembic environment. Runs on the connection wagate hands it, or, for
``alembic`` on the command line, on the database the settings name."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

import wagate.models  # noqa: F401  (registers every table on the metadata)
from wagate.storage.base import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_settings() -> None:
    from wagate.config import Settings
    from wagate.storage.db import Database

    database = Database.from_settings(Settings())
    async with database.engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await database.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_from_settings())
