"""Incoming whatsmeow messages (neonize's own protobufs) -> wagate's MessageEvent."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    AudioMessage,
    ContactMessage,
    ContactsArrayMessage,
    ContextInfo,
    DocumentMessage,
    ExtendedTextMessage,
    FutureProofMessage,
    ImageMessage,
    LocationMessage,
    PollCreationMessage,
    ProtocolMessage,
    ReactionMessage,
    StickerMessage,
    VideoMessage,
)
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage

from wagate.engines.base import IncomingMessage, Location
from wagate.engines.whatsmeow.incoming import (
    lids_to_resolve,
    map_message,
    message_from_reference,
)

ME, ALICE, BOB = "15550001111", "15550002222", "15550003333"
GROUP, ALICE_LID = "120363000000000001", "98765432101234"

MEDIA = {
    "URL": "https://mmg.whatsapp.net/v/t62/abc",
    "directPath": "/v/t62/abc",
    "mediaKey": b"k" * 32,
    "fileEncSHA256": b"e" * 32,
    "fileSHA256": bytes(range(32)),
    "fileLength": 1234,
}


def incoming(protos: Any, content: Any, **kwargs: Any) -> IncomingMessage:
    event = map_message("s1", protos.wire(protos.message(content, **kwargs)))
    assert event is not None
    assert event.session_id == "s1"
    return event.message


def test_plain_text(protos: Any) -> None:
    message = incoming(protos, {"conversation": "hello"})
    assert message.kind == "text"
    assert message.text == "hello"
    assert message.message_id == "3EB0AAAAAAAAAAAAAAAAAA"
    assert message.chat == message.sender == f"{ALICE}@s.whatsapp.net"
    assert message.push_name == "Alice"
    assert message.timestamp == datetime.fromtimestamp(1_760_000_000, UTC)
    assert not message.from_me and not message.is_group
    assert message.media is None and message.quoted_message_id is None


def test_extended_text_with_a_quote(protos: Any) -> None:
    content = WAMessage(
        extendedTextMessage=ExtendedTextMessage(
            text="see https://example.com",
            contextInfo=ContextInfo(stanzaID="QUOTED1", participant=f"{ME}@s.whatsapp.net"),
        )
    )
    message = incoming(protos, content)
    assert message.kind == "text"
    assert message.text == "see https://example.com"
    assert message.quoted_message_id == "QUOTED1"


def test_image_with_caption(protos: Any) -> None:
    content = WAMessage(
        imageMessage=ImageMessage(
            **MEDIA, mimetype="image/jpeg", caption="a cat", JPEGThumbnail=b"t"
        )
    )
    message = incoming(protos, content)
    assert message.kind == "image"
    assert message.text == "a cat"
    assert message.media is not None
    assert message.media.mimetype == "image/jpeg"
    assert message.media.size == 1234
    assert message.media.sha256 == bytes(range(32)).hex()
    assert message.media.filename is None
    # the reference carries what a download needs, and no thumbnail or caption
    restored = message_from_reference(message.media.reference)
    assert restored is not None
    assert restored.imageMessage.directPath == "/v/t62/abc"
    assert restored.imageMessage.mediaKey == b"k" * 32
    assert restored.imageMessage.fileLength == 1234
    assert not restored.imageMessage.JPEGThumbnail and not restored.imageMessage.caption


def test_video(protos: Any) -> None:
    content = WAMessage(videoMessage=VideoMessage(**MEDIA, mimetype="video/mp4", seconds=12))
    message = incoming(protos, content)
    assert message.kind == "video"
    assert message.media is not None and message.media.mimetype == "video/mp4"
    assert message.text is None


def test_voice_note_and_audio(protos: Any) -> None:
    ptt = WAMessage(
        audioMessage=AudioMessage(**MEDIA, mimetype="audio/ogg; codecs=opus", PTT=True, seconds=3)
    )
    message = incoming(protos, ptt)
    assert message.kind == "audio"
    assert message.media is not None and message.media.mimetype == "audio/ogg; codecs=opus"
    restored = message_from_reference(message.media.reference)
    assert restored is not None and restored.HasField("audioMessage")
    music = incoming(protos, WAMessage(audioMessage=AudioMessage(**MEDIA, mimetype="audio/mpeg")))
    assert music.kind == "audio" and music.media is not None
    assert music.media.mimetype == "audio/mpeg"


def test_document_with_filename_and_caption(protos: Any) -> None:
    document = DocumentMessage(
        **MEDIA, mimetype="application/pdf", fileName="report.pdf", caption="Q3 numbers"
    )
    wrapped = WAMessage(
        documentWithCaptionMessage=FutureProofMessage(message=WAMessage(documentMessage=document))
    )
    for content in (WAMessage(documentMessage=document), wrapped):
        message = incoming(protos, content)
        assert message.kind == "document"
        assert message.text == "Q3 numbers"
        assert message.media is not None
        assert message.media.filename == "report.pdf"
        assert message.media.mimetype == "application/pdf"


def test_sticker(protos: Any) -> None:
    content = WAMessage(stickerMessage=StickerMessage(**MEDIA, mimetype="image/webp"))
    message = incoming(protos, content)
    assert message.kind == "sticker"
    assert message.media is not None and message.media.mimetype == "image/webp"


def test_location(protos: Any) -> None:
    content = WAMessage(
        locationMessage=LocationMessage(
            degreesLatitude=-6.2, degreesLongitude=106.8, name="Monas", address="Jakarta"
        )
    )
    message = incoming(protos, content)
    assert message.kind == "location"
    assert message.location == Location(-6.2, 106.8, "Monas", "Jakarta")


def test_contact_and_contacts_array(protos: Any) -> None:
    vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Bob\nTEL;waid=15550003333:+1 555 000 3333\nEND:VCARD"
    message = incoming(
        protos, WAMessage(contactMessage=ContactMessage(displayName="Bob", vcard=vcard))
    )
    assert message.kind == "contact"
    assert message.contact is not None
    assert message.contact.display_name == "Bob" and message.contact.vcard == vcard
    many = ContactsArrayMessage(
        displayName="2 contacts",
        contacts=[
            ContactMessage(displayName="Bob", vcard=vcard),
            ContactMessage(displayName="Eve", vcard=vcard.replace("Bob", "Eve")),
        ],
    )
    message = incoming(protos, WAMessage(contactsArrayMessage=many))
    assert message.contact is not None
    assert message.contact.display_name == "2 contacts"
    assert message.contact.vcard.count("BEGIN:VCARD") == 2


def test_reaction(protos: Any) -> None:
    key = MessageKey(remoteJID=f"{ALICE}@s.whatsapp.net", fromMe=True, ID="MINE1")
    content = WAMessage(reactionMessage=ReactionMessage(key=key, text="👍", senderTimestampMS=1))
    message = incoming(protos, content, message_id="REACT1")
    assert message.kind == "reaction"
    assert message.message_id == "REACT1"
    assert message.reaction is not None
    assert message.reaction.target_message_id == "MINE1"
    assert message.reaction.emoji == "👍"
    assert message.reaction.target_from_me is True


def test_edit_points_at_the_edited_message(protos: Any) -> None:
    edit = ProtocolMessage(
        key=MessageKey(remoteJID=f"{ALICE}@s.whatsapp.net", fromMe=False, ID="ORIGINAL1"),
        type=ProtocolMessage.MESSAGE_EDIT,
        editedMessage=WAMessage(conversation="fixed typo"),
    )
    content = WAMessage(editedMessage=FutureProofMessage(message=WAMessage(protocolMessage=edit)))
    message = incoming(protos, content, message_id="EDITEVENT")
    assert message.edited is True and message.revoked is False
    assert message.message_id == "ORIGINAL1"
    assert message.kind == "text" and message.text == "fixed typo"


def test_revoke_points_at_the_deleted_message(protos: Any) -> None:
    revoke = ProtocolMessage(
        key=MessageKey(remoteJID=f"{ALICE}@s.whatsapp.net", fromMe=False, ID="GONE1"),
        type=ProtocolMessage.REVOKE,
    )
    message = incoming(protos, WAMessage(protocolMessage=revoke), message_id="REVOKEEVENT")
    assert message.revoked is True
    assert message.message_id == "GONE1"
    assert message.text is None


def test_group_message_carries_the_participant(protos: Any) -> None:
    source = protos.source(
        protos.jid(GROUP, "g.us"), protos.jid(BOB, device=3), sender_alt=protos.jid()
    )
    message = incoming(protos, {"conversation": "hi all"}, source=source)
    assert message.chat == f"{GROUP}@g.us"
    assert message.is_group
    assert message.sender == f"{BOB}@s.whatsapp.net"  # the device part is dropped


def test_hidden_sender_becomes_the_phone_number_from_the_event(protos: Any) -> None:
    lid = protos.jid(ALICE_LID, "lid")
    source = protos.source(lid, lid, sender_alt=protos.jid(ALICE))
    message = incoming(protos, {"conversation": "hi"}, source=source)
    assert message.sender == message.chat == f"{ALICE}@s.whatsapp.net"
    assert message.sender_lid == f"{ALICE_LID}@lid"


def test_hidden_group_participant_resolved_from_the_lid_store(protos: Any) -> None:
    source = protos.source(protos.jid(GROUP, "g.us"), protos.jid(ALICE_LID, "lid"))
    assert lids_to_resolve(source) == {f"{ALICE_LID}@lid"}
    known = {f"{ALICE_LID}@lid": f"{ALICE}@s.whatsapp.net"}
    event = map_message(
        "s1", protos.message({"conversation": "x"}, source=source), pn_for_lid=known
    )
    assert event is not None
    assert event.message.sender == f"{ALICE}@s.whatsapp.net"
    assert event.message.sender_lid == f"{ALICE_LID}@lid"
    unknown = map_message("s1", protos.message({"conversation": "x"}, source=source))
    assert unknown is not None
    assert unknown.message.sender == f"{ALICE_LID}@lid"  # the hidden id, when nothing maps it


def test_from_me_message_on_another_device(protos: Any) -> None:
    lid = protos.jid(ALICE_LID, "lid")
    source = protos.source(
        lid, protos.jid(ME, device=0), from_me=True, recipient_alt=protos.jid(ALICE)
    )
    message = incoming(protos, {"conversation": "sent from my phone"}, source=source)
    assert message.from_me
    assert message.chat == f"{ALICE}@s.whatsapp.net"
    assert message.sender == f"{ME}@s.whatsapp.net"


def test_wrappers_are_unwrapped(protos: Any) -> None:
    inner = WAMessage(conversation="disappearing")
    content = WAMessage(ephemeralMessage=FutureProofMessage(message=inner))
    assert incoming(protos, content).text == "disappearing"
    view_once = WAMessage(
        viewOnceMessageV2=FutureProofMessage(
            message=WAMessage(imageMessage=ImageMessage(**MEDIA, mimetype="image/jpeg"))
        )
    )
    assert incoming(protos, view_once).kind == "image"


def test_kinds_wagate_does_not_carry_are_skipped(protos: Any) -> None:
    poll = WAMessage(pollCreationMessage=PollCreationMessage(name="lunch?"))
    assert map_message("s1", protos.message(poll)) is None
    key_share = ProtocolMessage(type=ProtocolMessage.APP_STATE_SYNC_KEY_SHARE)
    assert map_message("s1", protos.message(WAMessage(protocolMessage=key_share))) is None
    assert message_from_reference("not-a-reference") is None
