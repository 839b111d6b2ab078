"""The control face the /sandbox/v1 router stands on: its answers and its refusals."""

from __future__ import annotations

import asyncio
import json

import pytest

from wagate.engines.base import GroupUpdateEvent, LoggedOutEvent, MessageEvent, QrCodeEvent
from wagate.engines.sandbox.models import SandboxError
from wagate.engines.sandbox.testing import EngineHarness

ALICE, BOB, CAROL = "15550001111", "15550002222", "15550003333"


async def test_creating_a_phone_twice_keeps_the_first(gateway: EngineHarness) -> None:
    phone, created = await gateway.control.create_phone("+1 555 000 1111", "Alice")
    assert created
    assert phone == {
        "number": ALICE,
        "jid": f"{ALICE}@s.whatsapp.net",
        "name": "Alice",
        "online": True,
        "autoRead": False,
        "autoReply": None,
        "banned": False,
        "linkedSessions": [],
        "createdAt": phone["createdAt"],
    }
    again, created = await gateway.control.create_phone(ALICE, "Someone else")
    assert not created and again["name"] == "Alice"
    assert [p["number"] for p in await gateway.control.list_phones()] == [ALICE]


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda c: c.create_phone("12"), "VALIDATION_ERROR"),
        (lambda c: c.create_phone(BOB, auto_reply="shout"), "VALIDATION_ERROR"),
        (lambda c: c.get_phone(BOB), "NOT_FOUND"),
        (lambda c: c.update_phone(ALICE, {"colour": "red"}), "VALIDATION_ERROR"),
        (lambda c: c.update_phone(ALICE, {"online": "yes"}), "VALIDATION_ERROR"),
        (lambda c: c.send_message(ALICE, {"to": BOB, "text": "hi"}), "NOT_FOUND"),
        (lambda c: c.send_message(ALICE, {"to": ALICE, "type": "image"}), "VALIDATION_ERROR"),
        (lambda c: c.send_message(ALICE, {"to": ALICE, "type": "poll"}), "VALIDATION_ERROR"),
        (lambda c: c.list_messages(ALICE, limit=0), "VALIDATION_ERROR"),
        (lambda c: c.create_group("Team", ALICE, [BOB]), "NOT_FOUND"),
        (lambda c: c.rate_limit("nobody"), "NOT_FOUND"),
        (lambda c: c.ban(), "VALIDATION_ERROR"),
        (lambda c: c.get_media("0" * 64), "NOT_FOUND"),
        (lambda c: c.unlink(ALICE, "s9"), "NOT_FOUND"),
    ],
)
async def test_bad_input_is_refused_with_an_error_code(
    gateway: EngineHarness, call: object, code: str
) -> None:
    await gateway.control.create_phone(ALICE)
    with pytest.raises(SandboxError) as refused:
        await call(gateway.control)  # type: ignore[operator]
    assert refused.value.code == code
    assert refused.value.status == {"VALIDATION_ERROR": 400, "NOT_FOUND": 404}[code]


async def test_an_offline_phone_cannot_scan_or_send(gateway: EngineHarness) -> None:
    await gateway.control.create_phone(ALICE)
    await gateway.control.update_phone(ALICE, {"online": False})
    await gateway.engine.start_session("s1")
    qr = await gateway.events.next(QrCodeEvent)
    with pytest.raises(SandboxError) as refused:
        await gateway.control.link_by_qr(ALICE, qr.code)
    assert (refused.value.code, refused.value.status) == ("CONFLICT", 409)


async def test_sessions_show_their_qr_and_their_account(gateway: EngineHarness) -> None:
    await gateway.link("s1", ALICE)
    await gateway.engine.start_session("s2")
    qr = await gateway.events.next(QrCodeEvent, lambda e: e.session_id == "s2")
    sessions = {s["sessionId"]: s for s in await gateway.control.list_sessions()}
    assert (sessions["s1"]["state"], sessions["s1"]["phone"]) == ("connected", ALICE)
    assert (sessions["s2"]["state"], sessions["s2"]["qr"]) == ("qr", qr.code)
    status = await gateway.control.status()
    assert (status["linkedSessions"], status["connectedSessions"]) == (1, 1)


