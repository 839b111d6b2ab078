"""Where linked devices live: whatsmeow's own store, plus two small tables of ours.

whatsmeow keeps every device's keys in its ``whatsmeow_*`` tables: a SQLite file
``<data_dir>/whatsmeow.db``, or the gateway's PostgreSQL (same database and
schema) when ``WAGATE_DATABASE_URL`` names one. Beside them, in the same
database, this module keeps:

- ``wagate_whatsmeow_sessions``: gateway session id -> device JID, so a restart
  resumes every linked session without a QR;
- ``wagate_whatsmeow_message_ids``: the id wagate chose for an outgoing message
  -> the id WhatsApp knows it by. neonize's ``SendMessage`` cannot be handed an
  id, so the engine records the pair and translates receipts, replies and
  reactions back to wagate's id.

These tables are the engine's, not the core's: they are created here (not by
Alembic) and live and die with the whatsmeow store.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlencode

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    delete,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from wagate.config import Settings
from wagate.engines.base import EngineError
from wagate.storage.db import create_engine, is_sqlite

SQLITE_FILE = "whatsmeow.db"

# What whatsmeow's SQLite driver (mattn/go-sqlite3) is told beside the path: WAL and a
# busy timeout so many sessions (and our own connection) can share the file, foreign
# keys (whatsmeow requires them), immediate transactions to avoid lock upgrades. The
# trailing parameter absorbs the ``?_foreign_keys=on`` neonize appends after the name.
_SQLITE_PARAMS = "_journal_mode=WAL&_busy_timeout=15000&_foreign_keys=on&_txlock=immediate"
# Connection parameters lib/pq understands; anything else in the gateway's URL is dropped.
_PQ_PARAMS = frozenset(
    {"sslmode", "sslcert", "sslkey", "sslrootcert", "connect_timeout", "application_name"}
)
_ASYNCPG_SSL = {"true": "require", "false": "disable", "1": "require", "0": "disable"}

metadata = MetaData()
sessions_table = Table(
    "wagate_whatsmeow_sessions",
    metadata,
    Column("session_id", String(191), primary_key=True),
    Column("device_jid", String(191), nullable=False),
    Column("push_name", String(255), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
message_ids_table = Table(
    "wagate_whatsmeow_message_ids",
    metadata,
    Column("session_id", String(191), primary_key=True),
    Column("wa_id", String(191), primary_key=True),
    Column("local_id", String(191), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_wagate_whatsmeow_message_ids_local", "session_id", "local_id"),
)


def uses_postgres(settings: Settings) -> bool:
    return bool(settings.database_url) and not is_sqlite(settings.resolved_database_url)


def whatsmeow_dsn(settings: Settings, data_dir: Path) -> str:
    """The database name neonize hands to whatsmeow (its ``ClientFactory`` name)."""
    if uses_postgres(settings):
        return postgres_dsn(settings.resolved_database_url, schema=settings.database_schema)
    path = (data_dir / SQLITE_FILE).resolve()
    return f"{quote(str(path), safe='/')}?{_SQLITE_PARAMS}&_wagate=1"


def postgres_dsn(url: str, *, schema: str | None = None) -> str:
    """``postgresql+asyncpg://u:p@h/db?ssl=require`` -> ``postgres://u:p@h/db?sslmode=require``.

    lib/pq (whatsmeow's driver) defaults to ``sslmode=require``; like libpq and
    asyncpg we default to ``prefer`` unless the URL says otherwise.
    """
    parsed = make_url(url)
    params: dict[str, str] = {}
    for key, value in parsed.query.items():
        first = value[0] if isinstance(value, tuple) else value
        if key in _PQ_PARAMS:
            params[key] = first
        elif key == "ssl":
            params.setdefault("sslmode", _ASYNCPG_SSL.get(first.lower(), first))
        elif key == "host":  # a Unix socket directory
            params["host"] = first
    params.setdefault("sslmode", "prefer")
    if schema:
        params["search_path"] = schema
    auth = ""
    if parsed.username:
        auth = quote(parsed.username, safe="")
        if parsed.password is not None:
            auth += ":" + quote(str(parsed.password), safe="")
        auth += "@"
    host = parsed.host or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    port = f":{parsed.port}" if parsed.port else ""
    database = quote(parsed.database or "", safe="")
    return f"postgres://{auth}{host}{port}/{database}?{urlencode(params)}"


def tables_url(settings: Settings, data_dir: Path) -> str:
    """SQLAlchemy URL of the database that holds whatsmeow's store (and our two tables)."""
    if uses_postgres(settings):
        parsed = make_url(settings.resolved_database_url)
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    return f"sqlite+aiosqlite:///{(data_dir / SQLITE_FILE).resolve()}"


def _now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def _guard(operation: str) -> Iterator[None]:
    try:
        yield
    except SQLAlchemyError as exc:
        raise EngineError(f"whatsmeow store: cannot {operation}", detail=str(exc)) from exc


class DeviceStore:
    """Our two tables, reached through SQLAlchemy's async engine (never blocks the loop)."""

    def __init__(self, settings: Settings, data_dir: Path) -> None:
        schema = settings.database_schema if uses_postgres(settings) else None
        data_dir.mkdir(parents=True, exist_ok=True)
        self._engine = create_engine(tables_url(settings, data_dir), schema=schema)

    async def open(self) -> None:
        with _guard("open its tables"):
            async with self._engine.begin() as connection:
                await connection.run_sync(metadata.create_all)

    async def close(self) -> None:
        await self._engine.dispose()

    async def sessions(self) -> dict[str, str]:
        with _guard("read sessions"):
            async with self._engine.connect() as connection:
                rows = await connection.execute(
                    select(sessions_table.c.session_id, sessions_table.c.device_jid)
                )
                return {row.session_id: row.device_jid for row in rows}

    async def save_session(self, session_id: str, device_jid: str, push_name: str | None) -> None:
        with _guard("save a session"):
            async with self._engine.begin() as connection:
                await connection.execute(
                    delete(sessions_table).where(sessions_table.c.session_id == session_id)
                )
                await connection.execute(
                    insert(sessions_table).values(
                        session_id=session_id,
                        device_jid=device_jid,
                        push_name=push_name,
                        updated_at=_now(),
                    )
                )

    async def forget_session(self, session_id: str) -> None:
        with _guard("forget a session"):
            async with self._engine.begin() as connection:
                for table in (sessions_table, message_ids_table):
                    condition = table.c.session_id == session_id
                    await connection.execute(delete(table).where(condition))

    async def device_jids(self) -> set[str]:
        """The devices whatsmeow holds keys for (none before its tables exist)."""
        with _guard("list devices"):
            async with self._engine.connect() as connection:
                exists = await connection.run_sync(
                    lambda sync: inspect(sync).has_table("whatsmeow_device")
                )
                if not exists:
                    return set()
                rows = await connection.execute(text("SELECT jid FROM whatsmeow_device"))
                return {str(row[0]) for row in rows}

    async def delete_device(self, device_jid: str) -> None:
        """Drop a device's keys from whatsmeow's tables (logout while offline).

        whatsmeow's own tables reference ``whatsmeow_device`` with ``ON DELETE CASCADE``.
        """
        with _guard("delete a device"):
            async with self._engine.begin() as connection:
                await connection.execute(
                    text("DELETE FROM whatsmeow_device WHERE jid = :jid"), {"jid": device_jid}
                )

    async def remember_id(self, session_id: str, local_id: str, wa_id: str) -> None:
        if local_id == wa_id:
            return
        with _guard("record a message id"):
            async with self._engine.begin() as connection:
                await connection.execute(
                    insert(message_ids_table).values(
                        session_id=session_id, wa_id=wa_id, local_id=local_id, created_at=_now()
                    )
                )

    async def wa_ids(self, session_id: str, local_ids: list[str]) -> dict[str, str]:
        """local id -> WhatsApp id, for the ids we have a record of."""
        if not local_ids:
            return {}
        table = message_ids_table
        with _guard("read message ids"):
            async with self._engine.connect() as connection:
                rows = await connection.execute(
                    select(table.c.local_id, table.c.wa_id).where(
                        table.c.session_id == session_id, table.c.local_id.in_(set(local_ids))
                    )
                )
                return {row.local_id: row.wa_id for row in rows}

    async def local_ids(self, session_id: str, wa_ids: list[str]) -> dict[str, str]:
        """WhatsApp id -> local id, for the ids we have a record of."""
        if not wa_ids:
            return {}
        table = message_ids_table
        with _guard("read message ids"):
            async with self._engine.connect() as connection:
                rows = await connection.execute(
                    select(table.c.wa_id, table.c.local_id).where(
                        table.c.session_id == session_id, table.c.wa_id.in_(set(wa_ids))
                    )
                )
                return {row.wa_id: row.local_id for row in rows}
