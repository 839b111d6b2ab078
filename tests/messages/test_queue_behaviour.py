"""How the send queue behaves: retries after WhatsApp's rate limit, final
failures, pacing, typing, and the lookups around a conversation."""

from __future__ import annotations

import itertools
from typing import Any

import httpx


async def detail(client: httpx.AsyncClient, key: dict[str, str], message_id: str) -> Any:
    response = await client.get(f"/api/v1/messages/{message_id}", headers=key)
    return response.json()["data"]


async def test_a_rate_limited_send_is_retried_and_then_sent(
    client: httpx.AsyncClient, user: Any, linked: Any, session_tools: Any, wait_until: Any
) -> None:
    customer = await session_tools.phone(user.headers)
    await session_tools.fault(
        user.headers, kind="rate_limit", sessionId=linked.session_id, count=1, retryAfter=0.2
    )
    key = {"x-api-key": linked.api_key}
    response = await client.post(
        "/api/v1/messages/send", json={"to": customer, "text": "patience"}, headers=key
    )
    message_id = response.json()["data"]["messageId"]

    async def delivered() -> bool:
        return bool((await detail(client, key, message_id))["status"] == "delivered")

    await wait_until(delivered, what="the retried message to be delivered")
    inbox = (
        await client.get(f"/sandbox/v1/phones/{customer}/messages", headers=user.headers)
    ).json()["data"]["messages"]
    assert [m["text"] for m in inbox] == ["patience"]


async def test_a_recipient_that_does_not_exist_fails_with_a_reason(
    client: httpx.AsyncClient, linked: Any, wait_until: Any
) -> None:
    key = {"x-api-key": linked.api_key}
    response = await client.post(
        "/api/v1/messages/send", json={"to": "19990001111", "text": "hello?"}, headers=key
    )
    assert response.json()["data"]["status"] == "failed"
    failed = await detail(client, key, response.json()["data"]["messageId"])
    assert failed["error"]
    assert [s["status"] for s in failed["statusHistory"]] == ["queued", "failed"]


async def test_pacing_spaces_messages_and_typing_shows_first(
    client: httpx.AsyncClient, user: Any, linked: Any, session_tools: Any, wait_until: Any
) -> None:
    customer = await session_tools.phone(user.headers)
    paced = await client.patch(
        f"/api/v1/sessions/{linked.session_id}",
        json={"sendRatePerMinute": 600},
        headers=user.headers,
    )
    assert paced.json()["data"]["send_rate_per_minute"] == 600
    key = {"x-api-key": linked.api_key}
    for index in range(3):
        await client.post(
            "/api/v1/messages/send",
            json={"to": customer, "text": f"paced {index}", "typingDelay": 50},
            headers=key,
        )

    async def all_arrived() -> list[Any] | None:
        inbox = (
            await client.get(f"/sandbox/v1/phones/{customer}/messages", headers=user.headers)
        ).json()["data"]["messages"]
        return inbox if len(inbox) == 3 else None

    await wait_until(all_arrived, what="three paced messages")
    inbox = await all_arrived()
    assert inbox is not None
    times = sorted(m["timestampMs"] for m in inbox)
    # 600 a minute is one every 100 ms; typing adds 50 ms before each.
    assert all(later - earlier >= 95 for earlier, later in itertools.pairwise(times))
    sessions = (await client.get("/sandbox/v1/sessions", headers=user.headers)).json()["data"]
    [seen] = [s for s in sessions["sessions"] if s["sessionId"] == linked.session_id]
    assert seen["lastPresence"] == "paused"  # typing…, then paused as the message went


async def test_chat_messages_and_presence(
    client: httpx.AsyncClient, user: Any, linked: Any, session_tools: Any
) -> None:
    customer = await session_tools.phone(user.headers)
    key = {"x-api-key": linked.api_key}
    await client.post("/api/v1/messages/send", json={"to": customer, "text": "one"}, headers=key)
    await client.post("/api/v1/messages/send", json={"to": customer, "text": "two"}, headers=key)
    conversation = (await client.get(f"/api/v1/chats/{customer}/messages", headers=key)).json()
    assert [m["text"] for m in conversation["data"]["messages"]] == ["two", "one"]
    typing = await client.post(
        "/api/v1/presence", json={"to": customer, "presence": "typing"}, headers=key
    )
    assert typing.status_code == 200
    bad = await client.post(
        "/api/v1/presence", json={"to": customer, "presence": "dancing"}, headers=key
    )
    assert bad.status_code == 400
