"""Applying Alembic migrations from code (start-up, CLI, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text

from wagate.storage.db import Database, is_sqlite

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any constant works; it only has to be the same for every wagate process.
_MIGRATION_LOCK_ID = 0x7761_6761_7465


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


async def migrate(database: Database) -> None:
    """Bring the schema to the newest revision. Safe when several processes start
    at once: on PostgreSQL they take turns behind an advisory lock."""
    async with database.engine.connect() as connection:
        if not is_sqlite(database.url):
            await connection.execute(text(f"SELECT pg_advisory_lock({_MIGRATION_LOCK_ID})"))
        try:
            await connection.run_sync(_upgrade)
            await connection.commit()
        finally:
            if not is_sqlite(database.url):
                await connection.execute(text(f"SELECT pg_advisory_unlock({_MIGRATION_LOCK_ID})"))
                await connection.commit()
