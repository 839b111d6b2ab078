"""The SAK auth endpoints: register, login, me."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest

from wagate.config import Settings

pytestmark = pytest.mark.both_databases


async def test_register_answers_token_and_user_in_the_envelope(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": " New.User@Example.COM ", "password": "s3cure-pass", "name": "John Doe"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True
    user = body["data"]["user"]
    assert set(user) == {"id", "email", "name", "plan"}
    assert user["email"] == "new.user@example.com"
    assert user["name"] == "John Doe"
    assert user["plan"] == "free"
    assert len(user["id"]) == 36
    assert body["data"]["token"].count(".") == 2


async def test_register_twice_is_user_exists(client: httpx.AsyncClient) -> None:
    payload = {"email": "twice@example.com", "password": "s3cure-pass"}
    assert (await client.post("/api/v1/auth/register", json=payload)).status_code == 201
    payload["email"] = "TWICE@example.com"
    response = await client.post("/api/v1/auth/register", json=payload)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "USER_EXISTS"


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"email": "a@example.com"}, "password"),
        ({"password": "s3cure-pass"}, "email"),
        ({"email": "not-an-email", "password": "s3cure-pass"}, "email"),
        ({"email": "a@example.com", "password": "short"}, "at least 8"),
        ({"email": "a@example.com", "password": "aaaaaaaaaa"}, "different characters"),
        ({"email": "a@example.com", "password": "a@example.com"}, "email"),
    ],
)
async def test_register_refuses_bad_input_with_a_clear_validation_error(
    client: httpx.AsyncClient, payload: dict[str, str], fragment: str
) -> None:
    response = await client.post("/api/v1/auth/register", json=payload)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert fragment in error["message"]


async def test_malformed_json_is_a_validation_error(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/login", content=b"{bad", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "error": {"code": "VALIDATION_ERROR", "message": "Request body is not valid JSON"},
    }


async def test_login_with_right_and_wrong_password(client: httpx.AsyncClient, user) -> None:  # type: ignore[no-untyped-def]
    good = await client.post(
        "/api/v1/auth/login", json={"email": user.email.upper(), "password": user.password}
    )
    assert good.status_code == 200
    assert good.json()["data"]["user"]["id"] == user.id

    bad = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": "wrong-password"}
    )
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "INVALID_CREDENTIALS"

    unknown = await client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": "whatever1"}
    )
    assert unknown.status_code == 401
    assert unknown.json()["error"]["message"] == bad.json()["error"]["message"]


async def test_me_with_token(client: httpx.AsyncClient, user) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/api/v1/auth/me", headers=user.headers)
    assert response.status_code == 200
    me = response.json()["data"]["user"]
    assert me["id"] == user.id
    assert me["email"] == user.email
    assert me["plan"] == "free"
    assert me["created_at"].endswith("Z")


async def test_me_without_token_is_no_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "NO_TOKEN"


def _claims(user_id: str, **overrides: object) -> dict[str, object]:
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": user_id,
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "typ": "access",
    }
    claims.update(overrides)
    return claims


def _unsigned(claims: dict[str, object]) -> str:
    def part(value: dict[str, object]) -> str:
        raw = json.dumps(value, default=lambda d: int(d.timestamp())).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


async def test_expired_tampered_and_unsigned_tokens_are_refused(
    client: httpx.AsyncClient,
    settings: Settings,
    user,  # type: ignore[no-untyped-def]
) -> None:
    secret = settings.resolved_secret_key
    past = datetime.now(UTC) - timedelta(hours=2)
    expired = jwt.encode(_claims(user.id, iat=past, exp=past + timedelta(minutes=1)), secret)
    header, _payload, signature = user.token.split(".")
    tampered_payload = base64.urlsafe_b64encode(
        json.dumps({"sub": user.id, "exp": 9999999999, "iat": 1, "typ": "access"}).encode()
    ).rstrip(b"=")
    tampered = f"{header}.{tampered_payload.decode()}.{signature}"
    other_secret = jwt.encode(_claims(user.id), "another-secret-" + "y" * 40)
    for token, message in [
        (expired, "Token has expired"),
        (tampered, "Invalid token"),
        (_unsigned(_claims(user.id)), "Invalid token"),
        (other_secret, "Invalid token"),
        ("not-a-jwt", "Invalid token"),
    ]:
        response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token
        assert response.json()["error"] == {"code": "INVALID_TOKEN", "message": message}


async def test_a_valid_token_for_a_deleted_user_is_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    ghost = jwt.encode(
        _claims("00000000-0000-4000-8000-000000000000"), settings.resolved_secret_key
    )
    response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {ghost}"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "INVALID_TOKEN"


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, object]:
    marker = request.node.get_closest_marker("registration_closed")
    return {"allow_registration": False} if marker else {}


@pytest.mark.registration_closed
async def test_registration_can_be_closed(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/register", json={"email": "late@example.com", "password": "s3cure-pass"}
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "REGISTRATION_CLOSED"
    admin = await client.post(
        "/api/v1/auth/login", json={"email": "admin@example.com", "password": "admin-password-1"}
    )
    assert admin.status_code == 200
    assert admin.json()["data"]["user"]["plan"] == "admin"
