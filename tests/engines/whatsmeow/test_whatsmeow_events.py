"""Receipts, groups and connection events (neonize's protobufs) -> wagate's events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from neonize.aioze.events import (
    ClientOutdatedEv,
    ConnectedEv,
    ConnectFailureEv,
    DisconnectedEv,
    GroupInfoEv,
    KeepAliveRestoredEv,
    KeepAliveTimeoutEv,
    LoggedOutEv,
    PairStatusEv,
    StreamReplacedEv,
    TemporaryBanEv,
)
from neonize.proto.Neonize_pb2 import (
    ConnectFailureReason,
    Device,
    GroupInfo,
    GroupName,
    GroupParticipant,
    GroupTopic,
    Node,
    Receipt,
)
from neonize.proto.Neonize_pb2 import TemporaryBan as TemporaryBanProto

from wagate.engines.base import (
    ConnectedEvent,
    DisconnectedEvent,
    DisconnectReason,
    FailedEvent,
    LoggedOutEvent,
    QrCodeEvent,
)
from wagate.engines.whatsmeow.connection import (
    identity_of,
    login_status_event,
    map_connection_event,
    qr_event,
)
from wagate.engines.whatsmeow.incoming import group_change, map_group_info, map_receipt

ALICE, BOB, ME, GROUP = "15550002222", "15550003333", "15550001111", "120363000000000001"


# -- receipts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status"),
    [(Receipt.DELIVERED, "delivered"), (Receipt.READ, "read"), (Receipt.PLAYED, "played")],
)
def test_receipts(protos: Any, kind: int, status: str) -> None:
    event = map_receipt("s1", protos.wire(protos.receipt(kind, ["A1", "A2"])))
    assert event is not None
    assert event.status == status
    assert event.message_ids == ("A1", "A2")
    assert event.chat == event.sender == f"{ALICE}@s.whatsapp.net"
    assert event.timestamp == datetime.fromtimestamp(1_760_000_100, UTC)


def test_group_receipt_names_the_participant(protos: Any) -> None:
    source = protos.source(protos.jid(GROUP, "g.us"), protos.jid(BOB, device=2))
    event = map_receipt("s1", protos.receipt(Receipt.READ, ["G1"], source=source))
    assert event is not None
    assert event.chat == f"{GROUP}@g.us"
    assert event.sender == f"{BOB}@s.whatsapp.net"


@pytest.mark.parametrize(
    "kind", [Receipt.READ_SELF, Receipt.SENDER, Receipt.RETRY, Receipt.SERVER_ERROR]
)
def test_other_receipts_are_not_statuses(protos: Any, kind: int) -> None:
    assert map_receipt("s1", protos.receipt(kind, ["A1"])) is None


# -- groups ------------------------------------------------------------------------------


def group_info(protos: Any) -> Any:
    return GroupInfo(
        JID=protos.jid(GROUP, "g.us"),
        OwnerJID=protos.jid(ME),
        OwnerPN=protos.jid(ME),
        GroupName=GroupName(Name="Team", NameSetAt=0, NameSetBy=protos.jid(ME)),
        GroupTopic=GroupTopic(
            Topic="weekly sync",
            TopicID="t",
            TopicSetAt=0,
            TopicSetBy=protos.jid(ME),
            TopicDeleted=False,
        ),
        GroupCreated=1_700_000_000.0,
        ParticipantVersionID="1",
        Participants=[
            GroupParticipant(
                JID=protos.jid(ME),
                LID=protos.jid("111", "lid"),
                PhoneNumber=protos.jid(ME),
                IsAdmin=True,
                IsSuperAdmin=True,
                DisplayName="",
                Error=0,
            ),
            GroupParticipant(
                JID=protos.jid("222", "lid"),
                LID=protos.jid("222", "lid"),
                PhoneNumber=protos.jid(ALICE),
                IsAdmin=False,
                IsSuperAdmin=False,
                DisplayName="",
                Error=0,
            ),
        ],
    )


def test_group_info(protos: Any) -> None:
    group = map_group_info(group_info(protos))
    assert group.jid == f"{GROUP}@g.us"
    assert group.name == "Team" and group.topic == "weekly sync"
    assert group.owner == f"{ME}@s.whatsapp.net"
    assert group.created_at is not None and group.created_at.year == 2023
    assert [(p.jid, p.is_admin, p.is_super_admin) for p in group.participants] == [
        (f"{ME}@s.whatsapp.net", True, True),
        (f"{ALICE}@s.whatsapp.net", False, False),  # the phone number, not the hidden id
    ]


def test_group_change_and_leaving(protos: Any) -> None:
    event = GroupInfoEv(
        JID=protos.jid(GROUP, "g.us"),
        Name=GroupName(Name="Renamed", NameSetAt=0, NameSetBy=protos.jid(ALICE)),
        Leave=[protos.jid(ME)],
    )
    group, left = group_change(event, {f"{ME}@s.whatsapp.net"})
    assert left and group.jid == f"{GROUP}@g.us" and group.name == "Renamed"
    _, left = group_change(GroupInfoEv(JID=protos.jid(GROUP, "g.us")), {f"{ME}@s.whatsapp.net"})
    assert not left


# -- connection --------------------------------------------------------------------------


def me_device(protos: Any) -> Any:
    return Device(
        JID=protos.jid(ME, device=17),
        LID=protos.jid("999", "lid"),
        Platform="",
        BussinessName="",
        PushName="Shop",
        Initialized=True,
    )


def test_identity_from_the_device_record(protos: Any) -> None:
    identity = identity_of(protos.wire(me_device(protos)))
    assert identity is not None
    assert identity.phone_number == ME
    assert identity.jid == f"{ME}@s.whatsapp.net"
    assert identity.device_jid == f"{ME}:17@s.whatsapp.net"
    assert identity.lid == "999@lid" and identity.push_name == "Shop"


def test_connected_and_keepalive_restored(protos: Any) -> None:
    identity = identity_of(me_device(protos))
    for event in (ConnectedEv(status=True), KeepAliveRestoredEv()):
        mapped = map_connection_event("s1", event, identity=identity, linked=True)
        assert mapped == ConnectedEvent("s1", ME, "Shop", f"{ME}@s.whatsapp.net")


def connection_event(event: Any, *, linked: bool = True) -> Any:
    return map_connection_event("s1", event, identity=None, linked=linked)


def test_disconnected_retries_only_when_linked() -> None:
    linked = connection_event(DisconnectedEv(status=True))
    assert isinstance(linked, DisconnectedEvent)
    assert linked.reason is DisconnectReason.NETWORK and linked.will_retry
    unlinked = connection_event(DisconnectedEv(status=True), linked=False)
    assert isinstance(unlinked, DisconnectedEvent) and not unlinked.will_retry


def test_keepalive_timeout() -> None:
    event = connection_event(KeepAliveTimeoutEv(ErrorCount=3, LastSuccess=1_760_000_000))
    assert isinstance(event, DisconnectedEvent)
    assert event.reason is DisconnectReason.KEEPALIVE_TIMEOUT and event.will_retry
    assert event.detail is not None and "3 keep-alive" in event.detail


def test_stream_replaced() -> None:
    event = connection_event(StreamReplacedEv())
    assert isinstance(event, DisconnectedEvent)
    assert event.reason is DisconnectReason.STREAM_REPLACED and not event.will_retry


def test_logged_out() -> None:
    event = connection_event(LoggedOutEv(OnConnect=True, Reason=ConnectFailureReason.LOGGED_OUT))
    assert isinstance(event, LoggedOutEvent)
    assert event.reason is DisconnectReason.LOGGED_OUT_BY_PHONE
    assert event.detail is not None and "logged_out" in event.detail


def test_temporary_ban() -> None:
    ban = TemporaryBanEv(Code=TemporaryBanProto.SEND_TO_TOO_MANY_PEOPLE, Expire=3600)
    event = connection_event(ban)
    assert isinstance(event, FailedEvent)
    assert event.reason is DisconnectReason.TEMPORARY_BAN
    assert event.detail is not None and "send_to_too_many_people" in event.detail
    assert "3600" in event.detail


def test_client_outdated() -> None:
    event = connection_event(ClientOutdatedEv())
    assert isinstance(event, FailedEvent) and event.reason is DisconnectReason.CLIENT_OUTDATED


@pytest.mark.parametrize(
    ("reason", "expected", "kind", "retry"),
    [
        (ConnectFailureReason.GENERIC, DisconnectReason.CONNECT_FAILURE, DisconnectedEvent, False),
        (
            ConnectFailureReason.BAD_USER_AGENT,
            DisconnectReason.CONNECT_FAILURE,
            DisconnectedEvent,
            False,
        ),
        (
            ConnectFailureReason.SERVICE_UNAVAILABLE,
            DisconnectReason.CONNECT_FAILURE,
            DisconnectedEvent,
            True,
        ),
        (
            ConnectFailureReason.INTERNAL_SERVER_ERROR,
            DisconnectReason.CONNECT_FAILURE,
            DisconnectedEvent,
            True,
        ),
        (ConnectFailureReason.TEMP_BANNED, DisconnectReason.TEMPORARY_BAN, FailedEvent, None),
        (ConnectFailureReason.CLIENT_OUTDATED, DisconnectReason.CLIENT_OUTDATED, FailedEvent, None),
        (
            ConnectFailureReason.MAIN_DEVICE_GONE,
            DisconnectReason.LOGGED_OUT_BY_PHONE,
            LoggedOutEvent,
            None,
        ),
    ],
)
def test_connect_failures(
    protos: Any, reason: int, expected: DisconnectReason, kind: Any, retry: bool | None
) -> None:
    failure = protos.wire(ConnectFailureEv(Reason=reason, Message="nope", Raw=Node(Tag="failure")))
    event: Any = connection_event(failure)
    assert type(event) is kind
    assert event.reason is expected
    assert event.detail is not None and "nope" in event.detail
    if retry is not None:
        assert event.will_retry is retry


def test_pair_status_is_not_a_session_event(protos: Any) -> None:
    status = PairStatusEv(ID=protos.jid(ME), BusinessName="", Platform="", Status=2)
    assert connection_event(status) is None


def test_qr_codes_rotate_like_whatsmeow() -> None:
    assert qr_event("s1", "2@abc", 0) == QrCodeEvent("s1", "2@abc", 60.0)
    assert qr_event("s1", "2@def", 1).expires_in == 20.0


def test_link_attempt_endings() -> None:
    assert login_status_event("s1", "success", codes_ran_out=False) is None
    timeout = login_status_event("s1", "timeout", codes_ran_out=True)
    assert isinstance(timeout, DisconnectedEvent) and timeout.reason is DisconnectReason.QR_TIMEOUT
    dropped = login_status_event("s1", "timeout", codes_ran_out=False)
    assert isinstance(dropped, DisconnectedEvent) and dropped.reason is DisconnectReason.NETWORK
    outdated = login_status_event("s1", "err-client-outdated", codes_ran_out=False)
    assert isinstance(outdated, FailedEvent)
    assert outdated.reason is DisconnectReason.CLIENT_OUTDATED
    failed = login_status_event("s1", "error", codes_ran_out=False)
    assert isinstance(failed, DisconnectedEvent)
    assert failed.reason is DisconnectReason.CONNECT_FAILURE and not failed.will_retry
    odd = login_status_event("s1", "err-unexpected-state", codes_ran_out=False)
    assert isinstance(odd, DisconnectedEvent) and odd.reason is DisconnectReason.UNKNOWN
