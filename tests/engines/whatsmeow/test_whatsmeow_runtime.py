"""A session run fed what Go hands over (QR codes, statuses, events), in order.

The run is real; only the Go call is absent: the test calls the same callbacks
neonize's Go threads call, with neonize's own protobufs.
"""

from __future__ import annotations

from typing import Any

from neonize.aioze.events import (
    ConnectedEv,
    KeepAliveRestoredEv,
    KeepAliveTimeoutEv,
    LoggedOutEv,
    StreamReplacedEv,
)
from neonize.proto.Neonize_pb2 import ConnectFailureReason, Device, Receipt
from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    ContextInfo,
    ExtendedTextMessage,
    ReactionMessage,
)
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage

from wagate.engines.base import (
    ConnectedEvent,
    DisconnectedEvent,
    DisconnectReason,
    LoggedOutEvent,
    MessageEvent,
    QrCodeEvent,
    ReceiptEvent,
)
from wagate.engines.whatsmeow.inbound import handle_inbound
from wagate.engines.whatsmeow.runtime import Phase, SessionRun
from wagate.engines.whatsmeow.shared import Shared

ME, ALICE, ALICE_LID = "15550001111", "15550002222", "98765432101234"
DEVICE, CONNECTED, RECEIPT, MESSAGE = 0, 3, 18, 17


def new_run(shared: Shared) -> SessionRun:
    run = SessionRun(shared, "s1", handle_inbound)
    run.start_pump()
    return run


def device(protos: Any) -> Any:
    return Device(
        JID=protos.jid(ME, device=17),
        LID=protos.jid("999", "lid"),
        Platform="",
        BussinessName="",
        PushName="Shop",
        Initialized=True,
    )


async def linked_run(shared: Shared, recorder: Any, protos: Any) -> SessionRun:
    run = new_run(shared)
    run.on_qr("2@first")
    run.on_login_status("success")
    run.on_event(DEVICE, device(protos))
    run.on_event(CONNECTED, ConnectedEv(status=True))
    await recorder.wait_for(ConnectedEvent, "s1")
    return run


async def test_link_by_qr_then_connect(shared: Shared, recorder: Any, protos: Any) -> None:
    run = new_run(shared)
    run.on_qr("2@first")
    run.on_qr("2@second")
    first, second = await recorder.wait_count(QrCodeEvent, "s1", 2)
    assert (first.code, first.expires_in) == ("2@first", 60.0)
    assert (second.code, second.expires_in) == ("2@second", 20.0)
    assert run.phase is Phase.PAIRING and run.pairing_ready.is_set()
    run.on_login_status("success")
    run.on_event(DEVICE, device(protos))
    run.on_event(CONNECTED, ConnectedEv(status=True))
    connected = await recorder.wait_for(ConnectedEvent, "s1")
    assert connected == ConnectedEvent("s1", ME, "Shop", f"{ME}@s.whatsapp.net")
    assert run.usable_client() is None  # linked, but this run has no Go client to call
    assert str(run.phase) == str(Phase.LINKED) and run.connected
    assert shared.linked == {"s1": f"{ME}:17@s.whatsapp.net"}
    assert await shared.store.sessions() == {"s1": f"{ME}:17@s.whatsapp.net"}  # survives restarts
    await run.shutdown()


async def test_qr_codes_running_out(shared: Shared, recorder: Any) -> None:
    run = new_run(shared)
    for n in range(6):
        run.on_qr(f"2@code{n}")
    run.on_login_status("timeout")
    event = await recorder.wait_for(DisconnectedEvent, "s1")
    assert event.reason is DisconnectReason.QR_TIMEOUT and not event.will_retry
    await run.ended.wait()
    assert run.phase is Phase.ENDED and "s1" not in shared.linked
    await run.shutdown()


async def test_socket_dropping_during_the_link(shared: Shared, recorder: Any) -> None:
    run = new_run(shared)
    run.on_qr("2@only")
    run.on_login_status("timeout")  # long before the 60 s of the first code
    event = await recorder.wait_for(DisconnectedEvent, "s1")
    assert event.reason is DisconnectReason.NETWORK
    await run.shutdown()


