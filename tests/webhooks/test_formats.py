"""Webhook formats: a ``multisession`` webhook gets incoming messages only, in
the multi-session guide's shape and unsigned, beside a ``sak`` webhook on the
same session that keeps every subscribed event, signed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.webhooks.test_delivery import phone_says

pytestmark = pytest.mark.both_databases


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"allow_private_urls": True, "webhook_poll_seconds": 0.5}


async def test_each_format_has_its_body_and_signing(
    client: httpx.AsyncClient,
    user: Any,
    session_tools: Any,
    make_receiver: Any,
    hooks: Any,
) -> None:
    linked = await session_tools.link(user.headers)
    guide_receiver, sak_receiver = make_receiver(), make_receiver()
    await guide_receiver.start()
    await sak_receiver.start()
    guide_hook = await hooks.create(
        user.headers, linked.session_id, guide_receiver.url, ["*"], format="multisession"
    )
    assert guide_hook["format"] == "multisession"
    sak_hook = await hooks.create(user.headers, linked.session_id, sak_receiver.url, ["*"])
    assert sak_hook["format"] == "sak"
    assert {
        w["format"]
        for w in (await client.get("/api/v1/webhooks", headers=user.headers)).json()["data"][
            "webhooks"
        ]
    } == {"sak", "multisession"}

    customer = await session_tools.phone(user.headers)
    message_id = await phone_says(client, user.headers, customer, linked.phone, "Hello!")

    delivered = await guide_receiver.next()
    assert delivered.json == {
        "session_id": linked.session_id,
        "message": {
            "id": message_id,
            "from": f"{customer}@s.whatsapp.net",
            "to": f"{linked.phone}@s.whatsapp.net",
            "message": "Hello!",
            "timestamp": delivered.json["message"]["timestamp"],
        },
    }
    assert not {"x-webhook-signature", "webhook-signature", "x-webhook-secret"} & set(
        delivered.headers
    )
    # The same event on the SAK webhook: its own payload, signed.
    signed = await sak_receiver.until("message.received")
    assert signed.json["messageId"] == message_id
    hooks.assert_signed(signed, sak_hook["secret"])
    # A send's status events go to the SAK webhook only.
    sent = await client.post(
        "/api/v1/messages/send",
        json={"to": customer, "text": "reply"},
        headers={"x-api-key": linked.api_key},
    )
    assert sent.status_code == 200, sent.text
    await sak_receiver.until("message.status")
    await guide_receiver.nothing_for(0.5)


async def test_an_unknown_format_is_refused(
    client: httpx.AsyncClient, user: Any, session_tools: Any
) -> None:
    created = await session_tools.create(user.headers)
    response = await client.post(
        "/api/v1/webhooks",
        json={
            "sessionId": created["sessionId"],
            "url": "https://example.com/hook",
            "events": ["*"],
            "format": "xml",
        },
        headers=user.headers,
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("format:")
    listed = await client.get("/api/v1/webhooks", headers=user.headers)
    assert listed.json()["data"]["webhooks"] == []
