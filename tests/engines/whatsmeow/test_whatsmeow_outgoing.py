"""wagate's OutgoingMessage -> the waE2E protobuf whatsmeow sends, field by field."""

from __future__ import annotations

import io
import struct
from typing import Any

import pytest
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage
from PIL import Image

from wagate.engines.base import (
    ContactCard,
    Location,
    MediaContent,
    OutgoingMessage,
    Reaction,
    UnsupportedError,
)
from wagate.engines.whatsmeow.outgoing import (
    MediaFacts,
    Quote,
    Uploaded,
    build_message,
    image_facts,
    media_facts,
    mp4_seconds,
    ogg_opus_seconds,
)

ALICE = "15550002222@s.whatsapp.net"
GROUP = "120363000000000001@g.us"
UPLOAD = Uploaded(
    url="https://mmg.whatsapp.net/o1/v/t62/x",
    direct_path="/o1/v/t62/x",
    media_key=b"m" * 32,
    file_enc_sha256=b"e" * 32,
    file_sha256=b"s" * 32,
    file_length=4321,
)
QUOTE = Quote(message_id="3EB0QUOTED", participant=ALICE, message=WAMessage(conversation="q?"))


def outgoing(kind: Any, **fields: Any) -> OutgoingMessage:
    return OutgoingMessage(message_id="3EB0LOCAL", to=fields.pop("to", ALICE), kind=kind, **fields)


def sent(message: OutgoingMessage, **kwargs: Any) -> Any:
    """Build, then round-trip through bytes: proves the protobuf is complete."""
    built = build_message(message, **kwargs)
    return WAMessage.FromString(built.SerializeToString())


def media(mimetype: str, data: bytes = b"bytes", filename: str | None = None) -> MediaContent:
    return MediaContent(data=data, mimetype=mimetype, filename=filename)


def assert_uploaded(sub: Any, mimetype: str) -> None:
    assert UPLOAD.url == sub.URL and sub.directPath == UPLOAD.direct_path
    assert sub.mediaKey == UPLOAD.media_key and sub.fileLength == 4321
    assert sub.fileSHA256 == UPLOAD.file_sha256 and sub.fileEncSHA256 == UPLOAD.file_enc_sha256
    assert sub.mimetype == mimetype and sub.mediaKeyTimestamp > 0


def test_plain_text_is_a_conversation() -> None:
    proto = sent(outgoing("text", text="hello"))
    assert proto.conversation == "hello"
    assert not proto.HasField("extendedTextMessage")


def test_reply_quotes_by_id() -> None:
    proto = sent(outgoing("text", text="answer", quoted_message_id="ignored"), quote=QUOTE)
    context = proto.extendedTextMessage.contextInfo
    assert proto.extendedTextMessage.text == "answer"
    assert context.stanzaID == "3EB0QUOTED"
    assert context.participant == ALICE
    assert context.quotedMessage.conversation == "q?"


def test_image_with_caption_thumbnail_and_quote() -> None:
    facts = MediaFacts(thumbnail=b"\xff\xd8jpeg", width=640, height=480)
    message = outgoing("image", text="look", media=media("image/png"))
    proto = sent(message, upload=UPLOAD, facts=facts, quote=QUOTE)
    image = proto.imageMessage
    assert_uploaded(image, "image/png")
    assert image.caption == "look"
    assert image.JPEGThumbnail == b"\xff\xd8jpeg"
    assert (image.width, image.height) == (640, 480)
    assert image.contextInfo.stanzaID == "3EB0QUOTED"


def test_video() -> None:
    message = outgoing("video", text="clip", media=media("video/mp4"))
    video = sent(message, upload=UPLOAD, facts=MediaFacts(seconds=9)).videoMessage
    assert_uploaded(video, "video/mp4")
    assert video.caption == "clip" and video.seconds == 9


def test_voice_note_sets_ptt_and_opus_mimetype() -> None:
    message = outgoing("audio", media=media("audio/ogg"), voice_note=True)
    audio = sent(message, upload=UPLOAD, facts=MediaFacts(seconds=4)).audioMessage
    assert_uploaded(audio, "audio/ogg; codecs=opus")
    assert audio.PTT is True and audio.seconds == 4


def test_audio_file_is_not_a_voice_note() -> None:
    audio = sent(outgoing("audio", media=media("audio/mpeg")), upload=UPLOAD).audioMessage
    assert_uploaded(audio, "audio/mpeg")
    assert audio.PTT is False


