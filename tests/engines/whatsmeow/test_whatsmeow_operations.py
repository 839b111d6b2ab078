"""Every operation of the engine, through neonize into Go, on a real client that is not
connected: a wrong function name, keyword or attribute fails here.

The client is whatsmeow's own, built from a device row in its store and started
through a loopback proxy that refuses connections, so its connect fails and it
stays in Go's client table, linked-looking but offline. Every call then goes all
the way into whatsmeow and comes back as "websocket not connected" (or the
refused proxy, for media), which the engine must map to its own errors. What a
call returns when it succeeds is checked on neonize's own response types.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from neonize.proto.Neonize_pb2 import IsOnWhatsAppResponse, SendResponse, UploadResponse

from wagate.engines.base import (
    EngineError,
    IncomingMedia,
    MediaContent,
    MediaError,
    NotConnectedError,
    OutgoingMessage,
)
from wagate.engines.whatsmeow import incoming, operations
from wagate.engines.whatsmeow.client import SessionClientFactory
from wagate.engines.whatsmeow.outgoing import Uploaded
from wagate.engines.whatsmeow.runtime import Phase, SessionRun

ME, ALICE, BOB, GROUP = "15550001111", "15550002222", "15550003333", "120363000000000001"
ALICE_JID = f"{ALICE}@s.whatsapp.net"
OFFLINE = "websocket not connected"


@pytest.fixture
async def offline_run(offline_runs: Any) -> SessionRun:
    run: SessionRun = await offline_runs()
    return run


def reached_go(error: EngineError, cause: str = OFFLINE) -> None:
    """The error came back from whatsmeow (its text is in the detail), not from Python."""
    assert error.detail is not None and cause in error.detail, error.detail


async def test_send_text(offline_run: SessionRun) -> None:
    message = OutgoingMessage("m1", ALICE_JID, "text", text="hi")
    with pytest.raises(NotConnectedError) as raised:
        await operations.send(offline_run, message)
    reached_go(raised.value)


async def test_send_a_reply_and_a_reaction(offline_run: SessionRun) -> None:
    from wagate.engines.base import Reaction

    reply = OutgoingMessage("m2", ALICE_JID, "text", text="yes", quoted_message_id="3EB0QUOTED")
    with pytest.raises(NotConnectedError) as raised:
        await operations.send(offline_run, reply)
    reached_go(raised.value)
    reaction = OutgoingMessage("m3", ALICE_JID, "reaction", reaction=Reaction("3EB0QUOTED", "👍"))
    with pytest.raises(NotConnectedError) as raised:
        await operations.send(offline_run, reaction)
    reached_go(raised.value)


async def test_send_media_uploads_first(offline_run: SessionRun) -> None:
    media = MediaContent(b"%PDF-1.4 not much", "application/pdf", "a.pdf")
    message = OutgoingMessage("m4", ALICE_JID, "document", media=media)
    with pytest.raises(NotConnectedError) as raised:
        await operations.send(offline_run, message)
    assert raised.value.message.startswith("upload media")
    reached_go(raised.value)


async def test_check_numbers(offline_run: SessionRun) -> None:
    with pytest.raises(NotConnectedError) as raised:
        await operations.check_numbers(offline_run, [f"+{ALICE}", "not a number"])
    reached_go(raised.value)


async def test_list_groups(offline_run: SessionRun) -> None:
    with pytest.raises(NotConnectedError) as raised:
        await operations.list_groups(offline_run)
    reached_go(raised.value)


async def test_get_group(offline_run: SessionRun) -> None:
    with pytest.raises(NotConnectedError) as raised:
        await operations.get_group(offline_run, f"{GROUP}@g.us")
    reached_go(raised.value)


async def test_mark_read(offline_run: SessionRun) -> None:
    with pytest.raises(NotConnectedError) as raised:
        await operations.mark_read(offline_run, ALICE_JID, ["3EB0AAAA"], None)
    reached_go(raised.value)
    with pytest.raises(NotConnectedError) as raised:
        await operations.mark_read(offline_run, f"{GROUP}@g.us", ["3EB0AAAA"], ALICE_JID)
    reached_go(raised.value)


@pytest.mark.parametrize("presence", ["available", "unavailable", "typing", "recording", "paused"])
async def test_send_presence(offline_run: SessionRun, presence: Any) -> None:
    with pytest.raises(NotConnectedError) as raised:
        await operations.send_presence(offline_run, ALICE_JID, presence)
    reached_go(raised.value)


async def test_download_media(offline_run: SessionRun) -> None:
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ImageMessage

    image = ImageMessage(
        URL="https://127.0.0.1:9/d/f/enc",  # loopback, should it ever dial
        directPath="/d/f/enc",
        mediaKey=b"k" * 32,
        fileEncSHA256=b"e" * 32,
        fileSHA256=b"s" * 32,
        fileLength=10,
        mimetype="image/jpeg",
    )
    reference = incoming.media_reference("imageMessage", image)
    media = IncomingMedia(mimetype="image/jpeg", reference=reference)
    with pytest.raises(NotConnectedError) as raised:
        await operations.download_media(offline_run, media)
    reached_go(raised.value)
    with pytest.raises(MediaError):
        await operations.download_media(offline_run, IncomingMedia("image/jpeg", reference="x"))


async def test_pair_phone(offline_run: SessionRun) -> None:
    offline_run.phase = Phase.PAIRING
    offline_run.pairing_ready.set()
    with pytest.raises(NotConnectedError) as raised:
        await operations.pair_phone(offline_run, ALICE, 1.0)
    reached_go(raised.value)


async def test_logout_online_reports_and_swallows(
    offline_run: SessionRun, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "wagate.engines.whatsmeow.operations"):
        await operations.logout_online(offline_run)
    assert "log out: the session is not connected" in caplog.text


async def test_message_ids_come_from_go(offline_run: SessionRun) -> None:
    assert offline_run.client is not None
    ids = {SessionClientFactory.generate_message_id(offline_run.client) for _ in range(20)}
    assert len(ids) == 20 and all(i.startswith("3EB0") for i in ids)


# -- what successful calls return, on neonize's own response types ------------------


def test_send_response() -> None:
    wa_id, receipt = operations.sent(SendResponse(ID="3EB0WHATSAPP", Timestamp=1_760_000_000), "m1")
    assert wa_id == "3EB0WHATSAPP"
    assert receipt.message_id == "m1" and int(receipt.timestamp.timestamp()) == 1_760_000_000
    wa_id, receipt = operations.sent(SendResponse(), "m2")
    assert wa_id == "m2" and receipt.message_id == "m2"


def test_is_on_whatsapp_responses(protos: Any) -> None:
    answers = [
        IsOnWhatsAppResponse(Query=f"+{ALICE}", JID=protos.jid(ALICE), IsIn=True),
        IsOnWhatsAppResponse(Query="+15550009999", JID=protos.jid("15550009999"), IsIn=False),
        IsOnWhatsAppResponse(Query="+15550003333", JID=protos.jid("4242", "lid"), IsIn=True),
    ]
    assert operations.accounts(answers) == {
        ALICE: ALICE_JID,
        "15550009999": None,
        "15550003333": "15550003333@s.whatsapp.net",
    }


def test_verified_business_names(protos: Any) -> None:
    business = IsOnWhatsAppResponse(Query=f"+{ALICE}", JID=protos.jid(ALICE), IsIn=True)
    business.VerifiedName.Details.verifiedName = "Alice's Bakery"
    gone = IsOnWhatsAppResponse(Query="+15550009999", JID=protos.jid("15550009999"), IsIn=False)
    gone.VerifiedName.Details.verifiedName = "Closed Shop"
    plain = IsOnWhatsAppResponse(Query="+15550003333", JID=protos.jid("15550003333"), IsIn=True)
    assert operations.verified_names([business, gone, plain]) == {ALICE: "Alice's Bakery"}


def test_upload_response() -> None:
    response = UploadResponse(
        url="https://mmg.example/x",
        DirectPath="/x",
        Handle="",
        MediaKey=b"k",
        FileEncSHA256=b"e",
        FileSHA256=b"s",
        FileLength=3,
    )
    assert Uploaded.from_response(response) == Uploaded(
        "https://mmg.example/x", "/x", b"k", b"e", b"s", 3
    )


async def test_read_receipts_go_where_whatsapp_addressed_the_chat(
    offline_runs: Any, recorder: Any, protos: Any
) -> None:
    from wagate.engines.base import MessageEvent

    run: SessionRun = await offline_runs()
    run.start_pump()
    lid, group = protos.jid(protos.ALICE_LID, "lid"), protos.jid(GROUP, "g.us")
    alice = protos.jid(ALICE)
    direct = protos.source(lid, lid, sender_alt=alice)  # a chat addressed by hidden id
    in_group = protos.source(group, lid, sender_alt=alice)
    by_number = protos.source(protos.jid(BOB), protos.jid(BOB))
    for n, source in enumerate((direct, in_group, by_number)):
        content = {"conversation": "hi"}
        run.on_event(17, protos.message(content, message_id=f"3EB0{n}", source=source))
    await recorder.wait_count(MessageEvent, "s1", 3)
    hidden = f"{protos.ALICE_LID}@lid"
    assert run.memory.receipt_parties(ALICE_JID, ALICE_JID) == (hidden, hidden)
    assert run.memory.receipt_parties(f"{GROUP}@g.us", ALICE_JID) == (f"{GROUP}@g.us", hidden)
    bob = f"{BOB}@s.whatsapp.net"
    assert run.memory.receipt_parties(bob, bob) == (bob, bob)
    with pytest.raises(NotConnectedError) as raised:  # the hidden ids still make valid JIDs
        await operations.mark_read(run, ALICE_JID, ["3EB00"], None)
    reached_go(raised.value)


async def test_postgres_connections_neonize_keeps_are_counted_and_warned(
    shared: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio

    from wagate.engines.whatsmeow.client import POOL_WARNING, GoCalls
    from wagate.engines.whatsmeow.inbound import handle_inbound

    factory = SessionClientFactory("postgres://wagate@127.0.0.1:1/wagate?sslmode=disable")
    run = SessionRun(shared, "s1", handle_inbound)
    calls = GoCalls(
        asyncio.get_running_loop(), shared.executor, "s1", lambda _error: None, shared.tables
    )
    with caplog.at_level(logging.WARNING, "wagate.engines.whatsmeow.client"):
        for _ in range(POOL_WARNING * 2):
            client = factory.new_session_client(run, calls, device_jid=None, device_name="w")
            factory.release(client)
    assert factory.pools_opened == POOL_WARNING * 2
    assert caplog.text.count("PostgreSQL connection that neonize never closes") == 2