async def test_group_membership_changes_reach_the_members(gateway: EngineHarness) -> None:
    await gateway.link("s1", ALICE)
    await gateway.link("s2", BOB)
    await gateway.control.create_phone(CAROL)
    group = await gateway.control.create_group("Team", ALICE, [BOB])
    await gateway.events.next(GroupUpdateEvent, lambda e: e.session_id == "s2" and e.joined)

    changed = await gateway.control.update_group_participants(
        group["jid"], add=[CAROL], remove=[BOB]
    )
    assert [p["number"] for p in changed["participants"]] == [ALICE, CAROL]
    left = await gateway.events.next(GroupUpdateEvent, lambda e: e.session_id == "s2")
    assert left.left and not left.joined
    update = await gateway.events.next(
        GroupUpdateEvent, lambda e: e.session_id == "s1" and not e.joined
    )
    assert len(update.group.participants) == 2
    assert [g["name"] for g in await gateway.control.list_groups(CAROL)] == ["Team"]
    assert await gateway.control.list_groups(BOB) == []
    with pytest.raises(SandboxError):
        await gateway.control.update_group_participants(group["jid"], remove=[ALICE])


async def test_deleting_a_phone_logs_out_its_devices(gateway: EngineHarness) -> None:
    await gateway.link("s1", ALICE)
    await gateway.control.create_phone(BOB)
    await gateway.control.create_group("Team", ALICE, [BOB])
    await gateway.control.delete_phone(ALICE)
    assert (await gateway.events.next(LoggedOutEvent)).session_id == "s1"
    [group] = await gateway.control.list_groups()
    assert group["owner"] == BOB
    assert [p["number"] for p in await gateway.control.list_phones()] == [BOB]


async def test_contact_reaction_and_quote_travel_to_the_session(gateway: EngineHarness) -> None:
    await gateway.link("s1", ALICE)
    await gateway.control.create_phone(BOB)
    card = {"type": "contact", "displayName": "Carol", "vcard": "BEGIN:VCARD\nEND:VCARD"}
    sent = await gateway.control.send_message(BOB, {"to": ALICE, **card})
    await gateway.control.send_message(
        BOB,
        {"to": ALICE, "type": "reaction", "targetMessageId": sent["messageId"], "emoji": "👍"},
    )
    await gateway.control.send_message(
        BOB, {"to": ALICE, "text": "see above", "quotedMessageId": sent["messageId"]}
    )
    contact = (await gateway.events.next(MessageEvent)).message
    reaction = (await gateway.events.next(MessageEvent)).message
    quote = (await gateway.events.next(MessageEvent)).message
    assert contact.contact is not None and contact.contact.display_name == "Carol"
    assert reaction.reaction is not None
    assert (reaction.reaction.target_message_id, reaction.reaction.emoji) == (
        sent["messageId"],
        "👍",
    )
    assert quote.quoted_message_id == sent["messageId"]


async def test_phones_created_at_once_share_the_state_writes(gateway: EngineHarness) -> None:
    """Each create is on disk when it answers (a ``kill -9`` keeps it), yet creates
    that arrive together share whole-state writes instead of queueing one each."""
    network = gateway.engine.network
    assert network is not None
    writes_before = network.store.writes
    numbers = [f"1555700{index:04d}" for index in range(300)]
    await asyncio.gather(*(gateway.control.create_phone(number) for number in numbers))

    on_disk = json.loads(network.store.state_path.read_text(encoding="utf-8"))
    assert {phone["number"] for phone in on_disk["phones"]} >= set(numbers)
    writes = network.store.writes - writes_before
    assert 1 <= writes < 30, f"{writes} whole-state writes for 300 phones"
