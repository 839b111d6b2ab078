"""How many times the send queue hands a message to the engine before a
temporary error becomes final: ``MAX_ATTEMPTS``, each try counted once."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from wagate.messages.models import Message
from wagate.messages.queue import MAX_ATTEMPTS
from wagate.messages.repository import MessageRepository

pytestmark = pytest.mark.both_databases


async def test_a_message_refused_every_time_is_tried_max_attempts_times_then_fails(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: Any,
    session_tools: Any,
    wait_until: Any,
) -> None:
    linked = await session_tools.link(user.headers)
    customer = await session_tools.phone(user.headers)
    refusals = MAX_ATTEMPTS + 5
    await session_tools.fault(
        user.headers,
        kind="rate_limit",
        sessionId=linked.session_id,
        count=refusals,
        retryAfter=0.01,
    )
    key = {"x-api-key": linked.api_key}
    response = await client.post(
        "/api/v1/messages/send", json={"to": customer, "text": "never"}, headers=key
    )
    message_id = response.json()["data"]["messageId"]

    async def failed() -> bool:
        detail = await client.get(f"/api/v1/messages/{message_id}", headers=key)
        return bool(detail.json()["data"]["status"] == "failed")

    await wait_until(failed, what="the message to fail once its tries are spent")
    status = (await client.get("/sandbox/v1/status", headers=user.headers)).json()["data"]
    tried = refusals - status["rateLimited"][linked.session_id]
    assert tried == MAX_ATTEMPTS, f"the engine was handed the message {tried} times"
    async with app.state.database.transaction() as db:
        stored: Message | None = await MessageRepository(db).get(
            uuid.UUID(linked.session_id), message_id
        )
    assert stored is not None
    assert stored.attempts == MAX_ATTEMPTS
