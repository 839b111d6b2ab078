"""The webhook API as the SAK reference shows it, plus ours, scoped to its owner."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from wagate.webhooks.models import Webhook

pytestmark = pytest.mark.both_databases


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"allow_private_urls": True}


@pytest.fixture
def url(receiver: Any) -> str:
    value: str = receiver.url
    return value


@pytest.fixture
async def session_id(user: Any, session_tools: Any) -> str:
    created = await session_tools.create(user.headers)
    value: str = created["sessionId"]
    return value


async def test_create_list_update_delete_as_the_reference_shows(
    client: httpx.AsyncClient, user: Any, session_id: str, url: str
) -> None:
    created = await client.post(
        "/api/v1/webhooks",
        json={
            "sessionId": session_id,
            "url": url,
            "events": ["message.received", "session.connected", "session.disconnected"],
        },
        headers=user.headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["success"] is True
    data = body["data"]
    assert set(data) >= {"webhookId", "url", "secret", "events"}
    assert data["url"] == url
    assert data["events"] == ["message.received", "session.connected", "session.disconnected"]
    assert data["secret"].startswith("whsec_")
    webhook_id = data["webhookId"]

    listed = await client.get(
        "/api/v1/webhooks", params={"sessionId": session_id}, headers=user.headers
    )
    assert listed.status_code == 200
    [item] = listed.json()["data"]["webhooks"]
    assert {k: item[k] for k in ("id", "session_id", "url", "is_active", "failed_attempts")} == {
        "id": webhook_id,
        "session_id": session_id,
        "url": url,
        "is_active": True,
        "failed_attempts": 0,
    }
    assert item["events"] == data["events"]
    assert item["created_at"].endswith("Z")
    assert "secret" not in item

    updated = await client.put(
        f"/api/v1/webhooks/{webhook_id}",
        json={"url": url + "/new", "events": ["message"], "isActive": False},
        headers=user.headers,
    )
    assert updated.status_code == 200
    assert updated.json() == {"success": True, "message": "Webhook updated successfully"}
    [item] = (await client.get("/api/v1/webhooks", headers=user.headers)).json()["data"]["webhooks"]
    assert item["url"] == url + "/new"
    assert item["events"] == ["message.received"]
    assert item["is_active"] is False

    deleted = await client.delete(f"/api/v1/webhooks/{webhook_id}", headers=user.headers)
    assert deleted.json() == {"success": True, "message": "Webhook deleted successfully"}
    listed = await client.get("/api/v1/webhooks", headers=user.headers)
    assert listed.json()["data"]["webhooks"] == []


@pytest.mark.parametrize(
    ("events", "stored"),
    [
        (["message", "session"], ["message.received", "session.status"]),
        (["*"], ["*"]),
        (["message.status", "session.qr", "message.status"], ["message.status", "session.qr"]),
    ],
)
async def test_aliases_resolve_and_repeats_collapse(
    client: httpx.AsyncClient,
    user: Any,
    session_id: str,
    url: str,
    events: list[str],
    stored: list[str],
) -> None:
    response = await client.post(
        "/api/v1/webhooks",
        json={"sessionId": session_id, "url": url, "events": events},
        headers=user.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["events"] == stored


@pytest.mark.parametrize("events", [["message.sent"], ["message", "nonsense"], []])
async def test_unknown_events_are_refused(
    client: httpx.AsyncClient, user: Any, session_id: str, url: str, events: list[str]
) -> None:
    response = await client.post(
        "/api/v1/webhooks",
        json={"sessionId": session_id, "url": url, "events": events},
        headers=user.headers,
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "events" in response.json()["error"]["message"]


async def test_another_users_webhooks_are_not_found(
    client: httpx.AsyncClient, user: Any, make_user: Any, session_id: str, url: str, hooks: Any
) -> None:
    hook = await hooks.create(user.headers, session_id, url)
    other = await make_user()
    webhook_id = hook["webhookId"]
    attempts = [
        client.put(
            f"/api/v1/webhooks/{webhook_id}", json={"isActive": False}, headers=other.headers
        ),
        client.delete(f"/api/v1/webhooks/{webhook_id}", headers=other.headers),
        client.post(f"/api/v1/webhooks/{webhook_id}/test", headers=other.headers),
        client.post(f"/api/v1/webhooks/{webhook_id}/rotate-secret", headers=other.headers),
        client.get(f"/api/v1/webhooks/{webhook_id}/deliveries", headers=other.headers),
        client.post(
            f"/api/v1/webhooks/{webhook_id}/deliveries/{webhook_id}/retry", headers=other.headers
        ),
    ]
    for attempt in attempts:
        response = await attempt
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "NOT_FOUND"
    listed = await client.get("/api/v1/webhooks", headers=other.headers)
    assert listed.json()["data"]["webhooks"] == []
    # Nor may a webhook be put on someone else's session.
    response = await client.post(
        "/api/v1/webhooks",
        json={"sessionId": session_id, "url": url, "events": ["*"]},
        headers=other.headers,
    )
    assert response.status_code == 404
    # The owner's webhook is untouched.
    assert (await hooks.get(user.headers, webhook_id))["is_active"] is True


async def test_the_api_needs_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/webhooks")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "NO_TOKEN"


async def test_secrets_are_encrypted_at_rest_and_rotate(
    client: httpx.AsyncClient, app: FastAPI, user: Any, session_id: str, url: str, hooks: Any
) -> None:
    hook = await hooks.create(user.headers, session_id, url)
    async with app.state.database.transaction() as db:
        stored = (await db.execute(select(Webhook.secret_encrypted))).scalar_one()
    assert hook["secret"] not in stored
    assert hook["secret"].removeprefix("whsec_") not in stored

    rotated = await client.post(
        f"/api/v1/webhooks/{hook['webhookId']}/rotate-secret", headers=user.headers
    )
    assert rotated.status_code == 200
    new_secret = rotated.json()["data"]["secret"]
    assert new_secret.startswith("whsec_")
    assert new_secret != hook["secret"]


async def test_a_disabled_webhook_cannot_be_tested(
    client: httpx.AsyncClient, user: Any, session_id: str, url: str, hooks: Any
) -> None:
    hook = await hooks.create(user.headers, session_id, url)
    await client.put(
        f"/api/v1/webhooks/{hook['webhookId']}", json={"isActive": False}, headers=user.headers
    )
    response = await client.post(f"/api/v1/webhooks/{hook['webhookId']}/test", headers=user.headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "CONFLICT"
