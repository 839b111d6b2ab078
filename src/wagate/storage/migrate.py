"""Applying Alembic migrations from code (start-up, CLI, tests).

At start-up the schema is nearly always at the newest revision already. That
is checked first, without Alembic: its import (with Mako and Pygments) costs
about 10 MB resident and a good part of a second of start-up, so Alembic is
imported only when there is something to migrate."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text

from wagate.storage.db import Database, is_sqlite

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"
# Any constant works; it only has to be the same for every wagate process.
_MIGRATION_LOCK_ID = 0x7761_6761_7465

_REVISION = re.compile(r"^revision(?:\s*:[^=]+)?\s*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision(?:\s*:[^=]+)?\s*=\s*(.+)$", re.MULTILINE)
_QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def head_revisions() -> frozenset[str]:
    """The revisions no other revision builds on, read from the migration files'
    ``revision`` and ``down_revision`` lines (what Alembic reads, without Alembic)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision = _REVISION.search(source)
        if revision is None:
            continue
        revisions.add(revision.group(1))
        down = _DOWN_REVISION.search(source)
        if down is not None:
            parents.update(_QUOTED.findall(down.group(1)))
    return frozenset(revisions - parents)


def _at_head(connection: Connection) -> bool:
    if not inspect(connection).has_table(VERSION_TABLE):
        return False
    stamped = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
    return frozenset(stamped) == head_revisions()


def _upgrade(connection: Connection) -> None:
    if _at_head(connection):
        return
    from alembic import command

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
