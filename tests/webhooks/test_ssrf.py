"""With private URLs not allowed (the default), other users' webhooks cannot reach
the gateway's own network: refused when registered, and refused again, visibly,
when delivered. The administrator's may reach loopback and private ranges, never
link-local or cloud metadata."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from wagate.events.models import OutboxEvent
from wagate.storage.base import utcnow
from wagate.webhooks.crypto import encrypt_secret
from wagate.webhooks.models import Webhook
from wagate.webhooks.signing import generate_secret

pytestmark = pytest.mark.both_databases


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"allow_private_urls": False}


async def admin_headers(client: httpx.AsyncClient) -> dict[str, str]:
    login = await client.post(
        "/api/v1/auth/login", json={"email": "admin@example.com", "password": "admin-password-1"}
    )
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['data']['token']}"}


@pytest.fixture
async def session_id(user: Any, session_tools: Any) -> str:
    created = await session_tools.create(user.headers)
    value: str = created["sessionId"]
    return value


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://localhost/hook",
        "ftp://93.184.215.14/hook",
        "http://user:pass@93.184.215.14/hook",
    ],
)
async def test_private_and_odd_urls_are_refused(
    client: httpx.AsyncClient, user: Any, session_id: str, url: str
) -> None:
    response = await client.post(
        "/api/v1/webhooks",
        json={"sessionId": session_id, "url": url, "events": ["message"]},
        headers=user.headers,
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert response.json()["error"]["message"].startswith("url:")


async def test_a_refusal_names_the_setting_and_not_the_address(
    client: httpx.AsyncClient, user: Any, session_id: str
) -> None:
    response = await client.post(
        "/api/v1/webhooks",
        json={"sessionId": session_id, "url": "http://localhost:9/hook", "events": ["*"]},
        headers=user.headers,
    )
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert "localhost is not allowed" in message
    assert "WAGATE_ALLOW_PRIVATE_URLS" in message
    assert "127.0.0.1" not in message and "loopback" not in message


async def test_the_administrators_webhooks_reach_a_receiver_beside_the_gateway(
    client: httpx.AsyncClient, session_tools: Any, hooks: Any, receiver: Any
) -> None:
    admin = await admin_headers(client)
    session = await session_tools.create(admin)
    hook = await hooks.create(admin, session["sessionId"], receiver.url, ["*"])
    response = await client.post(f"/api/v1/webhooks/{hook['webhookId']}/test", headers=admin)
    assert response.status_code == 200, response.text
    request = await receiver.until("webhook.test")
    hooks.assert_signed(request, hook["secret"])
    for url in ("http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/hook"):
        refused = await client.post(
            "/api/v1/webhooks",
            json={"sessionId": session["sessionId"], "url": url, "events": ["*"]},
            headers=admin,
        )
        assert refused.status_code == 400, refused.text
        assert "WAGATE_ALLOW_LINK_LOCAL_URLS" in refused.json()["error"]["message"]


async def test_an_update_to_a_private_url_is_refused(
    client: httpx.AsyncClient, user: Any, session_id: str, hooks: Any
) -> None:
    # A literal public address passes without DNS; no event is ever sent to it.
    hook = await hooks.create(user.headers, session_id, "https://93.184.215.14/hook", ["message"])
    for url in ("http://127.0.0.1:9/hook", "http://169.254.169.254/"):
        response = await client.put(
            f"/api/v1/webhooks/{hook['webhookId']}", json={"url": url}, headers=user.headers
        )
        assert response.status_code == 400, response.text
    assert (await hooks.get(user.headers, hook["webhookId"]))["url"] == "https://93.184.215.14/hook"


async def test_delivery_checks_the_address_again(
    client: httpx.AsyncClient,
    app: FastAPI,
    user: Any,
    session_id: str,
    hooks: Any,
    receiver: Any,
    wait_until: Any,
) -> None:
    """A URL that passed at registration may point inward later (DNS rebinding),
    or was registered while private URLs were allowed: the delivery itself is
    refused, the receiver never hears of it, and the webhook says why (disabled,
    its log, a ``webhook.disabled`` event) instead of leaving a silent pending row."""
    settings = app.state.settings
    async with app.state.database.transaction() as db:
        db.add(
            Webhook(
                user_id=uuid.UUID(user.id),
                session_id=uuid.UUID(session_id),
                url=receiver.url,
                events=["message.received"],
                secret_encrypted=encrypt_secret(generate_secret(), settings.resolved_secret_key),
                created_at=utcnow(),
            )
        )
    [hook] = (await client.get("/api/v1/webhooks", headers=user.headers)).json()["data"]["webhooks"]
    response = await client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=user.headers)
    assert response.status_code == 200

    async def disabled() -> bool:
        return not (await hooks.get(user.headers, hook["id"]))["is_active"]

    await wait_until(disabled, what="the refused delivery to disable the webhook")
    assert (await hooks.get(user.headers, hook["id"]))["disabled_reason"] == "refused"
    [delivery] = await hooks.deliveries(user.headers, hook["id"])
    assert delivery["lastStatusCode"] is None
    assert "refused by the outbound request policy" in delivery["lastError"]
    assert "WAGATE_ALLOW_PRIVATE_URLS" in delivery["lastError"]
    async with app.state.database.sessionmaker() as db:
        events = (
            await db.scalars(
                select(OutboxEvent.payload).where(OutboxEvent.type == "webhook.disabled")
            )
        ).all()
    assert [(e["webhookId"], e["reason"]) for e in events] == [(hook["id"], "refused")]
    await receiver.nothing_for(0.2)
    # Enabling it again is refused at once, with the same reason, while the policy holds.
    enabled = await client.put(
        f"/api/v1/webhooks/{hook['id']}", json={"isActive": True}, headers=user.headers
    )
    assert enabled.status_code == 400, enabled.text
    assert "WAGATE_ALLOW_PRIVATE_URLS" in enabled.json()["error"]["message"]
