"""Stable user API keys: shown once, stored hashed, listed without the key, revocable."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from wagate.auth.models import ApiKey

pytestmark = pytest.mark.both_databases


async def _create_key(client: httpx.AsyncClient, headers: dict[str, str], name: str) -> dict:  # type: ignore[type-arg]
    response = await client.post("/api/v1/auth/api-keys", json={"name": name}, headers=headers)
    assert response.status_code == 201, response.text
    data: dict = response.json()["data"]  # type: ignore[type-arg]
    return data


async def test_create_shows_the_key_once_and_stores_only_its_hash(
    client: httpx.AsyncClient,
    app: FastAPI,
    user,  # type: ignore[no-untyped-def]
) -> None:
    created = await _create_key(client, user.headers, "my-client-app")
    assert set(created) == {"id", "name", "key", "lastFour", "createdAt", "expiresAt"}
    assert created["name"] == "my-client-app"
    assert created["lastFour"] == created["key"][-4:]
    assert len(created["key"]) >= 40

    async with app.state.database.sessionmaker() as db:
        stored = (await db.execute(select(ApiKey))).scalars().one()
    assert stored.key_hash == hashlib.sha256(created["key"].encode()).hexdigest()
    assert created["key"] not in {stored.key_hash, stored.name, stored.last_four}

    listed = await client.get("/api/v1/auth/api-keys", headers=user.headers)
    assert listed.status_code == 200
    [key] = listed.json()["data"]["keys"]
    assert set(key) == {
        "id",
        "name",
        "last_four",
        "is_active",
        "created_at",
        "last_used_at",
        "expires_at",
    }
    assert key["is_active"] is True
    assert key["last_used_at"] is None
    assert created["key"] not in listed.text


async def test_a_key_authenticates_and_records_its_use(
    client: httpx.AsyncClient,
    user,  # type: ignore[no-untyped-def]
) -> None:
    created = await _create_key(client, user.headers, "bot")
    me = await client.get("/api/v1/auth/me", headers={"x-api-key": created["key"]})
    assert me.status_code == 200
    assert me.json()["data"]["user"]["id"] == user.id
    [key] = (await client.get("/api/v1/auth/api-keys", headers=user.headers)).json()["data"]["keys"]
    assert key["last_used_at"] is not None


async def test_wrong_and_revoked_keys_are_refused(
    client: httpx.AsyncClient,
    user,  # type: ignore[no-untyped-def]
) -> None:
    created = await _create_key(client, user.headers, "soon-revoked")
    wrong = await client.get("/api/v1/auth/me", headers={"x-api-key": created["key"] + "x"})
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "INVALID_API_KEY"

    revoked = await client.delete(f"/api/v1/auth/api-keys/{created['id']}", headers=user.headers)
    assert revoked.status_code == 200
    assert revoked.json() == {"success": True, "message": "API key revoked"}
    after = await client.get("/api/v1/auth/me", headers={"x-api-key": created["key"]})
    assert after.status_code == 403
    assert after.json()["error"]["code"] == "INVALID_API_KEY"
    [key] = (await client.get("/api/v1/auth/api-keys", headers=user.headers)).json()["data"]["keys"]
    assert key["is_active"] is False


async def test_key_endpoints_need_a_token(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/api-keys", json={"name": "x"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "NO_TOKEN"


async def test_a_key_name_is_required(client: httpx.AsyncClient, user) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/auth/api-keys", json={}, headers=user.headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "name" in response.json()["error"]["message"]


async def test_a_second_user_cannot_see_or_revoke_the_first_users_keys(
    client: httpx.AsyncClient,
    make_user,  # type: ignore[no-untyped-def]
) -> None:
    alice = await make_user()
    bob = await make_user()
    created = await _create_key(client, alice.headers, "alice-key")

    bobs_list = await client.get("/api/v1/auth/api-keys", headers=bob.headers)
    assert bobs_list.json()["data"]["keys"] == []

    stolen = await client.delete(f"/api/v1/auth/api-keys/{created['id']}", headers=bob.headers)
    assert stolen.status_code == 404
    assert stolen.json()["error"]["code"] == "NOT_FOUND"
    still = await client.get("/api/v1/auth/me", headers={"x-api-key": created["key"]})
    assert still.json()["data"]["user"]["id"] == alice.id
