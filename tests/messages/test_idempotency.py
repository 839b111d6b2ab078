"""An ``Idempotency-Key`` names one request: repeated, it answers the first
message; reused for a different body or endpoint, it answers 422 and sends nothing."""

from __future__ import annotations

from typing import Any

import httpx


async def sent_texts(client: httpx.AsyncClient, headers: dict[str, str], phone: str) -> list[str]:
    response = await client.get(f"/sandbox/v1/phones/{phone}/messages", headers=headers)
    return [m.get("text") for m in response.json()["data"]["messages"]]


async def test_a_key_reused_with_another_body_is_refused(
    client: httpx.AsyncClient, user: Any, linked: Any, customer: str
) -> None:
    headers = {"x-api-key": linked.api_key, "Idempotency-Key": "order-7"}
    first = await client.post(
        "/api/v1/messages/send", json={"to": customer, "text": "first"}, headers=headers
    )
    assert first.status_code == 200, first.text
    again = await client.post(
        "/api/v1/messages/send", json={"to": customer, "text": "first"}, headers=headers
    )
    assert again.json()["data"]["messageId"] == first.json()["data"]["messageId"]
    other = await client.post(
        "/api/v1/messages/send", json={"to": customer, "text": "second"}, headers=headers
    )
    assert other.status_code == 422, other.text
    assert other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert "second" not in await sent_texts(client, user.headers, customer)


async def test_a_key_reused_on_another_endpoint_is_refused(
    client: httpx.AsyncClient, linked: Any, customer: str
) -> None:
    headers = {"x-api-key": linked.api_key, "Idempotency-Key": "order-8"}
    first = await client.post(
        "/api/v1/messages/send", json={"to": customer, "text": "here"}, headers=headers
    )
    assert first.status_code == 200, first.text
    location = await client.post(
        "/api/v1/messages/send-location",
        json={"to": customer, "latitude": 1.5, "longitude": 2.5},
        headers=headers,
    )
    assert location.status_code == 422, location.text
    assert location.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
