"""Messages between gateway sessions and sandbox phones, with their receipts."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Awaitable, Callable

import pytest

from wagate.engines.base import (
    GroupUpdateEvent,
    IncomingMedia,
    InvalidRecipientError,
    Location,
    MediaContent,
    MessageEvent,
    NumberCheck,
    OutgoingMessage,
    ReceiptEvent,
)
from wagate.engines.sandbox.testing import EngineHarness

ALICE, BOB, CAROL = "15550001111", "15550002222", "15550003333"
BOB_JID = f"{BOB}@s.whatsapp.net"


def text(engine_harness: EngineHarness, to: str, body: str) -> OutgoingMessage:
    message_id = engine_harness.engine.new_message_id("s1")
    return OutgoingMessage(message_id=message_id, to=to, kind="text", text=body)


async def test_message_ids_look_like_whatsapps(gateway: EngineHarness) -> None:
    ids = {gateway.engine.new_message_id("s1") for _ in range(100)}
    assert len(ids) == 100
    for message_id in ids:
        assert message_id.startswith("3EB0")
        assert 20 <= len(message_id) <= 24
        assert message_id == message_id.upper()
        int(message_id, 16)


async def test_a_text_reaches_the_phone_then_is_delivered_and_read(
    gateway: EngineHarness,
) -> None:
    await gateway.link("s1", ALICE)
    await gateway.control.create_phone(BOB, "Bob")
    message = text(gateway, BOB_JID, "hello Bob")

    receipt = await gateway.engine.send("s1", message)
    assert receipt.message_id == message.message_id
    delivered = await gateway.events.next(ReceiptEvent)
    assert delivered.status == "delivered"
    assert delivered.message_ids == (message.message_id,)
    assert (delivered.chat, delivered.sender) == (BOB_JID, BOB_JID)

    [received] = await gateway.control.list_messages(BOB)
    assert received["messageId"] == message.message_id
    assert (received["direction"], received["from"], received["to"]) == ("in", ALICE, BOB)
    assert (received["type"], received["text"], received["status"]) == (
        "text",
        "hello Bob",
        "delivered",
    )

    assert await gateway.control.read_messages(BOB, [message.message_id]) == 1
    read = await gateway.events.next(ReceiptEvent)
    assert (read.status, read.message_ids) == ("read", (message.message_id,))
    [sent] = await gateway.control.list_messages(ALICE)
    assert (sent["direction"], sent["status"]) == ("out", "read")


async def test_media_arrives_byte_for_byte(gateway: EngineHarness) -> None:
    await gateway.link("s1", ALICE)
    await gateway.control.create_phone(BOB)
    photo = os.urandom(300_000)
    message = OutgoingMessage(
        message_id=gateway.engine.new_message_id("s1"),
        to=BOB,
        kind="image",
        text="a caption",
        media=MediaContent(photo, "image/jpeg", "photo.jpg"),
    )
    await gateway.engine.send("s1", message)
    assert (await gateway.events.next(ReceiptEvent)).status == "delivered"

    [received] = await gateway.control.list_messages(BOB)
    digest = hashlib.sha256(photo).hexdigest()
    assert received["sha256"] == digest
    assert (received["caption"], received["mimetype"], received["size"]) == (
        "a caption",
        "image/jpeg",
        len(photo),
    )
    assert await gateway.control.get_media(digest) == photo


async def test_a_phone_message_reaches_every_session_linked_to_the_account(
    gateway: EngineHarness,
) -> None:
    await gateway.link("s1", ALICE)
    await gateway.link("s2", ALICE)
    await gateway.control.create_phone(BOB, "Bob")
    voice = os.urandom(5000)
    await gateway.control.send_message(BOB, {"to": ALICE, "text": "hi Alice"})
    sent = await gateway.control.send_message(
        BOB, {"to": ALICE, "type": "audio", "media": voice, "mimetype": "audio/ogg"}
    )

    for session_id in ("s1", "s2"):
        first = await gateway.events.next(MessageEvent, lambda e, s=session_id: e.session_id == s)
        assert first.message.text == "hi Alice"
        assert (first.message.chat, first.message.sender) == (BOB_JID, BOB_JID)
        assert (first.message.push_name, first.message.from_me) == ("Bob", False)
        audio = await gateway.events.next(MessageEvent, lambda e, s=session_id: e.session_id == s)
        assert audio.message.message_id == sent["messageId"]
        assert audio.message.media is not None
        assert await gateway.engine.download_media(session_id, audio.message.media) == voice

    kinds = [m["type"] for m in await gateway.control.list_messages(ALICE)]
    assert kinds == ["audio", "text"]  # newest first


async def test_a_group_message_fans_out_with_receipts_per_participant(
    gateway: EngineHarness,
) -> None:
    await gateway.link("s1", ALICE)
    await gateway.link("s2", BOB)
    await gateway.control.create_phone(CAROL)
    group = await gateway.control.create_group("Team", ALICE, [BOB, CAROL])
    jid = group["jid"]
    assert jid.startswith("120363") and jid.endswith("@g.us")
    joined = await gateway.events.next(GroupUpdateEvent, lambda e: e.session_id == "s2")
    assert joined.joined and joined.group.jid == jid and len(joined.group.participants) == 3

    message = text(gateway, jid, "hello team")
    await gateway.engine.send("s1", message)
    at_bob = await gateway.events.next(MessageEvent, lambda e: e.session_id == "s2")
    assert (at_bob.message.chat, at_bob.message.sender) == (jid, f"{ALICE}@s.whatsapp.net")
    assert at_bob.message.is_group
    receipts = [
        await gateway.events.next(ReceiptEvent, lambda e: e.session_id == "s1") for _ in range(2)
    ]
    assert {(r.chat, r.status, r.sender) for r in receipts} == {
        (jid, "delivered", BOB_JID),
        (jid, "delivered", f"{CAROL}@s.whatsapp.net"),
    }
    [at_carol] = await gateway.control.list_messages(CAROL)
    assert (at_carol["chat"], at_carol["from"], at_carol["text"]) == (jid, ALICE, "hello team")

    # Bob's own device reads it: Alice hears it from Bob, for the group.
    await gateway.engine.mark_read("s2", jid, [message.message_id], f"{ALICE}@s.whatsapp.net")
    read = await gateway.events.next(ReceiptEvent, lambda e: e.status == "read")
    assert (read.chat, read.sender, read.session_id) == (jid, BOB_JID, "s1")

    groups = await gateway.engine.list_groups("s2")
    assert [g.jid for g in groups] == [jid]
    assert (await gateway.engine.get_group("s2", jid)).name == "Team"


async def test_an_offline_phone_is_delivered_when_it_comes_back(gateway: EngineHarness) -> None:
    await gateway.link("s1", ALICE)
    await gateway.control.create_phone(BOB)
    await gateway.control.update_phone(BOB, {"online": False})
    message = text(gateway, BOB, "are you there?")
    await gateway.engine.send("s1", message)
    [waiting] = await gateway.control.list_messages(BOB)
    assert waiting["status"] == "pending"
    assert gateway.events.of(ReceiptEvent) == []

    await gateway.control.update_phone(BOB, {"online": True})
    delivered = await gateway.events.next(ReceiptEvent)
    assert (delivered.status, delivered.message_ids) == ("delivered", (message.message_id,))


async def test_auto_read_and_echo_answer_by_themselves(gateway: EngineHarness) -> None:
    await gateway.link("s1", ALICE)
    await gateway.control.create_phone(BOB, "Echo Bot", auto_read=True, auto_reply="echo")
    message = text(gateway, BOB, "ping")
    await gateway.engine.send("s1", message)

    delivered = await gateway.events.next(ReceiptEvent)
    read = await gateway.events.next(ReceiptEvent)
    assert [delivered.status, read.status] == ["delivered", "read"]
    echo = await gateway.events.next(MessageEvent)
    assert (echo.message.text, echo.message.sender, echo.message.from_me) == (
        "ping",
        BOB_JID,
        False,
    )
    assert echo.message.message_id != message.message_id


async def test_sending_the_same_id_twice_sends_once(gateway: EngineHarness) -> None:
    await gateway.link("s1", ALICE)
    await gateway.control.create_phone(BOB)
    message = text(gateway, BOB, "only once")
    first = await gateway.engine.send("s1", message)
    again = await gateway.engine.send("s1", message)
    assert first == again
    assert len(await gateway.control.list_messages(BOB)) == 1


async def test_unknown_recipients_are_refused(gateway: EngineHarness) -> None:
    await gateway.link("s1", ALICE)
    for to in ("15559999999", "120363000000000000@g.us", "not a number"):
        with pytest.raises(InvalidRecipientError):
            await gateway.engine.send("s1", text(gateway, to, "hello?"))


async def test_check_numbers_tells_phones_from_the_rest(gateway: EngineHarness) -> None:
    await gateway.link("s1", ALICE)
    await gateway.control.create_phone(BOB)
    checks = await gateway.engine.check_numbers("s1", ["+1 555 000 2222", "15559999999", "x"])
    assert checks == [
        NumberCheck(BOB, BOB_JID, True),
        NumberCheck("15559999999", None, False),
        NumberCheck("x", None, False),
    ]


async def test_phones_and_messages_survive_a_restart(
    open_gateway: Callable[..., Awaitable[EngineHarness]],
) -> None:
    first = await open_gateway()
    await first.link("s1", ALICE)
    await first.control.create_phone(BOB, "Bob", auto_read=True)
    location = {"type": "location", "latitude": 52.37, "longitude": 4.89, "name": "Dam"}
    await first.control.send_message(BOB, {"to": ALICE, **location})
    await first.engine.send("s1", text(first, BOB, "see you there"))
    await first.events.next(ReceiptEvent, lambda e: e.status == "read")
    before = await first.control.list_messages(ALICE)
    await first.engine.close()

    again = await open_gateway(first.data_dir)
    phone = await again.control.get_phone(BOB)
    assert (phone["name"], phone["autoRead"]) == ("Bob", True)
    assert await again.control.list_messages(ALICE) == before
    assert before[1]["location"]["name"] == "Dam"


async def test_messages_for_a_stopped_session_wait_for_it(gateway: EngineHarness) -> None:
    await gateway.link("s1", ALICE)
    await gateway.control.create_phone(BOB)
    await gateway.engine.stop_session("s1")
    await gateway.control.send_message(BOB, {"to": ALICE, "text": "while you were away"})
    await gateway.engine.start_session("s1")
    waiting = await gateway.events.next(MessageEvent)
    assert waiting.message.text == "while you were away"


async def test_only_the_last_messages_of_a_phone_are_kept(
    open_gateway: Callable[..., Awaitable[EngineHarness]],
) -> None:
    harness = await open_gateway()
    assert harness.engine.network is not None
    harness.engine.network.state.max_messages_per_phone = 5
    await harness.control.create_phone(ALICE)
    await harness.control.create_phone(BOB)
    for number in range(8):
        await harness.control.send_message(BOB, {"to": ALICE, "text": f"message {number}"})
    kept = [m["text"] for m in await harness.control.list_messages(ALICE, limit=100)]
    assert kept == [f"message {n}" for n in range(7, 2, -1)]


def test_incoming_media_reference_is_the_sha256() -> None:
    # The reference handed to the core is the content hash, which is also the media's name.
    media = IncomingMedia(mimetype="image/png", sha256="ab" * 32, reference="ab" * 32)
    assert media.reference == media.sha256
    assert Location(1.0, 2.0).name is None
