"""Every outcome of each face in that face's own shape: the multi-session
face's ``{error, message}`` with the guide's statuses, and the native face's
envelope unchanged, for the same failures."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from tests.faces.conftest import Guide

from wagate.auth import service

NATIVE_KEYS = {"success", "error"}


def guide_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "message"}, body
    assert isinstance(body["error"], str) and isinstance(body["message"], str)
    return body


def native_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == NATIVE_KEYS
    assert body["success"] is False
    assert body["error"]["code"] == code


async def test_authentication_errors(client: httpx.AsyncClient, guide: Guide) -> None:
    missing = guide_error(await client.get("/api/sessions"), 401)
    assert missing == {"error": "Unauthorized", "message": "Authentication token missing"}
    bad = await client.get("/api/sessions", headers={"Authorization": "Bearer not-a-jwt"})
    assert guide_error(bad, 401)["error"] == "Unauthorized"
    key = await client.get("/api/sessions", headers={"x-api-key": "wgk_nope"})
    assert guide_error(key, 401)["error"] == "Unauthorized"
    native_error(await client.get("/api/v1/sessions"), 401, "NO_TOKEN")
    native_error(
        await client.get("/api/v1/auth/me", headers={"x-api-key": "wgk_nope"}),
        403,
        "INVALID_API_KEY",
    )


async def test_validation_and_routing_errors(client: httpx.AsyncClient, guide: Guide) -> None:
    user = await guide.user()
    no_name = await client.post("/api/sessions", json={}, headers=user.headers)
    assert guide_error(no_name, 400) == {"error": "Bad Request", "message": "name: Field required"}
    not_json = await client.post(
        "/api/sessions",
        content=b"{broken",
        headers={**user.headers, "content-type": "application/json"},
    )
    assert guide_error(not_json, 400)["message"] == "Request body is not valid JSON"
    assert guide_error(await client.get("/api/nothing-here"), 404) == {
        "error": "Not Found",
        "message": "Route not found",
    }
    assert guide_error(await client.get("/api/login"), 405)["error"] == "Method Not Allowed"
    unknown = await client.get("/api/sessions/no-such-session", headers=user.headers)
    assert guide_error(unknown, 404)["message"] == "Session not found"
    # The same failures on the native face keep its envelope.
    native_error(await client.get("/api/v1/nothing-here"), 404, "NOT_FOUND")
    native_error(await client.get("/api/v1/auth/login"), 405, "METHOD_NOT_ALLOWED")
    native_error(
        await client.post("/api/v1/auth/login", json={"password": "x"}),
        400,
        "VALIDATION_ERROR",
    )


async def test_a_send_from_a_session_that_is_not_logged_in_is_the_guides_404(
    client: httpx.AsyncClient, guide: Guide
) -> None:
    user = await guide.user()
    session = await guide.create(user, name="Idle", phone="15550002222")
    for path, body in (
        (f"/api/sessions/{session['id']}/send", {"recipient": "15550003333", "message": "hi"}),
        ("/api/send", {"phone": "15550002222", "recipient": "15550003333", "message": "hi"}),
    ):
        refused = await client.post(path, json=body, headers=user.headers)
        assert guide_error(refused, 404)["error"] == "Not Found"
    bad_recipient = await client.post(
        f"/api/sessions/{session['id']}/send",
        json={"recipient": "not a number", "message": "hi"},
        headers=user.headers,
    )
    assert guide_error(bad_recipient, 400)["message"].startswith("recipient:")
    # Nothing was queued for later: the session's history stays empty.
    history = await client.get(
        "/api/v1/messages/history", params={"sessionId": session["id"]}, headers=user.headers
    )
    assert history.json()["data"]["messages"] == []


async def test_an_oversized_body_is_413_in_each_faces_shape(
    client: httpx.AsyncClient, guide: Guide
) -> None:
    user = await guide.user()
    big = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    headers = {**user.headers, "content-type": "application/json"}
    guide_413 = await client.post("/api/sessions", content=big, headers=headers)
    assert guide_error(guide_413, 413)["error"] == "Request Entity Too Large"
    native_error(
        await client.post("/api/v1/sessions", content=big, headers=headers),
        413,
        "PAYLOAD_TOO_LARGE",
    )
    assert await guide.sessions(user) == []


async def test_a_crash_is_500_in_each_faces_shape(app: FastAPI) -> None:
    @app.get("/api/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    @app.get("/api/v1/boom")
    async def boom_native() -> None:
        raise RuntimeError("secret internals")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        crashed = await client.get("/api/boom")
        native = await client.get("/api/v1/boom")
    body = guide_error(crashed, 500)
    assert body["error"] == "Internal Server Error"
    assert "secret internals" not in crashed.text
    assert crashed.headers["x-request-id"] in body["message"]
    native_error(native, 500, "INTERNAL_ERROR")
    assert "secret internals" not in native.text


class TestRateLimits:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {
            "rate_limit_enabled": True,
            "rate_limit_auth": "2/minute",
            "rate_limit_user": "3/minute",
        }

    async def test_login_is_limited_per_address_and_calls_per_user(
        self, client: httpx.AsyncClient
    ) -> None:
        wrong = {"username": "admin", "password": "wrong-password"}
        for _ in range(2):
            assert (await client.post("/api/login", json=wrong)).status_code == 401
        limited = await client.post("/api/login", json=wrong)
        body = guide_error(limited, 429)
        assert body["error"] == "Too Many Requests"
        assert int(limited.headers["retry-after"]) >= 1
        # The native login shares the address's allowance.
        native_error(
            await client.post(
                "/api/v1/auth/login", json={"email": "admin", "password": "wrong-password"}
            ),
            429,
            "RATE_LIMIT_EXCEEDED",
        )

    async def test_a_users_calls_are_counted_across_faces(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        async with app.state.database.transaction() as db:
            user = await service.create_user(
                db, email="limited@example.com", password="password-2-long", username="limited"
            )
            token = service.issue_token(
                user, secret=app.state.settings.resolved_secret_key, expires_minutes=5
            )
        headers = {"Authorization": f"Bearer {token}"}
        first = await client.get("/api/sessions", headers=headers)
        assert first.status_code == 200
        assert first.headers["x-ratelimit-limit"] == "3"
        assert (await client.get("/api/v1/sessions", headers=headers)).status_code == 200
        assert (await client.get("/api/sessions", headers=headers)).status_code == 200
        guide_error(await client.get("/api/sessions", headers=headers), 429)
        native_error(
            await client.get("/api/v1/sessions", headers=headers), 429, "RATE_LIMIT_EXCEEDED"
        )
