"""Incoming messages of every kind, one-to-one and in groups: stored, their media
kept and served, and written to the outbox as ``message.received``."""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from wagate.engines.base import MessageEvent
from wagate.events.models import OutboxEvent

pytestmark = pytest.mark.both_databases

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)
WEBP = b"RIFF" + (26).to_bytes(4, "little") + b"WEBPVP8 " + b"\x00" * 18


async def received_events(app: FastAPI, session_id: str) -> list[dict[str, Any]]:
    async with app.state.database.sessionmaker() as db:
        rows = await db.execute(
            select(OutboxEvent)
            .where(
                OutboxEvent.session_id == uuid.UUID(session_id),
                OutboxEvent.type == "message.received",
            )
            .order_by(OutboxEvent.seq)
        )
        return [row.payload for row in rows.scalars()]


async def phone_sends(
    client: httpx.AsyncClient, headers: dict[str, str], phone: str, body: dict[str, Any]
) -> str:
    response = await client.post(f"/sandbox/v1/phones/{phone}/messages", json=body, headers=headers)
    assert response.status_code == 201, response.text
    message_id: str = response.json()["data"]["messageId"]
    return message_id


async def test_every_kind_arrives_in_history_and_the_outbox(
    client: httpx.AsyncClient,
    app: FastAPI,
    user: Any,
    linked: Any,
    customer: str,
    wait_until: Any,
) -> None:
    b64 = base64.b64encode
    bodies: list[dict[str, Any]] = [
        {"to": linked.phone, "text": 'héllo 👋 \u2028 "quoted"'},
        {
            "to": linked.phone,
            "type": "image",
            "media": b64(PNG).decode(),
            "mimetype": "image/png",
            "caption": "a picture",
        },
        {
            "to": linked.phone,
            "type": "document",
            "media": b64(b"%PDF-1.4 doc").decode(),
            "mimetype": "application/pdf",
            "filename": "invoice.pdf",
        },
        {
            "to": linked.phone,
            "type": "audio",
            "media": b64(b"OggS voice").decode(),
            "mimetype": "audio/ogg; codecs=opus",
            "voiceNote": True,
        },
        {
            "to": linked.phone,
            "type": "video",
            "media": b64(b"\x00\x00\x00\x18ftypmp42").decode(),
            "mimetype": "video/mp4",
        },
        {
            "to": linked.phone,
            "type": "sticker",
            "media": b64(WEBP).decode(),
            "mimetype": "image/webp",
        },
        {
            "to": linked.phone,
            "type": "location",
            "latitude": 12.9716,
            "longitude": 77.5946,
            "name": "Office",
        },
        {
            "to": linked.phone,
            "type": "contact",
            "displayName": "Ravi",
            "vcard": "BEGIN:VCARD\nVERSION:3.0\nFN:Ravi\nEND:VCARD",
        },
    ]
    sent_ids = [await phone_sends(client, user.headers, customer, body) for body in bodies]
    sent_ids.append(
        await phone_sends(
            client,
            user.headers,
            customer,
            {"to": linked.phone, "type": "reaction", "targetMessageId": sent_ids[0], "emoji": "❤️"},
        )
    )

    async def all_received() -> bool:
        return len(await received_events(app, linked.session_id)) == len(sent_ids)

    await wait_until(all_received, what="every incoming message")
    events = await received_events(app, linked.session_id)
    assert [e["messageId"] for e in events] == sent_ids
    by_kind = {e["messageType"]: e for e in events}
    assert set(by_kind) == {
        "text",
        "image",
        "document",
        "audio",
        "video",
        "sticker",
        "location",
        "contact",
        "reaction",
    }
    text = by_kind["text"]
    assert text["type"] == "conversation"
    assert text["text"] == 'héllo 👋 \u2028 "quoted"'
    assert text["from"] == f"{customer}@s.whatsapp.net"
    assert text["isGroup"] is False
    assert text["sessionId"] == linked.session_id
    assert isinstance(text["timestamp"], int)
    assert by_kind["image"]["text"] == "a picture"
    assert by_kind["location"]["location"]["latitude"] == 12.9716
    assert by_kind["contact"]["contact"]["displayName"] == "Ravi"
    assert by_kind["reaction"]["reaction"] == {"messageId": sent_ids[0], "emoji": "❤️"}

    image = by_kind["image"]["media"]
    assert image["sha256"] == hashlib.sha256(PNG).hexdigest()
    media = await client.get(image["url"], headers={"x-api-key": linked.api_key})
    assert media.status_code == 200
    assert media.content == PNG
    assert by_kind["document"]["media"]["filename"] == "invoice.pdf"

    key = {"x-api-key": linked.api_key}
    history = (await client.get("/api/v1/messages/history?direction=in", headers=key)).json()
    assert len(history["data"]["messages"]) == len(sent_ids)
    assert {m["from_number"] for m in history["data"]["messages"]} == {customer}
    assert all(m["status"] == "received" for m in history["data"]["messages"])

    contacts = (await client.get("/api/v1/contacts", headers=key)).json()["data"]["contacts"]
    assert [c["phone_number"] for c in contacts] == [customer]
    chats = (await client.get("/api/v1/chats", headers=key)).json()["data"]["chats"]
    [chat] = chats
    assert chat["jid"] == f"{customer}@s.whatsapp.net"
    assert chat["unread_count"] == len(sent_ids)
    assert chat["last_message"]["message_id"] == sent_ids[-1]