def test_document_with_mimetype_and_filename() -> None:
    message = outgoing("document", media=media("application/pdf", filename="invoice.pdf"))
    document = sent(message, upload=UPLOAD).documentMessage
    assert_uploaded(document, "application/pdf")
    assert document.fileName == "invoice.pdf" and document.title == "invoice.pdf"


def test_document_with_caption_uses_the_caption_wrapper() -> None:
    message = outgoing("document", text="June", media=media("text/csv", filename="june.csv"))
    proto = sent(message, upload=UPLOAD)
    document = proto.documentWithCaptionMessage.message.documentMessage
    assert document.caption == "June" and document.fileName == "june.csv"
    assert document.mimetype == "text/csv"


def test_sticker() -> None:
    message = outgoing("sticker", media=media("image/webp"))
    sticker = sent(message, upload=UPLOAD, facts=MediaFacts(width=512, height=512)).stickerMessage
    assert_uploaded(sticker, "image/webp")
    assert (sticker.width, sticker.height) == (512, 512)


def test_location_coordinates() -> None:
    message = outgoing("location", location=Location(51.5007, -0.1246, "Big Ben", "London"))
    location = sent(message).locationMessage
    assert location.degreesLatitude == pytest.approx(51.5007)
    assert location.degreesLongitude == pytest.approx(-0.1246)
    assert location.name == "Big Ben" and location.address == "London"


def test_contact_vcard() -> None:
    vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Bob\nTEL;waid=15550003333:+15550003333\nEND:VCARD"
    contact = sent(outgoing("contact", contact=ContactCard("Bob", vcard))).contactMessage
    assert contact.displayName == "Bob" and contact.vcard == vcard


def test_reaction_key_in_a_chat() -> None:
    reaction = Reaction(target_message_id="3EB0LOCALID", emoji="❤️", target_from_me=True)
    proto = sent(outgoing("reaction", reaction=reaction), reaction_target_id="3EB0WAID")
    key = proto.reactionMessage.key
    assert proto.reactionMessage.text == "❤️"
    assert key.remoteJID == ALICE and key.fromMe is True and key.ID == "3EB0WAID"
    assert not key.participant
    assert proto.reactionMessage.senderTimestampMS > 0


def test_reaction_in_a_group_names_the_author_and_empty_removes() -> None:
    reaction = Reaction(target_message_id="THEIRS", emoji="", target_sender=ALICE)
    proto = sent(outgoing("reaction", to=GROUP, reaction=reaction))
    key = proto.reactionMessage.key
    assert key.remoteJID == GROUP and key.ID == "THEIRS" and key.participant == ALICE
    assert proto.reactionMessage.text == ""


def test_media_without_upload_is_refused() -> None:
    with pytest.raises(UnsupportedError):
        build_message(outgoing("image", media=media("image/png")))
    with pytest.raises(UnsupportedError):
        build_message(outgoing("location"))


# -- facts about media, without ffmpeg ------------------------------------------------------


def test_image_facts_make_a_small_jpeg() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (200, 30, 30)).save(buffer, format="PNG")
    facts = image_facts(buffer.getvalue())
    assert (facts.width, facts.height) == (800, 600)
    assert facts.thumbnail is not None and facts.thumbnail.startswith(b"\xff\xd8")
    with Image.open(io.BytesIO(facts.thumbnail)) as thumbnail:
        assert max(thumbnail.size) <= 96
    assert image_facts(b"not an image") == MediaFacts()


def ogg_page(granule: int, payload: bytes) -> bytes:
    header = b"OggS" + bytes([0, 0]) + struct.pack("<q", granule) + b"\0" * 12
    return header + bytes([1, len(payload)]) + payload


def test_voice_note_duration_from_ogg_opus() -> None:
    head = b"OpusHead" + bytes([1, 1]) + struct.pack("<H", 312) + b"\0" * 7
    data = ogg_page(0, head) + ogg_page(0, b"OpusTags") + ogg_page(48000 * 7 + 312, b"audio")
    assert ogg_opus_seconds(data) == 7
    assert ogg_opus_seconds(b"ID3 mp3 bytes") is None
    message = outgoing("audio", media=media("audio/ogg", data), voice_note=True)
    assert media_facts(message).seconds == 7


def test_video_duration_from_mp4() -> None:
    mvhd = b"mvhd" + bytes([0, 0, 0, 0]) + struct.pack(">IIII", 0, 0, 1000, 12_400) + b"\0" * 80
    data = b"\0\0\0\x20ftypisom" + b"\0" * 20 + struct.pack(">I", len(mvhd) + 4) + mvhd
    assert mp4_seconds(data) == 12
    assert mp4_seconds(b"no movie header") is None
    assert mp4_seconds(b"truncated mvhd\0") is None
