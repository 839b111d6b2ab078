"""Edits and deletions that an engine reports change the stored message and are
written to the outbox (the whatsmeow engine reports them; the sandbox does not,
so the events go straight into the session manager, the engines' event sink)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from wagate.engines.base import IncomingMessage, MessageEvent
from wagate.events.models import OutboxEvent


async def test_an_edit_then_a_revoke_of_an_incoming_message(
    client: httpx.AsyncClient, app: FastAPI, user: Any, session_tools: Any, wait_until: Any
) -> None:
    linked = await session_tools.link(user.headers)
    customer = await session_tools.phone(user.headers)
    sent = await client.post(
        f"/sandbox/v1/phones/{customer}/messages",
        json={"to": linked.phone, "text": "see you at 5"},
        headers=user.headers,
    )
    message_id = sent.json()["data"]["messageId"]
    key = {"x-api-key": linked.api_key}

    async def stored() -> bool:
        return (await client.get(f"/api/v1/messages/{message_id}", headers=key)).status_code == 200

    await wait_until(stored, what="the original message")
    manager = app.state.session_manager
    base = {
        "message_id": message_id,
        "chat": f"{customer}@s.whatsapp.net",
        "sender": f"{customer}@s.whatsapp.net",
        "timestamp": datetime.now(UTC),
        "kind": "text",
    }
    await manager.handle_event(
        MessageEvent(linked.session_id, IncomingMessage(**base, text="see you at 6", edited=True))
    )
    detail = (await client.get(f"/api/v1/messages/{message_id}", headers=key)).json()["data"]
    assert detail["text"] == "see you at 6"

    await manager.handle_event(
        MessageEvent(linked.session_id, IncomingMessage(**base, revoked=True))
    )
    detail = (await client.get(f"/api/v1/messages/{message_id}", headers=key)).json()["data"]
    assert detail["text"] is None
    assert detail["content"] == {"revoked": True}

    async with app.state.database.sessionmaker() as db:
        rows = await db.execute(
            select(OutboxEvent)
            .where(OutboxEvent.session_id == uuid.UUID(linked.session_id))
            .where(OutboxEvent.type.in_(["message.edited", "message.revoked"]))
            .order_by(OutboxEvent.seq)
        )
        events = [(e.type, e.payload.get("text")) for e in rows.scalars()]
    assert events == [("message.edited", "see you at 6"), ("message.revoked", None)]
