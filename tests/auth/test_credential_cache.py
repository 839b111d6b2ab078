"""Credentials come from memory after their first use, and every change to one
takes effect on the very next request: revoke, rotate, delete, deactivation and
a password change, made by this server or by another process (the CLI). A
request that only reads commits nothing; one that writes commits once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from wagate.config import Settings

pytestmark = pytest.mark.both_databases

ME = "/api/v1/sessions/me"


async def admin_headers(client: httpx.AsyncClient) -> dict[str, str]:
    login = await client.post(
        "/api/v1/auth/login", json={"email": "admin@example.com", "password": "admin-password-1"}
    )
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['data']['token']}"}


async def works_twice(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> None:
    """Used twice, so the second answer came from the cache."""
    for _ in range(2):
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, response.text


async def refused(client: httpx.AsyncClient, path: str, headers: dict[str, str], code: str) -> None:
    """Refused as the API refuses that credential (a bad key answers 403, as in
    the SAK reference; a bad token 401)."""
    response = await client.get(path, headers=headers)
    assert response.status_code in (401, 403), f"{path} still answers {response.text}"
    assert response.json()["error"]["code"] == code, response.text


async def test_a_revoked_user_key_is_refused_on_the_next_request(
    client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    created = await session_tools.create(user.headers)
    key = await client.post("/api/v1/auth/api-keys", json={"name": "ci"}, headers=user.headers)
    assert key.status_code == 201, key.text
    headers = {"x-api-key": key.json()["data"]["key"], "x-session-id": created["sessionId"]}
    await works_twice(client, ME, headers)

    revoked = await client.delete(
        f"/api/v1/auth/api-keys/{key.json()['data']['id']}", headers=user.headers
    )
    assert revoked.status_code == 200, revoked.text
    await refused(client, ME, headers, "INVALID_API_KEY")


async def test_a_rotated_session_key_is_refused_and_its_successor_works(
    client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    created = await session_tools.create(user.headers)
    old = {"x-api-key": created["apiKey"]}
    await works_twice(client, ME, old)

    rotated = await client.post(
        f"/api/v1/sessions/{created['sessionId']}/api-key", headers=user.headers
    )
    assert rotated.status_code == 200, rotated.text
    await refused(client, ME, old, "INVALID_API_KEY")
    new = await client.get(ME, headers={"x-api-key": rotated.json()["data"]["apiKey"]})
    assert new.status_code == 200, new.text
    assert new.json()["data"]["sessionId"] == created["sessionId"]


async def test_a_deleted_sessions_key_is_refused(
    client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    created = await session_tools.create(user.headers)
    headers = {"x-api-key": created["apiKey"]}
    await works_twice(client, ME, headers)

    deleted = await client.delete(f"/api/v1/sessions/{created['sessionId']}", headers=user.headers)
    assert deleted.status_code == 200, deleted.text
    await refused(client, ME, headers, "INVALID_API_KEY")


async def test_deactivation_refuses_every_credential_on_the_next_request(
    client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    created = await session_tools.create(user.headers)
    key = await client.post("/api/v1/auth/api-keys", json={"name": "ci"}, headers=user.headers)
    user_key = {"x-api-key": key.json()["data"]["key"], "x-session-id": created["sessionId"]}
    session_key = {"x-api-key": created["apiKey"]}
    await works_twice(client, "/api/v1/auth/me", user.headers)
    await works_twice(client, ME, user_key)
    await works_twice(client, ME, session_key)

    off = await client.post(
        f"/api/v1/admin/users/{user.id}/deactivate", headers=await admin_headers(client)
    )
    assert off.status_code == 200, off.text
    await refused(client, "/api/v1/auth/me", user.headers, "INVALID_TOKEN")
    await refused(client, ME, user_key, "INVALID_API_KEY")
    await refused(client, ME, session_key, "INVALID_API_KEY")


async def test_a_password_change_refuses_the_old_token_on_the_next_request(
    client: httpx.AsyncClient, user: Any
) -> None:
    await works_twice(client, "/api/v1/auth/me", user.headers)
    changed = await client.post(
        "/api/v1/auth/password",
        json={"currentPassword": user.password, "newPassword": "another-horse-7"},
        headers=user.headers,
    )
    assert changed.status_code == 200, changed.text
    await refused(client, "/api/v1/auth/me", user.headers, "INVALID_TOKEN")
    fresh = {"Authorization": f"Bearer {changed.json()['data']['token']}"}
    await works_twice(client, "/api/v1/auth/me", fresh)


async def test_another_process_deactivating_a_user_refuses_their_keys_here(
    client: httpx.AsyncClient, user: Any, session_tools: Any, settings: Settings
) -> None:
    """`wagate user deactivate` in a process of its own, beside the running server."""
    created = await session_tools.create(user.headers)
    session_key = {"x-api-key": created["apiKey"]}
    await works_twice(client, ME, session_key)
    await works_twice(client, "/api/v1/auth/me", user.headers)

    env = os.environ | {
        "WAGATE_DATA_DIR": str(settings.data_dir),
        "WAGATE_DATABASE_URL": settings.resolved_database_url,
        "WAGATE_LOG_LEVEL": "WARNING",
    }
    if settings.database_schema:
        env["WAGATE_DATABASE_SCHEMA"] = settings.database_schema
    command = [sys.executable, "-m", "wagate", "user", "deactivate", "--email", user.email]
    done = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr

    await refused(client, ME, session_key, "INVALID_API_KEY")
    await refused(client, "/api/v1/auth/me", user.headers, "INVALID_TOKEN")


async def test_a_change_to_the_session_shows_on_the_next_read(
    client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    created = await session_tools.create(user.headers, "before")
    headers = {"x-api-key": created["apiKey"]}
    await works_twice(client, ME, headers)
    renamed = await client.patch(
        f"/api/v1/sessions/{created['sessionId']}", json={"name": "after"}, headers=user.headers
    )
    assert renamed.status_code == 200, renamed.text
    assert (await client.get(ME, headers=headers)).json()["data"]["name"] == "after"


async def test_a_read_commits_nothing_and_a_write_commits_once_and_runs_its_work(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: Any,
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    idle = await client.post(
        "/api/v1/sessions", json={"name": "idle", "connect": False}, headers=user.headers
    )
    assert idle.status_code == 201, idle.text
    created = idle.json()["data"]
    headers = {"x-api-key": created["apiKey"]}
    await works_twice(client, ME, headers)
    commits: list[str] = []
    engine = app.state.database.engine.sync_engine
    # Commits of the requests (in this task, or a task the request started),
    # not of the app's background work (the relay, the API-call counter's
    # flush), whose tasks run since start-up.
    background = asyncio.all_tasks() - {asyncio.current_task()}

    def committed(_: Any) -> None:
        if asyncio.current_task() not in background:
            commits.append("commit")

    event.listen(engine, "commit", committed)
    try:
        reads = [await client.get(ME, headers=headers) for _ in range(5)]
        assert [r.status_code for r in reads] == [200] * 5
        assert commits == [], f"{len(commits)} commits for five reads"

        renamed = await client.patch(
            f"/api/v1/sessions/{created['sessionId']}", json={"name": "new"}, headers=user.headers
        )
        assert renamed.status_code == 200, renamed.text
        assert commits == ["commit"]
    finally:
        event.remove(engine, "commit", committed)

    # Work registered to run after the commit runs (the engine starts linking).
    connect = await client.post(
        f"/api/v1/sessions/{created['sessionId']}/connect", headers=user.headers
    )
    assert connect.status_code in (200, 202), connect.text

    async def shows_a_qr() -> bool:
        return (await client.get(ME, headers=headers)).json()["data"]["state"] == "qr"

    await wait_until(
        shows_a_qr, timeout=15, what="the QR code the connect started after its commit"
    )
