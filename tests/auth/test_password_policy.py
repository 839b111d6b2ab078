"""The commonest passwords are refused wherever a password is set."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

COMMON = ["password", "12345678", "Password123", "qwertyuiop", "iloveyou", "football"]


@pytest.mark.parametrize("password", COMMON)
async def test_registration_refuses_a_common_password(
    client: httpx.AsyncClient, password: str
) -> None:
    response = await client.post(
        "/api/v1/auth/register", json={"email": "weak@example.com", "password": password}
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert "common" in error["message"]


async def test_a_password_change_refuses_a_common_password(
    client: httpx.AsyncClient, user: Any
) -> None:
    response = await client.post(
        "/api/v1/auth/password",
        json={"currentPassword": user.password, "newPassword": "password1"},
        headers=user.headers,
    )
    assert response.status_code == 400, response.text
    assert "common" in response.json()["error"]["message"]


async def test_an_uncommon_password_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": "strong@example.com", "password": "plum-kettle-42"},
    )
    assert response.status_code == 201, response.text