async def test_marking_a_chat_read_sends_read_receipts_to_the_phone(
    client: httpx.AsyncClient, user: Any, linked: Any, customer: str, wait_until: Any
) -> None:
    message_id = await phone_sends(
        client, user.headers, customer, {"to": linked.phone, "text": "hi"}
    )
    key = {"x-api-key": linked.api_key}

    async def stored() -> bool:
        response = await client.get(f"/api/v1/messages/{message_id}", headers=key)
        return response.status_code == 200

    await wait_until(stored, what="the incoming message")
    marked = await client.post(f"/api/v1/chats/{customer}/read", headers=key)
    assert marked.json()["data"]["marked"] == 1
    outbox = (
        await client.get(f"/sandbox/v1/phones/{customer}/messages", headers=user.headers)
    ).json()["data"]["messages"]
    [mine] = [m for m in outbox if m["messageId"] == message_id]
    assert mine["status"] == "read"
    chats = (await client.get("/api/v1/chats", headers=key)).json()["data"]["chats"]
    assert chats[0]["unread_count"] == 0


async def test_groups_both_ways(
    client: httpx.AsyncClient,
    app: FastAPI,
    user: Any,
    linked: Any,
    session_tools: Any,
    wait_until: Any,
) -> None:
    alice = await session_tools.phone(user.headers)
    bob = await session_tools.phone(user.headers)
    created = await client.post(
        "/sandbox/v1/groups",
        json={"name": "Team", "owner": alice, "participants": [bob, linked.phone]},
        headers=user.headers,
    )
    assert created.status_code == 201, created.text
    group = created.json()["data"]["jid"]
    assert group.endswith("@g.us")

    message_id = await phone_sends(
        client, user.headers, alice, {"to": group, "text": "Hello group!"}
    )

    async def arrived() -> bool:
        return any(
            e["messageId"] == message_id for e in await received_events(app, linked.session_id)
        )

    await wait_until(arrived, what="the group message")
    [event] = [
        e for e in await received_events(app, linked.session_id) if e["messageId"] == message_id
    ]
    assert event["from"] == group
    assert event["isGroup"] is True
    assert event["participant"] == f"{alice}@s.whatsapp.net"

    key = {"x-api-key": linked.api_key}
    groups = (await client.get("/api/v1/groups", headers=key)).json()["data"]["groups"]
    assert [g["jid"] for g in groups] == [group]
    detail = (await client.get(f"/api/v1/groups/{group}", headers=key)).json()["data"]
    assert detail["name"] == "Team"
    assert detail["participant_count"] == 3
    assert detail["owner"] == f"{alice}@s.whatsapp.net"

    sent = await client.post(
        "/api/v1/messages/send", json={"to": group, "text": "Hi all"}, headers=key
    )
    assert sent.json()["data"]["status"] == "sent"
    for phone in (alice, bob):
        inbox = (
            await client.get(f"/sandbox/v1/phones/{phone}/messages", headers=user.headers)
        ).json()["data"]["messages"]
        assert any(m["text"] == "Hi all" and m["chat"] == group for m in inbox), phone


async def test_check_numbers_in_bulk(
    client: httpx.AsyncClient, user: Any, linked: Any, session_tools: Any
) -> None:
    known = await session_tools.phone(user.headers)
    response = await client.post(
        "/api/v1/contacts/check",
        json={"numbers": [f"+{known}", "19998887777"]},
        headers={"x-api-key": linked.api_key},
    )
    assert response.status_code == 200, response.text
    results = response.json()["data"]["results"]
    assert results == [
        {"number": known, "jid": f"{known}@s.whatsapp.net", "onWhatsApp": True},
        {"number": "19998887777", "jid": None, "onWhatsApp": False},
    ]


async def test_a_message_delivered_again_is_stored_and_announced_once(
    client: httpx.AsyncClient,
    app: FastAPI,
    user: Any,
    linked: Any,
    customer: str,
    wait_until: Any,
) -> None:
    """At-least-once from the network (an acknowledgement lost to a crash means the
    event comes again, under its message id) is exactly-once in the gateway."""
    first = await phone_sends(client, user.headers, customer, {"to": linked.phone, "text": "one"})

    async def received(count: int) -> bool:
        return len(await received_events(app, linked.session_id)) >= count

    await wait_until(lambda: received(1), what="the first message")
    network = app.state.session_manager.engines["sandbox"].network
    stored = network.state.find_message(linked.phone, first)
    again = MessageEvent(linked.session_id, stored.as_incoming(from_me=False))
    network.hub.deliver(linked.session_id, again)  # as a requeued, unacknowledged event
    second = await phone_sends(client, user.headers, customer, {"to": linked.phone, "text": "two"})
    await wait_until(lambda: received(2), what="the message after the repeat")

    events = await received_events(app, linked.session_id)
    assert [e["messageId"] for e in events] == [first, second]
    key = {"x-api-key": linked.api_key}
    history = (await client.get("/api/v1/messages/history?direction=in", headers=key)).json()
    assert sorted(m["message_id"] for m in history["data"]["messages"]) == sorted([first, second])
