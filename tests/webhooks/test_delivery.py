"""Events reach a real receiver, signed, in order, and survive a receiver that is down."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.both_databases

ALL_TYPES = {
    "session.status",
    "session.qr",
    "session.connected",
    "message.received",
    "message.status",
    "session.disconnected",
}


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {
        "allow_private_urls": True,
        "webhook_retry_delays": "0,0.2,0.4,0.4,0.4,0.4,0.4,0.4,0.4,0.4",
        "webhook_poll_seconds": 0.5,
    }


async def phone_says(
    client: httpx.AsyncClient, headers: dict[str, str], phone: str, to: str, text: str
) -> str:
    response = await client.post(
        f"/sandbox/v1/phones/{phone}/messages", json={"to": to, "text": text}, headers=headers
    )
    assert response.status_code == 201, response.text
    message_id: str = response.json()["data"]["messageId"]
    return message_id


async def test_every_event_type_arrives_signed(
    client: httpx.AsyncClient, user: Any, session_tools: Any, receiver: Any, hooks: Any
) -> None:
    created = await session_tools.create(user.headers)
    session_id = created["sessionId"]
    hook = await hooks.create(user.headers, session_id, receiver.url, ["*"])
    assert hook["secret"].startswith("whsec_")
    seen: dict[str, list[dict[str, Any]]] = {}
    ids: set[str] = set()
    sequences: list[int] = []

    async def collect_until(event: str) -> None:
        while event not in seen:
            request = await receiver.next()
            hooks.assert_signed(request, hook["secret"])
            body = request.json
            assert body["sessionId"] == session_id
            assert isinstance(body["timestamp"], int)
            assert isinstance(body["sequence"], int)
            sequences.append(body["sequence"])
            assert body["id"] not in ids, "every event has an id of its own"
            ids.add(body["id"])
            seen.setdefault(body["event"], []).append(body)

    # The first QR may have come before the webhook; the next rotation will not.
    await collect_until("session.qr")
    phone = await session_tools.phone(user.headers)
    code = await session_tools.qr(user.headers, session_id)
    linked = await client.post(
        f"/sandbox/v1/phones/{phone}/link", json={"qr": code}, headers=user.headers
    )
    assert linked.status_code == 200, linked.text
    await collect_until("session.connected")
    customer = await session_tools.phone(user.headers)
    incoming_id = await phone_says(client, user.headers, customer, phone, "Hi there ✓ 👋")
    await collect_until("message.received")
    sent = await client.post(
        "/api/v1/messages/send",
        json={"to": customer, "text": "Hello back"},
        headers={"x-api-key": created["apiKey"]},
    )
    assert sent.status_code == 200, sent.text
    await collect_until("message.status")
    logout = await client.post(f"/api/v1/sessions/{session_id}/logout", headers=user.headers)
    assert logout.status_code == 200, logout.text
    await collect_until("session.disconnected")

    assert set(seen) >= ALL_TYPES
    # A healthy endpoint gets the session's events in order, each with its own number.
    assert sequences == sorted(set(sequences))
    [received] = [m for m in seen["message.received"] if m["messageId"] == incoming_id]
    assert received["text"] == "Hi there ✓ 👋"
    assert received["type"] == "conversation"
    assert received["from"].startswith(customer)
    assert seen["session.qr"][0]["qrCode"]
    assert seen["session.connected"][0]["status"] == "connected"
    assert seen["session.connected"][0]["phoneNumber"] == phone
    assert any(s["messageId"] == sent.json()["data"]["messageId"] for s in seen["message.status"])
    assert seen["session.disconnected"][0]["status"] == "disconnected"


async def test_subscriptions_and_aliases_choose_what_is_sent(
    client: httpx.AsyncClient,
    user: Any,
    session_tools: Any,
    hooks: Any,
    make_receiver: Callable[..., Any],
) -> None:
    linked = await session_tools.link(user.headers)
    only_messages, only_sessions = make_receiver(), make_receiver()
    await only_messages.start()
    await only_sessions.start()
    hook = await hooks.create(user.headers, linked.session_id, only_messages.url, ["message"])
    assert hook["events"] == ["message.received"]
    await hooks.create(user.headers, linked.session_id, only_sessions.url, ["session"])
    customer = await session_tools.phone(user.headers)

    await phone_says(client, user.headers, customer, linked.phone, "first")
    await session_tools.fault(user.headers, kind="disconnect", sessionId=linked.session_id)
    await session_tools.wait_state(user.headers, linked.session_id, "connected")
    await phone_says(client, user.headers, customer, linked.phone, "second")

    assert [(await only_messages.next()).json["text"] for _ in range(2)] == ["first", "second"]
    statuses = [(await only_sessions.next()).json for _ in range(2)]
    assert {s["event"] for s in statuses} == {"session.status"}
    assert [s["state"] for s in statuses] == ["disconnected", "connected"]
    await only_messages.nothing_for(0.3)


async def test_secret_header_can_be_turned_off(
    client: httpx.AsyncClient, user: Any, session_tools: Any, receiver: Any, hooks: Any
) -> None:
    linked = await session_tools.link(user.headers)
    hook = await hooks.create(
        user.headers, linked.session_id, receiver.url, ["message"], sendSecretHeader=False
    )
    customer = await session_tools.phone(user.headers)
    await phone_says(client, user.headers, customer, linked.phone, "quiet")
    hooks.assert_signed(await receiver.next(), hook["secret"], secret_header=False)

    update = await client.put(
        f"/api/v1/webhooks/{hook['webhookId']}",
        json={"sendSecretHeader": True},
        headers=user.headers,
    )
    assert update.status_code == 200
    await phone_says(client, user.headers, customer, linked.phone, "loud")
    hooks.assert_signed(await receiver.next(), hook["secret"], secret_header=True)


async def test_a_receiver_down_for_several_rounds_gets_everything_in_order(
    client: httpx.AsyncClient,
    user: Any,
    session_tools: Any,
    hooks: Any,
    make_receiver: Callable[..., Any],
    eventually: Any,
) -> None:
    linked = await session_tools.link(user.headers)
    receiver = make_receiver()
    await receiver.start_broken()  # hangs up on every request
    hook = await hooks.create(user.headers, linked.session_id, receiver.url, ["message"])
    customer = await session_tools.phone(user.headers)
    texts = [f"message {n}" for n in range(8)]
    for text in texts:
        await phone_says(client, user.headers, customer, linked.phone, text)

    for _ in range(4):  # three different events fail (it is down), then a probe
        async with asyncio.timeout(15):
            await receiver.hangups.get()
    webhook = await hooks.get(user.headers, hook["webhookId"])
    assert webhook["failed_attempts"] >= 3
    await receiver.stop()
    receiver.answers = [(503, {"Retry-After": "0"}), (500, {})]
    await receiver.start()

    requests = []
    while len({r.json["text"] for r in requests[2:]}) < len(texts):
        requests.append(await receiver.next())
    # Two more failed probes (503, 500), then the first success ends the outage
    # and what waited goes out in order from the oldest.
    succeeded = list(dict.fromkeys(r.json["text"] for r in requests[2:]))
    assert succeeded[1:] == [t for t in texts if t != succeeded[0]]
    # A batch's results are recorded after its last request: wait for them.
    messages: list[dict[str, Any]] = []

    async def all_recorded() -> bool:
        found = await hooks.deliveries(user.headers, hook["webhookId"], limit=100)
        messages[:] = [d for d in found if d["eventType"] == "message.received"]
        return {d["status"] for d in messages} == {"succeeded"}

    await eventually(all_recorded, "every message recorded as succeeded")
    assert sorted(d["sequence"] for d in messages) == [d["sequence"] for d in messages][::-1]
    history = max(messages, key=lambda d: d["attempts"])["history"]
    codes = [a["statusCode"] for a in history]
    assert codes[-1] == 200 and None in codes
    assert "RemoteProtocolError" in (history[0]["error"] or "")
    assert all(a["nextRetryAt"] for a in history[:-1])
    assert history[-1]["nextRetryAt"] is None
    webhook = await hooks.get(user.headers, hook["webhookId"])
    assert webhook["failed_attempts"] == 0
    assert webhook["is_active"] is True
    assert webhook["last_success_at"]
