"""A process that writes through a BatchWriter until it is killed: it prints
``ack N`` once unit N's batch committed (tests/storage/test_batch.py kills it)."""

from __future__ import annotations

import asyncio
import sys

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from wagate.storage.db import Database


async def main(url: str, schema: str | None) -> None:
    database = Database(url, schema=schema or None)
    writer = database.writer

    async def write(n: int) -> None:
        async def unit(db: AsyncSession) -> None:
            await db.execute(
                text("INSERT INTO batch_probe (k, lane) VALUES (:k, :l)"),
                {
                    "k": f"u{n}",
                    "l": n % 16,
                },
            )

        await writer.run(unit)
        sys.stdout.write(f"ack {n}\n")
        sys.stdout.flush()

    n = 0
    while True:  # sixteen writers at a time, like sixteen sessions
        await asyncio.gather(*(write(n + i) for i in range(16)))
        n += 16


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None))
