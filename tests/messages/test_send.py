"""Sending every kind of message through the API to sandbox phones."""

from __future__ import annotations

import base64
import hashlib
import struct
import zlib
from typing import Any

import httpx
import pytest


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def tiny_mp4() -> bytes:
    ftyp = b"ftypisom" + b"\x00\x00\x02\x00" + b"isomiso2avc1mp41"
    return struct.pack(">I", len(ftyp) + 4) + ftyp + b"\x00" * 64


def tiny_ogg() -> bytes:
    return b"OggS" + b"\x00\x02" + b"\x00" * 22 + b"\x01\x13" + b"OpusHead" + b"\x01" * 32


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def phone_inbox(client: httpx.AsyncClient, headers: dict[str, str], phone: str) -> list[Any]:
    response = await client.get(f"/sandbox/v1/phones/{phone}/messages", headers=headers)
    assert response.status_code == 200, response.text
    messages: list[Any] = response.json()["data"]["messages"]
    return messages


async def test_text_is_sent_delivered_and_read(
    client: httpx.AsyncClient, user: Any, linked: Any, customer: str, wait_until: Any
) -> None:
    key = {"x-api-key": linked.api_key}
    response = await client.post(
        "/api/v1/messages/send", json={"to": f"+{customer}", "text": "Hello 👋"}, headers=key
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["status"] == "sent"
    assert data["messageId"].startswith("3EB0")

    [received] = [
        m for m in await phone_inbox(client, user.headers, customer) if m["direction"] == "in"
    ]
    assert received["messageId"] == data["messageId"]
    assert received["text"] == "Hello 👋"
    assert received["from"].startswith(linked.phone)

    async def status_is(expected: str) -> bool:
        detail = await client.get(f"/api/v1/messages/{data['messageId']}", headers=key)
        return bool(detail.json()["data"]["status"] == expected)

    await wait_until(lambda: status_is("delivered"), what="delivered")
    read = await client.post(
        f"/sandbox/v1/phones/{customer}/read",
        json={"messageIds": [data["messageId"]]},
        headers=user.headers,
    )
    assert read.status_code == 200, read.text
    await wait_until(lambda: status_is("read"), what="read")
    detail = (await client.get(f"/api/v1/messages/{data['messageId']}", headers=key)).json()["data"]
    assert [s["status"] for s in detail["statusHistory"]] == ["queued", "sent", "delivered", "read"]


@pytest.mark.parametrize(
    ("kind", "field", "payload", "mimetype"),
    [
        ("image", "image", tiny_png(), "image/png"),
        ("video", "video", tiny_mp4(), "video/mp4"),
        ("audio", "audio", tiny_ogg(), "audio/ogg"),
        ("document", "document", PDF, "application/pdf"),
    ],
)
async def test_media_arrives_byte_for_byte(
    client: httpx.AsyncClient,
    user: Any,
    linked: Any,
    customer: str,
    kind: str,
    field: str,
    payload: bytes,
    mimetype: str,
) -> None:
    response = await client.post(
        f"/api/v1/messages/send-{kind}",
        data={"to": customer, "caption": f"a {kind}", "filename": f"file.{kind}"},
        files={field: (f"upload.{kind}", payload, mimetype)},
        headers={"x-api-key": linked.api_key},
    )
    assert response.status_code == 200, response.text
    message_id = response.json()["data"]["messageId"]
    [received] = [
        m for m in await phone_inbox(client, user.headers, customer) if m["messageId"] == message_id
    ]
    assert received["type"] == kind
    assert received["sha256"] == hashlib.sha256(payload).hexdigest()
    assert received["size"] == len(payload)
    assert received["caption"] == f"a {kind}"
    if kind == "document":
        assert received["mimetype"] == "application/pdf"
        assert received["filename"] == "file.document"


async def test_media_as_base64_json(
    client: httpx.AsyncClient, user: Any, linked: Any, customer: str
) -> None:
    png = tiny_png()
    response = await client.post(
        "/api/v1/messages/send-image",
        json={"to": customer, "media": base64.b64encode(png).decode(), "mimetype": "image/png"},
        headers={"x-api-key": linked.api_key},
    )
    assert response.status_code == 200, response.text
    inbox = await phone_inbox(client, user.headers, customer)
    assert inbox[0]["sha256"] == hashlib.sha256(png).hexdigest()


async def test_an_image_that_is_not_an_image_is_refused(
    client: httpx.AsyncClient, linked: Any, customer: str
) -> None:
    response = await client.post(
        "/api/v1/messages/send-image",
        data={"to": customer},
        files={"image": ("fake.png", b"this is text", "image/png")},
        headers={"x-api-key": linked.api_key},
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


@pytest.mark.parametrize("to", ["hello", "12", "123@example.com", "abc@g.us", ""])
async def test_a_bad_recipient_is_a_validation_error_naming_the_field(
    client: httpx.AsyncClient, linked: Any, to: str
) -> None:
    response = await client.post(
        "/api/v1/messages/send", json={"to": to, "text": "x"}, headers={"x-api-key": linked.api_key}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "to" in response.json()["error"]["message"]


async def test_idempotency_key_sends_once(
    client: httpx.AsyncClient, user: Any, linked: Any, customer: str
) -> None:
    headers = {"x-api-key": linked.api_key, "Idempotency-Key": "order-42"}
    first = await client.post(
        "/api/v1/messages/send", json={"to": customer, "text": "once"}, headers=headers
    )
    second = await client.post(
        "/api/v1/messages/send", json={"to": customer, "text": "once"}, headers=headers
    )
    assert first.json() == second.json()
    inbox = [m for m in await phone_inbox(client, user.headers, customer) if m["text"] == "once"]
    assert len(inbox) == 1


async def test_location_contact_and_reaction(
    client: httpx.AsyncClient, user: Any, linked: Any, customer: str
) -> None:
    key = {"x-api-key": linked.api_key}
    location = await client.post(
        "/api/v1/messages/send-location",
        json={"to": customer, "latitude": 12.9716, "longitude": 77.5946, "name": "Office"},
        headers=key,
    )
    assert location.status_code == 200, location.text
    contact = await client.post(
        "/api/v1/messages/send-contact",
        json={"to": customer, "contact": {"name": "Ravi", "phone": "+91 98765 43210"}},
        headers=key,
    )
    assert contact.status_code == 200, contact.text
    reaction = await client.post(
        "/api/v1/messages/send-reaction",
        json={"to": customer, "messageId": location.json()["data"]["messageId"], "emoji": "👍"},
        headers=key,
    )
    assert reaction.status_code == 200, reaction.text
    types = [
        m["type"]
        for m in await phone_inbox(client, user.headers, customer)
        if m["direction"] == "in"
    ]
    assert set(types) >= {"location", "contact"}


async def test_another_user_can_neither_send_through_nor_read_a_session(
    client: httpx.AsyncClient, make_user: Any, linked: Any, customer: str
) -> None:
    bob = await make_user()
    bob_key = (
        await client.post("/api/v1/auth/api-keys", json={"name": "b"}, headers=bob.headers)
    ).json()["data"]["key"]
    as_bob = {"x-api-key": bob_key, "x-session-id": linked.session_id}
    send = await client.post(
        "/api/v1/messages/send", json={"to": customer, "text": "x"}, headers=as_bob
    )
    assert send.status_code == 404
    history = await client.get("/api/v1/messages/history", headers=as_bob)
    assert history.status_code == 404
    by_token = await client.get(
        f"/api/v1/messages/history?sessionId={linked.session_id}", headers=bob.headers
    )
    assert by_token.status_code == 404
