"""The whatsmeow store: where it lives, how whatsmeow is told, and our two tables."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from wagate.config import Settings
from wagate.engines.whatsmeow.store import (
    DeviceStore,
    postgres_dsn,
    tables_url,
    whatsmeow_dsn,
)

DEVICE = "15550001111:17@s.whatsapp.net"


def test_sqlite_is_a_file_in_the_data_folder(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "my data")
    dsn = whatsmeow_dsn(settings, tmp_path / "my data")
    path = (tmp_path / "my data" / "whatsmeow.db").resolve()
    assert dsn.startswith(str(path).replace(" ", "%20") + "?")
    assert "_journal_mode=WAL" in dsn and "_foreign_keys=on" in dsn
    assert tables_url(settings, tmp_path / "my data") == f"sqlite+aiosqlite:///{path}"


def test_postgres_url_becomes_what_lib_pq_wants() -> None:
    assert (
        postgres_dsn("postgresql+asyncpg://wa:p%40ss%2Fw@db.internal:6432/wagate")
        == "postgres://wa:p%40ss%2Fw@db.internal:6432/wagate?sslmode=prefer"
    )
    assert (
        postgres_dsn("postgresql+asyncpg://u@h/d?ssl=require&prepared_statement_cache_size=0")
        == "postgres://u@h/d?sslmode=require"
    )
    assert (
        postgres_dsn("postgresql://u@/d?host=/run/postgresql", schema="tenant_1")
        == "postgres://u@/d?host=%2Frun%2Fpostgresql&sslmode=prefer&search_path=tenant_1"
    )


def test_gateway_postgres_settings_choose_postgres(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url="postgresql+asyncpg://u:p@h:5432/d",
        database_schema="s1",
    )
    assert (
        whatsmeow_dsn(settings, tmp_path) == "postgres://u:p@h:5432/d?sslmode=prefer&search_path=s1"
    )
    assert tables_url(settings, tmp_path) == "postgresql+asyncpg://u:p@h:5432/d"


async def test_sqlite_store_shares_the_file_with_whatsmeow(
    tmp_path: Path, whatsmeow_db: Any
) -> None:
    settings = Settings(data_dir=tmp_path)
    store = DeviceStore(settings, tmp_path)
    await store.open()
    try:
        assert await store.device_jids() == set()  # before whatsmeow made its tables
        whatsmeow_db.create_tables(whatsmeow_dsn(settings, tmp_path))
        whatsmeow_db.fake_device(tmp_path / "whatsmeow.db", DEVICE)
        assert await store.device_jids() == {DEVICE}

        await store.save_session("s1", DEVICE, "Shop")
        await store.save_session("s1", DEVICE, "Shop renamed")  # an update, not a duplicate
        assert await store.sessions() == {"s1": DEVICE}

        await store.remember_id("s1", "3EB0LOCAL", "3EB0WHATSAPP")
        await store.remember_id("s1", "SAME", "SAME")  # nothing to translate: not stored
        assert await store.wa_ids("s1", ["3EB0LOCAL", "OTHER"]) == {"3EB0LOCAL": "3EB0WHATSAPP"}
        assert await store.local_ids("s1", ["3EB0WHATSAPP"]) == {"3EB0WHATSAPP": "3EB0LOCAL"}
        assert await store.local_ids("s2", ["3EB0WHATSAPP"]) == {}

        await store.delete_device(DEVICE)
        assert await store.device_jids() == set()
        with sqlite3.connect(tmp_path / "whatsmeow.db") as db:  # whatsmeow's keys cascade
            assert db.execute("SELECT count(*) FROM whatsmeow_identity_keys").fetchone() == (0,)
        await store.forget_session("s1")
        assert await store.sessions() == {}
        assert await store.wa_ids("s1", ["3EB0LOCAL"]) == {}
    finally:
        await store.close()


@pytest.mark.both_databases
async def test_store_on_the_gateway_database(
    db_backend: str, database_settings: dict[str, str], tmp_path: Path, whatsmeow_db: Any
) -> None:
    settings = Settings(data_dir=tmp_path, **database_settings)  # type: ignore[arg-type]
    store = DeviceStore(settings, tmp_path)
    await store.open()
    try:
        whatsmeow_db.create_tables(whatsmeow_dsn(settings, tmp_path))
        assert await store.device_jids() == set()  # whatsmeow's tables, found in our schema
        await store.save_session("s1", DEVICE, None)
        await store.remember_id("s1", "L1", "W1")
        assert await store.sessions() == {"s1": DEVICE}
        assert await store.local_ids("s1", ["W1"]) == {"W1": "L1"}
        await store.delete_device(DEVICE)
        await store.forget_session("s1")
        assert await store.sessions() == {}
    finally:
        await store.close()
