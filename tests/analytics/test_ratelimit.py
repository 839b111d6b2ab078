"""Rate limits: each limit counts what it should, says so in its headers, and
refuses with 429 and Retry-After once used up."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from wagate.config import Settings


def limited(ids: str, **chosen: Any) -> Any:
    return pytest.mark.parametrize("settings_overrides", [chosen], indirect=True, ids=[ids])


WRONG_LOGIN = {"email": "nobody@example.com", "password": "wrong-password"}


@limited("auth", auth="3/minute")
async def test_register_and_login_share_a_limit_per_client_address(
    client: httpx.AsyncClient, analytics: Any
) -> None:
    first = await client.post("/api/v1/auth/login", json=WRONG_LOGIN)
    assert first.status_code == 401
    analytics.assert_counted(first, 3, 2)
    second = await client.post(
        "/api/v1/auth/register", json={"email": "a@example.com", "password": "correct-horse-9"}
    )
    assert second.status_code == 201
    analytics.assert_counted(second, 3, 1)
    third = await client.post("/api/v1/auth/login", json=WRONG_LOGIN)
    analytics.assert_counted(third, 3, 0)

    refused = await client.post(
        "/api/v1/auth/register", json={"email": "b@example.com", "password": "correct-horse-9"}
    )
    analytics.assert_refused(refused, 3)
    # Refused before the endpoint ran: nobody was registered.
    login = await client.post(
        "/api/v1/auth/login", json={"email": "b@example.com", "password": "correct-horse-9"}
    )
    analytics.assert_refused(login, 3)
    assert "auth limit" in refused.json()["error"]["message"]
    text = await analytics.metrics()
    assert analytics.metric(text, "wagate_rate_limited_total", limit="auth") == 2


@limited("user", user="3/minute")
async def test_jwt_endpoints_are_limited_per_user(
    client: httpx.AsyncClient, make_user: Any, analytics: Any
) -> None:
    alice, bob = await make_user(), await make_user()
    for remaining in (2, 1, 0):
        response = await client.get("/api/v1/sessions", headers=alice.headers)
        assert response.status_code == 200
        analytics.assert_counted(response, 3, remaining)
    analytics.assert_refused(await client.get("/api/v1/auth/me", headers=alice.headers), 3)
    # Another user has an allowance of their own.
    response = await client.get("/api/v1/auth/me", headers=bob.headers)
    analytics.assert_counted(response, 3, 2)


@limited("session", session="3/minute")
async def test_api_key_endpoints_are_limited_per_session(
    client: httpx.AsyncClient, user: Any, session_tools: Any, analytics: Any
) -> None:
    created = await session_tools.create(user.headers)
    key = {"x-api-key": created["apiKey"]}
    for remaining in (2, 1, 0):
        response = await client.get("/api/v1/sessions/me", headers=key)
        assert response.status_code == 200
        analytics.assert_counted(response, 3, remaining)
    analytics.assert_refused(await client.get("/api/v1/chats", headers=key), 3)
    # The owner's own (Bearer) requests count against the user limit instead.
    response = await client.get("/api/v1/sessions", headers=user.headers)
    analytics.assert_counted(response, 10000, 9998)  # creating the session counted too


@limited("send", send="2/minute", session="50/minute")
async def test_sending_has_a_narrower_limit_within_the_session_limit(
    client: httpx.AsyncClient, user: Any, session_tools: Any, analytics: Any
) -> None:
    created = await session_tools.create(user.headers)
    key = {"x-api-key": created["apiKey"]}
    body = {"to": "15551230001", "text": "hello"}
    first = await client.post("/api/v1/messages/send", json=body, headers=key)
    assert first.status_code == 200, first.text
    analytics.assert_counted(first, 2, 1)
    second = await client.post(
        "/api/v1/messages/send-location",
        json={"to": "15551230001", "latitude": 1.5, "longitude": 2.5},
        headers=key,
    )
    analytics.assert_counted(second, 2, 0)
    analytics.assert_refused(await client.post("/api/v1/messages/send", json=body, headers=key), 2)
    # Other API calls of the session go on, under the session limit.
    other = await client.get("/api/v1/sessions/me", headers=key)
    analytics.assert_counted(other, 50, 50 - 3)


@limited("history", history="2/minute")
async def test_history_is_limited_per_session_whoever_asks(
    client: httpx.AsyncClient, user: Any, session_tools: Any, analytics: Any
) -> None:
    created = await session_tools.create(user.headers)
    key = {"x-api-key": created["apiKey"]}
    by_key = await client.get("/api/v1/messages/history", headers=key)
    analytics.assert_counted(by_key, 2, 1)
    by_token = await client.get(
        "/api/v1/messages/history",
        params={"sessionId": created["sessionId"]},
        headers=user.headers,
    )
    assert by_token.status_code == 200
    analytics.assert_counted(by_token, 2, 0)
    analytics.assert_refused(await client.get("/api/v1/messages/history", headers=key), 2)
    assert (await client.get("/api/v1/chats", headers=key)).status_code == 200


@limited("webhooks", webhooks="2/minute", allow_private_urls=True)
async def test_webhook_registration_is_limited_per_user(
    client: httpx.AsyncClient, user: Any, session_tools: Any, analytics: Any
) -> None:
    created = await session_tools.create(user.headers)
    body = {
        "sessionId": created["sessionId"],
        "url": "http://127.0.0.1:9/hook",
        "events": ["message.received"],
    }
    for remaining in (1, 0):
        response = await client.post("/api/v1/webhooks", json=body, headers=user.headers)
        assert response.status_code == 201, response.text
        analytics.assert_counted(response, 2, remaining)
    analytics.assert_refused(
        await client.post("/api/v1/webhooks", json=body, headers=user.headers), 2
    )
    listed = await client.get("/api/v1/webhooks", headers=user.headers)
    assert listed.status_code == 200
    assert listed.headers["X-RateLimit-Limit"] == "10000"


@limited("session-changes", session_changes="3/minute")
async def test_session_management_is_limited_per_user(
    client: httpx.AsyncClient, user: Any, session_tools: Any, analytics: Any
) -> None:
    created = await session_tools.create(user.headers)
    path = f"/api/v1/sessions/{created['sessionId']}"
    renamed = await client.patch(path, json={"name": "Renamed"}, headers=user.headers)
    analytics.assert_counted(renamed, 3, 1)
    deleted = await client.delete(path, headers=user.headers)
    analytics.assert_counted(deleted, 3, 0)
    analytics.assert_refused(
        await client.post("/api/v1/sessions", json={"name": "One more"}, headers=user.headers), 3
    )
    # Reading sessions is not session management.
    assert (await client.get("/api/v1/sessions", headers=user.headers)).status_code == 200


@limited("untrusted", auth="2/minute")
async def test_x_forwarded_for_is_ignored_without_a_trusted_proxy(
    client: httpx.AsyncClient, analytics: Any
) -> None:
    for address in ("203.0.113.1", "203.0.113.2"):
        response = await client.post(
            "/api/v1/auth/login", json=WRONG_LOGIN, headers={"X-Forwarded-For": address}
        )
        assert response.status_code == 401
    # A new address in the header does not buy a new allowance.
    refused = await client.post(
        "/api/v1/auth/login", json=WRONG_LOGIN, headers={"X-Forwarded-For": "203.0.113.3"}
    )
    analytics.assert_refused(refused, 2)


@limited("trusted", auth="2/minute", trusted_proxies="127.0.0.1")
async def test_behind_a_trusted_proxy_the_forwarded_client_is_limited(
    client: httpx.AsyncClient, analytics: Any
) -> None:
    def from_(chain: str) -> dict[str, str]:
        return {"X-Forwarded-For": chain}

    credentials = {"email": "proxied@example.com", "password": "correct-horse-9"}
    registered = await client.post(
        "/api/v1/auth/register", json=credentials, headers=from_("203.0.113.7")
    )
    assert registered.status_code == 201
    # The client may prepend anything; the address our proxy saw is the last one.
    second = await client.post(
        "/api/v1/auth/login", json=credentials, headers=from_("198.51.100.1, 203.0.113.7")
    )
    assert second.status_code == 200
    analytics.assert_counted(second, 2, 0)
    analytics.assert_refused(
        await client.post("/api/v1/auth/login", json=credentials, headers=from_("203.0.113.7")),
        2,
    )
    # Another client behind the same proxy has its own allowance.
    other = await client.post("/api/v1/auth/login", json=credentials, headers=from_("203.0.113.8"))
    assert other.status_code == 200
    analytics.assert_counted(other, 2, 1)
    # And the activity log names the client, not the proxy.
    token = other.json()["data"]["token"]
    logs = await analytics.activity({"Authorization": f"Bearer {token}"})
    assert [(e["action"], e["ip_address"]) for e in logs] == [
        ("user.login", "203.0.113.8"),
        ("user.login", "203.0.113.7"),
        ("user.register", "203.0.113.7"),
    ]


@limited("store-down", auth="1/minute", redis_url="redis://127.0.0.1:1/0")
async def test_an_unreachable_limit_store_lets_requests_through(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(3):
        response = await client.post("/api/v1/auth/login", json=WRONG_LOGIN)
        assert response.status_code == 401
        assert "X-RateLimit-Limit" not in response.headers
    warnings = [r for r in caplog.records if "rate-limit store unreachable" in r.getMessage()]
    assert len(warnings) == 1  # said once, not per request


async def test_limits_can_be_turned_off(client: httpx.AsyncClient, user: Any) -> None:
    # The suite's default: no limits, and no headers claiming any.
    response = await client.get("/api/v1/sessions", headers=user.headers)
    assert response.status_code == 200
    assert "X-RateLimit-Limit" not in response.headers


def test_limits_and_proxies_are_checked_at_start_up() -> None:
    with pytest.raises(ValidationError, match="is not a rate limit"):
        Settings(rate_limit_send="lots")
    with pytest.raises(ValidationError, match="not an IP or CIDR"):
        Settings(trusted_proxies="10.0.0.0/8,proxy.local")
    assert Settings(trusted_proxies="10.0.0.0/8, ::1").trusted_proxies == ["10.0.0.0/8", "::1"]
