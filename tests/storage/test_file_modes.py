"""What wagate writes to disk is readable by its own user alone: the database
and its WAL, the sandbox network's state and media, as the secret key is."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import httpx

from wagate.config import Settings


def others_can_read(path: Path) -> bool:
    return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


async def test_database_and_sandbox_files_are_private(
    client: httpx.AsyncClient, user: Any, session_tools: Any, settings: Settings, app: Any
) -> None:
    linked = await session_tools.link(user.headers)
    await client.post(
        "/api/v1/messages/send",
        json={"to": linked.phone, "text": "hello"},
        headers={"x-api-key": linked.api_key},
    )
    await app.state.session_manager.engines["sandbox"].network.store.flush()
    data = settings.data_dir
    files = [
        data / "wagate.db",
        data / "wagate.db-wal",
        data / "secret.key",
        *(data / "sandbox").rglob("*"),
    ]
    assert (data / "sandbox" / "state.json") in files
    readable = [str(p) for p in files if p.exists() and p.is_file() and others_can_read(p)]
    assert readable == []
