"""History batches, undecryptable messages, stream errors and pairing errors, from neonize's
own protobufs (serialized and parsed back, as they come from Go)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from neonize.events import INT_TO_EVENT
from neonize.proto.Neonize_pb2 import PairStatus, StreamError
from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waHistorySync.WAWebProtobufsHistorySync_pb2 import (
    Conversation,
    HistorySync,
    HistorySyncMsg,
)
from neonize.proto.waWeb.WAWebProtobufsWeb_pb2 import WebMessageInfo

from wagate.engines.base import (
    DisconnectedEvent,
    DisconnectReason,
    HistorySyncEvent,
    UndecryptableEvent,
)
from wagate.engines.whatsmeow import connection, incoming
from wagate.engines.whatsmeow.client import GoCalls
from wagate.engines.whatsmeow.history import device_props, map_history, oldest_wanted
from wagate.engines.whatsmeow.inbound import handle_inbound
from wagate.engines.whatsmeow.runtime import SessionRun
from wagate.engines.whatsmeow.shared import Shared

ME, ALICE, BOB, GROUP = "15550001111", "15550002222", "15550003333", "120363000000000001"
NOW = datetime.now(UTC).replace(microsecond=0)
HISTORY, UNDECRYPTABLE, STREAM_ERROR, PAIR_STATUS = 13, 44, 11, 2


def web_message(
    message_id: str,
    chat: str,
    *,
    days_ago: float,
    text: str | None = "hello",
    from_me: bool = False,
    participant: str = "",
    push_name: str = "",
    **content: Any,
) -> Any:
    info = WebMessageInfo(
        key=MessageKey(remoteJID=chat, fromMe=from_me, ID=message_id, participant=participant),
        messageTimestamp=int((NOW - timedelta(days=days_ago)).timestamp()),
        pushName=push_name,
    )
    if text is not None:
        info.message.conversation = text
    for field, value in content.items():
        getattr(info.message, field).CopyFrom(value)
    return info


def batch(kind: int, *conversations: tuple[str, list[Any]], progress: int | None = None) -> Any:
    sync = HistorySync(syncType=kind)
    if progress is not None:
        sync.progress = progress
    for jid, messages in conversations:
        sync.conversations.append(
            Conversation(ID=jid, messages=[HistorySyncMsg(message=m) for m in messages])
        )
    event = INT_TO_EVENT[HISTORY](Data=sync)
    return type(event).FromString(event.SerializeToString())  # as it comes from Go


def test_a_batch_becomes_one_event_oldest_first(protos: Any) -> None:
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ProtocolMessage

    alice, bob = f"{ALICE}@s.whatsapp.net", f"{BOB}@s.whatsapp.net"
    group, alice_lid = f"{GROUP}@g.us", "98765432101234@lid"
    revoke = ProtocolMessage(type=ProtocolMessage.REVOKE, key=MessageKey(ID="X"))
    event = batch(
        HistorySync.RECENT,
        (
            alice,
            [
                web_message("A2", alice, days_ago=1, text="reply", from_me=True),
                web_message("A1", alice, days_ago=2, text="hi", push_name="Alice"),
                web_message("A3", alice, days_ago=0.5, text=None, protocolMessage=revoke),
                web_message("A0", alice, days_ago=30, text="too old"),
            ],
        ),
        (group, [web_message("G1", group, days_ago=1.5, participant=f"{BOB}:3@s.whatsapp.net")]),
        (alice_lid, [web_message("L1", alice_lid, days_ago=1.2)]),
        ("status@broadcast", [web_message("S1", "status@broadcast", days_ago=1)]),
        progress=55,
    )
    since = oldest_wanted("recent", 7, NOW)
    mapped = map_history(
        "s1",
        event.Data,
        own_jid=f"{ME}@s.whatsapp.net",
        since=since,
        pn_for_lid={alice_lid: alice},
    )
    assert isinstance(mapped, HistorySyncEvent)
    assert (mapped.kind, mapped.progress) == ("recent", 55)
    assert [m.message_id for m in mapped.messages] == ["A1", "G1", "L1", "A2"]
    first, in_group, hidden, mine = mapped.messages
    assert (first.chat, first.sender, first.text, first.push_name) == (alice, alice, "hi", "Alice")
    assert first.timestamp == NOW - timedelta(days=2) and not first.from_me
    assert (in_group.chat, in_group.sender) == (group, bob)
    assert (hidden.chat, hidden.sender) == (alice, alice)
    assert (mine.sender, mine.from_me) == (f"{ME}@s.whatsapp.net", True)


def test_full_history_keeps_old_messages_and_empty_batches_are_nothing() -> None:
    alice = f"{ALICE}@s.whatsapp.net"
    old = batch(HistorySync.FULL, (alice, [web_message("A0", alice, days_ago=400)]))
    mapped = map_history("s1", old.Data, own_jid="", since=oldest_wanted("full", 7, NOW))
    assert mapped is not None and [m.message_id for m in mapped.messages] == ["A0"]
    assert mapped.progress is None
    names_only = batch(HistorySync.PUSH_NAME)
    assert map_history("s1", names_only.Data, own_jid="") is None
    statuses = batch(HistorySync.INITIAL_STATUS_V3, (alice, [web_message("A", alice, days_ago=1)]))
    assert map_history("s1", statuses.Data, own_jid="") is None


def test_what_the_device_asks_for_when_linking() -> None:
    off, recent, full = (device_props("wagate", h, 30) for h in ("off", "recent", "full"))
    assert off.os == "wagate" and not off.requireFullSync
    assert not off.HasField("historySyncConfig")
    assert recent.historySyncConfig.fullSyncDaysLimit == 30 and not recent.requireFullSync
    assert full.requireFullSync and not full.historySyncConfig.fullSyncDaysLimit


async def test_history_events_are_listened_to_only_when_asked(shared: Shared) -> None:
    run = SessionRun(shared, "s1", handle_inbound)
    calls = GoCalls(
        asyncio.get_running_loop(), shared.executor, "s1", lambda _error: None, shared.tables
    )
    for history, listens in (("off", False), ("recent", True)):
        client = shared.factory.new_session_client(
            run, calls, device_jid=None, device_name="wagate", history=history
        )
        assert (HISTORY in client.event.list_func) is listens
        assert UNDECRYPTABLE in client.event.list_func
        shared.factory.release(client)


def undecryptable(protos: Any, *, unavailable: bool, chat: Any = None) -> Any:
    info = protos.message({"conversation": ""}, message_id="3EB0LOST").Info
    if chat is not None:
        info.MessageSource.Chat.CopyFrom(chat)
    event = INT_TO_EVENT[UNDECRYPTABLE](Info=info, IsUnavailable=unavailable, DecryptFailMode=1)
    return type(event).FromString(event.SerializeToString())


@pytest.mark.parametrize(
    ("unavailable", "reason"), [(False, "decryption_failed"), (True, "unavailable")]
)
def test_undecryptable_messages_say_who_and_why(
    protos: Any, unavailable: bool, reason: str
) -> None:
    mapped = incoming.map_undecryptable("s1", undecryptable(protos, unavailable=unavailable))
    assert isinstance(mapped, UndecryptableEvent) and mapped.reason == reason
    lost = mapped.message
    assert (lost.message_id, lost.chat, lost.sender) == (
        "3EB0LOST",
        f"{ALICE}@s.whatsapp.net",
        f"{ALICE}@s.whatsapp.net",
    )
    assert lost.push_name == "Alice" and lost.text is None


def test_stream_errors_and_pairing_errors_are_session_reasons(protos: Any) -> None:
    error = INT_TO_EVENT[STREAM_ERROR](Code="500")
    for linked in (True, False):
        event = connection.map_connection_event("s1", error, identity=None, linked=linked)
        assert isinstance(event, DisconnectedEvent)
        assert event.reason is DisconnectReason.STREAM_ERROR and event.will_retry is linked
        assert event.detail is not None and "500" in event.detail
    failed = PairStatus(ID=protos.jid(), Status=PairStatus.ERROR, Error="companion rejected")
    event = connection.map_connection_event("s1", failed, identity=None, linked=False)
    assert isinstance(event, DisconnectedEvent) and not event.will_retry
    assert event.reason is DisconnectReason.CONNECT_FAILURE
    assert event.detail is not None and "companion rejected" in event.detail
    assert isinstance(StreamError(), INT_TO_EVENT[STREAM_ERROR])


async def test_a_run_stores_history_only_when_asked(
    shared: Shared, recorder: Any, protos: Any
) -> None:
    alice = f"{ALICE}@s.whatsapp.net"
    recent = batch(HistorySync.INITIAL_BOOTSTRAP, (alice, [web_message("A1", alice, days_ago=0)]))
    shared.settings = shared.settings.model_copy(update={"whatsmeow_history_sync": "off"})
    run = SessionRun(shared, "s1", handle_inbound)
    run.start_pump()
    run.on_event(HISTORY, recent)
    run.on_event(UNDECRYPTABLE, undecryptable(protos, unavailable=False))
    await recorder.wait_for(UndecryptableEvent, "s1")  # handled in order, after the batch
    assert recorder.of(HistorySyncEvent, "s1") == []
    shared.settings = shared.settings.model_copy(update={"whatsmeow_history_sync": "recent"})
    run.on_event(HISTORY, recent)
    stored = await recorder.wait_for(HistorySyncEvent, "s1")
    assert [m.message_id for m in stored.messages] == ["A1"] and stored.kind == "initial"
    status = protos.jid("status", "broadcast")
    run.on_event(UNDECRYPTABLE, undecryptable(protos, unavailable=True, chat=status))
    run.on_event(HISTORY, recent)
    await recorder.wait_count(HistorySyncEvent, "s1", 2)
    assert len(recorder.of(UndecryptableEvent, "s1")) == 1  # status updates are not messages
    await run.shutdown()
