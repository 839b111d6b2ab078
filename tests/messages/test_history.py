"""Past messages (history sync) and undecryptable messages that an engine reports: stored,
reported once, never as ``message.received`` (the whatsmeow engine reports them; the
sandbox does not, so the events go straight into the session manager)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from wagate.engines.base import (
    HistorySyncEvent,
    IncomingMessage,
    MessageEvent,
    UndecryptableEvent,
)
from wagate.events.models import OutboxEvent

ALICE, BOB, GROUP = "15550002222", "15550003333", "120363000000000001@g.us"


async def outbox(app: FastAPI, session_id: str) -> list[tuple[str, dict[str, Any]]]:
    async with app.state.database.sessionmaker() as db:
        rows = await db.execute(
            select(OutboxEvent)
            .where(OutboxEvent.session_id == uuid.UUID(session_id))
            .where(OutboxEvent.type.like("message.%") | OutboxEvent.type.like("history.%"))
            .order_by(OutboxEvent.seq)
        )
        envelope = {"id", "event", "sessionId"}
        return [
            (event.type, {k: v for k, v in event.payload.items() if k not in envelope})
            for event in rows.scalars()
        ]


def past(
    message_id: str, chat: str, sender: str, days_ago: float, **fields: Any
) -> IncomingMessage:
    return IncomingMessage(
        message_id=message_id,
        chat=chat,
        sender=sender,
        timestamp=datetime.now(UTC) - timedelta(days=days_ago),
        kind="text",
        **fields,
    )


async def test_a_history_batch_is_stored_once_and_reported_once(
    client: httpx.AsyncClient, app: FastAPI, user: Any, session_tools: Any
) -> None:
    linked = await session_tools.link(user.headers)
    alice, bob = f"{ALICE}@s.whatsapp.net", f"{BOB}@s.whatsapp.net"
    me = f"{linked.phone}@s.whatsapp.net"
    batch = (
        past("H1", alice, alice, 3, text="hello from last week", push_name="Alice"),
        past("H2", alice, me, 2, text="hi Alice", from_me=True),
        past("H3", GROUP, bob, 1, text="group talk", push_name="Bob"),
    )
    manager = app.state.session_manager
    await manager.handle_event(HistorySyncEvent(linked.session_id, batch, "initial", 40))
    await manager.handle_event(HistorySyncEvent(linked.session_id, batch, "initial", 80))
    key = {"x-api-key": linked.api_key}
    for message in batch:
        answer = await client.get(f"/api/v1/messages/{message.message_id}", headers=key)
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["text"] == message.text
    events = await outbox(app, linked.session_id)
    assert [kind for kind, _ in events] == ["history.synced", "history.synced"]
    first, again = events[0][1], events[1][1]
    assert first["messages"] == 3 and first["chats"] == 2 and first["progress"] == 40
    assert first["kind"] == "initial"
    assert first["oldestTimestamp"] == int(batch[0].timestamp.timestamp())
    assert first["newestTimestamp"] == int(batch[-1].timestamp.timestamp())
    assert again["messages"] == 0 and again["progress"] == 80  # nothing stored twice


async def test_history_does_not_push_back_a_newer_last_message(
    client: httpx.AsyncClient, app: FastAPI, user: Any, session_tools: Any
) -> None:
    linked = await session_tools.link(user.headers)
    alice = f"{ALICE}@s.whatsapp.net"
    manager = app.state.session_manager
    live = past("LIVE", alice, alice, 0, text="just now")
    await manager.handle_event(MessageEvent(linked.session_id, live))
    old = past("OLD", alice, alice, 5, text="long ago")
    await manager.handle_event(HistorySyncEvent(linked.session_id, (old,), "recent"))
    chats = (await client.get("/api/v1/chats", headers={"x-api-key": linked.api_key})).json()
    chat = next(c for c in chats["data"]["chats"] if c["jid"] == alice)
    assert chat["last_message"]["message_id"] == "LIVE", chat


async def test_an_undecryptable_message_is_kept_until_it_arrives(
    client: httpx.AsyncClient, app: FastAPI, user: Any, session_tools: Any
) -> None:
    linked = await session_tools.link(user.headers)
    alice = f"{ALICE}@s.whatsapp.net"
    manager = app.state.session_manager
    lost = past("U1", alice, alice, 0, push_name="Alice")
    await manager.handle_event(UndecryptableEvent(linked.session_id, lost, "decryption_failed"))
    await manager.handle_event(UndecryptableEvent(linked.session_id, lost, "decryption_failed"))
    key = {"x-api-key": linked.api_key}
    placeholder = (await client.get("/api/v1/messages/U1", headers=key)).json()["data"]
    assert placeholder["content"] == {"reason": "decryption_failed"}, placeholder
    assert placeholder["text"] is None
    assert placeholder["message_type"] == "undecryptable"
    events = await outbox(app, linked.session_id)
    assert events == [
        (
            "message.undecryptable",
            {
                "messageId": "U1",
                "from": alice,
                "chat": alice,
                "isGroup": False,
                "participant": None,
                "sender": alice,
                "senderLid": None,
                "pushName": "Alice",
                "timestamp": int(lost.timestamp.timestamp()),
                "reason": "decryption_failed",
            },
        )
    ]
    # the sender's phone resent it and this time it decrypted
    arrived = past("U1", alice, alice, 0, text="can you read me now?", push_name="Alice")
    await manager.handle_event(MessageEvent(linked.session_id, arrived))
    message = (await client.get("/api/v1/messages/U1", headers=key)).json()["data"]
    assert message["text"] == "can you read me now?" and message["content"] is None
    kinds = [kind for kind, _ in await outbox(app, linked.session_id)]
    assert kinds == ["message.undecryptable", "message.received"]
