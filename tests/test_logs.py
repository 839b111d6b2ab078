"""The access log: one JSON object per request with its fields as keys, and never
a password, token, key or message text anywhere in the log."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from pythonjsonlogger.json import JsonFormatter


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"log_format": "json"}


def json_formatter() -> logging.Formatter:
    """The formatter the app installed on the root logger."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, JsonFormatter):
            return handler.formatter
    raise AssertionError("no JSON log handler is installed")


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    formatter = json_formatter()
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == "wagate.access"]


async def test_json_access_lines_carry_request_user_session_route_status_and_duration(
    client: httpx.AsyncClient,
    user: Any,
    session_tools: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    created = await session_tools.create(user.headers)
    caplog.set_level(logging.INFO, logger="wagate.access")
    caplog.clear()
    response = await client.get("/api/v1/sessions/me", headers={"x-api-key": created["apiKey"]})
    assert response.status_code == 200
    [line] = access_lines(caplog)
    assert line["request_id"] == response.headers["x-request-id"]
    assert line["method"] == "GET"
    assert line["route"] == "/api/v1/sessions/me"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["user_id"] == user.id
    assert line["session_id"] == created["sessionId"]
    assert line["levelname"] == "INFO"
    assert line["name"] == "wagate.access"


async def test_secrets_keys_tokens_and_message_texts_never_reach_the_log(
    client: httpx.AsyncClient,
    make_user: Any,
    session_tools: Any,
    wait_until: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="wagate")
    caplog.set_level(logging.INFO)
    password = "Zebra-Password-4711"
    user = await make_user(password=password)
    login = await client.post(
        "/api/v1/auth/login?token=query-token-0815",
        json={"email": user.email, "password": password},
    )
    token = login.json()["data"]["token"]
    created_key = await client.post(
        "/api/v1/auth/api-keys", json={"name": "CRM"}, headers=user.headers
    )
    user_key = created_key.json()["data"]["key"]
    linked = await session_tools.link(user.headers)
    customer = await session_tools.phone(user.headers)
    outgoing = "Outgoing-Secret-Text-9c1f"
    sent = await client.post(
        "/api/v1/messages/send",
        json={"to": customer, "text": outgoing},
        headers={"x-api-key": linked.api_key},
    )
    assert sent.json()["data"]["status"] == "sent"
    by_user_key = await client.get(
        "/api/v1/messages/history",
        headers={"x-api-key": user_key, "x-session-id": linked.session_id},
    )
    assert by_user_key.status_code == 200
    incoming = "Incoming-Secret-Text-7d2e"
    await client.post(
        f"/sandbox/v1/phones/{customer}/messages",
        json={"to": linked.phone, "text": incoming},
        headers=user.headers,
    )

    async def stored() -> bool:
        history = await client.get(
            "/api/v1/messages/history",
            params={"direction": "in"},
            headers={"x-api-key": linked.api_key},
        )
        return any(m["text"] == incoming for m in history.json()["data"]["messages"])

    await wait_until(stored, what="the incoming message")

    formatter = json_formatter()
    logged = "\n".join(
        f"{record.getMessage()}\n{formatter.format(record)}" for record in caplog.records
    )
    assert "wagate.access" in logged  # the log was captured at all
    secrets = {
        "password": password,
        "token": token,
        "query token": "query-token-0815",
        "user API key": user_key,
        "session API key": linked.api_key,
        "sent text": outgoing,
        "received text": incoming,
    }
    leaked = [what for what, secret in secrets.items() if secret in logged]
    assert leaked == []


async def test_each_request_gets_its_own_id_unless_it_brings_a_safe_one(
    client: httpx.AsyncClient,
) -> None:
    ids = [(await client.get("/health")).headers["x-request-id"] for _ in range(3)]
    assert len(set(ids)) == 3, ids
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids), ids
    given = await client.get("/health", headers={"x-request-id": "client-chosen-id-42"})
    assert given.headers["x-request-id"] == "client-chosen-id-42"
    unsafe = await client.get("/health", headers={"x-request-id": "bad id\twith tab"})
    assert unsafe.headers["x-request-id"] != "bad id\twith tab"
    assert len(unsafe.headers["x-request-id"]) == 32
