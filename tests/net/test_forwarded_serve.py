"""``wagate serve`` believes ``X-Forwarded-For`` only from WAGATE_TRUSTED_PROXIES:
uvicorn's own default (trusting loopback) must not rewrite the client address."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

ADMIN = {"email": "admin@example.com", "password": "admin-password-1"}


def login_from(base_url: str, forwarded_for: str) -> httpx.Response:
    return httpx.post(
        f"{base_url}/api/v1/auth/login", json=ADMIN, headers={"X-Forwarded-For": forwarded_for}
    )


def logged_addresses(base_url: str, token: str) -> set[str | None]:
    activity = httpx.get(
        f"{base_url}/api/v1/analytics/activity", headers={"Authorization": f"Bearer {token}"}
    )
    return {e["ip_address"] for e in activity.json()["data"]["logs"] if e["action"] == "user.login"}


def test_a_forged_forwarded_for_from_loopback_is_not_believed(
    gateway_process: Callable[..., Any],
) -> None:
    gateway = gateway_process(WAGATE_RATE_LIMIT_ENABLED="true", WAGATE_RATE_LIMIT_AUTH="3/minute")
    gateway.start()
    answers = [login_from(gateway.base_url, f"203.0.113.{i}") for i in range(1, 5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    token = answers[0].json()["data"]["token"]
    assert logged_addresses(gateway.base_url, token) == {"127.0.0.1"}


def test_a_trusted_proxy_names_the_client(gateway_process: Callable[..., Any]) -> None:
    gateway = gateway_process(
        WAGATE_RATE_LIMIT_ENABLED="true",
        WAGATE_RATE_LIMIT_AUTH="3/minute",
        WAGATE_TRUSTED_PROXIES="127.0.0.1",
    )
    gateway.start()
    answers = [login_from(gateway.base_url, f"203.0.113.{i}") for i in range(1, 5)]
    assert [a.status_code for a in answers] == [200] * 4
    token = answers[0].json()["data"]["token"]
    assert logged_addresses(gateway.base_url, token) == {f"203.0.113.{i}" for i in range(1, 5)}
