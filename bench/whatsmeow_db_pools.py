"""PostgreSQL connections left open by failed whatsmeow connect attempts.

    WAGATE_BENCH_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/<db> \\
        .venv/bin/python bench/whatsmeow_db_pools.py [--attempts N]

neonize opens a database pool for every client it starts and never closes it.
This starts the whatsmeow engine on a PostgreSQL store, makes N connect
attempts that a loopback proxy refuses (network pre-check off, so each reaches
whatsmeow; nothing leaves the machine), and counts the server's connections to
that database after every few attempts and after the engine is closed.
Without ``WAGATE_BENCH_DATABASE_URL`` it says so and does nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path

from _gateway import free_port
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from wagate.config import Settings
from wagate.engines.base import DisconnectedEvent, EngineContext, EngineEvent
from wagate.engines.registry import create_engine


async def connections(url: str) -> int:
    """Connections to the database, this one not counted."""
    database = create_async_engine(url, poolclass=NullPool)
    try:
        async with database.connect() as connection:
            query = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            count = int((await connection.execute(text(query))).scalar_one())
            return count - 1
    finally:
        await database.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=20)
    args = parser.parse_args()
    url = os.environ.get("WAGATE_BENCH_DATABASE_URL")
    if not url:
        print("WAGATE_BENCH_DATABASE_URL is not set: no PostgreSQL to measure; skipped")
        return
    failures: asyncio.Queue[DisconnectedEvent] = asyncio.Queue()

    async def emit(event: EngineEvent) -> None:
        if isinstance(event, DisconnectedEvent):
            failures.put_nowait(event)

    with tempfile.TemporaryDirectory(prefix="wagate-bench-") as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            database_url=url,
            whatsmeow_proxy_url=f"http://127.0.0.1:{free_port()}",
            whatsmeow_probe_network=False,
            whatsmeow_log_level="CRITICAL",
        )
        engine = create_engine("whatsmeow", EngineContext(settings, emit, Path(tmp)))
        await engine.open()
        before = await connections(url)
        print(f"engine open: {before} connections")
        for attempt in range(1, args.attempts + 1):
            await engine.start_session("bench")
            await asyncio.wait_for(failures.get(), 60)
            await engine.stop_session("bench")
            if attempt % 5 == 0 or attempt == args.attempts:
                now = await connections(url)
                print(f"after {attempt:3} failed attempts: {now} connections (+{now - before})")
        await engine.close()
        print(f"engine closed: {await connections(url)} connections")


if __name__ == "__main__":
    asyncio.run(main())
