"""Usage and per-session statistics count exactly what was sent, delivered, read,
received and failed, and each user sees only their own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from wagate.app import create_app
from wagate.config import Settings

pytestmark = pytest.mark.both_databases

NOT_ON_WHATSAPP = "15550009999"  # never a sandbox phone: the engine refuses it for good


async def send(client: httpx.AsyncClient, api_key: str, to: str, text: str) -> str:
    response = await client.post(
        "/api/v1/messages/send", json={"to": to, "text": text}, headers={"x-api-key": api_key}
    )
    assert response.status_code == 200, response.text
    message_id: str = response.json()["data"]["messageId"]
    return message_id


async def test_usage_counts_what_was_sent_received_and_failed(
    client: httpx.AsyncClient,
    user: Any,
    session_tools: Any,
    wait_until: Any,
    analytics: Any,
) -> None:
    linked = await session_tools.link(user.headers)
    customer = await session_tools.phone(user.headers)
    sent = [await send(client, linked.api_key, customer, f"hello {i}") for i in range(5)]
    for i in range(2):
        await send(client, linked.api_key, NOT_ON_WHATSAPP, f"lost {i}")
    for i in range(3):
        response = await client.post(
            f"/sandbox/v1/phones/{customer}/messages",
            json={"to": linked.phone, "text": f"reply {i}"},
            headers=user.headers,
        )
        assert response.status_code == 201, response.text
    read = await client.post(
        f"/sandbox/v1/phones/{customer}/read", json={"messageIds": sent[:2]}, headers=user.headers
    )
    assert read.status_code == 200, read.text
    history = await client.get("/api/v1/messages/history", headers={"x-api-key": linked.api_key})
    assert history.status_code == 200

    expected = {
        "messages_sent": 5,
        "messages_received": 3,
        "messages_failed": 2,
        "messages_delivered": 5,
        "messages_read": 2,
        "api_calls": 8,  # seven sends and one history read with the session's key
    }
    today: dict[str, Any] = {}

    async def counted() -> bool:
        today.update(await analytics.today(user.headers))
        return all(today[k] == v for k, v in expected.items())

    await wait_until(counted, what=f"usage to reach {expected} (is {today})")
    data = await analytics.usage(user.headers)
    assert data["summary"] == {
        "totalMessagesSent": 5,
        "totalMessagesReceived": 3,
        "totalMessagesFailed": 2,
        "totalMessagesDelivered": 5,
        "totalMessagesRead": 2,
        "totalApiCalls": 8,
    }
    [stats] = await analytics.sessions(user.headers)
    assert stats["session_id"] == linked.session_id
    assert stats["status"] == "connected"
    assert stats["phone_number"] == linked.phone
    assert stats["created_at"].endswith("Z")
    assert stats["api_calls"] == 8
    assert stats["messageStats"] == {
        "total": 8,
        "sent": 5,
        "received": 3,
        "failed": 2,
        "delivered": 5,
        "read": 2,
        "deliveryRate": 1.0,
        "readRate": 0.4,
    }


async def test_fifty_concurrent_sends_are_each_counted_once(
    client: httpx.AsyncClient,
    user: Any,
    session_tools: Any,
    wait_until: Any,
    analytics: Any,
) -> None:
    linked = await session_tools.link(user.headers)
    customer = await session_tools.phone(user.headers)
    ids = await asyncio.gather(
        *(send(client, linked.api_key, customer, f"burst {i}") for i in range(50))
    )
    assert len(set(ids)) == 50
    today: dict[str, Any] = {}

    async def all_delivered() -> bool:
        today.update(await analytics.today(user.headers))
        return bool(today["messages_delivered"] == 50)

    await wait_until(all_delivered, timeout=60, what=f"50 deliveries (usage {today})")
    assert today["messages_sent"] == 50
    assert today["messages_failed"] == 0
    assert today["api_calls"] == 50
    [stats] = await analytics.sessions(user.headers)
    assert stats["messageStats"]["sent"] == 50
    assert stats["messageStats"]["delivered"] == 50


async def test_one_users_analytics_never_include_anothers(
    client: httpx.AsyncClient,
    make_user: Any,
    session_tools: Any,
    wait_until: Any,
    analytics: Any,
) -> None:
    alice, bob = await make_user(), await make_user()
    alices, bobs = await session_tools.link(alice.headers), await session_tools.link(bob.headers)
    customer = await session_tools.phone(alice.headers)
    for i in range(2):
        await send(client, alices.api_key, customer, f"from alice {i}")
    await send(client, bobs.api_key, customer, "from bob")

    async def both_counted() -> bool:
        mine = await analytics.today(alice.headers)
        theirs = await analytics.today(bob.headers)
        return bool(mine["messages_delivered"] == 2 and theirs["messages_delivered"] == 1)

    await wait_until(both_counted, what="each user's deliveries")
    assert (await analytics.today(alice.headers))["messages_sent"] == 2
    assert (await analytics.today(bob.headers))["messages_sent"] == 1
    assert [s["session_id"] for s in await analytics.sessions(alice.headers)] == [alices.session_id]
    assert [s["session_id"] for s in await analytics.sessions(bob.headers)] == [bobs.session_id]
    alice_actions = await analytics.activity(alice.headers)
    assert {e["metadata"].get("sessionId") for e in alice_actions} - {None} == {alices.session_id}


async def test_a_deleted_sessions_usage_stays_with_its_owner(
    client: httpx.AsyncClient, user: Any, session_tools: Any, analytics: Any
) -> None:
    created = await session_tools.create(user.headers)
    await send(client, created["apiKey"], "15551112222", "queued, never sent")
    deleted = await client.delete(f"/api/v1/sessions/{created['sessionId']}", headers=user.headers)
    assert deleted.status_code == 200
    assert await analytics.sessions(user.headers) == []
    assert (await analytics.today(user.headers))["api_calls"] == 1


async def test_date_ranges(client: httpx.AsyncClient, user: Any, analytics: Any) -> None:
    today = datetime.now(UTC).date()
    default = await analytics.usage(user.headers)
    assert len(default["daily"]) == 30
    assert default["endDate"] == today.isoformat()
    assert all(d["messages_sent"] == 0 and d["api_calls"] == 0 for d in default["daily"])

    week_ago = (today - timedelta(days=6)).isoformat()
    week = await analytics.usage(user.headers, startDate=week_ago, endDate=today.isoformat())
    assert [d["date"] for d in week["daily"]] == [
        (today - timedelta(days=n)).isoformat() for n in range(6, -1, -1)
    ]
    for params, problem in (
        ({"startDate": "2025-13-01"}, "startDate"),
        ({"endDate": "12/12/2025"}, "endDate"),
        ({"endDate": "20251212"}, "endDate"),
        ({"startDate": "2025-12-12", "endDate": "2025-12-01"}, "after"),
        ({"startDate": "2020-01-01", "endDate": "2025-01-01"}, "at most"),
    ):
        response = await client.get("/api/v1/analytics/usage", params=params, headers=user.headers)
        assert response.status_code == 400, params
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        assert problem in response.json()["error"]["message"]
    assert (await client.get("/api/v1/analytics/usage")).status_code == 401


async def test_api_calls_are_buffered_and_written_at_shutdown(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    user: Any,
    session_tools: Any,
    analytics: Any,
) -> None:
    created = await session_tools.create(user.headers)
    key = {"x-api-key": created["apiKey"]}
    for _ in range(3):
        assert (await client.get("/api/v1/sessions/me", headers=key)).status_code == 200
    # Counted in memory: this instance's report has them, the database not yet.
    assert (await analytics.today(user.headers))["api_calls"] == 3
    other = create_app(settings)  # a second process on the same database
    async with LifespanManager(other, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://b.test") as b:
            assert (await today_on(b, user.headers))["api_calls"] == 0
            assert (await b.get("/api/v1/sessions/me", headers=key)).status_code == 200
            assert (await today_on(b, user.headers))["api_calls"] == 1
    # The second instance wrote its call when it shut down; ours are still pending.
    assert (await analytics.today(user.headers))["api_calls"] == 4
    await app.state.api_calls.flush()
    assert (await analytics.today(user.headers))["api_calls"] == 4
    assert app.state.api_calls.pending() == {}


async def today_on(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get("/api/v1/analytics/usage", headers=headers)
    assert response.status_code == 200, response.text
    row: dict[str, Any] = response.json()["data"]["daily"][-1]
    return row