async def test_receipts_replies_and_reactions_use_wagate_ids(
    shared: Shared, recorder: Any, protos: Any
) -> None:
    run = await linked_run(shared, recorder, protos)
    await shared.store.remember_id("s1", "LOCAL1", "3EB0WA1")
    run.on_event(RECEIPT, protos.receipt(Receipt.READ, ["3EB0WA1", "3EB0OTHER"]))
    receipt = await recorder.wait_for(ReceiptEvent, "s1")
    assert receipt.status == "read" and receipt.message_ids == ("LOCAL1", "3EB0OTHER")

    reply = WAMessage(
        extendedTextMessage=ExtendedTextMessage(
            text="thanks", contextInfo=ContextInfo(stanzaID="3EB0WA1")
        )
    )
    key = MessageKey(remoteJID=f"{ALICE}@s.whatsapp.net", fromMe=True, ID="3EB0WA1")
    reaction = WAMessage(reactionMessage=ReactionMessage(key=key, text="🎉"))
    run.on_event(MESSAGE, protos.message(reply, message_id="IN1"))
    run.on_event(MESSAGE, protos.message(reaction, message_id="IN2"))
    first, second = await recorder.wait_count(MessageEvent, "s1", 2)
    assert first.message.message_id == "IN1" and first.message.quoted_message_id == "LOCAL1"
    assert second.message.reaction.target_message_id == "LOCAL1"
    assert run.memory.quotes["IN1"][1].extendedTextMessage.text == "thanks"  # for replies
    await run.shutdown()


async def test_hidden_ids_learnt_from_one_event_serve_the_next(
    shared: Shared, recorder: Any, protos: Any
) -> None:
    run = await linked_run(shared, recorder, protos)
    lid = protos.jid(ALICE_LID, "lid")
    with_phone = protos.source(lid, lid, sender_alt=protos.jid(ALICE))
    run.on_event(MESSAGE, protos.message({"conversation": "hi"}, source=with_phone))
    without_phone = protos.source(lid, lid)
    run.on_event(RECEIPT, protos.receipt(Receipt.DELIVERED, ["X1"], source=without_phone))
    receipt = await recorder.wait_for(ReceiptEvent, "s1")
    assert receipt.chat == receipt.sender == f"{ALICE}@s.whatsapp.net"
    await run.shutdown()


async def test_keepalive_and_stream_replaced(shared: Shared, recorder: Any, protos: Any) -> None:
    run = await linked_run(shared, recorder, protos)
    run.on_event(4, KeepAliveTimeoutEv(ErrorCount=2, LastSuccess=0))
    lost = await recorder.wait_for(DisconnectedEvent, "s1")
    assert lost.reason is DisconnectReason.KEEPALIVE_TIMEOUT and lost.will_retry
    run.on_event(5, KeepAliveRestoredEv())
    await recorder.wait_count(ConnectedEvent, "s1", 2)
    assert run.connected
    run.on_event(7, StreamReplacedEv())
    _, replaced = await recorder.wait_count(DisconnectedEvent, "s1", 2)
    assert replaced.reason is DisconnectReason.STREAM_REPLACED and not replaced.will_retry
    await run.ended.wait()  # the run stops itself; the link is kept
    assert "s1" in shared.linked
    await run.shutdown()


async def test_logged_out_by_the_phone_forgets_the_link(
    shared: Shared, recorder: Any, protos: Any
) -> None:
    run = await linked_run(shared, recorder, protos)
    run.on_event(6, LoggedOutEv(OnConnect=False, Reason=ConnectFailureReason.LOGGED_OUT))
    event = await recorder.wait_for(LoggedOutEvent, "s1")
    assert event.reason is DisconnectReason.LOGGED_OUT_BY_PHONE
    await run.ended.wait()
    assert shared.linked == {}
    assert await shared.store.sessions() == {}
    await run.shutdown()
