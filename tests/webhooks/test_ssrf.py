"""With private URLs not allowed (the default), webhooks cannot reach the gateway's
own network: refused when registered, and refused again when delivered."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from wagate.storage.base import utcnow
from wagate.webhooks.crypto import encrypt_secret
from wagate.webhooks.models import Webhook
from wagate.webhooks.signing import generate_secret

pytestmark = pytest.mark.both_databases


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    # The first failure disables the webhook: that writes an outbox event the
    # test can wait on.
    return {"allow_private_urls": False, "webhook_disable_after_hours": 1e-9}


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
    """A URL that passed at registration may point inward later (DNS rebinding):
    the delivery itself is refused, and the receiver never hears of it."""
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
    [delivery] = await hooks.deliveries(user.headers, hook["id"])
    assert delivery["lastStatusCode"] is None
    assert "refused by the outbound request policy" in delivery["lastError"]
    assert "loopback" in delivery["lastError"]
    await receiver.nothing_for(0.2)
