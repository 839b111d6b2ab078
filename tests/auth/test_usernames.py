"""Users may have a unique username; every login accepts it in place of the email."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.both_databases

PASSWORD = "password-2-long"


async def register(client: httpx.AsyncClient, email: str, username: str) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": PASSWORD, "username": username},
    )


async def test_login_by_username_or_email_on_both_faces(client: httpx.AsyncClient) -> None:
    assert (await register(client, "nia@example.com", "Nia.Ops")).status_code == 201
    for body in (
        {"email": "nia.ops", "password": PASSWORD},
        {"username": "NIA.OPS", "password": PASSWORD},
        {"email": "nia@example.com", "password": PASSWORD},
    ):
        native = await client.post("/api/v1/auth/login", json=body)
        assert native.status_code == 200, (body, native.text)
        assert native.json()["data"]["user"]["email"] == "nia@example.com"
    guide = await client.post("/api/login", json={"username": "nia.ops", "password": PASSWORD})
    assert guide.json()["user"]["username"] == "nia.ops"
    wrong = await client.post("/api/v1/auth/login", json={"email": "nia.ops", "password": "x"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "INVALID_CREDENTIALS"
    neither = await client.post("/api/v1/auth/login", json={"password": PASSWORD})
    assert neither.status_code == 400
    assert neither.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_usernames_are_unique_and_well_formed(client: httpx.AsyncClient) -> None:
    assert (await register(client, "one@example.com", "shared")).status_code == 201
    taken = await register(client, "two@example.com", "SHARED")
    assert taken.status_code == 409
    assert taken.json()["error"] == {
        "code": "USER_EXISTS",
        "message": "A user with this username already exists",
    }
    for number, bad in enumerate(("ab", "has space", "at@sign", "-dash-first", "x" * 65)):
        refused = await register(client, f"bad{number}@example.com", bad)
        assert refused.status_code == 400, bad
        assert refused.json()["error"]["message"].startswith("username:"), bad
    # Nothing was created by the refusals.
    login = await client.post(
        "/api/v1/auth/login", json={"email": "two@example.com", "password": PASSWORD}
    )
    assert login.status_code == 401


async def test_a_login_without_a_name_keeps_its_error(client: httpx.AsyncClient) -> None:
    refused = await client.post("/api/v1/auth/login", json={"password": PASSWORD})
    assert refused.json() == {
        "success": False,
        "error": {"code": "VALIDATION_ERROR", "message": "email: Field required"},
    }
