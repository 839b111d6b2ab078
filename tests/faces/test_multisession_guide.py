"""The multi-session guide's scenarios, driven as its text and snippets do:
two users, sessions with webhook URLs, connect, the QR WebSocket through a real
WebSocket client, both ways of sending, check-number, groups, and the webhook
body at a real receiver."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.faces.conftest import Guide, GuideUser
from tests.live.test_events_stream import SLOW_QR, receive
from websockets.asyncio.client import connect

pytestmark = pytest.mark.both_databases


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    # Slow QR rotation (a code read from the socket is still good when scanned);
    # the webhook receiver listens on loopback.
    return {**SLOW_QR, "allow_private_urls": True}


async def phone(client: httpx.AsyncClient, user: GuideUser, number: str, **extra: Any) -> str:
    response = await client.post(
        "/sandbox/v1/phones",
        json={"phone": number, "name": f"Phone {number[-4:]}", **extra},
        headers=user.headers,
    )
    assert response.status_code in (200, 201), response.text
    return number


async def link_over_websocket(
    client: httpx.AsyncClient, ws_base: str, user: GuideUser, session_id: str, number: str
) -> None:
    """The guide's JavaScript snippet: connect, open the socket, show the QR
    (here: a sandbox phone scans it), and wait for ``success``."""
    connected = await client.post(f"/api/sessions/{session_id}/connect", headers=user.headers)
    assert connected.status_code == 200, connected.text
    async with connect(f"{ws_base}/api/ws/{session_id}?token={user.token}") as ws:
        message = await receive(ws)
        assert message["type"] == "qr", message
        qr = message["data"]["qr"]
        assert isinstance(qr, str) and qr
        scanned = await client.post(
            f"/sandbox/v1/phones/{number}/link", json={"qr": qr}, headers=user.headers
        )
        assert scanned.status_code == 200, scanned.text
        while message["type"] == "qr":  # a rotated code may come before the scan lands
            message = await receive(ws)
        assert message == {"type": "success"}


async def test_the_guides_scenarios(
    client: httpx.AsyncClient,
    guide: Guide,
    ws_base: str,
    make_receiver: Any,
) -> None:
    receiver = make_receiver()
    await receiver.start()
    base = receiver.url.removesuffix("/hook")

    # Scenario 2: two users, each with their own token and sessions.
    admin = await guide.user("owner1")
    user2 = await guide.user("user2")
    # Scenario 1: one user, two numbers, each session with its webhook URL.
    business = await guide.create(
        admin, name="Business Support", webhook_url=f"{base}/webhook/business"
    )
    personal = await guide.create(
        admin, name="Personal Account", webhook_url=f"{base}/webhook/personal"
    )
    other = await guide.create(user2, name="User 2 Session")
    assert {s["id"] for s in await guide.sessions(admin)} == {business["id"], personal["id"]}
    assert [s["id"] for s in await guide.sessions(user2)] == [other["id"]]

    business_phone = await phone(client, admin, "6282260790996")
    personal_phone = await phone(client, admin, "6282260790997")
    await link_over_websocket(client, ws_base, admin, business["id"], business_phone)
    await link_over_websocket(client, ws_base, admin, personal["id"], personal_phone)

    # The monitoring snippet's view.
    sessions = await guide.sessions(admin)
    assert len(sessions) == 2
    assert all(s["connected"] and s["logged_in"] for s in sessions)
    by_id = {s["id"]: s for s in sessions}
    assert by_id[business["id"]]["phone"] == business_phone

    # Method 1: send from a specific session.
    customer = await phone(client, admin, "6281381393739", businessName="Customer Co")
    sent = await client.post(
        f"/api/sessions/{business['id']}/send",
        json={"recipient": customer, "message": "Hello from specific session!"},
        headers=admin.headers,
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["success"] is True
    assert sent.json()["status"] == "sent"
    # Method 2: choose the session by its phone number.
    by_phone = await client.post(
        "/api/send",
        json={
            "phone": personal_phone,
            "recipient": customer,
            "message": "Hello from selected phone!",
        },
        headers=admin.headers,
    )
    assert by_phone.status_code == 200, by_phone.text
    inbox = (
        await client.get(f"/sandbox/v1/phones/{customer}/messages", headers=admin.headers)
    ).json()["data"]["messages"]
    received = {(m["text"], m["from"].split("@")[0]) for m in inbox}
    assert ("Hello from specific session!", business_phone) in received
    assert ("Hello from selected phone!", personal_phone) in received

    # Check-number, with the business name the phone has.
    checked = await client.post(
        f"/api/sessions/{business['id']}/check-number",
        json={"number": customer},
        headers=admin.headers,
    )
    assert checked.status_code == 200, checked.text
    assert checked.json() == {
        "success": True,
        "number": customer,
        "on_whatsapp": True,
        "verified": True,
        "verified_name": "Customer Co",
    }
    unknown = await client.post(
        f"/api/sessions/{business['id']}/check-number",
        json={"number": "6289999999999"},
        headers=admin.headers,
    )
    assert unknown.json()["on_whatsapp"] is False
    assert unknown.json()["verified_name"] is None

    # Groups: the business number owns one and is a plain member of another.
    for name, owner, members in (
        ("Family Group", business_phone, [customer]),
        ("Work Team", customer, [business_phone]),
    ):
        created = await client.post(
            "/sandbox/v1/groups",
            json={"name": name, "owner": owner, "participants": members},
            headers=admin.headers,
        )
        assert created.status_code == 201, created.text
    listed = await client.get(f"/api/sessions/{business['id']}/groups", headers=admin.headers)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["success"] is True
    assert body["count"] == 2
    groups = {g["name"]: g for g in body["groups"]}
    family, work = groups["Family Group"], groups["Work Team"]
    assert set(family) == {
        "jid",
        "name",
        "topic",
        "description",
        "owner",
        "participant_count",
        "is_admin",
        "is_super_admin",
    }
    assert family["jid"].endswith("@g.us")
    assert family["owner"] == f"{business_phone}@s.whatsapp.net"
    assert family["participant_count"] == 2
    assert (family["is_admin"], family["is_super_admin"]) == (True, True)
    assert (work["is_admin"], work["is_super_admin"]) == (False, False)
    # The group-broadcast snippet sends to a group JID.
    to_group = await client.post(
        f"/api/sessions/{business['id']}/send",
        json={"recipient": work["jid"], "message": "Hi team"},
        headers=admin.headers,
    )
    assert to_group.status_code == 200, to_group.text

    # Webhook: an incoming message reaches the session's URL in the guide's shape.
    incoming = await client.post(
        f"/sandbox/v1/phones/{customer}/messages",
        json={"to": business_phone, "text": "Hello!"},
        headers=admin.headers,
    )
    assert incoming.status_code == 201, incoming.text
    delivery = await receiver.next()
    assert delivery.path == "/webhook/business"
    payload = delivery.json
    assert payload == {
        "session_id": business["id"],
        "message": {
            "id": incoming.json()["data"]["messageId"],
            "from": f"{customer}@s.whatsapp.net",
            "to": f"{business_phone}@s.whatsapp.net",
            "message": "Hello!",
            "timestamp": payload["message"]["timestamp"],
        },
    }
    assert isinstance(payload["message"]["timestamp"], int)
    # The guide shows no signature: none is sent.
    assert "x-webhook-signature" not in delivery.headers
    assert delivery.headers["content-type"] == "application/json"
    # Only messages go to a multi-session webhook (not the sends' status events).
    await receiver.nothing_for(0.5)

    # Changing the URL moves the deliveries.
    moved = await client.put(
        f"/api/sessions/{business['id']}/webhook",
        json={"webhook_url": f"{base}/webhook/moved"},
        headers=admin.headers,
    )
    assert moved.json() == {
        "success": True,
        "message": "Webhook updated",
        "webhook_url": f"{base}/webhook/moved",
    }
    await client.post(
        f"/sandbox/v1/phones/{customer}/messages",
        json={"to": business_phone, "text": "Again"},
        headers=admin.headers,
    )
    again = await receiver.next()
    assert again.path == "/webhook/moved"
    assert again.json["message"]["message"] == "Again"

    # Disconnect: not logged in any more is the guide's 404 on send.
    stopped = await client.post(f"/api/sessions/{business['id']}/disconnect", headers=admin.headers)
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["session"]["connected"] is False
    refused = await client.post(
        f"/api/sessions/{business['id']}/send",
        json={"recipient": customer, "message": "after disconnect"},
        headers=admin.headers,
    )
    assert refused.status_code == 404
    assert refused.json()["error"] == "Not Found"
