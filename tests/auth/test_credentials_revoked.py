"""Deactivating a user stops every credential of theirs at once; a password
change ends every token issued before it. Both through the admin API and the CLI."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from wagate.cli import app as cli_app
from wagate.config import Settings

pytestmark = pytest.mark.both_databases


async def admin_headers(client: httpx.AsyncClient) -> dict[str, str]:
    login = await client.post(
        "/api/v1/auth/login", json={"email": "admin@example.com", "password": "admin-password-1"}
    )
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['data']['token']}"}


async def every_credential(
    client: httpx.AsyncClient, user: Any, session_tools: Any
) -> dict[str, dict[str, str]]:
    created = await session_tools.create(user.headers)
    key = await client.post("/api/v1/auth/api-keys", json={"name": "ci"}, headers=user.headers)
    assert key.status_code == 201, key.text
    return {
        "jwt": user.headers,
        "user key": {"x-api-key": key.json()["data"]["key"], "x-session-id": created["sessionId"]},
        "session key": {"x-api-key": created["apiKey"]},
    }


async def refused(client: httpx.AsyncClient, credentials: dict[str, dict[str, str]]) -> set[str]:
    """The credentials that no longer get in."""
    answers = {
        "jwt": await client.get("/api/v1/auth/me", headers=credentials["jwt"]),
        "user key": await client.get("/api/v1/sessions/me", headers=credentials["user key"]),
        "session key": await client.get("/api/v1/sessions/me", headers=credentials["session key"]),
    }
    for name, answer in answers.items():
        assert answer.status_code in (200, 401, 403), (name, answer.text)
        if answer.status_code != 200:
            assert answer.json()["error"]["code"] in ("INVALID_TOKEN", "INVALID_API_KEY"), name
    return {name for name, answer in answers.items() if answer.status_code != 200}


async def test_deactivation_stops_every_credential_and_activation_restores_keys(
    client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    credentials = await every_credential(client, user, session_tools)
    assert await refused(client, credentials) == set()
    admin = await admin_headers(client)

    off = await client.post(f"/api/v1/admin/users/{user.id}/deactivate", headers=admin)
    assert off.status_code == 200, off.text
    assert off.json()["data"]["user"]["isActive"] is False
    assert await refused(client, credentials) == {"jwt", "user key", "session key"}
    login = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": user.password}
    )
    assert login.status_code == 401

    on = await client.post(f"/api/v1/admin/users/{user.id}/activate", headers=admin)
    assert on.status_code == 200, on.text
    assert on.json()["data"]["user"]["isActive"] is True
    # Keys are the user's to revoke; a token issued before the deactivation stays dead.
    assert await refused(client, credentials) == {"jwt"}
    login = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": user.password}
    )
    assert login.status_code == 200


async def test_only_an_administrator_deactivates_and_not_themselves(
    client: httpx.AsyncClient, make_user: Any
) -> None:
    first, second = await make_user(), await make_user()
    response = await client.post(
        f"/api/v1/admin/users/{second.id}/deactivate", headers=first.headers
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"
    admin = await admin_headers(client)
    me = await client.get("/api/v1/auth/me", headers=admin)
    own = await client.post(
        f"/api/v1/admin/users/{me.json()['data']['user']['id']}/deactivate", headers=admin
    )
    assert own.status_code == 400
    assert own.json()["error"]["code"] == "VALIDATION_ERROR"
    missing = await client.post(
        "/api/v1/admin/users/00000000-0000-0000-0000-000000000000/deactivate", headers=admin
    )
    assert missing.status_code == 404
    listed = await client.get("/api/v1/admin/users", headers=admin)
    assert listed.status_code == 200
    emails = {u["email"] for u in listed.json()["data"]["users"]}
    assert {first.email, second.email, "admin@example.com"} <= emails


async def test_a_password_change_ends_the_tokens_issued_before_it(
    client: httpx.AsyncClient, user: Any
) -> None:
    second_login = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": user.password}
    )
    old_tokens = [user.headers, {"Authorization": f"Bearer {second_login.json()['data']['token']}"}]
    changed = await client.post(
        "/api/v1/auth/password",
        json={"currentPassword": user.password, "newPassword": "another-horse-7"},
        headers=user.headers,
    )
    assert changed.status_code == 200, changed.text
    for headers in old_tokens:
        response = await client.get("/api/v1/auth/me", headers=headers)
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "INVALID_TOKEN"
    fresh = {"Authorization": f"Bearer {changed.json()['data']['token']}"}
    assert (await client.get("/api/v1/auth/me", headers=fresh)).status_code == 200


async def test_a_password_change_needs_the_current_password(
    client: httpx.AsyncClient, user: Any
) -> None:
    response = await client.post(
        "/api/v1/auth/password",
        json={"currentPassword": "not-the-password", "newPassword": "another-horse-7"},
        headers=user.headers,
    )
    assert response.status_code == 401
    assert (await client.get("/api/v1/auth/me", headers=user.headers)).status_code == 200


def cli_env(settings: Settings) -> dict[str, str]:
    env = {
        "WAGATE_DATA_DIR": str(settings.data_dir),
        "WAGATE_DATABASE_URL": settings.resolved_database_url,
    }
    if settings.database_schema:
        env["WAGATE_DATABASE_SCHEMA"] = settings.database_schema
    return env


async def run_cli(settings: Settings, *args: str) -> str:
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, list(args), env=cli_env(settings))
    assert result.exit_code == 0, result.output
    return result.output


async def test_cli_set_password_ends_the_tokens_issued_before_it(
    client: httpx.AsyncClient, user: Any, settings: Settings
) -> None:
    await run_cli(
        settings, "user", "set-password", "--email", user.email, "--password", "fresh-horse-8"
    )
    response = await client.get("/api/v1/auth/me", headers=user.headers)
    assert response.status_code == 401, response.text


async def test_cli_deactivates_and_activates_a_user(
    client: httpx.AsyncClient, user: Any, session_tools: Any, settings: Settings
) -> None:
    credentials = await every_credential(client, user, session_tools)
    output = await run_cli(settings, "user", "deactivate", "--email", user.email)
    assert "deactivated" in output
    assert await refused(client, credentials) == {"jwt", "user key", "session key"}
    output = await run_cli(settings, "user", "activate", "--email", user.email)
    assert "activated" in output
    assert await refused(client, credentials) == {"jwt"}
