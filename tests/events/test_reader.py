"""The outbox's one reader: a commit that wrote an event wakes it, whoever
committed (a request, ``Database.transaction()``) and with no signal passed; it
feeds the webhook relay and the live hub from one read; and it still polls, so
another process's events arrive too."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from tests.webhooks.conftest import Hooks, Receiver

from wagate.config import Settings
from wagate.events.service import record_event
from wagate.storage.db import Database

pytestmark = pytest.mark.both_databases

# So long that only a wake-up can deliver within a test's timeouts.
NO_POLL = {"webhook_poll_seconds": 60.0, "allow_private_urls": True}
PROMPT = 5.0


async def user_hook(hooks: Hooks, user: Any, url: str, events: list[str]) -> dict[str, Any]:
    response = await hooks.client.post(
        "/api/v1/webhooks", json={"url": url, "events": events}, headers=user.headers
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def record(database: Database, user_id: str, name: str, **data: Any) -> None:
    async with database.transaction() as db:
        await record_event(
            db, user_id=uuid.UUID(user_id), session_id=None, event_type=name, data=data
        )


@pytest.mark.parametrize("settings_overrides", [NO_POLL])
async def test_an_event_of_any_transaction_wakes_the_relay_and_the_hub(
    app: FastAPI, user: Any, hooks: Hooks, receiver: Receiver
) -> None:
    await user_hook(hooks, user, receiver.url, ["campaign.progress"])
    subscriber = await app.state.live_hub.subscribe_user(
        uuid.UUID(user.id), lambda event: event.session_id is None
    )
    try:
        started = time.monotonic()
        # A unit of work outside a request, with no signal in sight.
        await record(app.state.database, user.id, "campaign.progress", campaignId="c1")
        async with asyncio.timeout(PROMPT):
            streamed = await subscriber.queue.get()
        assert (streamed.type, streamed.payload["campaignId"]) == ("campaign.progress", "c1")
        delivered = await receiver.until("campaign.progress", timeout=PROMPT)
        assert delivered.json["campaignId"] == "c1"
        assert time.monotonic() - started < PROMPT
    finally:
        app.state.live_hub.unsubscribe(subscriber)


@pytest.mark.parametrize("settings_overrides", [NO_POLL])
async def test_an_event_a_request_commits_wakes_the_relay(
    client: httpx.AsyncClient, user: Any, hooks: Hooks, receiver: Receiver
) -> None:
    created = await user_hook(hooks, user, receiver.url, ["*"])
    # The request's own transaction (deps.get_db) records webhook.test.
    response = await client.post(
        f"/api/v1/webhooks/{created['webhookId']}/test", headers=user.headers
    )
    assert response.status_code == 200, response.text
    delivered = await receiver.until("webhook.test", timeout=PROMPT)
    assert delivered.json["webhookId"] == created["webhookId"]
    assert "sessionId" not in delivered.json  # a user's event, not a session's


@pytest.mark.parametrize("settings_overrides", [NO_POLL])
async def test_a_rolled_back_event_reaches_nobody(
    app: FastAPI, user: Any, hooks: Hooks, receiver: Receiver
) -> None:
    await user_hook(hooks, user, receiver.url, ["campaign.progress"])
    database: Database = app.state.database
    with pytest.raises(RuntimeError):
        async with database.transaction() as db:
            await record_event(
                db,
                user_id=uuid.UUID(user.id),
                session_id=None,
                event_type="campaign.progress",
                data={"campaignId": "gone"},
            )
            raise RuntimeError("roll back")
    await record(database, user.id, "campaign.progress", campaignId="kept")
    delivered = await receiver.until("campaign.progress", timeout=PROMPT)
    assert delivered.json["campaignId"] == "kept"


@pytest.mark.parametrize("settings_overrides", [{**NO_POLL, "webhook_poll_seconds": 0.2}])
async def test_another_processs_events_arrive_by_polling(
    app: FastAPI, settings: Settings, user: Any, hooks: Hooks, receiver: Receiver
) -> None:
    await user_hook(hooks, user, receiver.url, ["campaign.progress"])
    subscriber = await app.state.live_hub.subscribe_user(
        uuid.UUID(user.id), lambda event: event.session_id is None
    )
    # Another process: its own engine and sessionmaker, whose commits wake nothing here.
    other = Database.from_settings(settings)
    try:
        await record(other, user.id, "campaign.progress", campaignId="elsewhere")
        async with asyncio.timeout(PROMPT):
            streamed = await subscriber.queue.get()
        assert streamed.payload["campaignId"] == "elsewhere"
        delivered = await receiver.until("campaign.progress", timeout=PROMPT)
        assert delivered.json["campaignId"] == "elsewhere"
    finally:
        app.state.live_hub.unsubscribe(subscriber)
        await other.dispose()
